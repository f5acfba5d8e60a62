"""Plots draw what they are given: rendered to PNG, labelled, one artist per input."""

from __future__ import annotations

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mmm_jax.diagnostics import plots
from mmm_jax.diagnostics.metrics import Contributions, hdi

NAMES = ("search", "social", "tv")
N_SAMPLE, N_TIME = 400, 90


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def dates():
    return pd.date_range("2024-01-01", periods=N_TIME, freq="D")


@pytest.fixture
def contrib(rng):
    """A fake posterior decomposition with the shapes `metrics.contributions` returns."""
    n_geo, n_ch = 2, len(NAMES)
    t = np.arange(N_TIME)
    base_series = np.stack([100_000 + 8_000 * np.sin(2 * np.pi * t / 30)] * n_geo)
    series = rng.gamma(4.0, 2_500.0, size=(n_geo, N_TIME, n_ch)) * np.array([1.0, 0.6, 1.4])
    by_channel = series.sum(axis=(0, 1))[None, :] * rng.normal(1.0, 0.08, size=(N_SAMPLE, n_ch))
    baseline = base_series.sum() * rng.normal(1.0, 0.03, size=N_SAMPLE)
    spend = np.array([1.2e6, 9.0e5, 2.0e6])
    total = baseline + by_channel.sum(axis=1)
    halves = np.array([0.6, 0.4])  # each geo's share of every national number
    return Contributions(
        channels=NAMES,
        geos=("north", "south"),
        spend=spend,
        total=total,
        by_channel=by_channel,
        baseline=baseline,
        spend_by_geo=halves[:, None] * spend,
        total_by_geo=total[:, None] * halves,
        by_geo=by_channel[:, None, :] * halves[:, None],
        baseline_by_geo=baseline[:, None] * halves,
        series=series,
        baseline_series=base_series,
        predicted_series=base_series + series.sum(axis=-1),
    )


def _render(obj, tmp_path, name) -> Figure:
    fig = obj if isinstance(obj, Figure) else obj.figure
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=80)
    assert path.stat().st_size > 5_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return fig


def _labelled(ax):
    assert ax.get_title(loc="left").strip()
    assert ax.get_xlabel().strip()
    assert ax.get_ylabel().strip()


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ helpers
def test_channel_colors_are_stable_and_distinct():
    a = plots.channel_colors(NAMES)
    b = plots.channel_colors([*NAMES, "radio"])
    assert [a[n] for n in NAMES] == [b[n] for n in NAMES]
    assert len(set(b.values())) == 4
    assert plots.BASELINE_COLOR not in b.values()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (950, "950"),
        (1234.0, "1,234"),
        (12_500, "12.5k"),
        (250_000, "250k"),
        (3_000_000, "3M"),
        (1_250_000, "1.25M"),
        (-45_000, "-45k"),
        (2.5, "2.5"),
        (2.125, "2.12"),
    ],
)
def test_currency_formatter_lone_values(value, text):
    assert plots.currency_formatter()(value) == text
    dollar = "$0" if value == 0 else (text.replace("-", "-$") if value < 0 else "$" + text)
    assert plots.currency_formatter("$")(value) == dollar


@pytest.mark.parametrize(
    ("ticks", "texts"),
    [
        ([0, 5_000, 10_000, 15_000], ["0", "5k", "10k", "15k"]),  # one unit per axis
        ([0, 250, 500, 750, 1_000], ["0", "250", "500", "750", "1,000"]),
        ([0, 2.5e6, 5e6, 7.5e6], ["0", "2.5M", "5.0M", "7.5M"]),  # enough decimals for every tick
        ([1.2e6, 1.25e6, 1.3e6], ["1.20M", "1.25M", "1.30M"]),
        ([-2e9, 0, 2e9], ["-2B", "0", "2B"]),
    ],
)
def test_currency_formatter_on_an_axis(ticks, texts):
    fig = Figure()
    ax = fig.add_subplot()
    ax.set_ylim(min(ticks), max(ticks))
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(plots.currency_formatter())
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_yticklabels()] == texts


