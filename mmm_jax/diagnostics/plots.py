"""Matplotlib figures of a fitted MMM. This module only draws.

Every function takes numbers already computed by `mmm_jax.diagnostics.metrics`
(numpy arrays, the :class:`~mmm_jax.diagnostics.metrics.Contributions`
dataclass, the dict of `response_curves`, an optimiser allocation) and returns
the matplotlib ``Axes`` it drew on (or the ``Figure`` for multi-panel plots).
The only arithmetic here is what a picture needs: sums over geos, posterior
means and interval ends of the draws it is given.

Figures are built with ``matplotlib.figure.Figure`` rather than ``pyplot``, so
nothing is registered with a GUI backend, nothing needs closing, and the code
runs under any backend (``Agg`` included). In a notebook, show a result with
``display(ax.figure)``. Pass ``ax=`` to draw into an existing figure instead.

Each channel keeps one colour across every plot (`channel_colors`); money axes
use thousands separators and an optional currency symbol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import Formatter

from mmm_jax._format import fmt_sig
from mmm_jax.diagnostics.metrics import HDI_PROB, Contributions, hdi

__all__ = [
    "BASELINE_COLOR",
    "CurrencyFormatter",
    "channel_colors",
    "currency_formatter",
    "plot_budget_reallocation",
    "plot_contributions",
    "plot_loss",
    "plot_posterior_predictive",
    "plot_prior_posterior",
    "plot_prior_posterior_grid",
    "plot_response_curves",
    "plot_roas_forest",
    "plot_synergy_heatmap",
    "plot_waterfall",
]

# Colour-blind-friendly qualitative palette (Okabe & Ito, 2008), then Tableau 10.
_PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#4E79A7",
    "#F28E2B",
    "#E15759",
    "#76B7B2",
    "#59A14F",
    "#EDC948",
    "#B07AA1",
    "#FF9DA7",
    "#9C755F",
    "#BAB0AC",
)
BASELINE_COLOR = "#B8BEC6"
_ACTUAL_COLOR = "#1A1A1A"
_MODEL_COLOR = "#2E5C8A"
_INTERVAL = f"{HDI_PROB:.0%}"


# ------------------------------------------------------------------ helpers
def channel_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per channel, fixed by its position in ``names``.

    Pass the same channel order everywhere (the data's ``channels``) and each
    channel keeps its colour across all plots.

    Args:
      names: Channel names.

    Returns:
      Name -> hex colour.
    """
    return {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}


class CurrencyFormatter(Formatter):
    """Money ticks: thousands separators, or ``k``/``M``/``B`` when the axis reaches 10,000.

    On an axis the unit is chosen once from the largest tick, so every tick
    of an axis shares it (``0, 5k, 10k``, not ``5,000, 10k``), with just
    enough decimals to tell neighbouring ticks apart. Called on a lone value
    (no ticks set), the unit follows the value.

    Args:
      symbol: Currency symbol put before the number, e.g. ``"$"``.
    """

    _UNITS = ((1e9, "B"), (1e6, "M"), (1e4, "k"))

    def __init__(self, symbol: str = ""):
        self.symbol = symbol
        self._ticks = np.zeros(0)

    def set_locs(self, locs: Sequence[float]) -> None:
        """Remembers the axis' tick values (called by matplotlib before formatting)."""
        ticks = np.asarray(locs, dtype=float)
        self._ticks = ticks[np.isfinite(ticks)]

    def __call__(self, x: float, pos: int | None = None) -> str:
        """Formats one tick value."""
        ticks = self._ticks
        ref = float(np.max(np.abs(ticks))) if ticks.size else abs(x)
        size, suffix = next(((s, u) for s, u in self._UNITS if ref >= s), (1.0, ""))
        size = 1e3 if suffix == "k" else size
        if x == 0:
            return f"{self.symbol}0"
        values = ticks / size if ticks.size > 1 else np.array([x / size])
        digits = next(
            (d for d in range(3) if np.allclose(values, np.round(values, d), atol=1e-9)), 2
        )
        sign = "-" if x < 0 else ""
        return f"{sign}{self.symbol}{abs(x) / size:,.{digits}f}{suffix}"


