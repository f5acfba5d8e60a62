"""Analysis numbers on a Fit with hand-set draws, checked against numpy by hand."""

import numpy as np
import pandas as pd
import pytest

from mmm_jax.data import from_frame
from mmm_jax.diagnostics import analyse, hdi, summarize
from mmm_jax.diagnostics.metrics import (
    contributions,
    estimate,
    fit_metrics,
    marginal_roas,
    response_curves,
    saturation_spend,
    waste_flags,
)
from mmm_jax.inference import Fit
from mmm_jax.models import Adstock, MediaPriors, ModelConfig, Saturation, SynergyPriors
from mmm_jax.models.config import Effect
from mmm_jax.models.mmm import time_frame

N = 80
CONFIG = ModelConfig(
    adstock=Adstock.GEOMETRIC,
    saturation=Saturation.MICHAELIS_MENTEN,
    max_lag=5,
    yearly_order=0,
    weekly_order=0,
    media=MediaPriors(effect=Effect.COEF),  # the draws set media/coef by hand
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=N, freq="D"),
            "spend_a": rng.gamma(4.0, 25.0, N),
            "spend_b": rng.gamma(4.0, 50.0, N),
            "revenue": rng.normal(1000.0, 30.0, N),
        }
    )
    return from_frame(frame)


def make_fit(data, config=CONFIG, synergy=None):
    # two draws; chain axis 1
    draws = {
        "media/retention": np.array([[[0.5, 0.0], [0.3, 0.2]]]),
        "media/half_saturation": np.array([[[1.0, 2.0], [0.5, 1.5]]]),
        "media/coef": np.array([[[0.2, 0.4], [0.1, 0.3]]]),
        "baseline/intercept": np.array([[[0.5], [0.6]]]),
        "baseline/trend": np.array([[0.0, 0.05]]),
        "sigma": np.array([[0.05, 0.05]]),
    }
    if synergy is not None:
        draws["synergy/scale"] = np.array([[0.1, 0.1]])
        draws["synergy/z"] = np.asarray(synergy)[None, :, None] / 0.1
        draws["synergy/gamma"] = np.asarray(synergy)[None, :, None]
    return Fit("nuts", draws, data, config, time_frame(data.dates))


def manual_mu(data, d, media=None):
    """mu per draw by hand (scaled), geometric adstock + Michaelis-Menten."""
    media = data.media if media is None else media
    x = np.asarray(media[0]) / data.scaler.media_scale  # (time, channel)
    out = []
    t = np.arange(N) / (N - 1)
    for k in range(2):
        mu = d["baseline/intercept"][0, k, 0] + d["baseline/trend"][0, k] * t
        sats = []
        for c in range(2):
            a = d["media/retention"][0, k, c]
            w = np.array([a**lag if lag else 1.0 for lag in range(5)])
            w = w / w.sum()
            ad = np.convolve(x[:, c], w)[:N]
            s = ad / (ad + d["media/half_saturation"][0, k, c])
            sats.append(s)
            mu = mu + d["media/coef"][0, k, c] * s
        if "synergy/gamma" in d:
            mu = mu + d["synergy/gamma"][0, k, 0] * sats[0] * sats[1]
        out.append(mu)
    return np.array(out)


def test_hdi_against_brute_force():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, size=(1000, 3))
    low, high = hdi(x, 0.9)
    for c in range(3):
        s = np.sort(x[:, c])
        k = 900
        widths = s[k:] - s[:-k]
        i = int(np.argmin(widths))
        assert low[c] == s[i] and high[c] == s[i + k]
        assert np.mean((x[:, c] >= low[c]) & (x[:, c] <= high[c])) >= 0.9
    e = estimate(x[:, 0])
    assert e["mean"] == pytest.approx(x[:, 0].mean()) and e["median"] == pytest.approx(
        np.median(x[:, 0])
    )
    with pytest.raises(ValueError, match="prob must be in"):
        hdi(x, 1.5)


def test_fit_metrics_closed_form():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.5, 2.5, 4.0])
    m = fit_metrics(y, p)
    assert m["r2"] == pytest.approx(1 - 0.5 / 5.0)
    assert m["mape"] == pytest.approx((0.5 / 2 + 0.5 / 3) / 4)
    assert m["nrmse"] == pytest.approx(np.sqrt(0.5 / 4) / 3.0)
    with pytest.raises(ValueError, match="differ in size"):
        fit_metrics(y, p[:3])


def test_contributions_match_manual_counterfactuals(data):
    fit = make_fit(data)
    c = contributions(fit)
    scale = data.scaler.target_scale
    full = manual_mu(data, fit.draws)
    np.testing.assert_allclose(c.total, full.sum(1) * scale, rtol=1e-5)
    for ch in range(2):
        media = np.array(data.media)
        media[..., ch] = 0
        expected = (full - manual_mu(data, fit.draws, media)).sum(1) * scale
        np.testing.assert_allclose(c.by_channel[:, ch], expected, rtol=1e-4)
    zero = manual_mu(data, fit.draws, np.zeros_like(data.media)).sum(1) * scale
    np.testing.assert_allclose(c.baseline, zero, rtol=1e-5)
    # no synergy: the counterfactual split is additive
    np.testing.assert_allclose(c.baseline + c.by_channel.sum(1), c.total, rtol=1e-5)
    np.testing.assert_allclose(c.roas, c.by_channel / data.media.sum(axis=(0, 1)), rtol=1e-6)
    assert c.series.shape == (1, N, 2) and c.baseline_series.shape == (1, N)