# ------------------------------------------------------------------ 1
def test_posterior_predictive_sums_geos_and_draws_bands(tmp_path, rng, dates):
    truth = 200_000 + 20_000 * np.sin(np.arange(N_TIME) / 5)
    actual = np.stack([0.4 * truth, 0.6 * truth]) * rng.normal(1, 0.02, (2, N_TIME))
    draws = (
        truth[None, None, :]
        * np.array([0.4, 0.6])[None, :, None]
        * rng.normal(1, 0.05, (N_SAMPLE, 2, N_TIME))
    )
    ax = plots.plot_posterior_predictive(dates, actual, draws)
    _render(ax, tmp_path, "ppc")
    _labelled(ax)
    assert _legend(ax) == ["90% interval", "50% interval", "posterior mean", "actual"]
    mean_line, actual_line = ax.get_lines()
    np.testing.assert_allclose(actual_line.get_ydata(), actual.sum(axis=0))
    np.testing.assert_allclose(mean_line.get_ydata(), draws.sum(axis=1).mean(axis=0))
    outer, inner = [c for c in ax.collections if isinstance(c, PolyCollection)]
    # the 90% band contains the 50% band: compare vertical extents of the polygons
    assert outer.get_paths()[0].vertices[:, 1].max() >= inner.get_paths()[0].vertices[:, 1].max()
    assert outer.get_paths()[0].vertices[:, 1].min() <= inner.get_paths()[0].vertices[:, 1].min()
    # national input gives the same picture as its geo-summed version
    ax2 = plots.plot_posterior_predictive(dates, actual.sum(axis=0), draws.sum(axis=1))
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), mean_line.get_ydata())
    with pytest.raises(ValueError, match="predicted_draws"):
        plots.plot_posterior_predictive(dates[:-1], actual, draws)
    # a held-out tail is shaded from its first date to the last
    ax3 = plots.plot_posterior_predictive(dates, actual, draws, split=dates[30])
    (span,) = ax3.patches
    corners = span.get_path().transformed(span.get_patch_transform()).vertices
    assert mdates.num2date(corners[:, 0].min()).date() == pd.Timestamp(dates[30]).date()
    assert mdates.num2date(corners[:, 0].max()).date() == pd.Timestamp(dates[-1]).date()
    assert _legend(ax3)[0] == "held out (forecast)"
    with pytest.raises(ValueError, match="split"):
        plots.plot_posterior_predictive(dates, actual, draws, split=dates[0])


# ------------------------------------------------------------------ 2
def test_contributions_stack_has_baseline_plus_channels(tmp_path, contrib, dates):
    actual = contrib.predicted_series * 1.01
    ax = plots.plot_contributions(dates, contrib, actual=actual)
    _render(ax, tmp_path, "contrib")
    _labelled(ax)
    areas = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(areas) == len(NAMES) + 1
    assert _legend(ax) == ["baseline", *NAMES, "actual"]
    colors = plots.channel_colors(NAMES)
    for area, name in zip(areas[1:], NAMES, strict=True):
        np.testing.assert_allclose(area.get_facecolor()[0][:3], _rgb(colors[name]), atol=1e-6)
    # the top of the stack is baseline + every channel, summed over geos
    top = areas[-1].get_paths()[0].vertices[:, 1].max()
    expected = (contrib.baseline_series.sum(axis=0) + contrib.series.sum(axis=(0, 2))).max()
    np.testing.assert_allclose(top, expected, rtol=1e-9)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), actual.sum(axis=0))


def _rgb(hex_color):
    from matplotlib.colors import to_rgb

    return np.array(to_rgb(hex_color))


# ------------------------------------------------------------------ 3
def test_waterfall_bars_stack_to_total_with_hdi_whiskers(tmp_path, contrib):
    ax = plots.plot_waterfall(contrib)
    _render(ax, tmp_path, "waterfall")
    _labelled(ax)
    bars = _bars(ax)
    assert len(bars) == len(NAMES) + 2
    means = [contrib.baseline.mean(), *contrib.by_channel.mean(axis=0)]
    # each floating bar starts where the previous one ended
    np.testing.assert_allclose([b.get_height() for b in bars[:-1]], means, rtol=1e-9)
    np.testing.assert_allclose([b.get_y() for b in bars[1:-1]], np.cumsum(means)[:-1], rtol=1e-9)
    np.testing.assert_allclose(bars[-1].get_height(), contrib.total.mean(), rtol=1e-9)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["baseline", *NAMES, "total"]
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = container.lines[2][0].get_segments()
    assert len(segments) == len(NAMES) + 2
    low, high = hdi(contrib.by_channel[:, 0])
    start = contrib.baseline.mean()
    np.testing.assert_allclose(sorted(segments[1][:, 1]), [start + low, start + high], rtol=1e-9)