def currency_formatter(symbol: str = "") -> CurrencyFormatter:
    """A `CurrencyFormatter` for ``axis.set_major_formatter``.

    Args:
      symbol: Currency symbol put before the number, e.g. ``"$"`` (default none).

    Returns:
      The formatter.
    """
    return CurrencyFormatter(symbol)


def _money(x: float, symbol: str = "") -> str:
    return f"{'-' if x < 0 else ''}{symbol}{fmt_sig(abs(x))}"


def _axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        ax = fig.add_subplot()
    _style(ax)
    return ax


def _style(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, axis="y", color="#E3E6EA", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=9)


def _sum_geo(x: np.ndarray, ndim: int, geo_axis: int) -> np.ndarray:
    """Sums the geo axis of an array of rank ``ndim + 1``; leaves rank ``ndim`` as is."""
    x = np.asarray(x, dtype=float)
    return x.sum(axis=geo_axis) if x.ndim == ndim + 1 else x


def _check_names(names: Sequence[str], n: int, what: str) -> list[str]:
    names = [str(s) for s in names]
    if len(names) != n:
        raise ValueError(f"{what} has {n} channels but {len(names)} names were given: {names}")
    return names


def _draws_2d(x: Any, what: str, n_channel: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or (n_channel is not None and x.shape[1] != n_channel):
        expected = f"(sample, {n_channel})" if n_channel is not None else "(sample, channel)"
        raise ValueError(f"{what} must have shape {expected}, got {x.shape}")
    return x


# ------------------------------------------------------------------ 1. fit
def plot_posterior_predictive(
    dates: Sequence[Any],
    actual: np.ndarray,
    predicted_draws: np.ndarray,
    *,
    currency: str = "",
    title: str = "Posterior predictive check",
    split: Any | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Actual target against the posterior-predictive mean with 50% and 90% bands.

    Bands are equal-tailed quantiles of the draws per period. Geos are summed.
    With ``split``, the periods from that date on are shaded as held out: the
    draws there are a forecast by a fit that did not see them.

    Args:
      dates: Period dates, length ``time``.
      actual: Observed target, ``(time,)`` or ``(geo, time)``.
      predicted_draws: Posterior-predictive draws, ``(sample, time)`` or
        ``(sample, geo, time)``, in the same units as ``actual``.
      currency: Symbol for the money axis.
      title: Axes title.
      split: First held-out date, after the first date and at most the last
        one; ``None`` for none.
      ax: Axes to draw on (default: a new figure).

    Returns:
      The Axes: two lines (actual, mean), two filled bands and, with
      ``split``, one shaded span.
    """
    y = _sum_geo(actual, 1, 0)
    draws = _sum_geo(predicted_draws, 2, 1)
    if y.ndim != 1 or draws.ndim != 2 or draws.shape[1] != y.shape[0] or len(dates) != y.shape[0]:
        raise ValueError(
            "expected dates (time,), actual (time,) or (geo, time) and predicted_draws "
            f"(sample, time) or (sample, geo, time); got {len(dates)} dates, actual "
            f"{np.shape(actual)}, predicted_draws {np.shape(predicted_draws)}"
        )
    x = np.asarray(dates)
    if split is not None:
        split = np.datetime64(split, "ns")
        if not x[0] < split <= x[-1]:
            raise ValueError(
                f"split {split} must lie after the first date {x[0]} and at most the last {x[-1]}"
            )
    ax = _axes(ax, (11, 4.2))
    if split is not None:
        ax.axvspan(split, x[-1], color="0.93", zorder=0, linewidth=0, label="held out (forecast)")
    q05, q25, q75, q95 = np.quantile(draws, [0.05, 0.25, 0.75, 0.95], axis=0)
    ax.fill_between(x, q05, q95, color=_MODEL_COLOR, alpha=0.15, linewidth=0, label="90% interval")
    ax.fill_between(x, q25, q75, color=_MODEL_COLOR, alpha=0.30, linewidth=0, label="50% interval")
    ax.plot(x, draws.mean(axis=0), color=_MODEL_COLOR, linewidth=1.6, label="posterior mean")
    dots = {"marker": "o", "markersize": 2.0} if y.shape[0] <= 160 else {}
    ax.plot(x, y, color=_ACTUAL_COLOR, linewidth=0.9, label="actual", **dots)
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Date")
    ax.set_ylabel("Revenue per period")
    ax.legend(loc="upper left", ncols=4, frameon=False, fontsize=9)
    ax.margins(x=0.01)
    return ax


# ------------------------------------------------------------------ 2. decomposition
def plot_contributions(
    dates: Sequence[Any],
    contributions: Contributions,
    *,
    actual: np.ndarray | None = None,
    currency: str = "",
    title: str = "Revenue decomposition over time",
    ax: Axes | None = None,
) -> Axes:
    """Stacked areas of the baseline and each channel's contribution over time.

    Uses the posterior-mean series (``baseline_series`` and ``series``), summed
    over geos. Contributions are counterfactual, so with synergy terms the
    stack need not add up exactly to the prediction.

    Args:
      dates: Period dates, length ``time``.
      contributions: A fit's `mmm_jax.diagnostics.Analysis.contributions` (or
        `mmm_jax.diagnostics.metrics.contributions` for another window).
      actual: Observed target, ``(time,)`` or ``(geo, time)``; drawn as a line.
      currency: Symbol for the money axis.
      title: Axes title.
      ax: Axes to draw on.

    Returns:
      The Axes: ``channel + 1`` stacked areas (baseline first), plus one line
      when ``actual`` is given.
    """
    base = _sum_geo(contributions.baseline_series, 1, 0)
    series = _sum_geo(contributions.series, 2, 0)  # (time, channel)
    names = list(contributions.channels)
    if series.ndim != 2 or series.shape != (len(dates), len(names)) or base.shape != (len(dates),):
        raise ValueError(
            f"contributions do not match {len(dates)} dates and channels {names}: "
            f"series {np.shape(contributions.series)}, baseline_series "
            f"{np.shape(contributions.baseline_series)}"
        )
    ax = _axes(ax, (11, 4.5))
    x = np.asarray(dates)
    colors = channel_colors(names)
    ax.stackplot(
        x,
        base,
        *series.T,
        labels=["baseline", *names],
        colors=[BASELINE_COLOR, *(colors[n] for n in names)],
        alpha=0.9,
        linewidth=0,
    )
    if actual is not None:
        y = _sum_geo(actual, 1, 0)
        if y.shape != (len(dates),):
            raise ValueError(f"actual must have {len(dates)} periods, got shape {np.shape(actual)}")
        ax.plot(x, y, color=_ACTUAL_COLOR, linewidth=0.9, label="actual")
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Date")
    ax.set_ylabel("Revenue per period")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=9)
    ax.margins(x=0.0)
    return ax


def plot_waterfall(
    contributions: Contributions,
    *,
    currency: str = "",
    title: str = "Where the revenue came from",
    ax: Axes | None = None,
) -> Axes:
    """Waterfall of total revenue over the window: baseline, each channel, total.

    Bars are posterior means; whiskers are 90% HDIs of each bar's own amount
    (the baseline, a channel's counterfactual contribution, the total), drawn
    at the top of its bar.

    Args:
      contributions: A fit's `mmm_jax.diagnostics.Analysis.contributions` (or
        `mmm_jax.diagnostics.metrics.contributions` for another window).
      currency: Symbol for the money axis.
      title: Axes title.
      ax: Axes to draw on.

    Returns:
      The Axes: ``channel + 2`` bars and one errorbar container.
    """
    names = list(contributions.channels)
    by_channel = _draws_2d(contributions.by_channel, "contributions.by_channel", len(names))
    parts = [np.asarray(contributions.baseline, dtype=float), *by_channel.T]
    total = np.asarray(contributions.total, dtype=float)
    means = np.array([p.mean() for p in parts])
    bottoms = np.concatenate([[0.0], np.cumsum(means)[:-1]])
    colors = channel_colors(names)
    ax = _axes(ax, (max(6.0, 1.3 * (len(names) + 2) + 2), 4.5))
    labels = ["baseline", *names, "total"]
    x = np.arange(len(labels))
    heights = np.append(means, total.mean())
    ax.bar(
        x,
        heights,
        bottom=np.append(bottoms, 0.0),
        color=[BASELINE_COLOR, *(colors[n] for n in names), _MODEL_COLOR],
        width=0.62,
        edgecolor="white",
    )
    lows, highs = zip(*(hdi(p) for p in (*parts, total)), strict=True)
    tops = np.append(bottoms, 0.0) + heights
    offsets = np.append(bottoms, 0.0)
    ax.errorbar(
        x,
        tops,
        yerr=np.vstack([heights - np.array(lows), np.array(highs) - heights]).clip(min=0.0),
        fmt="none",
        ecolor="#333333",
        elinewidth=1.0,
        capsize=4,
        label=f"{_INTERVAL} HDI",
    )
    label_at = np.maximum(tops, np.array(highs) + offsets)
    pad = 0.01 * float(np.max(label_at))
    for xi, h, y in zip(x, heights, label_at, strict=True):
        share = h / total.mean() if total.mean() else np.nan
        ax.annotate(
            f"{_money(h, currency)}\n{share:.1%}",
            (xi, y + pad),
            ha="center",
            va="bottom",
            fontsize=8,
            color="#111111",
        )
    ax.set_ylim(top=float(np.max(label_at)) * 1.12)
    for i in range(len(labels) - 2):  # connectors between consecutive bars
        ax.plot([x[i] + 0.31, x[i + 1] - 0.31], [tops[i], tops[i]], color="#888888", lw=0.7, ls=":")
    ax.set_xticks(x, labels, rotation=20 if len(labels) > 6 else 0)
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Component")
    ax.set_ylabel("Revenue over the window")
    ax.legend(loc="upper left", frameon=False, fontsize=9)
    return ax


# ------------------------------------------------------------------ 3. returns
def _truth_channels(truth: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if truth is None:
        return {}
    if not isinstance(truth, Mapping):
        raise TypeError(f"truth must be a mapping of channel -> values, got {type(truth).__name__}")
    return truth["channels"] if "channels" in truth else truth


def plot_roas_forest(
    names: Sequence[str],
    roas: np.ndarray,
    mroas: np.ndarray | None = None,
    truth: Mapping[str, Any] | None = None,
    *,
    title: str = "Return on ad spend",
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of ROAS and marginal ROAS per channel: means and 90% HDIs.

    A dashed line marks break-even (1.0). Circles are ROAS (contribution per
    unit of spend), diamonds marginal ROAS (return on the next unit).

    Args:
      names: Channel names, length ``channel``.
      roas: ROAS draws, ``(sample, channel)``.
      mroas: Marginal-ROAS draws, ``(sample, channel)``, or ``None``.
      truth: Known true values, ``{name: {"roas": x, "marginal_roas": y}}``
        (or a simulation truth with that under ``"channels"``); drawn as
        crosses. Channels or keys missing from it are skipped.
      title: Axes title.
      ax: Axes to draw on.

    Returns:
      The Axes: one errorbar container per channel and metric (ROAS first,
      top to bottom in ``names`` order), and one marker line per true value.
    """
    roas = _draws_2d(roas, "roas")
    names = _check_names(names, roas.shape[1], "roas")
    metrics = [("roas", "ROAS", roas, "o")]
    if mroas is not None:
        metrics.append(
            ("marginal_roas", "marginal ROAS", _draws_2d(mroas, "mroas", len(names)), "D")
        )
    truth_ch = _truth_channels(truth)
    colors = channel_colors(names)
    ax = _axes(ax, (8, 1.0 + 0.75 * len(names) * len(metrics)))
    ax.grid(False, axis="y")
    ax.grid(True, axis="x", color="#E3E6EA", linewidth=0.8)
    offsets = np.linspace(-0.18, 0.18, len(metrics)) if len(metrics) > 1 else [0.0]
    has_truth = False
    for c, name in enumerate(names):
        y0 = len(names) - 1 - c
        for (key, _label, draws, marker), off in zip(metrics, offsets, strict=True):
            low, high = hdi(draws[:, c])
            mean = float(np.mean(draws[:, c]))
            ax.errorbar(
                [mean],
                [y0 - off],
                xerr=[[mean - low], [high - mean]],
                fmt=marker,
                color=colors[name],
                markerfacecolor=colors[name] if marker == "o" else "white",
                markersize=7,
                elinewidth=2.2,
                capsize=3,
            )
            true = truth_ch.get(name, {}).get(key)
            if true is not None:
                has_truth = True
                ax.plot([float(true)], [y0 - off], "x", color="#C00000", markersize=9, mew=2.2)
    ax.axvline(1.0, color="#555555", linestyle="--", linewidth=1.0)
    ax.set_yticks(np.arange(len(names))[::-1], names)
    for tick, name in zip(ax.get_yticklabels(), names, strict=True):
        tick.set_color(colors[name])
        tick.set_fontweight("bold")
    ax.set_ylim(-0.6, len(names) - 0.4)
    handles = [
        Line2D(
            [],
            [],
            marker=m,
            color="#444444",
            markerfacecolor="#444444" if m == "o" else "white",
            ls="",
        )
        for _, _, _, m in metrics
    ]
    labels = [f"{label} (mean, {_INTERVAL} HDI)" for _, label, _, _ in metrics]
    handles.append(Line2D([], [], color="#555555", linestyle="--"))
    labels.append("break-even (1.0)")
    if has_truth:
        handles.append(Line2D([], [], marker="x", color="#C00000", ls="", mew=2.2))
        labels.append("true value")
    ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncols=2,
        frameon=False,
        fontsize=9,
    )
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Revenue per unit of spend")
    ax.set_ylabel("Channel")
    return ax


