"""Numbers a marketing analyst reads off a fit, per posterior draw, in currency.

Contribution and ROAS are **counterfactual** (DESIGN.md): a channel's
contribution is predicted revenue with all channels minus predicted revenue
with that channel's spend set to zero, over the same window, per draw. With
synergy terms this differs from an additive split, and it is what a lift test
measures.

This module never imports the inference layer: it works on any object with the
:class:`FitLike` surface (:class:`mmm_jax.inference.Fit` has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

import jax
import jax.numpy as jnp

from mmm_jax._stats import HDI_PROB, estimate, hdi
from mmm_jax.models import ModelConfig, synergy_pairs
from mmm_jax.transforms import (
    ADSTOCK_PARAMS,
    SATURATION_PARAMS,
    adstock_weights_channels,
    steady_state_response,
)

__all__ = [
    "HDI_PROB",
    "Contributions",
    "FitLike",
    "GeoContributions",
    "contributions",
    "contributions_by_geo",
    "estimate",
    "fit_metrics",
    "geo_media_draws",
    "hdi",
    "marginal_roas",
    "media_draws",
    "response_curves",
    "saturation_spend",
    "waste_flags",
]


class FitLike(Protocol):
    """What the analysis needs from a fit."""

    data: Any
    config: ModelConfig

    def flat_draws(self) -> dict[str, np.ndarray]: ...  # noqa: D102

    def predict(self, data=None, *, media=None, sites=("mu",), key=None) -> dict: ...  # noqa: D102


# ------------------------------------------------------------------ contributions
@dataclass(frozen=True)
class Contributions:
    """Counterfactual decomposition of predicted revenue over a window, in currency.

    Attributes:
      channels: Channel names.
      spend: Spend per channel over the window, ``(channel,)``.
      total: Predicted revenue over the window, ``(sample,)``.
      by_channel: Counterfactual contribution, ``(sample, channel)``.
      baseline: Predicted revenue with every channel's spend zero, ``(sample,)``.
      series: Posterior-mean contribution over time, ``(geo, time, channel)``.
      baseline_series: Posterior-mean baseline over time, ``(geo, time)``.
      predicted_series: Posterior-mean prediction over time, ``(geo, time)``.
    """

    channels: tuple[str, ...]
    spend: np.ndarray
    total: np.ndarray
    by_channel: np.ndarray
    baseline: np.ndarray
    series: np.ndarray
    baseline_series: np.ndarray
    predicted_series: np.ndarray

    @property
    def roas(self) -> np.ndarray:
        """Contribution / spend, ``(sample, channel)``; NaN for a channel without spend."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.spend > 0, self.by_channel / self.spend, np.nan)

    @property
    def baseline_share(self) -> np.ndarray:
        """Baseline / total predicted revenue, ``(sample,)``."""
        return self.baseline / self.total


def _window(data, start, stop) -> slice:
    window = slice(start, stop)
    if len(range(*window.indices(data.n_time))) == 0:
        raise ValueError(f"the window [{start}, {stop}) holds no period of {data.n_time}")
    return window


def contributions(
    fit: FitLike, data=None, *, start: int | None = None, stop: int | None = None
) -> Contributions:
    """Counterfactual contributions per channel and the baseline, per draw.

    Predictions run over the whole of ``data`` and are summed over the window
    ``[start, stop)`` (period positions), so spend before the window carries
    over into it through adstock; a channel is zeroed over all of ``data``.

    Args:
      fit: A fitted model.
      data: Data to predict on (default: the fit data).
      start: First period of the window (default: the first).
      stop: End of the window, exclusive (default: the end).

    Returns:
      A :class:`Contributions` over the window.
    """
    data = fit.data if data is None else data
    w = _window(data, start, stop)
    scale = float(data.scaler.target_scale)
    full = fit.predict(data)["mu"][:, :, w] * scale  # (sample, geo, window)
    by_channel, series = [], []
    for c in range(data.n_channel):
        media = np.array(data.media)
        media[..., c] = 0.0
        delta = full - fit.predict(data, media=media)["mu"][:, :, w] * scale
        by_channel.append(delta.sum(axis=(1, 2)))
        series.append(delta.mean(axis=0))
    base = fit.predict(data, media=np.zeros_like(data.media))["mu"][:, :, w] * scale
    return Contributions(
        channels=tuple(data.channels),
        spend=np.asarray(data.media)[:, w].sum(axis=(0, 1)),
        total=full.sum(axis=(1, 2)),
        by_channel=np.stack(by_channel, axis=1),
        baseline=base.sum(axis=(1, 2)),
        series=np.stack(series, axis=-1),
        baseline_series=base.mean(axis=0),
        predicted_series=full.mean(axis=0),
    )


