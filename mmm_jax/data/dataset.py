"""The `MMMData` container: validation, scaling and conversion from pandas.

pandas is converted once, here, into frozen float64 arrays laid out
``(geo, time, channel)``; models never import pandas. A national data set is
simply ``geo = 1`` (named ``"national"``).

Scaling is chosen once, in `Scaler`, and travels with the data: models work on
``media_scaled``, ``target_scaled`` and ``controls_scaled`` and every output is
unscaled back into currency with the same `Scaler`. Counterfactual media
(`MMMData.with_media`) and hold-out windows (`MMMData.time_slice`) keep the
scaler of the data they came from, so scaled numbers stay comparable; a
training window for an out-of-sample test takes its own
(``time_slice(..., rescale=True)``), and the full data are put on that scale
with `MMMData.with_scaler` to forecast.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Days per year used to convert a frequency into periods per year.
DAYS_PER_YEAR = 365.25

#: The single geo name of a national (no geo column) data set.
NATIONAL = "national"

#: Fields `load_csv` reads as missing in value columns (pandas' defaults); the
#: geo column keeps them as names, so a geo called "NA" (Namibia) or "None" is a geo.
NA_VALUES: tuple[str, ...] = (
    "",
    " ",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

_MAX_SHOWN = 5


class DataValidationError(ValueError):
    """Input data that cannot be modelled as given.

    The message names every problem found at the failing stage: the column(s)
    involved and the first offending rows (row number and date, plus geo for
    panels) with the total count. ``problems`` holds one line per problem.
    """

    def __init__(self, problems: str | Sequence[str]):
        self.problems: tuple[str, ...] = (
            (problems,) if isinstance(problems, str) else tuple(problems)
        )
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            message = f"{len(self.problems)} problems:\n" + "\n".join(
                f"  - {p}" for p in self.problems
            )
        super().__init__(message)


# --------------------------------------------------------------------------- helpers


def _readonly(x: Any, ndim: int | None = None, name: str = "array") -> np.ndarray:
    """A fresh float64, read-only copy of ``x`` (never a view of the caller's array)."""
    a = np.array(x, dtype=np.float64, copy=True)
    if ndim is not None and a.ndim != ndim:
        raise DataValidationError(f"{name} must be {ndim}-D, got shape {a.shape}")
    a.setflags(write=False)
    return a


def _along_last(scale: np.ndarray, x: Any) -> tuple[Any, np.ndarray]:
    """Reshapes a ``(k,)`` scale to broadcast explicitly against ``x``'s last axis.

    Explicit reshaping keeps this valid under ``jax_numpy_rank_promotion="raise"``
    when ``x`` is a JAX array of shape ``(..., k)``.
    """
    if not hasattr(x, "ndim"):
        x = np.asarray(x, dtype=np.float64)
    if x.ndim == 0:
        raise ValueError(f"expected an array with a trailing axis of size {scale.shape[0]}")
    if x.shape[-1] != scale.shape[0]:
        raise ValueError(f"last axis must have size {scale.shape[0]}, got shape {tuple(x.shape)}")
    return x, scale.reshape((1,) * (x.ndim - 1) + scale.shape)


def _fmt_list(items: Sequence[Any], total: int | None = None, limit: int = _MAX_SHOWN) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(str(i) for i in list(items)[:limit])
    return f"{shown}, ... ({total} in all)" if total > limit else shown


def _fmt_date(d: Any) -> str:
    ts = pd.Timestamp(d)
    if ts is pd.NaT:
        return "NaT"
    return ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat()


def periods_per_year(freq: str) -> float:
    """Number of periods in a year for a pandas offset alias.

    Args:
      freq: A pandas offset alias, e.g. ``"D"``, ``"W-MON"``, ``"MS"``, ``"2D"``.

    Returns:
      ``365.25`` for daily, ``365.25 / 7`` for weekly, ``12`` for monthly,
      ``4`` quarterly, ``1`` yearly, divided by the alias's multiple.

    Raises:
      ValueError: The alias is not a regular frequency.
    """
    off = pd.tseries.frequencies.to_offset(freq)
    n = abs(off.n) or 1
    o = pd.offsets
    if isinstance(off, o.Day):  # pandas >= 3: a calendar day, no longer a Tick
        return DAYS_PER_YEAR / n
    if isinstance(off, o.Tick):
        return DAYS_PER_YEAR * 86400e9 / pd.Timedelta(off).value
    if isinstance(off, o.Week):
        return DAYS_PER_YEAR / 7.0 / n
    if isinstance(off, (o.BusinessDay, o.CustomBusinessDay)):
        return DAYS_PER_YEAR * 5.0 / 7.0 / n
    if isinstance(off, (o.SemiMonthBegin, o.SemiMonthEnd)):
        return 24.0 / n
    if isinstance(
        off, (o.MonthBegin, o.MonthEnd, o.BusinessMonthBegin, o.BusinessMonthEnd, o.WeekOfMonth)
    ):
        return 12.0 / n
    if isinstance(off, (o.QuarterBegin, o.QuarterEnd, o.BQuarterBegin, o.BQuarterEnd)):
        return 4.0 / n
    if isinstance(off, (o.YearBegin, o.YearEnd, o.BYearBegin, o.BYearEnd)):
        return 1.0 / n
    raise ValueError(f"cannot convert frequency {freq!r} into periods per year")


# --------------------------------------------------------------------------- Scaler


@dataclass(frozen=True, eq=False)
class Scaler:
    """Per-channel, target and per-control scales, chosen once from the data.

    Scaled quantities are ``x / scale``; every model output is unscaled back to
    currency with the same object.

    Attributes:
      media_scale: Mean spend per period of each channel over all geos and
        periods, shape ``(channel,)``, all > 0.
      target_scale: Mean of the target over all geos and periods, > 0.
      control_scale: Mean absolute value of each control (its standard
        deviation if that mean is 0), shape ``(control,)``, all > 0; may be
        empty.
    """

    media_scale: np.ndarray
    target_scale: float
    control_scale: np.ndarray

    def __post_init__(self):
        media = _readonly(self.media_scale, 1, "media_scale")
        control = _readonly(self.control_scale, 1, "control_scale")
        target = float(self.target_scale)
        for name, v in (("media_scale", media), ("control_scale", control)):
            if not (np.all(np.isfinite(v)) and np.all(v > 0)):
                raise DataValidationError(f"{name} must be finite and > 0, got {v.tolist()}")
        if not (np.isfinite(target) and target > 0):
            raise DataValidationError(f"target_scale must be finite and > 0, got {target}")
        object.__setattr__(self, "media_scale", media)
        object.__setattr__(self, "control_scale", control)
        object.__setattr__(self, "target_scale", target)

    @classmethod
    def from_arrays(cls, media: Any, target: Any, controls: Any | None = None) -> Scaler:
        """Computes the scales from data arrays.

        Args:
          media: Spend, shape ``(geo, time, channel)``, non-negative.
          target: Shape ``(geo, time)``.
          controls: Shape ``(geo, time, control)``, or ``None`` for no controls.

        Returns:
          The `Scaler`.

        Raises:
          DataValidationError: A channel has zero mean spend, the target's
            mean is not > 0, or a control is identically zero.
        """
        media = np.asarray(media, dtype=np.float64)
        target = np.asarray(target, dtype=np.float64)
        n_geo, n_time = target.shape
        if controls is None:
            controls = np.zeros((n_geo, n_time, 0))
        controls = np.asarray(controls, dtype=np.float64)
        media_scale = media.reshape(n_geo * n_time, media.shape[-1]).mean(axis=0)
        flat_controls = controls.reshape(n_geo * n_time, controls.shape[-1])
        control_scale = np.abs(flat_controls).mean(axis=0)
        control_scale = np.where(control_scale > 0, control_scale, flat_controls.std(axis=0))
        target_scale = float(target.mean())
        if not target_scale > 0:
            raise DataValidationError(
                f"the target's mean over all geos and periods is {target_scale:g}; "
                "it must be > 0 to scale the target"
            )
        return cls(media_scale=media_scale, target_scale=target_scale, control_scale=control_scale)

    def scale_media(self, x: Any) -> Any:
        """Spend in currency to scaled media: ``x / media_scale``.

        Args:
          x: Shape ``(..., channel)``; numpy or JAX.

        Returns:
          Same shape and array type as ``x``.
        """
        x, s = _along_last(self.media_scale, x)
        return x / s

    def unscale_media(self, x: Any) -> Any:
        """Scaled media back to currency: ``x * media_scale``.

        Args:
          x: Shape ``(..., channel)``.

        Returns:
          Same shape as ``x``.
        """
        x, s = _along_last(self.media_scale, x)
        return x * s

    def scale_target(self, y: Any) -> Any:
        """Target in currency to scaled target: ``y / target_scale``.

        Args:
          y: Any shape.

        Returns:
          Same shape as ``y``.
        """
        return y / self.target_scale

    def unscale_target(self, y: Any) -> Any:
        """Scaled target (or any revenue quantity) back to currency.

        Args:
          y: Any shape.

        Returns:
          ``y * target_scale``, same shape.
        """
        return y * self.target_scale

    def scale_controls(self, x: Any) -> Any:
        """Controls to scaled controls: ``x / control_scale``.

        Args:
          x: Shape ``(..., control)``.

        Returns:
          Same shape as ``x``.
        """
        x, s = _along_last(self.control_scale, x)
        return x / s

    def unscale_controls(self, x: Any) -> Any:
        """Scaled controls back to original units: ``x * control_scale``.

        Args:
          x: Shape ``(..., control)``.

        Returns:
          Same shape as ``x``.
        """
        x, s = _along_last(self.control_scale, x)
        return x * s

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; `from_dict` restores it exactly.

        Returns:
          ``{"media_scale": [...], "target_scale": float, "control_scale": [...]}``.
        """
        return {
            "media_scale": self.media_scale.tolist(),
            "target_scale": self.target_scale,
            "control_scale": self.control_scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scaler:
        """Inverse of `to_dict`.

        Args:
          d: A dict as written by `to_dict`.

        Returns:
          The `Scaler`.
        """
        return cls(
            media_scale=np.asarray(d["media_scale"], dtype=np.float64),
            target_scale=float(d["target_scale"]),
            control_scale=np.asarray(d["control_scale"], dtype=np.float64).reshape(-1),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scaler):
            return NotImplemented
        return (
            np.array_equal(self.media_scale, other.media_scale)
            and self.target_scale == other.target_scale
            and np.array_equal(self.control_scale, other.control_scale)
        )


# --------------------------------------------------------------------------- MMMData


@dataclass(frozen=True, eq=False)
class MMMData:
    """Validated model inputs: read-only float64 arrays, coordinates and the scaler.

    Attributes:
      media: Spend in currency, shape ``(geo, time, channel)``, finite, >= 0.
      target: The KPI (e.g. revenue), shape ``(geo, time)``, finite.
      controls: Control variables, shape ``(geo, time, control)``; ``control``
        may be 0.
      dates: Period start dates, length ``time``.
      geos: Geo names, length ``geo``; ``("national",)`` without a geo column.
      channels: Channel names (without the spend prefix), length ``channel``.
      control_names: Control names, length ``control``.
      target_name: Name of the target column.
      freq: pandas offset alias of the dates, e.g. ``"D"`` or ``"W-MON"``.
      scaler: The scales used by ``*_scaled``.
      population: Each geo's population (or any other measure of its size,
        such as households or stores), shape ``(geo,)``, finite and > 0, or
        ``None`` when the data have none. A geo model scales each geo's media
        effects and baseline by it (`mmm_jax.models.GeoPooling`); without it
        the geo's mean revenue sets its size.
    """

    media: np.ndarray
    target: np.ndarray
    controls: np.ndarray
    dates: pd.DatetimeIndex
    geos: tuple[str, ...]
    channels: tuple[str, ...]
    control_names: tuple[str, ...]
    target_name: str
    freq: str
    scaler: Scaler
    population: np.ndarray | None = None

    def __post_init__(self):
        media = _readonly(self.media, 3, "media")
        target = _readonly(self.target, 2, "target")
        controls = _readonly(self.controls, 3, "controls")
        geos = tuple(str(g) for g in self.geos)
        channels = tuple(str(c) for c in self.channels)
        control_names = tuple(str(c) for c in self.control_names)
        n_geo, n_time, n_channel = media.shape
        problems = []
        if target.shape != (n_geo, n_time):
            problems.append(f"target has shape {target.shape}, expected {(n_geo, n_time)}")
        if controls.shape[:2] != (n_geo, n_time):
            problems.append(
                f"controls have shape {controls.shape}, expected ({n_geo}, {n_time}, control)"
            )
        for name, names, size in (
            ("geos", geos, n_geo),
            ("channels", channels, n_channel),
            ("control_names", control_names, controls.shape[-1]),
        ):
            if len(names) != size:
                problems.append(f"{name} has {len(names)} names for an axis of size {size}")
            elif len(set(names)) != len(names):
                dup = [k for k, v in collections.Counter(names).items() if v > 1]
                problems.append(f"{name} has duplicates: {dup}")
        if len(self.dates) != n_time:
            problems.append(f"dates has length {len(self.dates)}, expected {n_time}")
        if self.scaler.media_scale.shape != (n_channel,):
            problems.append(
                f"scaler.media_scale has shape {self.scaler.media_scale.shape}, "
                f"expected ({n_channel},)"
            )
        if self.scaler.control_scale.shape != (controls.shape[-1],):
            problems.append(
                f"scaler.control_scale has shape {self.scaler.control_scale.shape}, "
                f"expected ({controls.shape[-1]},)"
            )
        population = None
        if self.population is not None:
            population = _readonly(self.population, 1, "population")
            if population.shape != (n_geo,):
                problems.append(f"population has shape {population.shape}, expected ({n_geo},)")
            elif not (np.all(np.isfinite(population)) and np.all(population > 0)):
                bad = [
                    geos[g] for g in np.flatnonzero(~(np.isfinite(population) & (population > 0)))
                ]
                problems.append(
                    f"population must be finite and > 0; it is not for geo(s) {_fmt_list(bad)}"
                )
        if problems:
            raise DataValidationError(problems)
        dates = pd.DatetimeIndex(self.dates)
        freq = str(self.freq)
        try:
            periods_per_year(freq)
        except ValueError as err:
            raise DataValidationError(str(err)) from None
        if dates.freq is None or dates.freqstr != freq:
            try:
                dates = pd.DatetimeIndex(dates, freq=freq)
            except ValueError:
                raise DataValidationError(
                    f"dates do not follow the frequency {freq!r}: {_fmt_list(dates.map(_fmt_date))}"
                ) from None
        object.__setattr__(self, "media", media)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "controls", controls)
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "geos", geos)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "control_names", control_names)
        object.__setattr__(self, "target_name", str(self.target_name))
        object.__setattr__(self, "freq", freq)
        object.__setattr__(self, "population", population)
        self._check_values()

    def _check_values(self) -> None:
        problems = []
        for name, arr, names in (
            ("media", self.media, self.channels),
            ("controls", self.controls, self.control_names),
        ):
            bad = ~np.isfinite(arr)
            for c in np.flatnonzero(bad.any(axis=(0, 1))):
                problems.append(
                    f"{name} channel {names[c]!r}: " + self._where(bad[..., c], "NaN/inf")
                )
        bad = ~np.isfinite(self.target)
        if bad.any():
            problems.append(f"target {self.target_name!r}: " + self._where(bad, "NaN/inf"))
        neg = self.media < 0
        for c in np.flatnonzero(neg.any(axis=(0, 1))):
            problems.append(
                f"media channel {self.channels[c]!r}: " + self._where(neg[..., c], "negative")
            )
        if problems:
            raise DataValidationError(problems)

    def _where(self, mask: np.ndarray, what: str) -> str:
        """Describes the ``(geo, time)`` cells where ``mask`` holds."""
        g, t = np.nonzero(mask)
        cells = [
            _fmt_date(self.dates[ti]) + ("" if self.n_geo == 1 else f" {self.geos[gi]}")
            for gi, ti in zip(g, t)
        ]
        return f"{len(cells)} {what} value(s) at {_fmt_list(cells)}"

    # ---------------------------------------------------------------- sizes

    @property
    def n_geo(self) -> int:
        """Number of geos (1 for a national data set)."""
        return self.media.shape[0]

    @property
    def n_time(self) -> int:
        """Number of periods."""
        return self.media.shape[1]

    @property
    def n_channel(self) -> int:
        """Number of media channels."""
        return self.media.shape[2]

    @property
    def n_control(self) -> int:
        """Number of controls (may be 0)."""
        return self.controls.shape[2]

    @property
    def periods_per_year(self) -> float:
        """Periods per year of `freq`: 365.25 daily, 365.25/7 ≈ 52.18 weekly, 12 monthly."""
        return periods_per_year(self.freq)

    # ---------------------------------------------------------------- scaled views

    @functools.cached_property
    def media_scaled(self) -> np.ndarray:
        """``media / scaler.media_scale``, shape ``(geo, time, channel)``, read-only."""
        return _readonly(self.scaler.scale_media(self.media))

    @functools.cached_property
    def target_scaled(self) -> np.ndarray:
        """``target / scaler.target_scale``, shape ``(geo, time)``, read-only."""
        return _readonly(self.scaler.scale_target(self.target))

    @functools.cached_property
    def controls_scaled(self) -> np.ndarray:
        """``controls / scaler.control_scale``, shape ``(geo, time, control)``, read-only."""
        return _readonly(self.scaler.scale_controls(self.controls))

    # ---------------------------------------------------------------- derived data

    def with_media(self, media: Any) -> MMMData:
        """The same data with other spend and the **same** scaler (counterfactuals).

        Args:
          media: Spend in currency, shape ``(geo, time, channel)`` equal to
            ``self.media.shape``; finite and non-negative.

        Returns:
          A new `MMMData`; ``self`` is unchanged.

        Raises:
          DataValidationError: Wrong shape, NaN/inf or negative spend.
        """
        media = np.asarray(media, dtype=np.float64)
        if media.shape != self.media.shape:
            raise DataValidationError(
                f"media has shape {media.shape}, expected {self.media.shape} (geo, time, channel)"
            )
        return dataclasses.replace(self, media=media)

    def with_scaler(self, scaler: Scaler) -> MMMData:
        """The same data on another scale (e.g. a training window's, to forecast from it).

        Args:
          scaler: A `Scaler` with one scale per channel and per control.

        Returns:
          A new `MMMData`; ``self`` is unchanged.

        Raises:
          DataValidationError: The scaler has another number of channels or controls.
        """
        if scaler.media_scale.shape != (self.n_channel,) or scaler.control_scale.shape != (
            self.n_control,
        ):
            raise DataValidationError(
                f"the scaler has scales for {scaler.media_scale.shape[0]} channel(s) and "
                f"{scaler.control_scale.shape[0]} control(s); the data have "
                f"{self.n_channel} channel(s) and {self.n_control} control(s)"
            )
        return dataclasses.replace(self, scaler=scaler)

    def time_slice(self, start: Any = None, stop: Any = None, *, rescale: bool = False) -> MMMData:
        """A sub-window of periods, on the same scaler or, with ``rescale``, its own.

        The window is half-open, ``[start, stop)``, for both forms, so
        consecutive windows tile the data without overlap. Keep the scaler to
        compare windows in scaled units; take the window's own
        (``rescale=True``) to train a model that must not see the periods after
        it, whose means would otherwise set the training data's scale (hold-out
        and rolling-origin validation do).

        Args:
          start: First period: an ``int`` position (negative counts from the
            end, as in Python slicing), a date (``str``, ``datetime`` or
            ``Timestamp``; the first period on or after it), or ``None``.
          stop: End of the window, excluded: an ``int`` position, a date (the
            first period on or after it is excluded), or ``None``.
          rescale: Compute the scaler from the window's own spend, target and
            controls (`Scaler.from_arrays`).

        Returns:
          A new `MMMData` holding at least one period.

        Raises:
          ValueError: The window is empty.
          TypeError: ``start`` or ``stop`` is neither an int, a date nor None.
          DataValidationError: With ``rescale``, a channel without spend, a
            control that is zero throughout, or a target whose mean is not
            positive in the window (it cannot be scaled).
        """
        lo = self._position(start, 0)
        hi = self._position(stop, self.n_time)
        if not hi > lo:
            raise ValueError(
                f"time_slice({start!r}, {stop!r}) is empty for dates "
                f"{_fmt_date(self.dates[0])} .. {_fmt_date(self.dates[-1])} ({self.n_time} periods)"
            )
        window = dataclasses.replace(
            self,
            media=self.media[:, lo:hi],
            target=self.target[:, lo:hi],
            controls=self.controls[:, lo:hi],
            dates=self.dates[lo:hi],
        )
        if not rescale:
            return window
        span = f"{_fmt_date(window.dates[0])} .. {_fmt_date(window.dates[-1])}"
        problems = []
        for c, name in enumerate(self.channels):
            if not window.media[..., c].sum() > 0:
                spent = np.flatnonzero(self.media[..., c].sum(axis=0) > 0)
                first = f"first spend {_fmt_date(self.dates[spent[0]])}" if spent.size else "none"
                problems.append(
                    f"no spend on {name} in it ({first}): end the window later, or leave "
                    f"the channel out"
                )
        for j, name in enumerate(self.control_names):
            if not np.any(window.controls[..., j] != 0):
                problems.append(f"control {name} is zero throughout it: leave it out")
        if problems:
            raise DataValidationError(
                [f"the window {span} cannot be scaled on its own: {p}" for p in problems]
            )
        try:
            scaler = Scaler.from_arrays(window.media, window.target, window.controls)
        except DataValidationError as err:
            raise DataValidationError(
                f"the window {span} cannot be scaled on its own: {err}"
            ) from None
        return window.with_scaler(scaler)

    def _position(self, key: Any, default: int) -> int:
        if key is None:
            return default
        if isinstance(key, (bool, np.bool_)):
            raise TypeError(f"time_slice bounds must be int, date or None, got {key!r}")
        if isinstance(key, (int, np.integer)):
            return slice(int(key), None).indices(self.n_time)[0]
        try:
            ts = pd.Timestamp(key)
        except (TypeError, ValueError):
            raise TypeError(f"time_slice bounds must be int, date or None, got {key!r}") from None
        return int(self.dates.searchsorted(ts, side="left"))

    # ---------------------------------------------------------------- conversion

    def to_frame(
        self,
        *,
        spend_prefix: str = "spend_",
        geo_column: str = "geo",
        population_column: str = "population",
    ) -> pd.DataFrame:
        """A long DataFrame in the `from_frame` layout.

        Columns are ``date``, ``geo`` (left out when the only geo is
        ``"national"``), ``<spend_prefix><channel>`` per channel, the controls,
        the population (when the data have one) and the target; rows are
        date-major (every geo of the first date, then the second, ...).

        Args:
          spend_prefix: Prefix of the spend columns.
          geo_column: Name of the geo column.
          population_column: Name of the population column.

        Returns:
          A new DataFrame; ``from_frame(data.to_frame(), geo=...,
          population=...)`` rebuilds ``data`` with the same arrays and scaler.
        """
        n_geo, n_time = self.n_geo, self.n_time
        out: dict[str, Any] = {"date": np.repeat(self.dates.values, n_geo)}
        if self.geos != (NATIONAL,):
            out[geo_column] = np.tile(np.asarray(self.geos, dtype=object), n_time)
        media = self.media.transpose(1, 0, 2).reshape(n_time * n_geo, self.n_channel)
        for c, name in enumerate(self.channels):
            out[f"{spend_prefix}{name}"] = media[:, c]
        controls = self.controls.transpose(1, 0, 2).reshape(n_time * n_geo, self.n_control)
        for c, name in enumerate(self.control_names):
            out[name] = controls[:, c]
        if self.population is not None:
            out[population_column] = np.tile(self.population, n_time)
        out[self.target_name] = self.target.T.reshape(-1)
        return pd.DataFrame(out)

    def digest(self) -> str:
        """A SHA-256 fingerprint of the data's content (hex).

        Covers the media, target and control values (float64 bytes), the
        dates, geo, channel and control names, the target name, the
        frequency and the population (when there is one); not the scaler, which follows from the values. Two
        `MMMData` with the same digest hold the same numbers, so a run folder
        records it (``summary.json``'s ``provenance.data_hash``) to say which
        data a fit describes: ``load_csv(...)`` with the same arguments gives
        the same digest.

        Returns:
          64 hex characters.
        """
        h = hashlib.sha256()
        arrays = [("media", self.media), ("target", self.target), ("controls", self.controls)]
        if self.population is not None:  # data without one keep their digest
            arrays.append(("population", self.population))
        for name, a in arrays:
            a = np.ascontiguousarray(a, dtype=np.float64)
            h.update(f"{name}{a.shape}".encode())
            h.update(a.tobytes())
        h.update(np.ascontiguousarray(self.dates.as_unit("ns").asi8).tobytes())
        labels = {
            "geos": list(self.geos),
            "channels": list(self.channels),
            "control_names": list(self.control_names),
            "target_name": self.target_name,
            "freq": self.freq,
        }
        h.update(json.dumps(labels, sort_keys=True).encode())
        return h.hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of everything; `from_dict` restores it exactly.

        Returns:
          Nested lists for the arrays, ISO strings for the dates.
        """
        return {
            "media": self.media.tolist(),
            "target": self.target.tolist(),
            "controls": self.controls.tolist(),
            "dates": [ts.isoformat() for ts in self.dates],
            "geos": list(self.geos),
            "channels": list(self.channels),
            "control_names": list(self.control_names),
            "target_name": self.target_name,
            "freq": self.freq,
            "scaler": self.scaler.to_dict(),
            "population": None if self.population is None else self.population.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MMMData:
        """Inverse of `to_dict`.

        Args:
          d: A dict as written by `to_dict`.

        Returns:
          The `MMMData`.
        """
        geos, dates = tuple(d["geos"]), pd.DatetimeIndex(pd.to_datetime(d["dates"]))
        control_names = tuple(d["control_names"])
        population = d.get("population")  # absent in files written before it existed
        return cls(
            media=np.asarray(d["media"], dtype=np.float64),
            target=np.asarray(d["target"], dtype=np.float64),
            controls=np.asarray(d["controls"], dtype=np.float64).reshape(
                len(geos), len(dates), len(control_names)
            ),
            dates=dates,
            geos=geos,
            channels=tuple(d["channels"]),
            control_names=control_names,
            target_name=d["target_name"],
            freq=d["freq"],
            scaler=Scaler.from_dict(d["scaler"]),
            population=None if population is None else np.asarray(population, dtype=np.float64),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MMMData):
            return NotImplemented
        return (
            np.array_equal(self.media, other.media)
            and np.array_equal(self.target, other.target)
            and np.array_equal(self.controls, other.controls)
            and self.dates.equals(other.dates)
            and self.geos == other.geos
            and self.channels == other.channels
            and self.control_names == other.control_names
            and self.target_name == other.target_name
            and self.freq == other.freq
            and self.scaler == other.scaler
            and (
                (self.population is None and other.population is None)
                or (
                    self.population is not None
                    and other.population is not None
                    and np.array_equal(self.population, other.population)
                )
            )
        )

    def __repr__(self) -> str:
        return (
            f"MMMData(geo={self.n_geo}, time={self.n_time}, channels={list(self.channels)}, "
            f"controls={list(self.control_names)}, target={self.target_name!r}, "
            f"freq={self.freq!r}, "
            f"dates={_fmt_date(self.dates[0])}..{_fmt_date(self.dates[-1])})"
        )


# --------------------------------------------------------------------------- from_frame


class _Rows:
    """Formats positional rows of the input frame as ``row N (date[, geo])``."""

    def __init__(self, dates: pd.Series | None, geos: pd.Series | None):
        self.dates = dates
        self.geos = geos

    def __call__(self, positions: np.ndarray, what: str) -> str:
        positions = np.asarray(positions)
        labels = []
        for p in positions[:_MAX_SHOWN]:
            extra = []
            if self.dates is not None:
                extra.append(_fmt_date(self.dates.iloc[p]))
            if self.geos is not None:
                extra.append(str(self.geos.iloc[p]))
            labels.append(f"{p} ({', '.join(extra)})" if extra else str(p))
        return f"{len(positions)} {what} at rows {_fmt_list(labels, len(positions))}"


def _resolve_channels(
    df: pd.DataFrame, channels: Sequence[str] | str | None, prefix: str
) -> tuple[list[str], list[str]]:
    """Returns (column names, channel names)."""
    cols = [str(c) for c in df.columns]
    if channels is None:
        found = [c for c in cols if prefix and c.startswith(prefix) and len(c) > len(prefix)]
        if not found:
            raise DataValidationError(
                f"no channels found: no column starts with {prefix!r}; available columns: {cols}. "
                "Pass channels=[...] or spend_prefix=..."
            )
        return found, [c[len(prefix) :] for c in found]
    if isinstance(channels, str):
        channels = [channels]
    channels = list(channels)
    if not channels:
        raise DataValidationError("no channels found: channels=[] is empty")
    columns, names, missing = [], [], []
    for ch in channels:
        ch = str(ch)
        if f"{prefix}{ch}" in cols:
            columns.append(f"{prefix}{ch}")
            names.append(ch)
        elif ch in cols:
            columns.append(ch)
            names.append(ch[len(prefix) :] if prefix and ch.startswith(prefix) else ch)
        else:
            missing.append(f"{ch!r} (looked for columns {prefix + ch!r} and {ch!r})")
    if missing:
        raise DataValidationError(
            f"missing channel column(s): {', '.join(missing)}; available columns: {cols}"
        )
    dup = [k for k, v in collections.Counter(names).items() if v > 1]
    if dup:
        raise DataValidationError(f"channels listed more than once: {dup}")
    return columns, names


def _parse_dates(raw: pd.Series, column: str, rows: _Rows) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(raw, errors="coerce")
        if not pd.api.types.is_datetime64_any_dtype(parsed):
            raise DataValidationError(f"column {column!r} could not be parsed as dates")
    problems = []
    missing = raw.isna().to_numpy()
    if missing.any():
        problems.append(f"column {column!r}: " + rows(np.flatnonzero(missing), "missing date(s)"))
    bad = np.flatnonzero(parsed.isna().to_numpy() & ~missing)
    if bad.size:
        values = _fmt_list([repr(v) for v in raw.iloc[bad[:_MAX_SHOWN]]], bad.size)
        problems.append(
            f"column {column!r}: {bad.size} unparseable date(s) at rows "
            f"{_fmt_list(bad.tolist())}: {values}"
        )
    if problems:
        raise DataValidationError(problems)
    return parsed.reset_index(drop=True)


#: A categorical control with more levels than this is refused (an identifier?).
_MAX_LEVELS = 50


def _is_categorical(raw: pd.Series) -> bool:
    """Text or category values none of which reads as a number: a categorical control."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return False
    present = raw[raw.notna()]
    present = present[present.astype(str).str.strip() != ""]
    if present.empty or present.map(lambda v: isinstance(v, (bool, np.bool_))).any():
        return False
    return bool(pd.to_numeric(present, errors="coerce").isna().all())


def _one_hot(raw: pd.Series, column: str, rows: _Rows, problems: list[str]) -> dict:
    """One 0/1 column per level of a categorical control, the most frequent level left out.

    The left-out level is the reference the intercept absorbs (all levels
    together would duplicate the intercept); columns are named
    ``column=level``, levels in sorted order.
    """
    labels = raw.astype("string").str.strip()
    missing = np.flatnonzero((labels.isna() | (labels == "")).to_numpy())
    if missing.size:
        problems.append(f"column {column!r}: " + rows(missing, "missing categorical value(s)"))
        return {}
    counts = labels.value_counts()
    if len(counts) < 2:
        problems.append(
            f"control column {column!r} has one value ({counts.index[0]!r}) in every row"
        )
        return {}
    if len(counts) > _MAX_LEVELS:
        problems.append(
            f"control column {column!r} has {len(counts)} distinct text values (more than "
            f"{_MAX_LEVELS}): an identifier, not a category? Drop it or group its values"
        )
        return {}
    reference = max(sorted(counts.index), key=lambda level: counts[level])
    return {
        f"{column}={level}": (labels == level).to_numpy(dtype=np.float64)
        for level in sorted(counts.index)
        if level != reference
    }


def _numeric(
    raw: pd.Series, column: str, rows: _Rows, problems: list[str], *, allow_bool: bool = False
) -> np.ndarray | None:
    """Converts one column to float64, appending non-numeric / boolean / NaN / inf problems.

    Booleans (``True``/``False``, which pandas reads from a CSV column of them)
    become 1.0/0.0 only where ``allow_bool`` (controls such as a holiday
    flag); spend and the target must be amounts.
    """
    if pd.api.types.is_bool_dtype(raw):
        if allow_bool:
            return raw.to_numpy(dtype=np.float64)
        problems.append(
            f"column {column!r}: True/False values where amounts are expected "
            f"({len(raw)} rows); it must hold numbers"
        )
        return None
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_complex_dtype(raw):
        values = raw.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        if not allow_bool:
            flags = np.flatnonzero(raw.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy())
            if flags.size:
                problems.append(
                    f"column {column!r}: "
                    + rows(flags, "True/False value(s)")
                    + " where amounts are expected"
                )
                return None
        coerced = pd.to_numeric(raw, errors="coerce")
        bad = np.flatnonzero(coerced.isna().to_numpy() & raw.notna().to_numpy())
        if bad.size:
            shown = _fmt_list([repr(v) for v in raw.iloc[bad[:_MAX_SHOWN]]], bad.size)
            problems.append(
                f"column {column!r}: " + rows(bad, "non-numeric value(s)") + f": {shown}"
            )
            return None
        values = coerced.to_numpy(dtype=np.float64, na_value=np.nan)
    nan = np.flatnonzero(np.isnan(values))
    if nan.size:
        problems.append(f"column {column!r}: " + rows(nan, "NaN / missing value(s)"))
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        problems.append(f"column {column!r}: " + rows(inf, "infinite value(s)"))
    return None if nan.size or inf.size else values


def _freq_alias(dates: pd.DatetimeIndex) -> str | None:
    """``pd.infer_freq`` as a string alias on pandas 2 and 3 (which may return an offset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas 3: "will return a BaseOffset" notice
        freq = pd.infer_freq(dates)
    return freq if freq is None or isinstance(freq, str) else freq.freqstr


def _infer_freq(dates: pd.DatetimeIndex, column: str) -> str:
    """The offset alias of regularly spaced, sorted, unique dates."""
    freq = _freq_alias(dates)
    if freq is not None:
        return freq
    # Irregular: guess the intended step from the most common 3-date window.
    votes = collections.Counter(
        f for i in range(len(dates) - 2) if (f := _freq_alias(dates[i : i + 3])) is not None
    )
    if votes:
        guess = votes.most_common(1)[0][0]
        off = pd.tseries.frequencies.to_offset(guess)
        gaps = [(a, b) for a, b in zip(dates[:-1], dates[1:]) if a + off != b]
    else:
        steps = pd.Series(dates[1:] - dates[:-1])
        step = steps.mode().iloc[0]
        guess = f"{step}"
        gaps = [(a, b) for a, b in zip(dates[:-1], dates[1:]) if b - a != step]
    shown = [f"{_fmt_date(a)} -> {_fmt_date(b)}" for a, b in gaps]
    raise DataValidationError(
        f"column {column!r}: irregular frequency: most steps are {guess!r} but "
        f"{len(gaps)} step(s) are not, between {_fmt_list(shown)}"
    )


def _repeated(header: Sequence[str]) -> str | None:
    """A message naming the column names that occur more than once, or ``None``."""
    seen: dict[str, list[int]] = collections.defaultdict(list)
    for i, name in enumerate(header):
        seen[str(name)].append(i + 1)
    dups = {k: v for k, v in seen.items() if len(v) > 1}
    if not dups:
        return None
    shown = "; ".join(
        f"{k!r} at columns {', '.join(map(str, v))}" for k, v in list(dups.items())[:_MAX_SHOWN]
    )
    return (
        f"{len(dups)} column name(s) appear more than once in the header: {shown}; "
        "rename or drop the copies"
    )


def _geo_labels(raw: pd.Series, column: str) -> pd.Series:
    """Geo labels as strings with surrounding spaces stripped.

    Missing labels (``None``/NaN in a frame, an empty field in a CSV) raise;
    labels such as ``"NA"`` or ``"None"`` are names (`load_csv` keeps them).
    Stripping must not merge two labels: ``"north"`` and ``" north"`` in one
    column raise rather than become one geo silently.
    """
    absent = raw.isna().to_numpy()
    labels = raw.astype(object).where(~absent, "").astype(str)
    stripped = labels.str.strip()
    missing = absent | (stripped == "").to_numpy()
    if missing.any():
        raise DataValidationError(
            f"column {column!r}: " + _Rows(None, None)(np.flatnonzero(missing), "missing geo(s)")
        )
    variants = pd.DataFrame({"s": stripped, "r": labels}).groupby("s", sort=False)["r"].unique()
    merged = [list(r) for r in variants if len(r) > 1]
    if merged:
        first = {v: int(np.argmax((labels == v).to_numpy())) for r in merged for v in r}
        shown = "; ".join(
            " and ".join(f"{v!r} (row {first[v]})" for v in r[:_MAX_SHOWN])
            for r in merged[:_MAX_SHOWN]
        )
        raise DataValidationError(
            f"column {column!r}: geo labels differ only in surrounding spaces: {shown}; "
            "make each geo's label identical"
        )
    return stripped.reset_index(drop=True)


def from_frame(
    df: pd.DataFrame,
    *,
    date: str = "date",
    target: str = "revenue",
    channels: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    geo: str | None = None,
    population: str | None = None,
    min_periods: int = 1,
    spend_prefix: str = "spend_",
    revenue_per_kpi: float | str | None = None,
) -> MMMData:
    """Validates a long DataFrame and converts it into `MMMData`.

    The layout is one row per period (and per geo for a panel): a date column,
    an optional geo column, one spend column per channel in currency, optional
    control columns and the target. Rows of a panel may come in any geo
    order, but each geo's dates must be increasing. Nothing is dropped,
    filled, or reordered silently: every problem raises.

    Args:
      df: The data; never modified.
      date: Name of the date column (datetimes or parseable strings).
      target: Name of the target (KPI) column.
      channels: Channel names (``"meta"`` for column ``"spend_meta"``) or
        column names (``"spend_meta"``); ``None`` takes every column starting
        with ``spend_prefix``, in column order.
      controls: Names of control columns: numeric, boolean (0/1), or
        categorical (text, e.g. an event name or a weekday), which is one-hot
        encoded into controls named ``column=level``, its most frequent level
        left out as the reference the intercept absorbs.
      geo: Name of the geo column; ``None`` for a national data set, whose
        single geo is named ``"national"``. Labels are stripped of
        surrounding spaces.
      population: Name of a column holding each geo's population (or another
        measure of its size: households, stores), positive and the same in
        every row of a geo; ``None`` for none. A geo model scales each geo's
        effects by it (`mmm_jax.models.GeoPooling`); it is not a control.
      min_periods: Fewest periods accepted, e.g. the adstock window.
      spend_prefix: Prefix of spend columns, stripped from channel names.
      revenue_per_kpi: With a KPI as ``target`` (e.g. conversions), the revenue
        one unit of it brings: a number, or the name of a column holding it
        per period. The model is then fitted to revenue, ``target x
        revenue_per_kpi`` per row, named ``"revenue (TARGET x VALUE)"``, so
        contributions and ROAS are in currency. With a constant value this is
        the KPI's own fit, every number times the value; with a column the
        periods' KPI are weighted by their value. ``None``: the target is
        fitted as it is.

    Returns:
      The validated `MMMData`, its `Scaler` computed from all geos and periods.

    Raises:
      TypeError: ``df`` is not a DataFrame.
      DataValidationError: The message names each column and the offending
        rows (row position in ``df``, date, geo; the first 5 and the count)
        for: a column name that occurs twice, missing columns, no channels,
        a column used twice, missing or unparseable dates, a
        ``revenue_per_kpi`` that is missing, not > 0 or not finite, missing geos or
        geo labels that differ only in surrounding spaces, non-numeric,
        True/False (in spend or the target), NaN or infinite values, negative
        spend, duplicate or unsorted dates (per geo), an unbalanced geo
        panel, fewer than ``max(2, min_periods)`` periods, an irregular
        frequency, an all-zero channel, a constant target or control, a
        target whose mean is not positive, or a population that is not
        positive or differs between the rows of a geo.
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    cols = [str(c) for c in df.columns]
    repeated = _repeated(cols)
    if repeated:
        raise DataValidationError(repeated)
    if isinstance(controls, str):
        controls = [controls]
    controls = [str(c) for c in controls]

    # 1. Columns.
    wanted = {"date": [date], "target": [target], "control": controls}
    if geo is not None:
        wanted["geo"] = [geo]
    value_column = None
    if isinstance(revenue_per_kpi, str):
        value_column = revenue_per_kpi
        wanted["revenue-per-KPI"] = [value_column]
    elif revenue_per_kpi is not None:
        value = float(revenue_per_kpi)
        if not (np.isfinite(value) and value > 0):
            raise DataValidationError(f"revenue_per_kpi must be finite and > 0, got {value:g}")
    if population is not None:
        wanted["population"] = [population]
    missing = [
        f"{kind} column {c!r}" for kind, names in wanted.items() for c in names if c not in cols
    ]
    if missing:
        raise DataValidationError(f"missing {', '.join(missing)}; available columns: {cols}")
    channel_cols, channel_names = _resolve_channels(df, channels, spend_prefix)
    used = [date, target, *channel_cols, *controls] + [c for c in (geo, population) if c]
    used += [value_column] if value_column is not None else []
    twice = [k for k, v in collections.Counter(used).items() if v > 1]
    if twice:
        raise DataValidationError(f"column(s) used for more than one role: {twice}")
    if len(df) == 0:
        raise DataValidationError("the data frame has no rows")
    frame = df.reset_index(drop=True)

    # 2. Dates, geos and values.
    geo_col = None
    if geo is not None:
        geo_col = _geo_labels(frame[geo], geo)
    dates = _parse_dates(frame[date], date, _Rows(None, geo_col))
    rows = _Rows(dates, geo_col)
    problems: list[str] = []
    numeric = [*channel_cols, target] + ([population] if population is not None else [])
    values = {c: _numeric(frame[c], c, rows, problems) for c in numeric}
    if value_column is not None:
        per_kpi = _numeric(frame[value_column], value_column, rows, problems)
        if per_kpi is not None:
            bad = np.flatnonzero(~(per_kpi > 0))
            if bad.size:
                problems.append(
                    f"column {value_column!r}: " + rows(bad, "revenue-per-KPI value(s) not > 0")
                )
            elif values[target] is not None:
                values[target] = values[target] * per_kpi
    elif revenue_per_kpi is not None and values[target] is not None:
        values[target] = values[target] * float(revenue_per_kpi)
    expanded = []
    for c in controls:
        if _is_categorical(frame[c]):
            dummies = _one_hot(frame[c], c, rows, problems)
            values.update(dummies)
            expanded += list(dummies)
        else:
            values[c] = _numeric(frame[c], c, rows, problems, allow_bool=True)
            expanded.append(c)
    controls = expanded
    for c in channel_cols:
        if values[c] is not None:
            neg = np.flatnonzero(values[c] < 0)
            if neg.size:
                problems.append(f"column {c!r}: " + rows(neg, "negative spend value(s)"))
    if problems:
        raise DataValidationError(problems)

    # 3. Panel structure: duplicates, order, balance, length, frequency.
    if geo_col is None:
        codes, geo_names = np.zeros(len(frame), dtype=np.int64), np.array([NATIONAL])
    else:
        codes, geo_names = pd.factorize(geo_col, sort=False)
        geo_names = np.asarray(geo_names, dtype=object)
    keys = pd.DataFrame({"g": codes, "d": dates})
    dup = np.flatnonzero(keys.duplicated(keep=False).to_numpy())
    if dup.size:
        what = "duplicate date(s)" + ("" if geo_col is None else f" within a geo of {geo!r}")
        raise DataValidationError(f"column {date!r}: " + rows(dup, what))
    prev = keys.groupby("g", sort=False)["d"].shift(1)
    unsorted = np.flatnonzero((keys["d"] < prev).to_numpy())
    if unsorted.size:
        what = "date(s) earlier than the row before" + (
            "" if geo_col is None else " of the same geo"
        )
        raise DataValidationError(
            f"column {date!r} is not sorted"
            + ("" if geo_col is None else " within each geo")
            + ": "
            + rows(unsorted, what)
            + "; sort the rows by date"
        )
    all_dates = pd.DatetimeIndex(np.unique(dates.to_numpy()))
    counts = np.bincount(codes, minlength=len(geo_names))
    if geo_col is not None and np.any(counts != len(all_dates)):
        lines = []
        for g in np.flatnonzero(counts != len(all_dates))[:_MAX_SHOWN]:
            have = pd.DatetimeIndex(dates[codes == g])
            miss = all_dates.difference(have)
            lines.append(f"{geo_names[g]} misses {_fmt_list([_fmt_date(d) for d in miss])}")
        n_bad = int(np.sum(counts != len(all_dates)))
        more = f"; ... ({n_bad} geos in all)" if n_bad > _MAX_SHOWN else ""
        raise DataValidationError(
            f"unbalanced geo panel in column {geo!r}: every geo needs every date "
            f"({len(all_dates)} dates); " + "; ".join(lines) + more
        )
    n_time = len(all_dates)
    need = max(2, int(min_periods))
    if n_time < need:
        raise DataValidationError(
            f"column {date!r}: only {n_time} period(s) "
            f"({_fmt_date(all_dates[0])} .. {_fmt_date(all_dates[-1])}); at least {need} needed"
            + (f" (min_periods={min_periods})" if min_periods >= 2 else " to infer the frequency")
        )
    freq = _infer_freq(all_dates, date)

    # 4. Arrays, (geo, time, ...): stable sort by geo keeps each geo's date order.
    order = np.argsort(codes, kind="stable").reshape(len(geo_names), n_time)
    media = np.stack([values[c][order] for c in channel_cols], axis=-1)
    y = values[target][order]
    ctrl = np.stack([values[c][order] for c in controls], axis=-1) if controls else None
    if ctrl is None:
        ctrl = np.zeros((len(geo_names), n_time, 0))
    pop = None
    if population is not None:
        per_row = values[population][order]  # (geo, time)
        bad = np.flatnonzero(~(per_row > 0).all(axis=1))
        if bad.size:
            problems.append(
                f"population column {population!r} must be > 0; it is not for geo(s) "
                f"{_fmt_list([str(geo_names[g]) for g in bad], bad.size)}"
            )
        varies = np.flatnonzero(np.ptp(per_row, axis=1) > 0)
        if varies.size:
            problems.append(
                f"population column {population!r} changes over time within geo(s) "
                f"{_fmt_list([str(geo_names[g]) for g in varies], varies.size)}; "
                "give each geo one population (e.g. its mean over the data)"
            )
        pop = per_row[:, 0]

    # 5. Content: information in every column.
    zero = [c for c, name in zip(channel_cols, channel_names) if not np.any(values[c] > 0)]
    if zero:
        problems.append(f"channel column(s) {zero} are zero in every row; drop them")
    if np.ptp(values[target]) == 0:
        problems.append(
            f"target column {target!r} is constant ({values[target][0]:g}) in every row"
        )
    for c in controls:
        if np.ptp(values[c]) == 0:
            problems.append(f"control column {c!r} is constant ({values[c][0]:g}) in every row")
    if problems:
        raise DataValidationError(problems)
    try:
        scaler = Scaler.from_arrays(media, y, ctrl)
    except DataValidationError as err:
        raise DataValidationError(f"target column {target!r}: {err}") from None

    return MMMData(
        media=media,
        target=y,
        controls=ctrl,
        dates=all_dates,
        geos=tuple(str(g) for g in geo_names),
        channels=tuple(channel_names),
        control_names=tuple(controls),
        target_name=target if revenue_per_kpi is None else _kpi_name(target, revenue_per_kpi),
        freq=freq,
        scaler=scaler,
        population=pop,
    )


def _kpi_name(kpi: str, revenue_per_kpi: float | str) -> str:
    """The target's name when a KPI is fitted as revenue: ``revenue (KPI x VALUE)``."""
    value = revenue_per_kpi if isinstance(revenue_per_kpi, str) else f"{revenue_per_kpi:g}"
    return f"revenue ({kpi} x {value})"


def load_csv(path: str | os.PathLike, **kwargs: Any) -> MMMData:
    """Reads a CSV file and validates it with `from_frame`.

    The header is checked as written (a repeated column name raises; pandas
    alone would rename the copy ``x.1`` and fit it as another column). Only
    value columns read pandas' missing-value markers (`NA_VALUES`) as
    missing: the geo column keeps ``NA``, ``None`` or ``null`` as names, and
    its labels are stripped of surrounding spaces.

    Args:
      path: Path of the CSV file.
      **kwargs: Keyword arguments of `from_frame` (``date``, ``target``,
        ``channels``, ``controls``, ``geo``, ``population``, ``min_periods``,
        ``spend_prefix``, ``revenue_per_kpi``).

    Returns:
      The validated `MMMData`.

    Raises:
      FileNotFoundError: No file at ``path``.
      DataValidationError: The file cannot be read as CSV, or `from_frame`
        rejects its contents.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path!r}")
    if os.path.isdir(path):
        raise DataValidationError(f"{path!r} is a directory, not a CSV file")
    geo = kwargs.get("geo")
    dtype = {geo: str} if geo is not None else None
    try:
        # The header as written: pandas would rename a repeated "x" to "x.1".
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
        names = [str(v) for v in header.iloc[0]]
        repeated = _repeated(names)
        if repeated:
            raise DataValidationError(f"{path}: {repeated}")
        # Missing-value markers count only in value columns: a geo named "NA" stays a name.
        na_values = {
            (name or f"Unnamed: {i}"): NA_VALUES for i, name in enumerate(names) if name != geo
        }
        df = pd.read_csv(path, dtype=dtype, keep_default_na=False, na_values=na_values)
    except pd.errors.EmptyDataError:
        raise DataValidationError(f"{path!r} is empty") from None
    except DataValidationError:
        raise
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, ValueError) as err:
        raise DataValidationError(f"could not read {path!r} as CSV: {err}") from None
    try:
        return from_frame(df, **kwargs)
    except DataValidationError as err:
        raise DataValidationError([f"{path}: {p}" for p in err.problems]) from None