def test_synergy_makes_counterfactuals_non_additive(data):
    fit = make_fit(
        data, ModelConfig(**{**CONFIG.__dict__, "synergy": SynergyPriors()}), synergy=[0.3, 0.3]
    )
    c = contributions(fit)
    # each channel's counterfactual contains the whole interaction: the parts overlap
    assert np.all(c.baseline + c.by_channel.sum(1) > c.total)
    s = summarize(fit, with_saturation=False)
    assert s["synergy"]["a:b"]["mean"] == pytest.approx(0.3 * data.scaler.target_scale)


def test_marginal_roas_is_finite_difference(data):
    fit = make_fit(data)
    m = marginal_roas(fit, bump=0.01)
    scale = data.scaler.target_scale
    full = manual_mu(data, fit.draws).sum(1)
    for ch in range(2):
        media = np.array(data.media)
        media[..., ch] *= 1.01
        bumped = manual_mu(data, fit.draws, media).sum(1)
        expected = (bumped - full) * scale / (0.01 * data.media[..., ch].sum())
        np.testing.assert_allclose(m[:, ch], expected, rtol=2e-3)
    flags = waste_flags(np.array([[0.5, 2.0], [0.8, 0.9], [0.7, 3.0]]), prob=0.9)
    assert flags.tolist() == [True, False]


def test_saturation_spend_closed_form(data):
    """Michaelis-Menten steady state: coef K s/m /(K + x/m)^2 = 1 at the saturation spend."""
    fit = make_fit(data)
    a = analyse(fit)
    sat = saturation_spend(a.response_fn, a.historical_spend.sum(axis=0))
    np.testing.assert_array_equal(a.saturation_spend, sat)
    ts, ms = data.scaler.target_scale, data.scaler.media_scale
    coef, k = fit.draws["media/coef"][0], fit.draws["media/half_saturation"][0]
    # d/dx [coef * ts * (x/m) / (K + x/m)] = coef ts K / m / (K + x/m)^2 = 1
    expected = (np.sqrt(coef * ts * k / ms) - k) * ms
    expected = np.where(expected > 0, expected, 0.0)
    np.testing.assert_allclose(sat, expected, rtol=2e-3)


def test_response_curves_and_response_params(data):
    fit = make_fit(data)
    a = analyse(fit)
    curves = response_curves(a.response_fn, a.historical_spend.sum(axis=0), grid_size=11)
    assert curves["spend"].shape == (11, 2) and curves["revenue"].shape == (2, 11, 2)
    np.testing.assert_allclose(curves["revenue"][:, 0, :], 0.0, atol=1e-6)
    assert np.all(np.diff(curves["revenue"], axis=1) > 0)  # increasing in spend
    x = curves["spend"][5]
    coef, k = fit.draws["media/coef"][0], fit.draws["media/half_saturation"][0]
    xs = x / data.scaler.media_scale
    expected = coef * xs / (k + xs) * data.scaler.target_scale
    np.testing.assert_allclose(curves["revenue"][:, 5, :], expected, rtol=1e-5)
    np.testing.assert_allclose(curves["spend"][-1], 3.0 * data.media[0].mean(axis=0))
    m = a.response
    assert m.coef.shape == (2, 1, 2) and m.saturation_params["half_saturation"].shape == (2, 1, 2)
    assert m.adstock_weights.shape == (2, 1, 2, 5)
    np.testing.assert_allclose(m.adstock_weights.sum(-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        m.adstock_weights[0, 0, 1], [1, 0, 0, 0, 0], atol=1e-7
    )  # retention 0
    default = a.curves  # 60 points up to 3x the historical spend
    assert default["revenue"].shape == (2, 60, 2)
    np.testing.assert_allclose(default["spend"][-1], curves["spend"][-1])


def test_summary_contract_keys(data):
    fit = make_fit(data)
    s = summarize(fit)
    assert set(s) >= {"channels", "baseline", "synergy", "fit", "diagnostics"}
    for name in ("a", "b"):
        ch = s["channels"][name]
        assert set(ch) >= {
            "spend",
            "contribution",
            "roas",
            "marginal_roas",
            "saturation_spend",
            "wasteful",
        }
        for key in ("contribution", "roas", "marginal_roas", "saturation_spend"):
            assert set(ch[key]) == {"mean", "median", "hdi_low", "hdi_high"}
        assert ch["spend"] == pytest.approx(float(data.media[..., "ab".index(name)].sum()))
    assert set(s["fit"]) == {"r2", "mape", "nrmse"}
    assert set(s["diagnostics"]) >= {
        "method",
        "seconds",
        "r_hat_max",
        "ess_bulk_min",
        "divergences",
    }
    assert s["diagnostics"]["r_hat_max"] is None  # one chain: R-hat means nothing
    assert s["diagnostics"]["marginalized_baseline"] is False  # not a fit_nuts fit


def test_windowed_contributions_keep_carry_over_and_add_up(data):
    """Two complementary windows add up to the whole; each counts spend from before it."""
    fit = make_fit(data)
    whole = contributions(fit)
    first, second = contributions(fit, stop=50), contributions(fit, start=50)
    np.testing.assert_allclose(first.by_channel + second.by_channel, whole.by_channel, rtol=1e-5)
    np.testing.assert_allclose(first.spend + second.spend, whole.spend, rtol=1e-12)
    # the second window's counterfactual includes carry-over of spend before period 50:
    # compare with the same window cut out of the data (history lost)
    cut = data.time_slice(50, None)
    lost = contributions(fit, data=cut)
    assert np.all(second.by_channel[:, 0] > lost.by_channel[:, 0])
    with pytest.raises(ValueError, match="holds no period"):
        contributions(fit, start=60, stop=60)
    m = marginal_roas(fit, start=50)
    assert m.shape == (2, 2) and np.all(np.isfinite(m))