def marginal_roas(
    fit: FitLike,
    data=None,
    *,
    bump: float = 0.01,
    start: int | None = None,
    stop: int | None = None,
) -> np.ndarray:
    """Marginal ROAS at historical spend: extra revenue per extra unit of spend.

    Each channel's spend is raised by ``bump`` (1%) in every period of the
    window ``[start, stop)``; the extra predicted revenue over the extra spend
    is the marginal ROAS, per draw. Revenue is counted from the window's start
    to the end of ``data``, so the bump's carry-over is included as far as the
    data reach (up to ``max_lag - 1`` periods of it are cut at the very end).

    Returns:
      Shape ``(sample, channel)``.
    """
    if bump <= 0:
        raise ValueError(f"bump must be positive, got {bump}")
    data = fit.data if data is None else data
    w = _window(data, start, stop)
    after = slice(w.indices(data.n_time)[0], None)
    scale = float(data.scaler.target_scale)
    full = fit.predict(data)["mu"][:, :, after].sum(axis=(1, 2))
    out = []
    for c in range(data.n_channel):
        media = np.array(data.media)
        media[:, w, c] *= 1.0 + bump
        extra_spend = bump * float(np.asarray(data.media)[:, w, c].sum())
        bumped = fit.predict(data, media=media)["mu"][:, :, after].sum(axis=(1, 2))
        out.append(
            (bumped - full) * scale / extra_spend if extra_spend > 0 else np.full_like(full, np.nan)
        )
    return np.stack(out, axis=1)


def waste_flags(mroas: np.ndarray, *, threshold: float = 1.0, prob: float = 0.9) -> np.ndarray:
    """Channels whose marginal ROAS is below ``threshold`` with posterior probability >= ``prob``.

    Args:
      mroas: Marginal ROAS draws, ``(sample, channel)``.
      threshold: Break-even marginal ROAS.
      prob: Required posterior probability.

    Returns:
      Boolean ``(channel,)``.
    """
    return np.mean(np.asarray(mroas) < threshold, axis=0) >= prob


# ------------------------------------------------------------------ steady state
def media_draws(fit: FitLike) -> dict[str, Any]:
    """Posterior draws of the media response, in scaled units.

    The keys are the fields of :class:`mmm_jax.optimize.ResponseParams`, so
    ``ResponseParams(**media_draws(fit))`` feeds the budget optimiser.

    Returns:
      A dict with ``coef`` ``(sample, channel)``, ``saturation`` (kind per
      channel), ``saturation_params`` (name -> ``(sample, channel)``),
      ``synergy`` ``(sample, pair)`` or ``None``, ``pairs``, ``media_scale``
      ``(channel,)``, ``target_scale`` and ``adstock_weights``
      ``(sample, channel, lag)``.
    """
    draws = fit.flat_draws()
    data = fit.data
    n_channel = data.n_channel
    kinds = fit.config.saturation_kinds(n_channel)
    names = {n for k in kinds for n in SATURATION_PARAMS[k]}
    ad_kinds = fit.config.adstock_kinds(n_channel)
    ad_names = {n for k in ad_kinds for n in ADSTOCK_PARAMS[k]}
    max_lag = fit.config.lag_window(data.periods_per_year)
    weights = adstock_weights_channels(
        ad_kinds, {n: jnp.asarray(draws[f"media/{n}"]) for n in ad_names}, max_lag
    )
    synergy = draws.get("synergy/gamma")
    return {
        "coef": np.asarray(draws["media/coef"]),
        "saturation": kinds,
        "saturation_params": {n: np.asarray(draws[f"media/{n}"]) for n in names},
        "synergy": None if synergy is None else np.asarray(synergy),
        "pairs": synergy_pairs(n_channel) if synergy is not None else None,
        "media_scale": np.asarray(data.scaler.media_scale, dtype=float),
        "target_scale": float(data.scaler.target_scale),
        "adstock_weights": np.asarray(weights),
    }


def _steady_fn(m: dict):
    """Currency spend per period ``(channel,)`` -> currency revenue per period ``(sample,)``."""
    coef = jnp.asarray(m["coef"])
    params = {k: jnp.asarray(v) for k, v in m["saturation_params"].items()}
    synergy = None if m["synergy"] is None else jnp.asarray(m["synergy"])
    scale = jnp.asarray(m["media_scale"])

    def f(spend):
        x = jnp.broadcast_to(spend / scale, coef.shape)
        r = steady_state_response(x, coef, m["saturation"], params, synergy, m["pairs"])
        return r * m["target_scale"]

    return f


