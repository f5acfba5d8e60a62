"""Lift tests end to end: where the revenue data are silent, go-dark tests set the ROAS.

The data are simulated here with numpy (geometric carry-over, Michaelis-Menten
curves), independent of the model's kernels, with revenue noise so large that
the regression says little about channel ``b``'s ROAS: the uncalibrated
posterior's sd is asserted to be several times a test's standard error.
Go-dark tests (the channel switched off in a region holding a share of the
market) then measure the level of ``b``'s response, and the calibrated
posterior mean must come within one test standard error of what the tests
say: the test's own iROAS, or the precision-weighted mean of several.
"""

import numpy as np
import pandas as pd
import pytest

import jax

from mmm_jax.calibration import LiftTests
from mmm_jax.data import from_frame
from mmm_jax.inference import fit_nuts
from mmm_jax.models import ModelConfig

N_WEEKS = 156
SHARE = 0.25  # market share of each test region
WINDOWS = {"g1": (40, 52), "g2": (100, 112)}  # test windows (first, last week)


def _adstock(x, retention=0.5, max_lag=8):
    w = retention ** np.arange(max_lag)
    w = w / w.sum()
    out = np.zeros_like(x)
    for lag in range(max_lag):
        out[lag:] += w[lag] * x[: len(x) - lag]
    return out


def _response(x, channel):
    beta, half = {"a": (3000.0, 800.0), "b": (2500.0, 1500.0)}[channel]
    a = _adstock(x)
    return beta * a / (a + half)


def _simulate(geos, seed=0):
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2022-01-03", periods=N_WEEKS, freq="W-MON")
    parts, truth = [], {}
    for g in geos:
        spend = {
            "a": 600.0 * np.exp(rng.normal(0.0, 0.5, N_WEEKS)),
            "b": 1200.0 * np.exp(rng.normal(0.0, 0.15, N_WEEKS)),
        }
        media = {c: _response(x, c) for c, x in spend.items()}
        revenue = 8000.0 + media["a"] + media["b"]
        revenue = revenue * (1.0 + rng.normal(0.0, 0.35, N_WEEKS))  # very noisy
        part = pd.DataFrame(
            {"date": dates, **{f"spend_{c}": x for c, x in spend.items()}, "revenue": revenue}
        )
        if len(geos) > 1:
            part.insert(1, "geo", g)
        parts.append(part)
        truth[g] = spend
    return pd.concat(parts, ignore_index=True), dates, truth


def _godark(dates, spend, geo, window, iroas, se_rel, panel):
    """A go-dark test of channel b: its lift reads ``iroas`` times the spend cut."""
    s, e = window
    cut = -SHARE * float(spend["b"][s : e + 1].sum())
    row = {
        "channel": "b",
        "start": dates[s],
        "end": dates[e],
        "spend_delta": cut,
        "lift": iroas * cut,
        "lift_se": se_rel * iroas * abs(cut),
        "market_share": SHARE,
    }
    if panel:
        row["geo"] = geo
    return row


def _fit(data, tests=None):
    fit = fit_nuts(
        data,
        ModelConfig(),
        key=jax.random.PRNGKey(1),
        num_warmup=300,
        num_samples=300,
        num_chains=2,
        lift_tests=tests,
        progress_bar=False,
    )
    roas = fit.draws["media/roas"].reshape(-1, data.n_channel)[:, data.channels.index("b")]
    return float(roas.mean()), float(roas.std())


@pytest.fixture(scope="module")
def national():
    frame, dates, truth = _simulate(["national"])
    return from_frame(frame), dates, truth["national"]


@pytest.fixture(scope="module")
def uncalibrated(national):
    data, _, _ = national
    return _fit(data)


def test_one_precise_go_dark_test_sets_the_roas(national, uncalibrated):
    data, dates, spend = national
    iroas, se_rel = 1.6, 0.06
    se = se_rel * iroas
    _, sd_before = uncalibrated
    assert sd_before > 3 * se  # the revenue data are silent on b's ROAS
    row = _godark(dates, spend, "national", WINDOWS["g1"], iroas, se_rel, panel=False)
    mean, sd = _fit(data, LiftTests.from_frame(pd.DataFrame([row]), data))
    assert abs(mean - iroas) < se, (mean, iroas, se)
    # Narrower than without the test, but not as narrow as the test: 13 weeks of
    # a test say less about the ROAS over 156 (the curve between test and rest).
    assert se < sd < 0.5 * sd_before, (sd, se, sd_before)


@pytest.mark.slow
def test_two_tests_of_one_channel_combine_by_precision(national, uncalibrated):
    data, dates, spend = national
    rows = [
        _godark(dates, spend, "national", WINDOWS["g1"], 1.3, 0.08, panel=False),
        _godark(dates, spend, "national", WINDOWS["g2"], 1.8, 0.10, panel=False),
    ]
    se = np.array([0.08 * 1.3, 0.10 * 1.8])
    weights = 1.0 / se**2
    combined = float(np.sum(weights * [1.3, 1.8]) / weights.sum())
    combined_se = float(1.0 / np.sqrt(weights.sum()))
    assert uncalibrated[1] > 3 * combined_se
    mean, _ = _fit(data, LiftTests.from_frame(pd.DataFrame(rows), data))
    assert abs(mean - combined) < combined_se, (mean, combined, combined_se)


@pytest.mark.slow
def test_tests_in_two_geos_of_a_panel_set_the_shared_roas():
    frame, dates, truth = _simulate(["g1", "g2"], seed=3)
    data = from_frame(frame, geo="geo")
    _, sd_before = _fit(data)
    iroas, se_rel = 1.5, 0.07
    rows = [
        _godark(dates, truth[g], g, WINDOWS[g], iroas, se_rel, panel=True) for g in ("g1", "g2")
    ]
    combined_se = se_rel * iroas / np.sqrt(2)
    assert sd_before > 3 * combined_se
    mean, _ = _fit(data, LiftTests.from_frame(pd.DataFrame(rows), data))
    assert abs(mean - iroas) < combined_se, (mean, iroas, combined_se)
