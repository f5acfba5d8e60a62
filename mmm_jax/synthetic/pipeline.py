r"""A medallion data pipeline: raw platform exports (bronze) to model-ready data (gold).

The three layers, as data teams name them:

* **bronze** -- raw daily exports as the sources deliver them, one frame per
  source: ``ads_<channel>`` per ad platform (a date and the spend) and
  ``sales`` (date, revenue, organic traffic), with the defects real exports
  have. `make_bronze` builds them from a `Simulation`, so the clean answer is
  known.
* **silver** -- one clean, validated frame in the `from_frame` layout
  (``date``, ``[geo]``, ``spend_<channel>``, ``organic_traffic``,
  ``revenue``) and a `SilverReport` with **one entry per fix made**: nothing is
  dropped, filled or reinterpreted without an entry naming the source, the
  column, the count and example dates.
* **gold** -- the validated `MMMData` (`to_gold`, through `from_frame`).

What `to_silver` fixes, and how (each fix is a `Fix` in the report):

=====================  ==========================================================
`FixKind`              what was done
=====================  ==========================================================
RENAMED_COLUMN         a known alias (``"Amount Spent"``, ``"Cost"``, ``"Day"``,
                       ``"Sessions"``...) renamed to the canonical name
PARSED_DATES           date strings in a format other than ISO ``YYYY-MM-DD``
                       (``"%Y/%m/%d"``, ``"%d %b %Y"``, ``"%b %d, %Y"``), one
                       entry per format
PARSED_CURRENCY        money strings (``"$1,234.50"``, ``"1.234,50 €"``) parsed
                       to numbers; the decimal convention is chosen per column
REMOVED_DUPLICATES     exact duplicate rows (every column equal) removed, one
                       copy kept
SORTED_ROWS            rows put in date order
FILLED_INACTIVE_DAYS   days absent from an ad platform's export filled with 0
                       spend, for platforms whose exports omit days without
                       delivery (the default; `to_silver`'s
                       ``omits_inactive_days``)
=====================  ==========================================================

What it refuses to guess (raises `DataValidationError` naming the dates):
days missing from ``sales`` (revenue cannot be zero-filled), days missing from
an ad platform that does not omit inactive days, duplicate dates whose values
disagree, blank cells, strings that are neither money nor a date, mixed
decimal conventions in one column, and a required column with no known alias.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mmm_jax.data.dataset import DataValidationError, MMMData, from_frame
from mmm_jax.synthetic.simulate import Simulation

__all__ = [
    "BronzeDefects",
    "Fix",
    "FixKind",
    "SilverReport",
    "injected_defects",
    "make_bronze",
    "to_gold",
    "to_silver",
]

#: Name of the revenue / traffic source in a bronze dict.
SALES = "sales"
#: Prefix of ad platform sources in a bronze dict: ``ads_<channel>``.
ADS_PREFIX = "ads_"

_MAX_EXAMPLES = 5

#: Canonical column -> accepted aliases (compared case-insensitively, spaces trimmed).
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("date", "day", "reporting starts", "report date"),
    "geo": ("geo", "region", "dma"),
    "spend": ("spend", "cost", "amount spent", "amount spent (usd)", "spend (eur)"),
    "revenue": ("revenue", "gross revenue", "total sales"),
    "organic_traffic": ("organic_traffic", "sessions", "organic sessions"),
}

#: Date formats accepted besides ISO ``YYYY-MM-DD``, tried in this order.
DATE_FORMATS: tuple[str, ...] = ("%Y/%m/%d", "%d %b %Y", "%b %d, %Y")


class FixKind(enum.Enum):
    """The kinds of fix `to_silver` makes (see the module docstring)."""

    RENAMED_COLUMN = "renamed_column"
    PARSED_DATES = "parsed_dates"
    PARSED_CURRENCY = "parsed_currency"
    REMOVED_DUPLICATES = "removed_duplicates"
    SORTED_ROWS = "sorted_rows"
    FILLED_INACTIVE_DAYS = "filled_inactive_days"


@dataclass(frozen=True)
class Fix:
    """One fix made while cleaning one column (or the rows) of one source.

    Attributes:
      source: Bronze source name, e.g. ``"ads_search"``.
      kind: What was done.
      column: Canonical column concerned (``"*"`` for whole rows).
      count: Number of rows (or columns, for renames) affected, >= 1.
      examples: Up to five example dates (``YYYY-MM-DD``) or values.
      detail: One human-readable line.
    """

    source: str
    kind: FixKind
    column: str
    count: int
    examples: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class SilverReport:
    """Every fix `to_silver` made, and the row accounting of each source.

    Attributes:
      fixes: The fixes, in the order they were made.
      rows_in: Source -> rows in its bronze frame.
      rows_out: Source -> rows it contributes to silver (one per date and
        geo). For every source ``rows_out = rows_in - duplicates removed +
        days filled``: no row disappears without an entry.
      calendar: First date, last date and frequency of the silver frame.
    """

    fixes: tuple[Fix, ...]
    rows_in: Mapping[str, int]
    rows_out: Mapping[str, int]
    calendar: tuple[str, str, str]

    def count(self, source: str, kind: FixKind, column: str | None = None) -> int:
        """Total count of the fixes of one kind on one source (and column).

        Args:
          source: Bronze source name.
          kind: Kind of fix.
          column: Canonical column, or ``None`` for any.

        Returns:
          The summed ``count`` of the matching fixes (0 if none).
        """
        return sum(
            f.count
            for f in self.fixes
            if f.source == source and f.kind is kind and (column is None or f.column == column)
        )

    def find(self, source: str, kind: FixKind) -> list[Fix]:
        """The fixes of one kind on one source."""
        return [f for f in self.fixes if f.source == source and f.kind is kind]

    def to_frame(self) -> pd.DataFrame:
        """One row per fix: source, kind, column, count, examples, detail."""
        return pd.DataFrame(
            [
                {
                    "source": f.source,
                    "kind": f.kind.value,
                    "column": f.column,
                    "count": f.count,
                    "examples": ", ".join(f.examples),
                    "detail": f.detail,
                }
                for f in self.fixes
            ],
            columns=["source", "kind", "column", "count", "examples", "detail"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the report."""
        return {
            "fixes": [
                {**dataclasses.asdict(f), "kind": f.kind.value, "examples": list(f.examples)}
                for f in self.fixes
            ],
            "rows_in": dict(self.rows_in),
            "rows_out": dict(self.rows_out),
            "calendar": list(self.calendar),
        }

    def __str__(self) -> str:
        start, end, freq = self.calendar
        lines = [f"silver report: {len(self.fixes)} fixes, calendar {start} .. {end} ({freq})"]
        for f in self.fixes:
            lines.append(f"  [{f.source}] {f.kind.value} {f.column}: {f.detail}")
        for s in self.rows_in:
            lines.append(f"  [{s}] rows in {self.rows_in[s]}, rows out {self.rows_out[s]}")
        return "\n".join(lines)