def response_curves(
    fit: FitLike, *, grid_size: int = 60, max_multiple: float = 3.0
) -> dict[str, np.ndarray]:
    """Steady-state response of each channel, others held at their mean spend.

    The curve of channel ``c`` is ``r(x_c, others at mean) - r(0, others at mean)``
    per period, in currency.

    Returns:
      ``{"spend": (grid, channel), "revenue": (sample, grid, channel)}``.
    """
    m = media_draws(fit)
    f = _steady_fn(m)
    mean_spend = np.asarray(fit.data.media).mean(axis=(0, 1))
    grid = np.linspace(0.0, 1.0, grid_size)[:, None] * (max_multiple * mean_spend)[None, :]
    out = np.zeros((m["coef"].shape[0], grid_size, len(mean_spend)))
    for c in range(len(mean_spend)):
        spends = np.repeat(mean_spend[None, :], grid_size, axis=0)
        spends[:, c] = grid[:, c]
        zero = mean_spend.copy()
        zero[c] = 0.0
        values = jax.vmap(f)(jnp.asarray(spends))  # (grid, sample)
        out[:, :, c] = np.asarray(values).T - np.asarray(f(jnp.asarray(zero)))[:, None]
    return {"spend": grid, "revenue": out}


def _marginal_fn(m: dict):
    """``(sample, channel)`` spend, one row per draw -> each draw's marginal revenue there.

    Every draw is differentiated at its own spend (aligned), so a bisection
    over draws costs one evaluation per draw, not one per pair of draws.
    """
    kinds, pairs = m["saturation"], m["pairs"]
    scale = jnp.asarray(m["media_scale"])
    target_scale = m["target_scale"]

    def revenue(spend, coef, params, synergy):
        r = steady_state_response(spend / scale, coef, kinds, params, synergy, pairs)
        return r * target_scale

    return jax.jit(jax.vmap(jax.grad(revenue)))


def saturation_spend(
    fit: FitLike, *, threshold: float = 1.0, max_multiple: float = 20.0, grid_size: int = 400
) -> np.ndarray:
    r"""Spend per period beyond which steady-state marginal ROAS stays below ``threshold``.

    For each draw and channel (others at their mean spend), the largest spend
    at which :math:`\partial r / \partial x_c \ge` ``threshold``, found on a
    grid up to ``max_multiple`` times the mean spend and refined by bisection.
    Zero when the channel never earns its marginal cost back; the grid's end
    when it still does there.

    Returns:
      Shape ``(sample, channel)``, currency per period.
    """
    m = media_draws(fit)
    marginal = _marginal_fn(m)
    coef = jnp.asarray(m["coef"])
    params = {k: jnp.asarray(v) for k, v in m["saturation_params"].items()}
    synergy = None if m["synergy"] is None else jnp.asarray(m["synergy"])
    n_sample, n_channel = coef.shape
    mean_spend = np.asarray(fit.data.media).mean(axis=(0, 1))

    def at(spend_by_draw):  # (sample, channel) -> (sample, channel)
        return np.asarray(marginal(jnp.asarray(spend_by_draw, coef.dtype), coef, params, synergy))

    result = np.zeros((n_sample, n_channel))
    base = np.broadcast_to(mean_spend, (n_sample, n_channel))
    for c in range(n_channel):
        xs = np.linspace(0.0, max_multiple * mean_spend[c], grid_size)
        marg = np.empty((grid_size, n_sample))
        for g, x in enumerate(xs):
            probe = base.copy()
            probe[:, c] = x
            marg[g] = at(probe)[:, c]
        above = marg >= threshold
        any_above = above.any(axis=0)
        last = grid_size - 1 - np.argmax(above[::-1], axis=0)  # last grid index above threshold
        lo = xs[last]
        hi = xs[np.minimum(last + 1, grid_size - 1)]
        for _ in range(30):  # bisection between the last point above and the next one
            mid = 0.5 * (lo + hi)
            probe = base.copy()
            probe[:, c] = mid
            ok = at(probe)[:, c] >= threshold
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        result[:, c] = np.where(any_above, lo, 0.0)
    return result