# ------------------------------------------------------------------ 4
def test_roas_forest_one_errorbar_per_channel_and_metric_with_truth(tmp_path, rng):
    roas = rng.normal([2.5, 0.8, 1.6], [0.3, 0.1, 0.4], size=(N_SAMPLE, 3))
    mroas = 0.6 * roas
    truth = {"channels": {"search": {"roas": 2.4, "marginal_roas": 1.3}, "tv": {"roas": 1.9}}}
    ax = plots.plot_roas_forest(NAMES, roas, mroas, truth)
    _render(ax, tmp_path, "forest")
    _labelled(ax)
    containers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(containers) == 2 * len(NAMES)
    for k, name in enumerate(NAMES):
        for m, draws in enumerate((roas, mroas)):
            data_line = containers[2 * k + m].lines[0]
            assert data_line.get_color() == plots.channel_colors(NAMES)[name]
            np.testing.assert_allclose(
                np.asarray(data_line.get_xdata(), dtype=float), [draws[:, k].mean()]
            )
            (segment,) = containers[2 * k + m].lines[2][0].get_segments()
            np.testing.assert_allclose(sorted(segment[:, 0]), hdi(draws[:, k]), rtol=1e-9)
    rows = {n: len(NAMES) - 1 - i for i, n in enumerate(NAMES)}  # first channel on top
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels()), strict=True))
    assert {ticks[r]: r for r in ticks} == rows
    # truth markers sit at the true value on the row of their channel and metric
    crosses = [ln for ln in ax.get_lines() if ln.get_marker() == "x"]
    points = sorted((float(ln.get_xdata()[0]), float(ln.get_ydata()[0])) for ln in crosses)
    expected = sorted(
        [(2.4, rows["search"] + 0.18), (1.3, rows["search"] - 0.18), (1.9, rows["tv"] + 0.18)]
    )
    np.testing.assert_allclose(points, expected)
    breakeven = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert any(np.all(np.asarray(ln.get_xdata()) == 1.0) for ln in breakeven)
    assert "true value" in _legend(ax)
    # ROAS only, no truth
    ax2 = plots.plot_roas_forest(NAMES, roas)
    assert len([c for c in ax2.containers if isinstance(c, ErrorbarContainer)]) == len(NAMES)
    assert "true value" not in _legend(ax2)
    with pytest.raises(ValueError, match="names"):
        plots.plot_roas_forest(NAMES[:2], roas)


# ------------------------------------------------------------------ 5
def test_response_curves_one_panel_per_channel_with_markers(tmp_path, rng):
    grid = np.linspace(0, 1, 30)[:, None] * np.array([90_000.0, 60_000.0, 150_000.0])
    k = np.array([30_000.0, 25_000.0, 80_000.0]) * rng.lognormal(0, 0.1, (N_SAMPLE, 1, 3))
    revenue = 150_000 * grid[None] / (grid[None] + k)
    current = np.array([30_000.0, 20_000.0, 50_000.0])
    sat = np.stack(
        [
            rng.normal(45_000, 3_000, N_SAMPLE),
            rng.normal(30_000, 2_000, N_SAMPLE),
            rng.normal(400_000, 10_000, N_SAMPLE),
        ],
        axis=1,
    )  # tv saturates beyond the grid
    fig = plots.plot_response_curves({"spend": grid, "revenue": revenue}, current, sat, names=NAMES)
    _render(fig, tmp_path, "curves")
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left") for a in axes] == list(NAMES)
    assert fig.get_suptitle()
    for c, ax in enumerate(axes):
        assert ax.get_xlabel() and ax.get_ylabel()
        curve = ax.get_lines()[0]
        np.testing.assert_allclose(curve.get_xdata(), grid[:, c])
        np.testing.assert_allclose(curve.get_ydata(), revenue[:, :, c].mean(axis=0))
        dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
        assert [float(ln.get_xdata()[0]) for ln in dashed] == [current[c]]
        dotted = [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]
        if c < 2:
            assert [float(ln.get_xdata()[0]) for ln in dotted] == pytest.approx([sat[:, c].mean()])
        else:
            assert not dotted
            assert any("beyond" in t.get_text() for t in ax.texts)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "90% HDI",
        "posterior mean (colour = channel)",
        "current spend",
        "saturation spend (mean, 90% HDI)",
    ]
    # without saturation draws and with one hidden spare panel
    fig2 = plots.plot_response_curves(
        {"spend": grid[:, :2], "revenue": revenue[..., :2]}, current[:2], ncols=3
    )
    assert len(fig2.axes) == 2
    assert len(fig2.legends[0].get_texts()) == 3
    with pytest.raises(ValueError, match="current_spend"):
        plots.plot_response_curves({"spend": grid, "revenue": revenue}, current[:2])


