"""`Fit`: one result type for NUTS, SVI and MAP: draws, data, config, timings.

Draws keep the chain axis: every array is ``(chain, draw, ...)`` (SVI and MAP
have one chain). Only parameters are stored; everything that depends on time
(``mu``, contributions, counterfactuals) is recomputed from them on demand with
:meth:`Fit.predict`, so a saved fit stays small.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import jax
import jax.numpy as jnp
from numpyro.infer import Predictive
from numpyro.infer.util import log_likelihood

from mmm_jax._atomic import write_bytes
from mmm_jax.calibration import LiftTests
from mmm_jax.data import MMMData
from mmm_jax.inference._common import geo_from_info
from mmm_jax.models import ModelConfig, build_inputs, mmm
from mmm_jax.models.config import config_from_dict, config_to_dict
from mmm_jax.models.mmm import ModelInputs, TimeFrame
from mmm_jax.models.terms import (
    samples_decay,
    samples_slope_normal,
    samples_slope_probit,
    scale_to_decay,
    slope_probit_transform,
    slope_to_normal,
)

__all__ = ["FORMAT_VERSION", "Fit", "FitFileError"]

#: Version of the ``.npz`` fit format. 2: the checksum covers the metadata too
#: (scaler, config, data, ...), stored as ``__checksum__``; version 1 files are refused.
FORMAT_VERSION = 2


class FitFileError(ValueError):
    """A saved fit that cannot be read: missing, corrupted or of another format."""


@dataclass(frozen=True)
class Fit:
    """A fitted MMM.

    Attributes:
      method: ``"nuts"``, ``"svi"`` or ``"map"``.
      draws: Site name -> ``(chain, draw, ...)`` posterior draws of the
        parameters (and small deterministic sites such as ``synergy/gamma``).
      data: The data the model was fitted on (with its scaler).
      config: The model configuration.
      frame: Trend-time frame of the fit window.
      timings: Seconds spent: ``total_s`` and ``compile_s`` always, plus ``run_s``
        (NUTS) or ``fit_s`` (SVI, MAP).
      info: JSON-safe facts about the run (seed, settings, divergences, SVI loss
        trace, guide name).
      stats: Per-draw sampler statistics, name -> ``(chain, draw)``.
      lift_tests: The geo lift tests the fit was calibrated with, or ``None``.
        Only fitting uses them: :meth:`predict` and :meth:`log_likelihood`
        concern the revenue ``mu``/``y`` alone.
    """

    method: str
    draws: dict[str, np.ndarray]
    data: MMMData
    config: ModelConfig
    frame: TimeFrame
    timings: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    lift_tests: LiftTests | None = None

    # ------------------------------------------------------------ shapes
    @property
    def n_chain(self) -> int:
        """Number of chains."""
        return next(iter(self.draws.values())).shape[0]

    @property
    def n_draw(self) -> int:
        """Draws per chain."""
        return next(iter(self.draws.values())).shape[1]

    @property
    def n_samples(self) -> int:
        """Total posterior draws, chains times draws."""
        return self.n_chain * self.n_draw

    def flat_draws(self) -> dict[str, np.ndarray]:
        """Draws with chains merged: site -> ``(sample, ...)``."""
        return {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.draws.items()}

    # ------------------------------------------------------------ prediction
    def inputs(self, data: MMMData | None = None) -> ModelInputs:
        """Model inputs for ``data`` (default: the fit data) on the fit's time frame.

        Raises:
          ValueError: ``data`` is on another scale than the fit data: the
            draws are in the fit's scaled units, so its numbers would be off
            by the ratio of the scales. ``data.with_scaler(fit.data.scaler)``
            puts it on the fit's.
        """
        if data is not None and data.scaler != self.data.scaler:
            raise ValueError(
                "the data are on another scale than the fit's (a window scaled on its own?): "
                "pass data.with_scaler(fit.data.scaler)"
            )
        return build_inputs(
            self.data if data is None else data,
            self.config,
            self.frame,
            reference=self.data,
            geo=geo_from_info(self.info),  # the geo sizes and centring the fit used
        )

    def predict(
        self,
        data: MMMData | None = None,
        *,
        media: np.ndarray | None = None,
        sites: tuple[str, ...] = ("mu",),
        key: jax.Array | None = None,
        batch_size: int = 1000,
    ) -> dict[str, np.ndarray]:
        """Posterior draws of deterministic or predictive sites.

        Args:
          data: Data to predict on (same channels and scaler); default the fit data.
          media: Optional spend in currency, shape ``(geo, time, channel)``,
            replacing ``data``'s media (a counterfactual).
          sites: Sites to return, e.g. ``("mu",)`` or ``("y",)``.
          key: PRNG key, needed only for sampled sites such as ``"y"``.
          batch_size: Draws per vectorised batch (bounds memory).

        Returns:
          Site -> ``(sample, ...)`` on the **scaled** target.
        """
        data = self.data if data is None else data
        if media is not None:
            data = data.with_media(np.asarray(media, dtype=float))
        inputs = self.inputs(data)
        key = jax.random.PRNGKey(0) if key is None else key
        flat = self.flat_draws()
        out: dict[str, list[np.ndarray]] = {s: [] for s in sites}
        predictive = _predictive_fn(sites)
        for start in range(0, self.n_samples, batch_size):
            batch = {k: jnp.asarray(v[start : start + batch_size]) for k, v in flat.items()}
            key, sub = jax.random.split(key)
            result = predictive(batch, sub, inputs, self.config)
            for s in sites:
                out[s].append(np.asarray(result[s]))
        return {s: np.concatenate(v, axis=0) for s, v in out.items()}

    def log_likelihood(self) -> np.ndarray:
        """Pointwise log-likelihood of the fit data, ``(chain, draw, geo, time)``."""
        flat = {k: jnp.asarray(v) for k, v in self.flat_draws().items()}
        ll = log_likelihood(mmm, flat, self.inputs(), self.config, y=self.data.target_scaled)["y"]
        return np.asarray(ll).reshape(self.n_chain, self.n_draw, *ll.shape[1:])

    # ------------------------------------------------------------ ArviZ
    def to_arviz(self, *, posterior_predictive: bool = True, key: jax.Array | None = None):
        """InferenceData with named dims (``chain, draw, channel, geo, date, ...``).

        Groups: ``posterior``, ``sample_stats`` (NUTS), ``log_likelihood``,
        ``observed_data`` and, unless switched off, ``posterior_predictive``
        (revenue in the data's currency).
        """
        import arviz as az

        data = self.data
        coords = {
            "channel": list(data.channels),
            "geo": list(data.geos),
            "date": data.dates,
            "control": list(data.control_names),
        }
        dims = {k: _site_dims(k, v.shape[2:], data) for k, v in self.draws.items()}
        for k, d in dims.items():
            for name, size in zip(d, self.draws[k].shape[2:]):
                coords.setdefault(name, list(range(size)))
        target = data.target_scaled * data.scaler.target_scale
        groups: dict[str, Any] = {
            "posterior": dict(self.draws),
            "log_likelihood": {"y": self.log_likelihood()},
            "observed_data": {"y": target},
        }
        dims["y"] = ["geo", "date"]
        if self.stats:
            groups["sample_stats"] = dict(self.stats)
        if posterior_predictive:
            y = self.predict(sites=("y",), key=key)["y"] * data.scaler.target_scale
            groups["posterior_predictive"] = {
                "y": y.reshape(self.n_chain, self.n_draw, *y.shape[1:])
            }
        return az.from_dict(**groups, coords=coords, dims=dims)

    # ------------------------------------------------------------ persistence
    def to_bytes(self) -> tuple[bytes, str]:
        """The content of the fit's ``.npz`` file and its checksum.

        The file holds the draws and sampler statistics as arrays, everything
        else (method, config, data with its scaler, time frame, timings, info,
        lift tests) as the JSON string ``__meta__``, and ``__checksum__``: a
        SHA-256 over every array (name, dtype, shape, bytes) **and** the
        metadata string, so no number in the file can change unnoticed.

        Returns:
          ``(content, checksum)``; the checksum is a hex string.
        """
        arrays = {f"draws/{k}": np.asarray(v) for k, v in self.draws.items()}
        arrays.update({f"stats/{k}": np.asarray(v) for k, v in self.stats.items()})
        meta = json.dumps(
            {
                "format": "mmm_jax.Fit",
                "version": FORMAT_VERSION,
                "method": self.method,
                "config": config_to_dict(self.config),
                "data": self.data.to_dict(),
                "frame": self.frame._asdict(),
                "timings": self.timings,
                "info": self.info,
                "lift_tests": None if self.lift_tests is None else self.lift_tests.to_dict(),
            }
        )
        checksum = _checksum(arrays, meta)
        buffer = io.BytesIO()
        np.savez(buffer, __meta__=np.asarray(meta), __checksum__=np.asarray(checksum), **arrays)
        return buffer.getvalue(), checksum

    def save(self, path: str | Path) -> Path:
        """Writes the fit to one checksummed ``.npz`` file and returns its path.

        The write is atomic (a temporary sibling renamed into place): a crash
        or a full disk leaves an earlier file at ``path`` as it was.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return write_bytes(path, self.to_bytes()[0])

    @classmethod
    def load(cls, path: str | Path, *, data: MMMData | None = None) -> Fit:
        """Reads a fit written by :meth:`save`.

        Args:
          path: The ``.npz`` file.
          data: Optional data the fit must have been made on; a mismatch
            (channels, controls, dates or values) raises.

        Raises:
          FitFileError: The file is missing, not a saved fit, of another
            format version, corrupted (checksum) or made on other data.
        """
        return cls.load_with_checksum(path, data=data)[0]

    @classmethod
    def load_with_checksum(
        cls, path: str | Path, *, data: MMMData | None = None
    ) -> tuple[Fit, str]:
        """:meth:`load`, also returning the file's verified checksum (see :meth:`to_bytes`).

        A run folder records this checksum in ``summary.json`` and
        ``alloc.json`` to prove they describe this very fit.

        Raises:
          FitFileError: As :meth:`load`.
        """
        path = Path(path)
        if not path.is_file():
            raise FitFileError(f"no saved fit at {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                contents = {k: npz[k] for k in npz.files}
            meta_text = str(contents.pop("__meta__"))
            meta = json.loads(meta_text)
            if not isinstance(meta, dict):
                raise ValueError("its metadata is not a JSON object")
        except Exception as err:  # zip, JSON or missing-key errors all mean "not a fit"
            raise FitFileError(f"{path} is not a readable mmm_jax fit ({err})") from None
        if meta.get("format") != "mmm_jax.Fit":
            raise FitFileError(f"{path} is not an mmm_jax fit file")
        version = meta.get("version")
        if version != FORMAT_VERSION:
            why = (
                " (its checksum does not cover the metadata); refit with `mmm-jax fit`"
                if version == 1
                else ""
            )
            raise FitFileError(
                f"{path} has fit format version {version}, this mmm_jax reads {FORMAT_VERSION}{why}"
            )
        stored = str(contents.pop("__checksum__", ""))
        checksum = _checksum(contents, meta_text)
        if checksum != stored:
            raise FitFileError(
                f"{path} is corrupted or was edited: its arrays and metadata do not match "
                "their checksum"
            )
        try:
            fit_data = MMMData.from_dict(meta["data"])
            config = config_from_dict(meta["config"])
            lift_tests = (
                None if meta.get("lift_tests") is None else LiftTests.from_dict(meta["lift_tests"])
            )
            frame = TimeFrame(**meta["frame"])
        except (KeyError, TypeError, ValueError) as err:
            raise FitFileError(
                f"{path} cannot be rebuilt by this version of mmm_jax ({err})"
            ) from None
        if data is not None and not _same_data(fit_data, data):
            raise FitFileError(
                f"{path} was fitted on other data (channels, dates or values differ)"
            )
        fit = cls(
            method=meta["method"],
            draws=_with_current_coordinates(
                {k[6:]: v for k, v in contents.items() if k.startswith("draws/")},
                config,
                fit_data,
            ),
            data=fit_data,
            config=config,
            frame=frame,
            timings=meta["timings"],
            info=meta["info"],
            stats={k[6:]: v for k, v in contents.items() if k.startswith("stats/")},
            lift_tests=lift_tests,
        )
        return fit, checksum


def _with_current_coordinates(draws: dict, config: ModelConfig, data: MMMData) -> dict:
    """Adds the sampled sites that draws saved by an earlier version lack.

    Predictions substitute the sampled sites only, so a fit saved before a
    parameter was sampled through other coordinates would otherwise have that
    parameter redrawn from the prior. The changes, each one to one:

    * the Hill slope on a bounded prior: ``media/slope_normal`` (its prior's normal
      score, :func:`~mmm_jax.models.terms.samples_slope_normal`) or
      ``media/slope_probit`` (:func:`~mmm_jax.models.terms.samples_slope_probit`)
      from ``media/slope``; a coordinate of the other kind, saved by the
      version between, is dropped. A draw on the lower bound itself (float32
      rounding) gets a finite coordinate that maps back to within float
      precision of it. In float32 the normal score cannot tell the default
      prior's top 1e-7 of mass apart (slopes above about 8.7): such a draw
      maps back to about 8.7.
    * ``media/decay`` from ``media/scale`` and ``media/shape`` (the Weibull
      scale on a pooled geo panel, :func:`~mmm_jax.models.terms.samples_decay`).
    """
    out = dict(draws)
    prior = config.media.slope
    if "media/slope" in out and samples_slope_normal(config) and "media/slope_normal" not in out:
        slope = np.asarray(out["media/slope"])
        out.pop("media/slope_probit", None)
        # draws (chain, draw, ...) against the prior's batch shape
        with jax.numpy_rank_promotion("allow"):
            z = slope_to_normal(prior, jnp.asarray(slope))
        out["media/slope_normal"] = np.asarray(z, slope.dtype)
    if "media/slope" in out and samples_slope_probit(config) and "media/slope_probit" not in out:
        slope = np.asarray(out["media/slope"])
        z = slope_probit_transform(prior)(jnp.asarray(slope))
        out["media/slope_probit"] = np.asarray(z, slope.dtype)
    if (
        "media/scale" in out
        and "media/shape" in out
        and "media/decay" not in out
        and samples_decay(config, data.n_geo, data.n_channel)
    ):
        scale = np.asarray(out["media/scale"])
        kinds = config.adstock_kinds(data.n_channel)
        to_decay = scale_to_decay(jnp.asarray(out["media/shape"]), kinds)
        out["media/decay"] = np.asarray(to_decay(jnp.asarray(scale)), scale.dtype)
    return out


@functools.lru_cache(maxsize=16)
def _predictive_fn(sites: tuple[str, ...]):
    """One jitted predictive per tuple of sites, reused across calls and fits."""

    def run(batch, key, inputs, config):
        predictive = Predictive(
            mmm, posterior_samples=batch, return_sites=list(sites), parallel=True
        )
        return predictive(key, inputs, config)

    return jax.jit(run, static_argnums=(3,))


def _site_dims(name: str, shape: tuple[int, ...], data: MMMData) -> list[str]:
    leaf = name.split("/")[-1]
    if not shape:
        return []
    if name.startswith("media/") and shape == (data.n_channel,):
        return ["channel"]
    if name.startswith("media/") and shape == (data.n_geo, data.n_channel):
        return ["geo", "channel"]  # per-geo curve shapes (GeoShapes.PER_GEO)
    # mmm_jax.models.geo: media_* per (geo, channel), seasonality_* per geo
    if name.startswith("geo/"):
        if leaf == "media_spread" and shape == (data.n_channel,):
            return ["channel"]
        if leaf.startswith("media_") and shape == (data.n_geo, data.n_channel):
            return ["geo", "channel"]
        if (
            leaf.startswith("seasonality_")
            and leaf != "seasonality_spread"
            and shape == (data.n_geo,)
        ):
            return ["geo"]
    if leaf == "intercept":
        return ["geo"]
    if leaf == "controls":
        return ["control"]
    if name.startswith("synergy/"):
        return ["pair"]
    if name.startswith("lift/"):
        return ["test"]
    return [f"{name.replace('/', '_')}_dim_{i}" for i in range(len(shape))]


def _checksum(arrays: dict[str, np.ndarray], meta: str) -> str:
    """SHA-256 over the metadata string and every array's name, dtype, shape and bytes."""
    h = hashlib.sha256()
    meta_bytes = meta.encode("utf-8")
    h.update(b"__meta__")
    h.update(str(len(meta_bytes)).encode())
    h.update(meta_bytes)
    for k in sorted(arrays):
        a = np.ascontiguousarray(arrays[k])
        h.update(k.encode())
        h.update(str(a.dtype).encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _same_data(a: MMMData, b: MMMData) -> bool:
    return (
        a.channels == b.channels
        and a.geos == b.geos
        and a.dates.equals(b.dates)
        and np.array_equal(a.media, b.media)
        and np.array_equal(a.target, b.target)
        and a.control_names == b.control_names
        and np.array_equal(a.controls, b.controls)
    )