def plot_response_curves(
    curves: Mapping[str, np.ndarray],
    current_spend: np.ndarray,
    saturation_spend: np.ndarray | None = None,
    *,
    names: Sequence[str] | None = None,
    currency: str = "",
    ncols: int = 3,
    title: str = "Response curves (steady state, per period)",
    scope: str = "",
) -> Figure:
    """One panel per channel: revenue per period against spend per period.

    Each panel shows the posterior-mean curve with its 90% HDI band, the
    current spend (dashed line and dot) and, when given, the saturation spend
    (dotted line at the posterior mean with its 90% HDI shaded), beyond which
    the next unit of spend returns less than it costs. A saturation spend past
    the curve's range is written in the panel instead of drawn.

    Args:
      curves: A fit's `mmm_jax.diagnostics.Analysis.curves`
        (`mmm_jax.diagnostics.metrics.response_curves`): ``"spend"``
        ``(grid, channel)`` and ``"revenue"`` ``(sample, grid, channel)``.
      current_spend: Current spend per period, ``(channel,)``, in the units
        of ``curves["spend"]``.
      saturation_spend: Draws ``(sample, channel)``, or ``None``.
      names: Channel names (default ``channel 0``, ``channel 1``, ...).
      currency: Symbol for the money axes.
      ncols: Panels per row.
      title: Figure title.
      scope: What the per-period amounts cover, added to the title and the
        axis labels, e.g. ``"national total over 3 geos"``.

    Returns:
      The Figure, one Axes per channel.
    """
    spend = np.asarray(curves["spend"], dtype=float)
    revenue = np.asarray(curves["revenue"], dtype=float)
    if spend.ndim != 2 or revenue.ndim != 3 or revenue.shape[1:] != spend.shape:
        raise ValueError(
            'curves must hold "spend" (grid, channel) and "revenue" (sample, grid, channel); '
            f"got {spend.shape} and {revenue.shape}"
        )
    n_channel = spend.shape[1]
    names = [f"channel {c}" for c in range(n_channel)] if names is None else list(names)
    names = _check_names(names, n_channel, "curves")
    current = np.asarray(current_spend, dtype=float)
    if current.shape != (n_channel,):
        raise ValueError(f"current_spend must have shape ({n_channel},), got {current.shape}")
    sat = (
        None
        if saturation_spend is None
        else _draws_2d(saturation_spend, "saturation_spend", n_channel)
    )
    colors = channel_colors(names)
    ncols = max(1, min(ncols, n_channel))
    nrows = -(-n_channel // ncols)
    fig = Figure(figsize=(4.3 * ncols, 3.4 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    fmt = currency_formatter(currency)
    for c, (ax, name) in enumerate(zip(axes, names, strict=False)):
        _style(ax)
        x = spend[:, c]
        low, high = hdi(revenue[:, :, c])
        mean = revenue[:, :, c].mean(axis=0)
        color = colors[name]
        ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0, label=f"{_INTERVAL} HDI")
        ax.plot(x, mean, color=color, linewidth=2.0, label="posterior mean")
        ax.axvline(
            current[c], color="#333333", linestyle="--", linewidth=1.0, label="current spend"
        )
        ax.plot([current[c]], [np.interp(current[c], x, mean)], "o", color="#333333", markersize=5)
        if sat is not None:
            s_low, s_high = hdi(sat[:, c])
            s_mean = float(sat[:, c].mean())
            if s_mean <= x[-1]:
                ax.axvline(
                    s_mean, color="#C00000", linestyle=":", linewidth=1.5, label="saturation spend"
                )
                ax.axvspan(s_low, min(s_high, x[-1]), color="#C00000", alpha=0.08, linewidth=0)
            else:
                ax.text(
                    0.98,
                    0.05,
                    f"saturation spend {_money(s_mean, currency)}\nbeyond this range",
                    transform=ax.transAxes,
                    ha="right",
                    va="bottom",
                    fontsize=8,
                    color="#C00000",
                )
        ax.set_xlim(x[0], x[-1])
        ax.set_ylim(bottom=min(0.0, float(np.min(low))))
        ax.xaxis.set_major_formatter(fmt)
        ax.yaxis.set_major_formatter(fmt)
        ax.set_title(name, loc="left", fontweight="bold", color=color)
        ax.set_xlabel("Spend per period" + (f"\n({scope})" if scope else ""))
        ax.set_ylabel("Revenue per period")
    for ax in axes[n_channel:]:
        ax.set_visible(False)
    handles = [
        Patch(color="#7F8893", alpha=0.3, linewidth=0),
        Line2D([], [], color="#4A4F55", linewidth=2.0),
        Line2D([], [], color="#333333", linestyle="--", marker="o", markersize=4),
    ]
    labels = [f"{_INTERVAL} HDI", "posterior mean (colour = channel)", "current spend"]
    if sat is not None:
        handles.append(Patch(facecolor="#F7E0E0", edgecolor="#C00000", linestyle=":"))
        labels.append(f"saturation spend (mean, {_INTERVAL} HDI)")
    fig.legend(
        handles, labels, loc="outside lower center", ncols=len(labels), frameon=False, fontsize=9
    )
    fig.suptitle(title + (f": {scope}" if scope else ""), x=0.01, ha="left", fontweight="bold")
    return fig


# ------------------------------------------------------------------ 4. decisions
def plot_budget_reallocation(
    names: Sequence[str],
    current: np.ndarray,
    recommended: np.ndarray,
    recommended_interval: np.ndarray | None = None,
    *,
    currency: str = "",
    title: str = "Budget reallocation (spend per period)",
    ax: Axes | None = None,
    scope: str = "",
) -> Axes:
    """Grouped bars of current and recommended spend per channel, with % change.

    Args:
      names: Channel names, length ``channel``.
      current: Current spend, ``(channel,)``.
      recommended: Recommended spend, ``(channel,)``.
      recommended_interval: ``(2, channel)`` low and high of the recommended
        spend (e.g. across posterior draws), drawn as whiskers; or ``None``.
      currency: Symbol for the money axis.
      title: Axes title.
      ax: Axes to draw on.
      scope: What the per-period amounts cover, added to the y label, e.g.
        ``"national total over 3 geos"``.

    Returns:
      The Axes: ``2 * channel`` bars (current first), one errorbar container
      when an interval is given, and one % label per channel.
    """
    current = np.asarray(current, dtype=float).reshape(-1)
    recommended = np.asarray(recommended, dtype=float).reshape(-1)
    names = _check_names(names, current.shape[0], "current")
    if recommended.shape != current.shape:
        raise ValueError(f"recommended must have shape {current.shape}, got {recommended.shape}")
    colors = channel_colors(names)
    ax = _axes(ax, (max(6.0, 1.4 * len(names) + 2), 4.5))
    x = np.arange(len(names))
    width = 0.38
    ax.bar(
        x - width / 2,
        current,
        width,
        color="white",
        edgecolor=[colors[n] for n in names],
        linewidth=1.6,
        hatch="//",
        label="current",
    )
    ax.bar(x + width / 2, recommended, width, color=[colors[n] for n in names], label="recommended")
    tops = np.maximum(current, recommended)
    if recommended_interval is not None:
        interval = np.asarray(recommended_interval, dtype=float)
        if interval.shape != (2, len(names)):
            raise ValueError(
                f"recommended_interval must have shape (2, {len(names)}), got {interval.shape}"
            )
        ax.errorbar(
            x + width / 2,
            recommended,
            yerr=np.vstack([recommended - interval[0], interval[1] - recommended]).clip(min=0.0),
            fmt="none",
            ecolor="#333333",
            capsize=4,
            elinewidth=1.0,
            label="interval",
        )
        tops = np.maximum(tops, interval[1])
    pad = 0.03 * float(np.max(tops)) if np.max(tops) > 0 else 1.0
    for xi, cur, rec, top in zip(x, current, recommended, tops, strict=True):
        text = f"{(rec - cur) / cur:+.0%}" if cur > 0 else ("new" if rec > 0 else "0%")
        color = "#1B7F3B" if rec > cur else ("#B00020" if rec < cur else "#555555")
        ax.annotate(
            text,
            (xi, top + pad),
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
            color=color,
        )
    ax.set_ylim(top=float(np.max(tops)) + 5 * pad)
    ax.set_xticks(x, names)
    ax.yaxis.set_major_formatter(currency_formatter(currency))
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Channel")
    ax.set_ylabel("Spend per period" + (f"\n({scope})" if scope else ""))
    ax.legend(loc="upper right", frameon=False, fontsize=9)
    return ax


def plot_synergy_heatmap(
    names: Sequence[str],
    matrix: np.ndarray,
    prob_positive: np.ndarray | None = None,
    *,
    title: str = "Channel synergy",
    value_label: str = "synergy coefficient (posterior mean)",
    ax: Axes | None = None,
) -> Axes:
    """Symmetric heat map of pairwise synergy, each cell annotated.

    The colour scale is diverging and centred at zero. The diagonal (a channel
    with itself) is blank.

    Args:
      names: Channel names, length ``channel``.
      matrix: Posterior-mean synergy, ``(channel, channel)``, symmetric.
      prob_positive: Posterior probability that each synergy is positive,
        ``(channel, channel)``; added to the annotations.
      title: Axes title.
      value_label: Colour-bar label.
      ax: Axes to draw on.

    Returns:
      The Axes: one image and one annotation per off-diagonal cell.
    """
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"matrix must be square (channel, channel), got {m.shape}")
    names = _check_names(names, m.shape[0], "matrix")
    off = ~np.eye(len(names), dtype=bool)
    if not np.allclose(m[off], m.T[off], equal_nan=True):
        raise ValueError("matrix must be symmetric")
    prob = None
    if prob_positive is not None:
        prob = np.asarray(prob_positive, dtype=float)
        if prob.shape != m.shape:
            raise ValueError(f"prob_positive must have shape {m.shape}, got {prob.shape}")
    ax = _axes(ax, (1.3 * len(names) + 3.0, 1.1 * len(names) + 1.6))
    ax.grid(False)
    shown = np.where(off, m, np.nan)
    vmax = float(np.nanmax(np.abs(shown))) if np.any(np.isfinite(shown)) else 1.0
    vmax = vmax if vmax > 0 else 1.0
    cmap = colormaps["RdBu"].with_extremes(bad="#F2F2F2")
    image = ax.imshow(shown, cmap=cmap, vmin=-vmax, vmax=vmax)
    for i in range(len(names)):
        for j in range(len(names)):
            if i == j:
                continue
            text = f"{m[i, j]:,.3g}"
            if prob is not None:
                text += f"\nP(>0) = {prob[i, j]:.0%}"
            dark = abs(m[i, j]) > 0.6 * vmax
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "#111111",
            )
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(names)), names)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.figure.colorbar(image, ax=ax, shrink=0.85, label=value_label)
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Channel")
    ax.set_ylabel("Channel")
    return ax


