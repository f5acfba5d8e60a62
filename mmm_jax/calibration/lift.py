r"""Lift tests for lift-test calibration: the table, its validation and its JSON form.

A lift test raised (or cut) one channel's spend by ``spend_delta`` (currency)
in a test region over a window ``[start, end]`` and measured the incremental
revenue ``lift`` with standard error ``lift_se``, over the window and the
carry-over tail after it. :class:`LiftTests` holds such tests as aligned
arrays in the data's currency; :func:`load_lift_csv` and
:meth:`LiftTests.from_frame` read the table
``channel,start,end,spend_delta,lift,lift_se[,geo][,market_share]``.

Contracts:

- A :class:`LiftTests` is valid on its own once built: equal lengths, dates,
  a finite non-zero ``spend_delta``, a finite ``lift``, ``lift_se > 0``,
  ``market_share`` in ``(0, 1]``, and a ``lift`` of the sign of
  ``spend_delta`` or of the other sign by at most 3 ``lift_se`` (a null
  result of a worthless channel; more, and the test contradicts a model
  whose saturation curves increase).
- :meth:`LiftTests.check_data` checks it against the data a model is fitted
  on: known channels and geos, windows inside the data's dates, and no cut
  larger than what the test region spent.
- Every problem is reported at once, naming the offending row (1-based, as
  in the CSV).

How a test enters the model's likelihood (predicted through the model's own
adstock and saturation) is :mod:`mmm_jax.models.lift`. This module imports
only the data layer and :mod:`mmm_jax._dists`; it never imports
:mod:`mmm_jax.models`, which imports it.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

import numpyro.distributions as dist

from mmm_jax._dists import distribution_from_dict, distribution_to_dict
from mmm_jax.data.dataset import NATIONAL, DataValidationError, MMMData

__all__ = ["LIFT_COLUMNS", "LiftSpread", "LiftTests", "load_lift_csv"]

#: A lift this many standard errors the opposite way to its spend change is refused.
_WRONG_WAY_SE = 3.0
#: A cut up to this multiple of the region's share of the spend reads as the region
#: going dark (a region's share of spend may differ from its share of the market);
#: beyond it market_share or spend_delta is wrong.
_CUT_SLACK = 1.5

#: Required columns of a lift-test table, then the optional ones.
LIFT_COLUMNS = ("channel", "start", "end", "spend_delta", "lift", "lift_se")
_OPTIONAL = ("geo", "market_share")


# --------------------------------------------------------------------------- LiftTests


class LiftSpread(enum.Enum):
    """How a test's ``spend_delta`` is spread over the periods of its window.

    ``PROPORTIONAL`` (default): in proportion to the channel's historical spend
    in the test's geo over the window, which is how geo tests are run: a
    "+50% of plan" test scales each period's spend by 1.5, and a go-dark
    (holdout) test, whose ``spend_delta`` is minus what the region spent,
    sets every period's spend to zero. An increase falls back to uniform when
    that spend is zero throughout the window.
    ``UNIFORM``: the same extra spend every period (a flat top-up). A cut
    spread uniformly would take more than was spent from the periods of
    below-average spend, which a model cannot do (saturation curves stop at
    zero spend), so it underpredicts a go-dark test's lift; such a cut is
    refused (:meth:`LiftTests.check_data`).
    """

    UNIFORM = "uniform"
    PROPORTIONAL = "proportional"


def _row_name(i: int, channel, start, end, spend_delta, lift, lift_se, geo, share) -> str:
    def fmt(x):
        try:
            return f"{float(x):g}"
        except (TypeError, ValueError):
            return repr(x)

    def day(d):
        try:
            return pd.Timestamp(d).strftime("%Y-%m-%d")
        except (TypeError, ValueError):
            return repr(d)

    extra = "" if geo is None else f", geo={geo}"
    if share is not None and not (isinstance(share, float) and share == 1.0):
        extra += f", market_share={fmt(share)}"
    return (
        f"row {i + 1} (channel={channel}, start={day(start)}, end={day(end)}, "
        f"spend_delta={fmt(spend_delta)}, lift={fmt(lift)}, lift_se={fmt(lift_se)}{extra})"
    )


@dataclass(frozen=True, eq=False)
class LiftTests:
    r"""Geo lift tests: aligned arrays, money in the data's currency.

    Several tests may concern one channel. Rows are numbered from 1 in error
    messages (the CSV's data rows, header excluded).

    Attributes:
      channel: Channel name of each test, length ``test``.
      start: First day of each test window.
      end: Last day of each test window (inclusive).
      spend_delta: Extra spend of the test region over the window, ``(test,)``,
        non-zero (negative for a hold-back test).
      lift: Measured incremental revenue over the window and its carry-over
        tail, ``(test,)``, of the sign of ``spend_delta``, or of the other
        sign by at most 3 ``lift_se`` (a null result of a worthless channel).
      lift_se: Standard error of ``lift``, ``(test,)``, finite and > 0.
      geo: The data's geo each test ran in, or ``None`` for a national data
        set; length ``test``.
      market_share: Share of that geo's market the test region is, in
        ``(0, 1]``, ``(test,)``; 1 when the region is the whole geo.
      heterogeneity: Prior of the relative test-to-test spread :math:`\tau`
        (e.g. ``HalfNormal(0.2)``), or ``None`` for none. The likelihood sd
        becomes :math:`\sqrt{se^2 + (\tau |lift|)^2}`.
      spread: How ``spend_delta`` is spread over each window (`LiftSpread`).
    """

    channel: tuple[str, ...]
    start: pd.DatetimeIndex
    end: pd.DatetimeIndex
    spend_delta: np.ndarray
    lift: np.ndarray
    lift_se: np.ndarray
    geo: tuple[str | None, ...] | None = None
    market_share: np.ndarray | None = None
    heterogeneity: dist.Distribution | None = None
    spread: LiftSpread = LiftSpread.PROPORTIONAL

    def __post_init__(self):
        channel = tuple(str(c) for c in self.channel)
        n = len(channel)
        start = pd.DatetimeIndex(self.start)
        end = pd.DatetimeIndex(self.end)
        arrays = {}
        for name in ("spend_delta", "lift", "lift_se"):
            a = np.array(getattr(self, name), dtype=np.float64, copy=True).reshape(-1)
            arrays[name] = a
        share = (
            np.ones(n)
            if self.market_share is None
            else np.array(self.market_share, dtype=np.float64, copy=True).reshape(-1)
        )
        geo = (None,) * n if self.geo is None else tuple(_clean_geo(g) for g in self.geo)
        sizes = {
            "start": len(start),
            "end": len(end),
            "geo": len(geo),
            "market_share": share.shape[0],
            **{k: v.shape[0] for k, v in arrays.items()},
        }
        bad = {k: v for k, v in sizes.items() if v != n}
        if bad:
            raise DataValidationError(f"lift tests: {n} channels but lengths {bad}")
        if n == 0:
            raise DataValidationError("lift tests: no rows")
        if self.heterogeneity is not None and not isinstance(self.heterogeneity, dist.Distribution):
            raise TypeError(
                "heterogeneity must be a numpyro Distribution (e.g. HalfNormal(0.2)) or None, "
                f"got {type(self.heterogeneity).__name__}"
            )
        if not isinstance(self.spread, LiftSpread):
            raise TypeError(f"spread must be a LiftSpread, got {self.spread!r}")
        for a in (*arrays.values(), share):
            a.setflags(write=False)
        object.__setattr__(self, "channel", channel)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "geo", geo)
        object.__setattr__(self, "market_share", share)
        for k, v in arrays.items():
            object.__setattr__(self, k, v)
        problems = [p for i in range(n) for p in self._value_problems(i)]
        if problems:
            raise DataValidationError(problems)

    def __len__(self) -> int:
        return len(self.channel)

    def _name(self, i: int) -> str:
        return _row_name(
            i,
            self.channel[i],
            self.start[i],
            self.end[i],
            self.spend_delta[i],
            self.lift[i],
            self.lift_se[i],
            self.geo[i],
            float(self.market_share[i]),
        )

    def _value_problems(self, i: int) -> list[str]:
        name, out = self._name(i), []
        if self.start[i] is pd.NaT or self.end[i] is pd.NaT:
            out.append(f"{name}: start and end must be dates")
        elif self.start[i] > self.end[i]:
            out.append(f"{name}: start is after end")
        d, lift, se = self.spend_delta[i], self.lift[i], self.lift_se[i]
        if not np.isfinite(d) or d == 0:
            out.append(f"{name}: spend_delta must be finite and non-zero")
        if not np.isfinite(lift):
            out.append(f"{name}: lift must be finite")
        if not (np.isfinite(se) and se > 0):
            out.append(f"{name}: lift_se must be finite and > 0")
        # A test of a worthless channel measures noise around zero, so a lift of
        # the "wrong" sign is data; one more than 3 standard errors the wrong
        # way contradicts the model (more spend never lowers revenue in it).
        wrong_way = np.isfinite(d) and np.isfinite(lift) and d * lift < 0
        if wrong_way and np.isfinite(se) and se > 0 and abs(lift) > _WRONG_WAY_SE * se:
            out.append(
                f"{name}: spend_delta and lift have opposite signs, by more than "
                f"{_WRONG_WAY_SE:g} standard errors; more spend cannot lower revenue in this "
                "model (saturation curves are increasing): check the test, or leave it out"
            )
        s = self.market_share[i]
        if not (np.isfinite(s) and 0 < s <= 1):
            out.append(f"{name}: market_share must be in (0, 1]")
        return out

    def check_data(self, data: MMMData) -> None:
        """Checks channels, geos and windows against the data the model is fitted on.

        Raises:
          DataValidationError: Naming every offending row: an unknown channel
            (listing the known ones), an unknown geo or a missing geo for a
            panel, a window outside the data's dates, or a cut of more than
            1.5 times the test region's spend in the window (the region is
            ``market_share`` times the geo; a cut between 1 and 1.5 times is
            read as the region going dark), or, spread uniformly, more than
            one period's spend.
        """
        problems = [p for i in range(len(self)) for p in self._data_problems(i, data)]
        if problems:
            raise DataValidationError(problems)

    def _data_problems(self, i: int, data: MMMData) -> list[str]:
        name, out = self._name(i), []
        if self.channel[i] not in data.channels:
            out.append(
                f"{name}: unknown channel {self.channel[i]!r}; the data's channels are "
                f"{', '.join(data.channels)}"
            )
        g = self.geo[i]
        if g is None and data.n_geo > 1:
            out.append(f"{name}: the data has {data.n_geo} geos; say which one with a geo column")
        elif g is not None and g not in data.geos:
            shown = ", ".join(list(data.geos)[:10]) + (" ..." if data.n_geo > 10 else "")
            out.append(f"{name}: unknown geo {g!r}; the data's geos are {shown}")
        first, last = data.dates[0], _period_end(data, data.n_time - 1)
        if self.start[i] is not pd.NaT and self.end[i] is not pd.NaT:
            if self.start[i] < first or self.end[i] > last:
                out.append(
                    f"{name}: window outside the data's dates {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
                )
            elif not out and self.spend_delta[i] < 0:
                out += self._cut_problems(i, data)
        return out

    def _cut_problems(self, i: int, data: MMMData) -> list[str]:
        """A cut far larger than the region's spend, or, spread uniformly, than one period's."""
        s, e = (int(v[i]) for v in self.periods(data))
        g = 0 if self.geo[i] is None else data.geos.index(self.geo[i])
        c = data.channels.index(self.channel[i])
        region = self.market_share[i] * np.asarray(data.media)[g, s : e + 1, c]
        cut = -self.spend_delta[i]
        if cut > _CUT_SLACK * region.sum():
            return [
                f"{self._name(i)}: cuts {cut:,.2f} of {self.channel[i]} spend, more than "
                f"{_CUT_SLACK:g} times the {region.sum():,.2f} a region holding market_share "
                f"{self.market_share[i]:g} of the market spends in the window; check market_share "
                "and the units of spend_delta"
            ]
        if self.spread is LiftSpread.UNIFORM and cut / region.size > 1.001 * region.min():
            short = int(np.sum(cut / region.size > 1.001 * region))
            return [
                f"{self._name(i)}: a uniform cut of {cut / region.size:,.2f} per period exceeds "
                f"the test region's spend in {short} of the window's {region.size} periods; "
                "spread it in proportion to spend (LiftSpread.PROPORTIONAL, "
                "--lift-spread proportional), as a go-dark test cuts"
            ]
        return []

    def periods(self, data: MMMData) -> tuple[np.ndarray, np.ndarray]:
        """First and last period index of each window in ``data`` (the periods it touches)."""
        s = data.dates.searchsorted(self.start, side="right") - 1
        e = data.dates.searchsorted(self.end, side="right") - 1
        return np.asarray(s, dtype=int), np.asarray(e, dtype=int)

    # ---------------------------------------------------------------- constructors

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        data: MMMData,
        *,
        heterogeneity: dist.Distribution | None = None,
        market_share: float | None = None,
        spread: LiftSpread = LiftSpread.PROPORTIONAL,
    ) -> LiftTests:
        """Reads and validates a table ``channel,start,end,spend_delta,lift,lift_se[,geo][,market_share]``.

        Args:
          df: One row per test; never modified.
          data: The data the model is fitted on (channels, geos, dates).
          heterogeneity: Prior of the relative test-to-test spread, or ``None``.
          market_share: Share used for rows without a ``market_share`` column
            (default 1).
          spread: How each ``spend_delta`` is spread over its window.

        Returns:
          Validated `LiftTests`.

        Raises:
          DataValidationError: Missing columns, or rows that cannot be used;
            every bad row is named (1-based data row and its values).
        """
        missing = [c for c in LIFT_COLUMNS if c not in df.columns]
        if missing:
            raise DataValidationError(
                f"lift tests: missing column(s) {', '.join(missing)}; expected "
                f"{','.join(LIFT_COLUMNS)}[,{'][,'.join(_OPTIONAL)}], got {list(df.columns)}"
            )
        if len(df) == 0:
            raise DataValidationError("lift tests: the table has no rows")
        n = len(df)
        channel = df["channel"].astype(str).str.strip().tolist()
        start = pd.to_datetime(df["start"], errors="coerce")
        end = pd.to_datetime(df["end"], errors="coerce")
        nums = {c: pd.to_numeric(df[c], errors="coerce").to_numpy(float) for c in LIFT_COLUMNS[3:]}
        share = np.full(n, 1.0 if market_share is None else float(market_share))
        if "market_share" in df.columns:  # empty cells keep the default
            given = pd.to_numeric(df["market_share"], errors="coerce").to_numpy(float)
            share = np.where(df["market_share"].isna().to_numpy(), share, given)
        geo = (
            [_clean_geo(g) for g in df["geo"]]
            if "geo" in df.columns
            else ([NATIONAL if data.n_geo == 1 else None] * n)
        )
        geo = [NATIONAL if (g is None and data.n_geo == 1) else g for g in geo]
        problems = []
        for i in range(n):
            raw = {c: df[c].iloc[i] for c in LIFT_COLUMNS}
            name = _row_name(i, *(raw[c] for c in LIFT_COLUMNS), geo[i], float(share[i]))
            for c, parsed in (("start", start.iloc[i]), ("end", end.iloc[i])):
                if parsed is pd.NaT:
                    problems.append(f"{name}: {c} {str(raw[c])!r} is not a date")
            for c in LIFT_COLUMNS[3:]:
                # Empty cells (NaN) fall through to the value checks below.
                if np.isnan(nums[c][i]) and not pd.isna(raw[c]):
                    problems.append(f"{name}: {c} {str(raw[c])!r} is not a number")
        if problems:
            raise DataValidationError(problems)
        # Value checks (in __post_init__) and data checks, reported together.
        try:
            tests = cls(
                channel=tuple(channel),
                start=pd.DatetimeIndex(start),
                end=pd.DatetimeIndex(end),
                spend_delta=nums["spend_delta"],
                lift=nums["lift"],
                lift_se=nums["lift_se"],
                geo=tuple(geo),
                market_share=share,
                heterogeneity=heterogeneity,
                spread=spread,
            )
        except DataValidationError as err:
            value_problems = list(err.problems)
        else:
            tests.check_data(data)
            return tests
        # Add the data problems of the rows, built without the value checks.
        raw = object.__new__(cls)
        for k, v in {
            "channel": tuple(channel),
            "start": pd.DatetimeIndex(start),
            "end": pd.DatetimeIndex(end),
            "spend_delta": nums["spend_delta"],
            "lift": nums["lift"],
            "lift_se": nums["lift_se"],
            "geo": tuple(geo),
            "market_share": share,
        }.items():
            object.__setattr__(raw, k, v)
        data_problems = [p for i in range(n) for p in raw._data_problems(i, data)]
        raise DataValidationError(value_problems + data_problems)

    # ---------------------------------------------------------------- conversion

    def to_frame(self) -> pd.DataFrame:
        """The table in the CSV layout (``geo`` and ``market_share`` columns included)."""
        return pd.DataFrame(
            {
                "channel": list(self.channel),
                "start": [d.strftime("%Y-%m-%d") for d in self.start],
                "end": [d.strftime("%Y-%m-%d") for d in self.end],
                "spend_delta": self.spend_delta,
                "lift": self.lift,
                "lift_se": self.lift_se,
                "geo": list(self.geo),
                "market_share": self.market_share,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; :meth:`from_dict` restores it."""
        het = None
        if self.heterogeneity is not None:
            het = distribution_to_dict(self.heterogeneity)
        frame = self.to_frame()
        return {
            **{c: frame[c].tolist() for c in frame.columns},
            "heterogeneity": het,
            "spread": self.spread.value,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LiftTests:
        """Inverse of :meth:`to_dict`."""
        het = None
        if d.get("heterogeneity") is not None:
            het = distribution_from_dict(d["heterogeneity"])
        return cls(
            channel=tuple(d["channel"]),
            start=pd.DatetimeIndex(d["start"]),
            end=pd.DatetimeIndex(d["end"]),
            spend_delta=np.asarray(d["spend_delta"], float),
            lift=np.asarray(d["lift"], float),
            lift_se=np.asarray(d["lift_se"], float),
            geo=tuple(d["geo"]),
            market_share=np.asarray(d["market_share"], float),
            heterogeneity=het,
            spread=LiftSpread(d.get("spread", LiftSpread.UNIFORM.value)),
        )

    def __repr__(self) -> str:
        return f"LiftTests({len(self)} tests on {', '.join(dict.fromkeys(self.channel))})"


def _clean_geo(g) -> str | None:
    if g is None or (isinstance(g, float) and math.isnan(g)):
        return None
    s = str(g).strip()
    return s or None


def _period_end(data: MMMData, t: int) -> pd.Timestamp:
    """Last day of period ``t`` (the day before the next period starts)."""
    nxt = data.dates[t] + pd.tseries.frequencies.to_offset(data.freq)
    return nxt - pd.Timedelta(days=1) if nxt - data.dates[t] >= pd.Timedelta(days=1) else nxt


def load_lift_csv(
    path: str | os.PathLike,
    data: MMMData,
    *,
    heterogeneity: dist.Distribution | None = None,
    market_share: float | None = None,
    spread: LiftSpread = LiftSpread.PROPORTIONAL,
) -> LiftTests:
    """Reads ``channel,start,end,spend_delta,lift,lift_se[,geo][,market_share]`` from a CSV.

    See :meth:`LiftTests.from_frame`.
    """
    df = pd.read_csv(path, dtype={"channel": str, "geo": str})
    return LiftTests.from_frame(
        df, data, heterogeneity=heterogeneity, market_share=market_share, spread=spread
    )