# ------------------------------------------------------------------ 6
def test_budget_reallocation_grouped_bars_and_changes(tmp_path):
    current = np.array([30_000.0, 20_000.0, 50_000.0])
    recommended = np.array([45_000.0, 15_000.0, 40_000.0])
    interval = np.stack([recommended * 0.9, recommended * 1.1])
    ax = plots.plot_budget_reallocation(NAMES, current, recommended, interval)
    _render(ax, tmp_path, "budget")
    _labelled(ax)
    bars = _bars(ax)
    assert len(bars) == 2 * len(NAMES)
    np.testing.assert_allclose([b.get_height() for b in bars], [*current, *recommended])
    assert _legend(ax) == ["current", "recommended", "interval"]
    assert [t.get_text() for t in ax.texts] == ["+50%", "-25%", "-20%"]
    (container,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    segments = container.lines[2][0].get_segments()
    np.testing.assert_allclose([sorted(s[:, 1]) for s in segments], interval.T)
    assert [t.get_text() for t in ax.get_xticklabels()] == list(NAMES)
    ax2 = plots.plot_budget_reallocation(NAMES, current, recommended)
    assert not [c for c in ax2.containers if isinstance(c, ErrorbarContainer)]
    with pytest.raises(ValueError, match="recommended_interval"):
        plots.plot_budget_reallocation(NAMES, current, recommended, interval[:, :2])


# ------------------------------------------------------------------ 7
def test_synergy_heatmap_symmetric_and_annotated(tmp_path):
    m = np.array([[0.0, 1_500.0, -300.0], [1_500.0, 0.0, 40.0], [-300.0, 40.0, 0.0]])
    prob = np.array([[0.5, 0.97, 0.2], [0.97, 0.5, 0.6], [0.2, 0.6, 0.5]])
    ax = plots.plot_synergy_heatmap(NAMES, m, prob)
    _render(ax, tmp_path, "synergy")
    _labelled(ax)
    (image,) = ax.get_images()
    shown = image.get_array()
    assert np.all(shown.mask[np.eye(3, dtype=bool)])
    np.testing.assert_allclose(shown.data[~np.eye(3, dtype=bool)], m[~np.eye(3, dtype=bool)])
    assert image.norm.vmin == -1_500.0 and image.norm.vmax == 1_500.0
    texts = {(t.get_position()): t.get_text() for t in ax.texts}
    assert len(texts) == 6
    assert texts[(1, 0)] == "1.5e+03\nP(>0) = 97%" or texts[(1, 0)].startswith("1,500")
    assert texts[(0, 2)].endswith("P(>0) = 20%")
    assert [t.get_text() for t in ax.get_xticklabels()] == list(NAMES)
    with pytest.raises(ValueError, match="symmetric"):
        plots.plot_synergy_heatmap(NAMES, np.triu(m))


# ------------------------------------------------------------------ 8
def test_prior_posterior_single_and_grid(tmp_path, rng):
    prior = rng.gamma(2.0, 1.0, 2_000)
    post = rng.normal(1.3, 0.1, 800)
    ax = plots.plot_prior_posterior("half_saturation[search]", prior, post, truth=1.25)
    _render(ax, tmp_path, "prior_post")
    _labelled(ax)
    assert _legend(ax) == ["prior", "posterior", "true value"]
    prior_bars, post_bars = ax.containers
    widths = [b.get_width() for b in post_bars]
    np.testing.assert_allclose(
        sum(b.get_height() * w for b, w in zip(post_bars, widths, strict=True)), 1.0
    )
    (truth_line,) = ax.get_lines()
    assert list(truth_line.get_xdata()) == [1.25, 1.25]
    fig = plots.plot_prior_posterior_grid(
        {"a": (prior, post), "b": (prior, post + 1), "c": (prior, post - 0.5), "d": (prior, post)},
        truth={"b": 2.3},
        ncols=3,
    )
    _render(fig, tmp_path, "prior_post_grid")
    visible = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title(loc="left") for a in visible] == ["a", "b", "c", "d"]
    assert [len(a.get_lines()) for a in visible] == [0, 1, 0, 0]
    assert visible[1].get_lines()[0].get_xdata()[0] == 2.3


# ------------------------------------------------------------------ 9
def test_loss_log_scale_only_when_positive(tmp_path):
    losses = 1e5 * np.exp(-np.linspace(0, 4, 300)) + 500
    ax = plots.plot_loss(losses, every=10)
    _render(ax, tmp_path, "loss")
    _labelled(ax)
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(300) * 10)
    ax2 = plots.plot_loss(losses - 5_000)
    assert ax2.get_yscale() == "linear"