# ------------------------------------------------------------------ 5. inference
def plot_prior_posterior(
    name: str,
    prior_draws: np.ndarray,
    posterior_draws: np.ndarray,
    truth: float | None = None,
    *,
    bins: int = 40,
    ax: Axes | None = None,
) -> Axes:
    """Overlaid density histograms of one scalar parameter's prior and posterior.

    Both share bins spanning the central 99% of the pooled draws (so a
    heavy-tailed prior does not squash the posterior).

    Args:
      name: Parameter name (the title).
      prior_draws: Prior draws, ``(n,)``.
      posterior_draws: Posterior draws, ``(m,)``.
      truth: Known true value, drawn as a vertical line.
      bins: Number of bins.
      ax: Axes to draw on.

    Returns:
      The Axes: two histograms (prior, posterior) and one line per true value.
    """
    prior = np.asarray(prior_draws, dtype=float).reshape(-1)
    post = np.asarray(posterior_draws, dtype=float).reshape(-1)
    if prior.size == 0 or post.size == 0:
        raise ValueError(f"{name}: prior and posterior draws must be non-empty")
    pooled = np.concatenate([prior, post])
    lo, hi = np.quantile(pooled, [0.005, 0.995])
    lo, hi = min(lo, post.min()), max(hi, post.max())
    if truth is not None:
        lo, hi = min(lo, float(truth)), max(hi, float(truth))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    ax = _axes(ax, (5, 3.4))
    ax.hist(np.clip(prior, lo, hi), edges, density=True, color="#9AA3AD", alpha=0.55, label="prior")
    ax.hist(post, edges, density=True, color=_MODEL_COLOR, alpha=0.65, label="posterior")
    if truth is not None:
        ax.axvline(float(truth), color="#C00000", linewidth=1.8, label="true value")
    ax.set_title(str(name), loc="left", fontweight="bold", fontsize=10)
    ax.set_xlabel("Value")
    ax.set_ylabel("Density")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_prior_posterior_grid(
    params: Mapping[str, tuple[np.ndarray, np.ndarray]],
    truth: Mapping[str, float] | None = None,
    *,
    ncols: int = 3,
    title: str = "Prior vs posterior",
) -> Figure:
    """`plot_prior_posterior` for several parameters, one panel each.

    Args:
      params: Name -> ``(prior_draws, posterior_draws)``.
      truth: Name -> true value, for the parameters where it is known.
      ncols: Panels per row.
      title: Figure title.

    Returns:
      The Figure, one Axes per parameter.
    """
    if not params:
        raise ValueError("params must name at least one parameter")
    truth = {} if truth is None else truth
    ncols = max(1, min(ncols, len(params)))
    nrows = -(-len(params) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, (prior, post)) in zip(axes, params.items(), strict=False):
        plot_prior_posterior(name, prior, post, truth.get(name), ax=ax)
    for ax in axes[len(params) :]:
        ax.set_visible(False)
    fig.suptitle(title, x=0.01, ha="left", fontweight="bold")
    return fig


def plot_loss(
    losses: np.ndarray,
    *,
    every: int = 1,
    title: str = "SVI optimisation (negative ELBO)",
    ax: Axes | None = None,
) -> Axes:
    """Loss trace of SVI, on a log scale when every value is positive.

    Args:
      losses: Loss per recorded step, ``(step,)``.
      every: Steps between recorded values (``info["loss_every"]`` of an SVI fit).
      title: Axes title.
      ax: Axes to draw on.

    Returns:
      The Axes: one line.
    """
    y = np.asarray(losses, dtype=float).reshape(-1)
    if y.size == 0:
        raise ValueError("losses must be non-empty")
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    ax = _axes(ax, (7, 3.6))
    ax.plot(np.arange(y.size) * every, y, color=_MODEL_COLOR, linewidth=1.0, label="loss")
    finite = y[np.isfinite(y)]
    if finite.size and np.all(finite > 0):
        ax.set_yscale("log")
    ax.set_title(title, loc="left", fontweight="bold")
    ax.set_xlabel("Step")
    ax.set_ylabel("Loss" + (" (log scale)" if ax.get_yscale() == "log" else ""))
    return ax