# ------------------------------------------------------------------ fit quality
def fit_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    r"""Point-fit quality of a prediction against the actual target.

    .. math::
        R^2 = 1 - \frac{\sum (y - \hat y)^2}{\sum (y - \bar y)^2}, \quad
        \mathrm{MAPE} = \overline{|y - \hat y| / |y|}, \quad
        \mathrm{NRMSE} = \frac{\sqrt{\overline{(y - \hat y)^2}}}{\max y - \min y}

    Args:
      actual: Shape ``(geo, time)`` (any shape, flattened).
      predicted: Same shape.

    Returns:
      ``{"r2", "mape", "nrmse"}``; MAPE skips periods whose actual is zero.
    """
    y = np.asarray(actual, dtype=float).reshape(-1)
    p = np.asarray(predicted, dtype=float).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"actual and predicted differ in size: {y.shape} vs {p.shape}")
    resid = y - p
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    nonzero = y != 0
    span = float(y.max() - y.min())
    return {
        "r2": float(1.0 - np.sum(resid**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "mape": float(np.mean(np.abs(resid[nonzero]) / np.abs(y[nonzero])))
        if nonzero.any()
        else float("nan"),
        "nrmse": float(np.sqrt(np.mean(resid**2)) / span) if span > 0 else float("nan"),
    }


# ------------------------------------------------------------------ geo panels
@dataclass(frozen=True)
class GeoContributions:
    """Counterfactual contributions per geo and channel over a window, in currency.

    Summing ``by_channel`` over geos gives :attr:`Contributions.by_channel`
    (each channel's spend is set to zero in every geo at once per draw, and
    geos are conditionally independent, so per-geo deltas add up).

    Attributes:
      geos: Geo names.
      channels: Channel names.
      spend: Spend per geo and channel over the window, ``(geo, channel)``.
      total: Predicted revenue per geo, ``(sample, geo)``.
      by_channel: Contribution per geo and channel, ``(sample, geo, channel)``.
      baseline: Predicted revenue per geo with every channel at zero, ``(sample, geo)``.
    """

    geos: tuple[str, ...]
    channels: tuple[str, ...]
    spend: np.ndarray
    total: np.ndarray
    by_channel: np.ndarray
    baseline: np.ndarray

    @property
    def roas(self) -> np.ndarray:
        """Per-geo ROAS, ``(sample, geo, channel)``; NaN where a geo has no spend."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.spend > 0, self.by_channel / self.spend, np.nan)

    @property
    def total_roas(self) -> np.ndarray:
        """ROAS of each channel over all geos, ``(sample, channel)``."""
        spend = self.spend.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(spend > 0, self.by_channel.sum(axis=1) / spend, np.nan)


def contributions_by_geo(fit: FitLike, data=None) -> GeoContributions:
    """Counterfactual contributions per geo and channel, per draw.

    The same counterfactual as :func:`contributions` (all channels against one
    channel's spend at zero, in every geo), kept per geo instead of summed.

    Args:
      fit: A fitted model.
      data: The window to decompose (default: the fit data).

    Returns:
      A :class:`GeoContributions`.
    """
    data = fit.data if data is None else data
    scale = float(data.scaler.target_scale)
    full = fit.predict(data)["mu"] * scale  # (sample, geo, time)
    by_channel = []
    for c in range(data.n_channel):
        media = np.array(data.media)
        media[..., c] = 0.0
        by_channel.append((full - fit.predict(data, media=media)["mu"] * scale).sum(axis=2))
    base = fit.predict(data, media=np.zeros_like(data.media))["mu"] * scale
    return GeoContributions(
        geos=tuple(data.geos),
        channels=tuple(data.channels),
        spend=np.asarray(data.media).sum(axis=1),
        total=full.sum(axis=2),
        by_channel=np.stack(by_channel, axis=-1),
        baseline=base.sum(axis=2),
    )


def geo_media_draws(fit: FitLike) -> dict[str, Any]:
    """Posterior draws of each geo's media response, in scaled units.

    Like :func:`media_draws`, with a geo axis: ``coef`` is each geo's
    coefficient (the national one times ``geo/media_multiplier`` when the model
    pools geos, the national one in every geo otherwise) and every saturation
    parameter is broadcast to ``(sample, geo, channel)`` (it already has that
    shape when curve shapes are sampled per geo). Adstock weights are left
    out: a steady state does not need them.

    Returns:
      A dict with ``coef`` ``(sample, geo, channel)``, ``saturation`` (kind
      per channel), ``saturation_params`` (name -> ``(sample, geo, channel)``),
      ``synergy`` ``(sample, pair)`` or ``None``, ``pairs``, ``media_scale``
      ``(channel,)`` and ``target_scale``.
    """
    draws = fit.flat_draws()
    data = fit.data
    n_geo, n_channel = data.n_geo, data.n_channel
    coef = np.asarray(draws["media/coef"])
    n_sample = coef.shape[0]
    shape = (n_sample, n_geo, n_channel)
    coef = np.broadcast_to(coef[:, None, :], shape)
    if "geo/media_multiplier" in draws:
        coef = coef * np.asarray(draws["geo/media_multiplier"])
    kinds = fit.config.saturation_kinds(n_channel)
    names = {n for k in kinds for n in SATURATION_PARAMS[k]}

    def per_geo(v):
        v = np.asarray(v)
        return np.broadcast_to(v if v.ndim == 3 else v[:, None, :], shape)

    synergy = draws.get("synergy/gamma")
    return {
        "coef": np.array(coef),
        "saturation": kinds,
        "saturation_params": {n: np.array(per_geo(draws[f"media/{n}"])) for n in names},
        "synergy": None if synergy is None else np.asarray(synergy),
        "pairs": synergy_pairs(n_channel) if synergy is not None else None,
        "media_scale": np.asarray(data.scaler.media_scale, dtype=float),
        "target_scale": float(data.scaler.target_scale),
    }
