"""The HTML report: self-contained, escaped, one table row per channel, truth checked."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from matplotlib.figure import Figure

from mmm_jax._format import fmt_sig
from mmm_jax.diagnostics.report import CAPTIONS, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"


def _est(mean, low, high):
    return {"mean": mean, "median": mean, "hdi_low": low, "hdi_high": high}


def _summary(names=("search", "social")):
    channels = {}
    for k, name in enumerate(names):
        channels[name] = {
            "spend": 1_234_567.0 * (k + 1),
            "contribution": _est(2_500_000.0 + k, 2_100_000.0, 2_950_000.0),
            "roas": _est(1.8 - 0.9 * k, 1.5 - 0.9 * k, 2.1 - 0.9 * k),
            "marginal_roas": _est(1.2 - 0.6 * k, 0.9 - 0.6 * k, 1.4 - 0.6 * k),
            "prob_marginal_roas_below_1": 0.2 + 0.7 * k,
            "saturation_spend": _est(45_000.0, 38_000.0, 52_000.0) if k == 0 else None,
            "wasteful": bool(k),
        }
    return {
        "channels": channels,
        "baseline": {
            "contribution": _est(40_000_000.0, 38_000_000.0, 42_000_000.0),
            "share": _est(0.82, 0.80, 0.85),
        },
        "synergy": {f"{names[0]}:{names[1]}": _est(0.05, -0.01, 0.11)},
        "fit": {"r2": 0.913, "mape": 0.0412, "nrmse": 0.071},
        "diagnostics": {
            "method": "nuts",
            "seconds": 83.4,
            "r_hat_max": 1.004,
            "ess_bulk_min": 612.0,
            "divergences": 0,
        },
        "review": [
            {"check": "convergence", "status": "pass", "message": "R-hat below 1.01"},
            {"check": "fit", "status": "warn", "message": "MAPE above 4% & rising"},
            {"check": "roas", "status": "fail", "message": f"{names[1]} ROAS below 1"},
        ],
        "data": {
            "target": "revenue",
            "start": "2023-01-01",
            "end": "2024-12-30",
            "n_periods": 730,
            "n_geos": 1,
        },
    }


def _figure(kind: int) -> Figure:
    fig = Figure(figsize=(4, 3))
    ax = fig.add_subplot()
    x = np.linspace(0, 10, 50)
    ax.plot(x, np.sin(x) if kind == 0 else np.cos(x))
    ax.set_title(f"figure {kind}")
    return fig


class _Page(HTMLParser):
    """Collects tables (as rows of cell texts with row classes), images, links and text."""

    def __init__(self):
        super().__init__()
        self.tables, self.imgs, self.tags, self.text = [], [], [], []
        self._cell = None
        self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "table":
            self.tables.append({"head": [], "rows": []})
        elif tag == "tr":
            self._row = {"cls": attrs.get("class", ""), "cells": []}
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "img":
            self.imgs.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row["cells"].append(" ".join(" ".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            table = self.tables[-1]  # the first row of a table is its header
            (table["rows"] if table["head"] else table["head"]).append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    for table in page.tables:
        table["head"] = table["head"][0]["cells"]
    return page


def _table(page, first_header):
    (table,) = [t for t in page.tables if t["head"][0] == first_header]
    return table


def _status_tables(page):
    """The verdicts table at the top of the page and the full review under Diagnostics."""
    verdicts, review = [t for t in page.tables if t["head"][0] == "Status"]
    return verdicts, review


def test_report_tables_numbers_and_embedded_figures(tmp_path):
    summary = _summary()
    figures = {"roas": _figure(0), "custom_plot": _figure(1)}
    path = write_report(
        tmp_path / "out", summary=summary, figures=figures, title="Demo & report", notes=["n1"]
    )
    assert path == tmp_path / "out" / "report.html"
    page = _parse(path)
    raw = path.read_text(encoding="utf-8")

    channels = _table(page, "Channel")
    assert [r["cells"][0] for r in channels["rows"]] == ["search", "social"]
    assert "True ROAS" not in channels["head"]
    search, social = (r["cells"] for r in channels["rows"])
    assert search[1] == "1,234,567"
    assert search[2] == "2,500,000 [2,100,000, 2,950,000]"
    assert search[3] == "1.80 [1.50, 2.10]"
    assert search[4] == "1.20 [0.900, 1.40]"  # three significant digits (fmt_sig)
    assert search[5] == "45,000 [38,000, 52,000]"
    assert social[5] == "—"  # no saturation spend
    assert (search[6], social[6]) == ("no", "yes")

    baseline = _table(page, "Quantity")
    assert baseline["rows"][1]["cells"][1] == "82.0% [80.0%, 85.0%]"
    synergy = _table(page, "Pair")
    assert synergy["rows"][0]["cells"] == ["search × social", "0.0500 [-0.0100, 0.110]"]
    fit = _table(page, "Metric")
    assert [r["cells"][1] for r in fit["rows"]] == ["0.913", "4.1%", "7.1%"]
    diag = _table(page, "Check")
    assert [r["cells"][1] for r in diag["rows"]] == ["NUTS", "83.4 s", "1.004", "612", "0"]
    verdicts, review = _status_tables(page)
    assert [r["cls"] for r in review["rows"]] == ["pass", "warn", "fail"]
    # verdicts first: the fail, then the warning, above the headline cards
    fails_then_warns = [r["cells"] for r in review["rows"] if r["cls"] == "fail"]
    fails_then_warns += [r["cells"] for r in review["rows"] if r["cls"] == "warn"]
    assert [r["cells"] for r in verdicts["rows"]] == fails_then_warns
    assert [r["cls"] for r in verdicts["rows"]] == ["fail", "warn"]
    assert raw.index("Verdicts") < raw.index("Media spend")
    assert review["rows"][1]["cells"] == ["warn", "fit", "MAPE above 4% & rising"]
    assert "MAPE above 4% &amp; rising" in raw

    # headline cards: total spend, media ROAS = sum of contribution means / total spend
    text = " ".join(page.text)
    assert "3,703,701" in text
    assert fmt_sig((2 * 2_500_000.0 + 1) / (3 * 1_234_567.0)) in text

    # figures: embedded PNGs, known caption for a standard key, a readable one for others
    assert len(page.imgs) == 2
    for img in page.imgs:
        prefix = "data:image/png;base64,"
        assert img["src"].startswith(prefix)
        png = base64.b64decode(img["src"][len(prefix) :], validate=True)
        assert png[:8] == PNG_SIGNATURE and len(png) > 5_000
    assert CAPTIONS["roas"] in text and "Custom plot" in text

    # self-contained: no scripts, stylesheets or remote sources
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", raw)
    assert [t for t, _ in page.tags].count("style") == 1
    assert "<title>Demo &amp; report</title>" in raw
    assert "n1" in text


def test_report_truth_columns_say_whether_truth_is_inside_hdi(tmp_path):
    truth = {
        "channels": {
            "search": {"roas": 1.7, "marginal_roas": 2.0},  # inside, outside (0.9–1.4)
            "social": {"roas": 2.0, "marginal_roas": 0.5},  # outside (0.6–1.2), inside (0.3–0.8)
        },
        "baseline_share": 0.79,  # outside (0.80–0.85)
    }
    path = write_report(tmp_path, summary=_summary(), figures={}, title="t", truth=truth)
    page = _parse(path)
    channels = _table(page, "Channel")
    assert channels["head"][-4:] == [
        "True ROAS",
        "Inside HDI?",
        "True marginal ROAS",
        "Inside HDI?",
    ]
    assert [r["cells"][-4:] for r in channels["rows"]] == [
        ["1.70", "yes", "2.00", "no"],
        ["2.00", "no", "0.500", "yes"],
    ]
    baseline = _table(page, "Quantity")
    assert baseline["rows"][1]["cells"][2:] == ["79.0%", "no"]
    assert not page.imgs


def test_report_escapes_every_string(tmp_path):
    summary = _summary(names=(EVIL, "tv & radio"))
    summary["review"].append({"check": EVIL, "status": "<b>", "message": EVIL})
    path = write_report(
        tmp_path, summary=summary, figures={EVIL: _figure(0)}, title=EVIL, notes=[EVIL], truth=None
    )
    raw = path.read_text(encoding="utf-8")
    page = _parse(path)
    assert "<script>" not in raw and "<b>" not in raw
    assert "&lt;script&gt;" in raw
    assert not [t for t, _ in page.tags if t in ("script", "b")]
    channels = _table(page, "Channel")
    assert [r["cells"][0] for r in channels["rows"]] == [EVIL, "tv & radio"]
    verdicts, review = _status_tables(page)
    assert EVIL not in [r["cells"][1] for r in verdicts["rows"]]  # not a known warn or fail
    assert review["rows"][-1]["cls"] == "warn"  # unknown status shown as a warning
    assert review["rows"][-1]["cells"][1:] == [EVIL, EVIL]


def test_report_rejects_bad_inputs(tmp_path):
    with pytest.raises(TypeError, match="summary"):
        write_report(tmp_path, summary=[1, 2], figures={}, title="t")
    with pytest.raises(TypeError, match="Figure"):
        write_report(tmp_path, summary=_summary(), figures={"x": object()}, title="t")


# ------------------------------------------------------------------ figures_for_fit
def _hand_fit(synergy: bool):
    """A Fit with hand-set draws (no inference): 2 channels, 3 draws, 60 days."""
    import pandas as pd

    from mmm_jax.data import from_frame
    from mmm_jax.inference import Fit
    from mmm_jax.models import Adstock, MediaPriors, ModelConfig, Saturation, SynergyPriors
    from mmm_jax.models.config import Effect
    from mmm_jax.models.mmm import time_frame

    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="D"),
            "spend_search": rng.gamma(4.0, 250.0, n),
            "spend_social": rng.gamma(4.0, 500.0, n),
            "revenue": rng.normal(10_000.0, 300.0, n),
        }
    )
    data = from_frame(frame)
    config = ModelConfig(
        adstock=Adstock.GEOMETRIC,
        saturation=Saturation.MICHAELIS_MENTEN,
        max_lag=4,
        yearly_order=0,
        weekly_order=0,
        media=MediaPriors(effect=Effect.COEF),
        synergy=SynergyPriors() if synergy else None,
    )
    draws = {
        "media/retention": np.array([[[0.5, 0.1], [0.3, 0.2], [0.4, 0.3]]]),
        "media/half_saturation": np.array([[[1.0, 2.0], [0.5, 1.5], [0.8, 1.0]]]),
        "media/coef": np.array([[[0.2, 0.4], [0.1, 0.3], [0.15, 0.35]]]),
        "baseline/intercept": np.array([[[0.5], [0.6], [0.55]]]),
        "baseline/trend": np.array([[0.0, 0.05, 0.02]]),
        "sigma": np.array([[0.05, 0.05, 0.05]]),
    }
    if synergy:
        gamma = np.array([0.05, -0.02, 0.04])
        draws["synergy/scale"] = np.array([[0.1, 0.1, 0.1]])
        coef = draws["media/coef"][0]  # relative synergy: gamma = scale * z * sqrt(coef_a coef_b)
        draws["synergy/z"] = gamma[None, :, None] / (0.1 * np.sqrt(coef[:, :1] * coef[:, 1:]))
        draws["synergy/gamma"] = gamma[None, :, None]
    return Fit("nuts", draws, data, config, time_frame(data.dates))


def test_figures_for_fit_draws_metrics_numbers(tmp_path):
    from mmm_jax.diagnostics import summarize
    from mmm_jax.diagnostics.metrics import contributions, marginal_roas
    from mmm_jax.diagnostics.report import figures_for_fit

    fit = _hand_fit(synergy=True)
    truth = {"channels": {"search": {"roas": 1.5}}}
    figs = figures_for_fit(fit, truth=truth)
    assert list(figs) == [
        "posterior_predictive",
        "contributions",
        "waterfall",
        "roas",
        "response_curves",
        "synergy",
    ]
    contrib = contributions(fit)
    waterfall = figs["waterfall"].axes[0]
    heights = [p.get_height() for p in waterfall.patches]
    np.testing.assert_allclose(heights[1:3], contrib.by_channel.mean(axis=0), rtol=1e-6)
    roas_ax = figs["roas"].axes[0]
    means = [float(np.asarray(c.lines[0].get_xdata(), dtype=float)[0]) for c in roas_ax.containers]
    mroas = marginal_roas(fit)
    np.testing.assert_allclose(
        means,
        [
            contrib.roas[:, 0].mean(),
            mroas[:, 0].mean(),
            contrib.roas[:, 1].mean(),
            mroas[:, 1].mean(),
        ],
        rtol=1e-6,
    )
    crosses = [ln for ln in roas_ax.get_lines() if ln.get_marker() == "x"]
    assert [float(ln.get_xdata()[0]) for ln in crosses] == [1.5]
    heat = figs["synergy"].axes[0].get_images()[0].get_array()
    gamma = fit.draws["synergy/gamma"][0, :, 0] * float(fit.data.scaler.target_scale)
    np.testing.assert_allclose(heat[0, 1], gamma.mean(), rtol=1e-6)
    path = write_report(tmp_path, summary=summarize(fit), figures=figs, title="hand fit")
    page = _parse(path)
    assert len(page.imgs) == 6
    # a summary made without saturation spend turns the saturation markers off
    summary = summarize(fit, with_saturation=False)
    no_sat = figures_for_fit(_hand_fit(synergy=False), summary=summary)
    assert "synergy" not in no_sat
    for ax in no_sat["response_curves"].axes:
        assert not [ln for ln in ax.get_lines() if ln.get_linestyle() == ":"]


@pytest.mark.slow
def test_figures_for_fit_on_a_tiny_svi_fit(tmp_path):
    import jax

    from mmm_jax.data import from_frame
    from mmm_jax.diagnostics import summarize
    from mmm_jax.diagnostics.report import figures_for_fit
    from mmm_jax.inference import fit_svi
    from mmm_jax.models import ModelConfig
    from mmm_jax.synthetic import DEFAULT_CHANNELS, SimulationConfig, simulate

    sim = simulate(SimulationConfig(n_periods=120, channels=DEFAULT_CHANNELS[:2]), seed=0)
    data = from_frame(sim.frame, controls=("organic_traffic",))
    config = ModelConfig(yearly_order=1, weekly_order=1, max_lag=14)
    fit = fit_svi(
        data, config, key=jax.random.PRNGKey(0), num_steps=300, num_samples=50, progress_bar=False
    )
    summary = summarize(fit)
    figs = figures_for_fit(fit, summary=summary, truth=sim.truth)
    assert list(figs) == [
        "posterior_predictive",
        "contributions",
        "waterfall",
        "roas",
        "response_curves",
        "loss",
    ]
    loss_line = figs["loss"].axes[0].get_lines()[0]
    assert len(loss_line.get_ydata()) == len(fit.info["losses"])
    crosses = [ln for ln in figs["roas"].axes[0].get_lines() if ln.get_marker() == "x"]
    assert sorted(float(ln.get_xdata()[0]) for ln in crosses) == sorted(
        sim.truth["channels"][n][k] for n in data.channels for k in ("roas", "marginal_roas")
    )
    path = write_report(
        tmp_path, summary=summary, figures=figs, title="tiny SVI fit", truth=sim.truth
    )
    page = _parse(path)
    assert [r["cells"][0] for r in _table(page, "Channel")["rows"]] == list(data.channels)
    assert len(page.imgs) == 6