# ------------------------------------------------------------------ bronze
@dataclass(frozen=True, kw_only=True)
class BronzeDefects:
    """Which defects `make_bronze` injects, and how many.

    Attributes:
      duplicated_rows: Exact duplicate rows added to each source, >= 0.
      omit_inactive_days: Ad platform exports leave out days without spend
        (as platforms do); silver fills them with 0.
      missing_revenue_days: Days removed from ``sales`` (unfixable: silver
        raises), >= 0.
      conflicting_duplicates: Rows of the first ad platform repeated with a
        different spend (unfixable: silver raises), >= 0.
    """

    duplicated_rows: int = 3
    omit_inactive_days: bool = True
    missing_revenue_days: int = 0
    conflicting_duplicates: int = 0

    def __post_init__(self):
        for name in ("duplicated_rows", "missing_revenue_days", "conflicting_duplicates"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def _us_money(x: float) -> str:
    return f"${x:,.2f}"


def _eu_money(x: float) -> str:
    us = f"{x:,.2f}"
    return us.replace(",", "_").replace(".", ",").replace("_", ".") + " €"


def _iso(d: pd.Timestamp) -> str:
    return d.strftime("%Y-%m-%d")


def _build_bronze(
    sim: Simulation, seed: int, defects: BronzeDefects
) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """The bronze frames and the log of what was injected where."""
    rng = np.random.default_rng(seed)
    frame = sim.frame
    has_geo = "geo" in frame.columns
    dates = pd.DatetimeIndex(frame["date"])
    log: list[dict[str, Any]] = []
    bronze: dict[str, pd.DataFrame] = {}

    def add_duplicates(source: str, df: pd.DataFrame) -> pd.DataFrame:
        n = min(defects.duplicated_rows, len(df))
        if n == 0:
            return df
        picks = np.sort(rng.choice(len(df), size=n, replace=False))
        extra = df.iloc[picks]
        log.append(
            {
                "source": source,
                "defect": "duplicated_rows",
                "count": n,
                "dates": [_iso(d) for d in dates_of[source].iloc[picks]],
            }
        )
        # Each copy lands right after its original, as re-sent export rows do.
        out = pd.concat([df, extra], ignore_index=True)
        order = np.concatenate([np.arange(len(df)), picks + 0.5])
        return out.iloc[np.argsort(order, kind="stable")].reset_index(drop=True)

    dates_of: dict[str, pd.Series] = {}
    for i, spec in enumerate(sim.config.channels):
        source = f"{ADS_PREFIX}{spec.name}"
        spend = frame[f"spend_{spec.name}"].to_numpy()
        keep = np.ones(len(frame), bool)
        if defects.omit_inactive_days:
            keep = spend > 0
            if (~keep).any():
                log.append(
                    {
                        "source": source,
                        "defect": "omitted_inactive_days",
                        "count": int((~keep).sum()),
                        "dates": [_iso(d) for d in dates[~keep]],
                    }
                )
        day, cents = dates[keep], np.round(spend[keep], 2)
        style = i % 4
        cols: dict[str, Any] = {}
        if style == 0:  # Google-like: renamed columns, plain numbers
            cols["Day"] = [_iso(d) for d in day]
            cols["Cost"] = cents
        elif style == 1:  # Meta-like: "$1,234.50" strings, mixed date formats
            mixed = rng.random(len(day)) < 0.3
            cols["Reporting Starts"] = [
                d.strftime("%d %b %Y") if m else _iso(d) for d, m in zip(day, mixed)
            ]
            cols["Amount Spent"] = [_us_money(v) for v in cents]
        elif style == 2:  # European reseller: "1.234,50 €", slashed dates
            cols["date"] = [d.strftime("%Y/%m/%d") for d in day]
            cols["Spend (EUR)"] = [_eu_money(v) for v in cents]
        else:  # already canonical
            cols["date"] = [_iso(d) for d in day]
            cols["spend"] = cents
        if has_geo:  # geo right after the date column
            (date_col, date_values), (money_col, money_values) = cols.items()
            cols = {
                date_col: date_values,
                "geo": frame["geo"][keep].to_numpy(),
                money_col: money_values,
            }
        df = pd.DataFrame(cols)
        dates_of[source] = pd.Series(day)
        if i == 0 and defects.conflicting_duplicates:
            n = min(defects.conflicting_duplicates, len(df))
            picks = np.sort(rng.choice(len(df), size=n, replace=False))
            clash = df.iloc[picks].copy()
            clash["Cost"] = np.round(clash["Cost"] * 1.5 + 1.0, 2)
            log.append(
                {
                    "source": source,
                    "defect": "conflicting_duplicates",
                    "count": n,
                    "dates": [_iso(d) for d in day[picks]],
                }
            )
            df = pd.concat([df, clash], ignore_index=True)
            dates_of[source] = pd.concat([dates_of[source], pd.Series(day[picks])])
        bronze[source] = add_duplicates(source, df)

    keep = np.ones(len(frame), bool)
    if defects.missing_revenue_days:
        n = min(defects.missing_revenue_days, len(frame) - 2)
        drop = rng.choice(np.arange(1, len(frame) - 1), size=n, replace=False)
        keep[drop] = False
        log.append(
            {
                "source": SALES,
                "defect": "missing_revenue_days",
                "count": n,
                "dates": sorted(_iso(d) for d in dates[~keep]),
            }
        )
    sales = {"Date": [_iso(d) for d in dates[keep]]}
    if has_geo:
        sales["geo"] = frame["geo"][keep].to_numpy()
    sales["Gross Revenue"] = [_us_money(v) for v in np.round(frame["revenue"][keep], 2)]
    sales["Sessions"] = np.round(frame["organic_traffic"][keep]).astype(np.int64)
    dates_of[SALES] = pd.Series(dates[keep])
    bronze[SALES] = add_duplicates(SALES, pd.DataFrame(sales))
    return bronze, log


def make_bronze(
    sim: Simulation,
    *,
    seed: int,
    defects: BronzeDefects = BronzeDefects(),  # noqa: B008 (frozen)
) -> dict[str, pd.DataFrame]:
    """Raw daily exports of a simulation, with the defects real exports have.

    One frame per source. Ad platform ``i`` (``ads_<channel>``) has a style
    fixed by ``i % 4``:

    0. columns ``Day`` and ``Cost`` (renamed), plain numbers;
    1. ``Reporting Starts`` with ISO and ``"05 Jan 2023"`` dates mixed,
       ``Amount Spent`` as ``"$1,234.50"``;
    2. ``date`` as ``"2023/01/05"``, ``Spend (EUR)`` as ``"1.234,50 €"``;
    3. canonical ``date`` and ``spend``.

    Every platform leaves out days without spend (unless
    ``defects.omit_inactive_days`` is off) and gets
    ``defects.duplicated_rows`` exact duplicate rows. ``sales`` has ``Date``,
    ``Gross Revenue`` as ``"$1,234.50"`` and ``Sessions`` (organic traffic
    rounded to whole sessions), with duplicates too. Money is rounded to
    cents. A geo panel keeps a ``geo`` column in every source.

    Args:
      sim: The simulation (its ``frame``).
      seed: Seed of the defect placement.
      defects: Which defects to inject.

    Returns:
      Source name -> raw frame (all columns as exported: strings or numbers).
    """
    return _build_bronze(sim, seed, defects)[0]


def injected_defects(
    sim: Simulation,
    *,
    seed: int,
    defects: BronzeDefects = BronzeDefects(),  # noqa: B008 (frozen)
) -> list[dict[str, Any]]:
    """What `make_bronze` injected, with the same arguments: the answer key.

    Returns:
      One dict per injected row-level defect: ``source``, ``defect``
      (``"duplicated_rows"``, ``"omitted_inactive_days"``,
      ``"missing_revenue_days"`` or ``"conflicting_duplicates"``), ``count``
      and ``dates`` (ISO strings). Format defects (renamed columns, money
      strings, date formats) follow from the source's style, see
      `make_bronze`.
    """
    return _build_bronze(sim, seed, defects)[1]


# ------------------------------------------------------------------ silver
def _examples(values: Sequence[Any]) -> tuple[str, ...]:
    out = []
    for v in list(values)[:_MAX_EXAMPLES]:
        out.append(_iso(v) if isinstance(v, pd.Timestamp) else str(v))
    return tuple(out)


def _rename(source: str, df: pd.DataFrame, wanted: Sequence[str], fixes: list[Fix]) -> pd.DataFrame:
    """Maps known aliases to canonical names; raises on a missing required column."""
    lookup = {a: canon for canon, aliases in COLUMN_ALIASES.items() for a in aliases}
    mapping, seen = {}, {}
    for col in df.columns:
        canon = lookup.get(str(col).strip().lower())
        if canon is None:
            continue
        if canon in seen:
            raise DataValidationError(
                f"{source}: columns {seen[canon]!r} and {col!r} both mean {canon!r}"
            )
        seen[canon] = col
        if col != canon:
            mapping[col] = canon
    missing = [w for w in wanted if w not in seen]
    if missing:
        raise DataValidationError(
            f"{source}: no column for {missing}; accepted names: "
            + "; ".join(f"{m}: {list(COLUMN_ALIASES[m])}" for m in missing)
            + f"; columns present: {[str(c) for c in df.columns]}"
        )
    for old, new in mapping.items():
        fixes.append(
            Fix(source, FixKind.RENAMED_COLUMN, new, 1, (str(old),), f"renamed {old!r} -> {new!r}")
        )
    keep = [seen[w] for w in wanted] + (
        [seen["geo"]] if "geo" in seen and "geo" not in wanted else []
    )
    return df[keep].rename(columns=mapping)


def _parse_dates(source: str, raw: pd.Series, fixes: list[Fix]) -> pd.Series:
    """Parses ISO dates and the `DATE_FORMATS`, one fix per non-ISO format used."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.dt.normalize()
    blank = raw.isna()
    if blank.any():
        raise DataValidationError(
            f"{source}: {int(blank.sum())} blank date(s) at rows "
            f"{list(np.flatnonzero(blank.to_numpy())[:_MAX_EXAMPLES])}"
        )
    text = raw.astype(str).str.strip()
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    for fmt in DATE_FORMATS:
        todo = parsed.isna()
        if not todo.any():
            break
        attempt = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        done = attempt.notna()
        if done.any():
            parsed[attempt.index[done]] = attempt[done]
            fixes.append(
                Fix(
                    source,
                    FixKind.PARSED_DATES,
                    "date",
                    int(done.sum()),
                    _examples(text[attempt.index[done]]),
                    f"{int(done.sum())} date(s) in format {fmt!r} parsed",
                )
            )
    bad = parsed.isna()
    if bad.any():
        raise DataValidationError(
            f"{source}: {int(bad.sum())} date(s) in no known format (ISO or {list(DATE_FORMATS)}): "
            f"{list(text[bad][:_MAX_EXAMPLES])}"
        )
    return parsed


_SYMBOLS = re.compile(r"[$€£\s\u00a0]|USD|EUR|GBP")
_US = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_EU = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$")
_EU_HINT = re.compile(r"(?:,\d{1,2}$)|(?:\.\d{3},)|€")


def _parse_money(
    source: str, column: str, raw: pd.Series, dates: pd.Series, fixes: list[Fix]
) -> pd.Series:
    """Numbers pass through; strings are parsed with the column's decimal convention."""
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.astype(float)
    else:
        text = raw.astype("string").str.strip()
        eu_hint = text.str.contains(_EU_HINT, na=False)
        us_hint = text.str.contains(r"\.\d{1,2}$|,\d{3}\.", na=False)
        if eu_hint.any() and us_hint.any():
            raise DataValidationError(
                f"{source}: column {column!r} mixes decimal conventions: "
                f"{list(text[eu_hint][:2])} (decimal comma) and {list(text[us_hint][:2])} "
                "(decimal point)"
            )
        eu = bool(eu_hint.any())
        stripped = text.str.replace(_SYMBOLS, "", regex=True)
        pattern = _EU if eu else _US
        ok = stripped.str.fullmatch(pattern).fillna(False).astype(bool)
        bad = ~ok & text.notna()
        if bad.any():
            where = [_iso(d) for d in dates[bad][:_MAX_EXAMPLES]]
            raise DataValidationError(
                f"{source}: column {column!r}: {int(bad.sum())} value(s) are not money "
                f"(dates {where}): {list(text[bad][:_MAX_EXAMPLES])}"
            )
        if eu:
            number = stripped.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        else:
            number = stripped.str.replace(",", "", regex=False)
        values = pd.to_numeric(number).astype(float)
        changed = text.notna() & (text != number)
        if changed.any():
            convention = "decimal comma" if eu else "decimal point"
            fixes.append(
                Fix(
                    source,
                    FixKind.PARSED_CURRENCY,
                    column,
                    int(changed.sum()),
                    _examples(text[changed]),
                    f"{int(changed.sum())} money string(s) parsed ({convention})",
                )
            )
    blank = values.isna()
    if blank.any():
        raise DataValidationError(
            f"{source}: column {column!r}: {int(blank.sum())} blank value(s) at dates "
            f"{[_iso(d) for d in dates[blank][:_MAX_EXAMPLES]]}; a blank is not a zero"
        )
    return values


def _dedupe(source: str, df: pd.DataFrame, keys: list[str], fixes: list[Fix]) -> pd.DataFrame:
    """Drops exact duplicate rows (reported); raises on duplicate keys with different values."""
    exact = df.duplicated(keep="first")
    if exact.any():
        fixes.append(
            Fix(
                source,
                FixKind.REMOVED_DUPLICATES,
                "*",
                int(exact.sum()),
                _examples(df.loc[exact, "date"]),
                f"{int(exact.sum())} exact duplicate row(s) removed, first copy kept",
            )
        )
        df = df[~exact]
    clash = df.duplicated(subset=keys, keep=False)
    if clash.any():
        value_cols = [c for c in df.columns if c not in keys]
        shown = [
            f"{_iso(r['date'])}: " + ", ".join(f"{c}={r[c]:g}" for c in value_cols)
            for _, r in df[clash].sort_values(keys).head(2 * _MAX_EXAMPLES).iterrows()
        ]
        dates = sorted({_iso(d) for d in df.loc[clash, "date"]})
        raise DataValidationError(
            f"{source}: {len(dates)} date(s) appear more than once with different values, "
            f"which cannot be resolved safely: dates {dates[:_MAX_EXAMPLES]}"
            + (f" ({len(dates)} in all)" if len(dates) > _MAX_EXAMPLES else "")
            + "; rows: "
            + "; ".join(shown)
        )
    return df


def _infer_step(all_dates: pd.Series) -> pd.Timedelta:
    uniq = pd.DatetimeIndex(all_dates.unique()).sort_values()
    if len(uniq) < 2:
        raise DataValidationError("fewer than two distinct dates across the sources")
    steps = pd.Series(uniq[1:] - uniq[:-1])
    return steps.mode().iloc[0]


def to_silver(
    bronze: Mapping[str, pd.DataFrame],
    *,
    omits_inactive_days: bool | Collection[str] = True,
) -> tuple[pd.DataFrame, SilverReport]:
    """Cleans and validates bronze exports into one frame, reporting every fix.

    Steps per source: rename known column aliases, parse dates, parse money
    strings, remove exact duplicate rows, sort by date. Then the calendar is
    every period from the earliest to the latest date of any source, stepped
    by the most common gap; ad platforms that omit inactive days get 0 spend
    on the days they lack, and every other gap raises.

    Args:
      bronze: Source name -> raw frame: ``sales`` (date, revenue, organic
        traffic) and one ``ads_<channel>`` (date, spend) per channel, each
        optionally with a ``geo`` column; see `COLUMN_ALIASES` for accepted
        column names. Never modified.
      omits_inactive_days: Whether the ad platforms' exports leave out days
        without delivery (so an absent day means zero spend): ``True`` for
        all, ``False`` for none, or the source names for which it holds.

    Returns:
      ``(silver, report)``: the frame in the `from_frame` layout (``date``,
      ``geo`` if any, ``spend_<channel>`` in bronze order,
      ``organic_traffic``, ``revenue``), sorted by geo then date, and the
      `SilverReport`.

    Raises:
      DataValidationError: Whatever cannot be fixed safely (see the module
        docstring); the message names the source, column and dates.
    """
    if not isinstance(bronze, Mapping):
        raise TypeError(f"bronze must be a mapping of source name -> DataFrame, got {type(bronze)}")
    ads = [s for s in bronze if s.startswith(ADS_PREFIX) and len(s) > len(ADS_PREFIX)]
    unknown = [s for s in bronze if s not in ads and s != SALES]
    if SALES not in bronze or not ads or unknown:
        raise DataValidationError(
            f"bronze needs {SALES!r} and at least one '{ADS_PREFIX}<channel>' source and nothing "
            f"else; got {list(bronze)}"
        )
    if isinstance(omits_inactive_days, bool):
        zero_fill = set(ads) if omits_inactive_days else set()
    else:
        zero_fill = set(omits_inactive_days)
        if not zero_fill <= set(ads):
            raise ValueError(
                f"omits_inactive_days names {sorted(zero_fill - set(ads))}, not ad sources {ads}"
            )

    fixes: list[Fix] = []
    clean: dict[str, pd.DataFrame] = {}
    rows_in = {s: len(bronze[s]) for s in [*ads, SALES]}
    has_geo = None
    for source in [*ads, SALES]:
        raw = bronze[source]
        if not isinstance(raw, pd.DataFrame):
            raise TypeError(f"bronze[{source!r}] must be a DataFrame, got {type(raw).__name__}")
        wanted = ["date", "spend"] if source != SALES else ["date", "revenue", "organic_traffic"]
        df = _rename(source, raw.reset_index(drop=True), wanted, fixes)
        geo_here = "geo" in df.columns
        if has_geo is None:
            has_geo = geo_here
        elif has_geo != geo_here:
            raise DataValidationError(
                f"{source}: {'has' if geo_here else 'lacks'} a geo column, unlike the sources "
                "before it; every source must be national or every source by geo"
            )
        df["date"] = _parse_dates(source, df["date"], fixes)
        for col in wanted[1:]:
            df[col] = _parse_money(source, col, df[col], df["date"], fixes)
        keys = ["geo", "date"] if geo_here else ["date"]
        if geo_here:
            df["geo"] = df["geo"].astype(str)
        df = _dedupe(source, df, keys, fixes)
        ordered = df.sort_values(keys, kind="stable")
        if geo_here:
            running = df.groupby("geo", sort=False)["date"].cummax()
        else:
            running = df["date"].cummax()
        moved = int((df["date"] < running).sum())  # rows earlier than a row above them
        if moved:
            fixes.append(
                Fix(
                    source,
                    FixKind.SORTED_ROWS,
                    "*",
                    moved,
                    (),
                    f"{moved} row(s) earlier than a row above them, moved into date order",
                )
            )
        clean[source] = ordered.reset_index(drop=True)

    step = _infer_step(pd.concat([c["date"] for c in clean.values()]))
    first = min(c["date"].min() for c in clean.values())
    last = max(c["date"].max() for c in clean.values())
    calendar = pd.date_range(first, last, freq=step)
    off_grid = {
        s: sorted(set(c["date"]) - set(calendar)) for s, c in clean.items()
    }  # dates between calendar steps
    off_grid = {s: d for s, d in off_grid.items() if d}
    if off_grid:
        raise DataValidationError(
            [
                f"{s}: {len(d)} date(s) off the {step} calendar from {_iso(first)}: "
                f"{[_iso(x) for x in d[:_MAX_EXAMPLES]]}"
                for s, d in off_grid.items()
            ]
        )
    if has_geo:
        geos = sorted(set().union(*(set(c["geo"]) for c in clean.values())))
        index = pd.MultiIndex.from_product([geos, calendar], names=["geo", "date"])
    else:
        index = pd.Index(calendar, name="date")
    keys = ["geo", "date"] if has_geo else ["date"]

    problems: list[str] = []
    columns: dict[str, pd.Series] = {}
    rows_out: dict[str, int] = {}
    for source in [*ads, SALES]:
        df = clean[source].set_index(keys).reindex(index)
        value_cols = ["spend"] if source != SALES else ["revenue", "organic_traffic"]
        gap = df[value_cols[0]].isna()
        if gap.any():
            missing = gap[gap].index
            dates = sorted({m[1] if has_geo else m for m in missing})
            where = ", ".join(_iso(d) for d in dates[:_MAX_EXAMPLES])
            more = f" ({len(dates)} dates in all)" if len(dates) > _MAX_EXAMPLES else ""
            if source in zero_fill:
                df.loc[gap, "spend"] = 0.0
                fixes.append(
                    Fix(
                        source,
                        FixKind.FILLED_INACTIVE_DAYS,
                        "spend",
                        int(gap.sum()),
                        _examples(dates),
                        f"{int(gap.sum())} day(s) absent from the export filled with 0 spend "
                        f"(the platform omits days without delivery): {where}{more}",
                    )
                )
            else:
                what = "revenue" if source == SALES else "spend"
                problems.append(
                    f"{source}: {int(gap.sum())} missing {what} day(s): {where}{more}; "
                    + (
                        "revenue cannot be filled safely: re-export the missing days"
                        if source == SALES
                        else "this platform does not omit inactive days, so a gap is lost data"
                    )
                )
        rows_out[source] = len(df)
        if source == SALES:
            columns["organic_traffic"] = df["organic_traffic"]
            columns["revenue"] = df["revenue"]
        else:
            columns[f"spend_{source[len(ADS_PREFIX) :]}"] = df["spend"]
    if problems:
        raise DataValidationError(problems)

    silver = pd.DataFrame(columns).reset_index()
    if has_geo:
        silver = silver[["date", "geo", *columns]]
    report = SilverReport(
        fixes=tuple(fixes),
        rows_in=rows_in,
        rows_out=rows_out,
        calendar=(_iso(calendar[0]), _iso(calendar[-1]), str(step)),
    )
    _check_accounting(report)
    return silver, report


def _check_accounting(report: SilverReport) -> None:
    """Every row in is a row out, a reported duplicate, or balanced by a reported fill."""
    for s, n_in in report.rows_in.items():
        expected = (
            n_in
            - report.count(s, FixKind.REMOVED_DUPLICATES)
            + report.count(s, FixKind.FILLED_INACTIVE_DAYS)
        )
        if expected != report.rows_out[s]:  # pragma: no cover - an internal invariant
            raise AssertionError(
                f"{s}: {n_in} rows in, {report.rows_out[s]} out, fixes explain {expected}"
            )


# ------------------------------------------------------------------ gold
def to_gold(
    silver: pd.DataFrame,
    *,
    controls: Sequence[str] = ("organic_traffic",),
    min_periods: int = 1,
) -> MMMData:
    """Model-ready data from a silver frame, through `from_frame`'s validation.

    Args:
      silver: A frame from `to_silver`.
      controls: Control columns (default: organic traffic).
      min_periods: Fewest periods accepted, e.g. the adstock window.

    Returns:
      The validated `MMMData` (channels are the ``spend_*`` columns).

    Raises:
      DataValidationError: `from_frame` rejects the frame.
    """
    return from_frame(
        silver,
        controls=controls,
        geo="geo" if "geo" in silver.columns else None,
        min_periods=min_periods,
    )
