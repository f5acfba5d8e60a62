import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.handlers import seed, substitute, trace

from mmm_jax.calibration import LiftSpread, LiftTests, load_lift_csv
from mmm_jax.data import DataValidationError, from_frame
from mmm_jax.inference import Fit, fit_map, fit_svi
from mmm_jax.models import (
    Adstock,
    MediaPriors,
    ModelConfig,
    Saturation,
    SynergyPriors,
    build_inputs,
    mmm,
    roas_prior,
)
from mmm_jax.models.config import Effect
from tests._frames import random_frame
from tests._paths import BENCHDATA

BENCH = BENCHDATA / "beauty_daily"


#: Two channels and revenue.
COLUMNS = {
    "spend_a": ("gamma", 2.0, 50.0),
    "spend_b": ("gamma", 2.0, 80.0),
    "revenue": ("normal", 1000.0, 50.0),
}


def frame(n=120, geos=None, seed_=0):
    return random_frame(COLUMNS, n=n, geos=geos, seed=seed_)


@pytest.fixture(scope="module")
def data():
    return from_frame(frame())


@pytest.fixture(scope="module")
def panel():
    return from_frame(frame(geos=["Melbourne", "Sydney"]), geo="geo")


GOOD = {
    "channel": "a",
    "start": "2024-02-01",
    "end": "2024-02-14",
    "spend_delta": 500.0,
    "lift": 300.0,
    "lift_se": 50.0,
}


def table(*rows):
    return pd.DataFrame([{**GOOD, **r} for r in rows])


# --------------------------------------------------------------------------- validation


def test_good_table_reads_with_defaults(data):
    tests = LiftTests.from_frame(
        table({}, {"channel": "b", "spend_delta": -100.0, "lift": -20.0}), data
    )
    assert tests.channel == ("a", "b")
    assert tests.geo == ("national", "national")
    np.testing.assert_array_equal(tests.market_share, [1.0, 1.0])
    s, e = tests.periods(data)
    np.testing.assert_array_equal(s, [31, 31])  # 2024-02-01 is day 31 of the data
    np.testing.assert_array_equal(e, [44, 44])


def _error(df, data, **kwargs) -> str:
    with pytest.raises(DataValidationError) as err:
        LiftTests.from_frame(df, data, **kwargs)
    return str(err.value)


def test_unknown_channel_names_row_and_known_channels(data):
    msg = _error(table({}, {"channel": "tv"}), data)
    assert "row 2 (channel=tv, start=2024-02-01, end=2024-02-14" in msg
    assert "unknown channel 'tv'" in msg and "a, b" in msg
    assert "row 1" not in msg


def test_unknown_geo_names_row(panel):
    msg = _error(table({"geo": "Sydney"}, {"geo": "Perth"}), panel)
    assert "row 2" in msg and "geo=Perth" in msg and "unknown geo 'Perth'" in msg
    assert "Melbourne, Sydney" in msg


def test_missing_geo_on_a_panel_names_row(panel):
    msg = _error(table({}), panel)
    assert "row 1" in msg and "2 geos" in msg


def test_window_outside_data_names_row(data):
    msg = _error(table({}, {}, {"end": "2024-05-30"}), data)
    assert "row 3" in msg and "end=2024-05-30" in msg
    assert "outside the data's dates 2024-01-01 .. 2024-04-29" in msg
    msg = _error(table({"start": "2023-12-30"}), data)
    assert "row 1" in msg and "outside" in msg


def test_start_after_end_names_row(data):
    msg = _error(table({}, {"start": "2024-02-20", "end": "2024-02-10"}), data)
    assert "row 2" in msg and "start is after end" in msg


@pytest.mark.parametrize("se", [0.0, -3.0, float("nan")])
def test_bad_se_names_row(data, se):
    msg = _error(table({"lift_se": se}), data)
    assert "row 1" in msg and "lift_se must be finite and > 0" in msg


def test_zero_spend_delta_names_row(data):
    msg = _error(table({}, {"spend_delta": 0.0}), data)
    assert "row 2" in msg and "spend_delta=0" in msg and "non-zero" in msg


def test_opposite_signs_name_row(data):
    msg = _error(table({"spend_delta": 500.0, "lift": -160.0, "lift_se": 50.0}), data)
    assert "row 1" in msg and "opposite signs" in msg and "lift=-160" in msg


def test_a_null_result_of_the_other_sign_within_noise_is_data(data):
    # A go-dark test of a worthless channel: the lift is noise around zero.
    tests = LiftTests.from_frame(table({"spend_delta": -500.0, "lift": 140.0}), data)
    assert tests.lift[0] == 140.0 and tests.spend_delta[0] == -500.0
    msg = _error(table({"spend_delta": -500.0, "lift": 151.0}), data)  # 3.02 se
    assert "opposite signs" in msg


@pytest.mark.parametrize("share", [0.0, 1.5, -0.2])
def test_market_share_outside_unit_interval_names_row(data, share):
    msg = _error(table({}, {"market_share": share}), data)
    assert "row 2" in msg and "market_share must be in (0, 1]" in msg


def test_unparseable_values_and_missing_columns(data):
    msg = _error(table({"start": "not a date", "lift": "lots"}), data)
    assert "row 1" in msg and "start 'not a date' is not a date" in msg
    assert "lift 'lots' is not a number" in msg
    with pytest.raises(DataValidationError, match="missing column.*lift_se"):
        LiftTests.from_frame(table({}).drop(columns="lift_se"), data)


def test_every_bad_row_is_reported_at_once(data):
    msg = _error(table({"channel": "tv"}, {}, {"lift_se": 0.0}), data)
    assert "row 1" in msg and "row 3" in msg and "row 2" not in msg


def test_csv_roundtrip_with_geo_and_share(panel, tmp_path):
    df = table(
        {"geo": "Melbourne", "market_share": 0.25},
        {"geo": "Sydney", "channel": "b", "market_share": 1.0},
    )
    path = tmp_path / "lift.csv"
    df.to_csv(path, index=False)
    tests = load_lift_csv(path, panel)
    assert tests.geo == ("Melbourne", "Sydney")
    np.testing.assert_allclose(tests.market_share, [0.25, 1.0])
    back = LiftTests.from_dict(json.loads(json.dumps(tests.to_dict())))
    assert back.to_frame().equals(tests.to_frame())


# --------------------------------------------------------------------------- the prediction


def _numpy_lift(x, delta, share, retention, max_lag, curve, beta):
    """Hand computation in currency: share * sum_t beta [S(a + da) - S(a)]."""
    w = retention ** np.arange(max_lag)
    w = w / w.sum()

    def adstock(series):
        out = np.zeros_like(series)
        for lag in range(max_lag):
            out[lag:] += w[lag] * series[: len(series) - lag]
        return out

    a = adstock(x)
    da = adstock(delta / share)
    return share * beta * np.sum(curve(a + da) - curve(a)), a, da


def _fixed_params(data, *, retention, half, slope, beta, coef_b=0.3):
    """Scaled-unit parameters with channel a's curve given in currency."""
    ms, m = data.scaler.media_scale, data.scaler.target_scale
    return {
        "media/retention": jnp.asarray([retention, 0.5]),
        "media/half_saturation": jnp.asarray([half / ms[0], 1.0]),
        "media/slope": jnp.asarray([slope, 1.0]),
        "media/coef": jnp.asarray([beta / m, coef_b]),
    }


def _predicted(data, config, tests, params) -> np.ndarray:
    inputs = build_inputs(data, config, lift=tests)
    tr = trace(substitute(seed(mmm, 0), params)).get_trace(inputs, config, y=data.target_scaled)
    return np.asarray(tr["lift/predicted"]["value"], float) * data.scaler.target_scale


CONFIG = ModelConfig(
    adstock=Adstock.GEOMETRIC,
    saturation=Saturation.HILL,
    media=MediaPriors(effect=Effect.COEF),
    max_lag=10,
)


def _hill(half, slope):
    return lambda a: a**slope / (a**slope + half**slope)


@pytest.mark.parametrize("spread", list(LiftSpread))
def test_prediction_equals_hand_computation_with_tail(data, spread):
    retention, half, slope, beta, share = 0.6, 120.0, 1.7, 900.0, 0.25
    tests = LiftTests.from_frame(
        table({"start": "2024-02-01", "end": "2024-02-14", "spend_delta": 700.0}),
        data,
        market_share=share,
        spread=spread,
    )
    x = data.media[0, :, 0]
    inside = (np.arange(data.n_time) >= 31) & (np.arange(data.n_time) <= 44)
    weight = np.where(inside, x if spread is LiftSpread.PROPORTIONAL else 1.0, 0.0)
    delta = 700.0 * weight / weight.sum()
    expected, _, da = _numpy_lift(x, delta, share, retention, 10, _hill(half, slope), beta)
    params = _fixed_params(data, retention=retention, half=half, slope=slope, beta=beta)
    got = _predicted(data, CONFIG, tests, params)
    np.testing.assert_allclose(got, [expected], rtol=2e-4)
    # The carry-over tail after the window is a real share of the lift here.
    _, a, _ = _numpy_lift(x, delta, share, retention, 10, _hill(half, slope), beta)
    curve = _hill(half, slope)
    window_only = share * beta * np.sum((curve(a + da) - curve(a))[inside])
    assert expected > 1.1 * window_only


def test_go_dark_test_predicts_switching_the_channel_off(data):
    # A go-dark test: the region (a quarter of the market) spends nothing on
    # channel a for two weeks, so spend_delta is minus its spend there. Read with
    # the default spread, the prediction is the lift of zeroing a in the window,
    # and is larger than the uniform spread's, which would cut more than was spent
    # on the days of low spend (the model cannot go below zero spend).
    retention, half, slope, beta, share = 0.6, 120.0, 1.7, 900.0, 0.25
    x = data.media[0, :, 0]
    inside = (np.arange(data.n_time) >= 31) & (np.arange(data.n_time) <= 44)
    cut = -share * x[inside].sum()
    rows = table({"start": "2024-02-01", "end": "2024-02-14", "spend_delta": cut, "lift": -1.0})
    tests = LiftTests.from_frame(rows, data, market_share=share)
    assert tests.spread is LiftSpread.PROPORTIONAL
    expected, _, _ = _numpy_lift(
        x, np.where(inside, -share * x, 0.0), share, retention, 10, _hill(half, slope), beta
    )
    params = _fixed_params(data, retention=retention, half=half, slope=slope, beta=beta)
    got = _predicted(data, CONFIG, tests, params)
    np.testing.assert_allclose(got, [expected], rtol=2e-4)
    # The same from the model's revenue: share x (mu with a zeroed in the window - mu).
    inputs = build_inputs(data, CONFIG)
    zeroed = np.array(data.media)
    zeroed[0, inside, 0] = 0.0
    off = build_inputs(data.with_media(zeroed), CONFIG, reference=data)

    def mu(inp):
        tr = trace(substitute(seed(mmm, 0), params)).get_trace(inp, CONFIG)
        return np.asarray(tr["mu"]["value"], float)

    from_mu = share * (mu(off) - mu(inputs)).sum() * data.scaler.target_scale
    np.testing.assert_allclose(got, [from_mu], rtol=1e-3)


def test_cut_beyond_the_regions_spend_reads_as_going_dark_up_to_a_limit(data):
    # The region's share of spend may differ from its share of the market: a cut
    # of 1.2x its share of the spend is the region going dark, predicted exactly
    # like a cut of 1x; 2x means market_share or spend_delta is wrong.
    x = data.media[0, 31:45, 0]
    params = _fixed_params(data, retention=0.6, half=120.0, slope=1.7, beta=900.0)

    def lift(cut):
        rows = table({"start": "2024-02-01", "end": "2024-02-14", "spend_delta": -cut})
        tests = LiftTests.from_frame(rows.assign(lift=-1.0, market_share=0.25), data)
        return _predicted(data, CONFIG, tests, params)

    np.testing.assert_allclose(lift(0.3 * x.sum()), lift(0.25 * x.sum()), rtol=1e-6)
    assert lift(0.2 * x.sum())[0] > lift(0.25 * x.sum())[0]  # less cut: less lost (lift < 0)
    rows = table({"start": "2024-02-01", "end": "2024-02-14", "spend_delta": -0.5 * x.sum()})
    msg = _error(rows.assign(lift=-1.0, market_share=0.25), data)
    assert "row 1" in msg and "more than 1.5 times" in msg and "check market_share" in msg
    assert f"{0.25 * x.sum():,.2f}" in msg


def test_uniform_cut_larger_than_a_periods_spend_is_refused(data):
    x = data.media[0, 31:45, 0]
    assert x.min() < x.mean()  # some days had less than the average spend
    rows = table({"start": "2024-02-01", "end": "2024-02-14", "spend_delta": -x.sum()})
    msg = _error(rows.assign(lift=-1.0), data, spread=LiftSpread.UNIFORM)
    assert "a uniform cut" in msg and "--lift-spread proportional" in msg
    # In proportion to spend the same cut switches the channel off: accepted.
    LiftTests.from_frame(rows.assign(lift=-1.0), data)


def test_test_at_end_of_data_counts_only_the_in_data_tail(data):
    retention, half, slope, beta = 0.7, 120.0, 1.3, 900.0
    last = data.dates[-1].strftime("%Y-%m-%d")
    start = data.dates[-5].strftime("%Y-%m-%d")
    tests = LiftTests.from_frame(
        table({"start": start, "end": last, "spend_delta": 400.0}), data, spread=LiftSpread.UNIFORM
    )
    x = data.media[0, :, 0]
    delta = np.where(np.arange(data.n_time) >= data.n_time - 5, 80.0, 0.0)
    expected, _, _ = _numpy_lift(x, delta, 1.0, retention, 10, _hill(half, slope), beta)
    # With 10 more periods of the same spend after the data, the tail would add more.
    longer, _, _ = _numpy_lift(
        np.concatenate([x, np.full(10, x.mean())]),
        np.concatenate([delta, np.zeros(10)]),
        1.0,
        retention,
        10,
        _hill(half, slope),
        beta,
    )
    assert longer > 1.2 * expected
    params = _fixed_params(data, retention=retention, half=half, slope=slope, beta=beta)
    np.testing.assert_allclose(_predicted(data, CONFIG, tests, params), [expected], rtol=2e-4)


def test_zero_retention_predicts_no_tail(data):
    half, slope, beta, share = 120.0, 1.5, 900.0, 0.5
    tests = LiftTests.from_frame(
        table({"spend_delta": 700.0}), data, market_share=share, spread=LiftSpread.UNIFORM
    )
    x = data.media[0, 31:45, 0]
    curve = _hill(half, slope)
    window_only = share * beta * np.sum(curve(x + 50.0 / share) - curve(x))  # 700 over 14 days
    params = _fixed_params(data, retention=0.0, half=half, slope=slope, beta=beta)
    np.testing.assert_allclose(_predicted(data, CONFIG, tests, params), [window_only], rtol=2e-4)


def test_several_tests_mixed_kinds_and_synergy(data):
    """Vectorised over tests: each equals its own hand computation, synergy change included."""
    config = ModelConfig(
        adstock=Adstock.GEOMETRIC,
        saturation=(Saturation.HILL, Saturation.MICHAELIS_MENTEN),
        media=MediaPriors(effect=Effect.COEF),
        synergy=SynergyPriors(relative=False),  # gamma = scale * z in scaled revenue
        max_lag=10,
    )
    ms, m = data.scaler.media_scale, data.scaler.target_scale
    ret, half_a, slope_a, half_b = np.array([0.5, 0.3]), 110.0, 1.4, 200.0
    beta, gamma = np.array([800.0, 500.0]), 150.0
    params = {
        "media/retention": jnp.asarray(ret),
        "media/half_saturation": jnp.asarray([half_a / ms[0], half_b / ms[1]]),
        "media/slope": jnp.asarray([slope_a, 1.0]),
        "media/coef": jnp.asarray(beta / m),
        "synergy/scale": jnp.asarray(1.0),
        "synergy/z": jnp.asarray([gamma / m]),
    }
    tests = LiftTests.from_frame(
        table(
            {"channel": "a", "spend_delta": 700.0},
            {
                "channel": "b",
                "start": "2024-03-01",
                "end": "2024-03-07",
                "spend_delta": 350.0,
                "market_share": 0.5,
            },
            {
                "channel": "b",
                "start": "2024-01-10",
                "end": "2024-01-20",
                "spend_delta": -220.0,
                "lift": -40.0,
            },
        ),
        data,
        spread=LiftSpread.UNIFORM,
    )
    curves = [_hill(half_a, slope_a), lambda a: a / (a + half_b)]
    x = data.media[0]

    def adstock(series, r):
        w = r ** np.arange(10)
        w = w / w.sum()
        out = np.zeros_like(series)
        for lag in range(10):
            out[lag:] += w[lag] * series[: len(series) - lag]
        return out

    sat = np.stack([curves[c](adstock(x[:, c], ret[c])) for c in range(2)], axis=1)
    s, e = tests.periods(data)
    expected = []
    for k in range(3):
        c, share = data.channels.index(tests.channel[k]), tests.market_share[k]
        delta = np.zeros(data.n_time)
        delta[s[k] : e[k] + 1] = tests.spend_delta[k] / (e[k] - s[k] + 1)
        new = sat.copy()
        new[:, c] = curves[c](adstock(x[:, c] + delta / share, ret[c]))
        media = beta[c] * (new[:, c] - sat[:, c]).sum()
        syn = gamma * (new[:, 0] * new[:, 1] - sat[:, 0] * sat[:, 1]).sum()
        expected.append(share * (media + syn))
    got = _predicted(data, config, tests, params)
    np.testing.assert_allclose(got, expected, rtol=5e-4)
    assert got[2] < 0  # a hold-back test predicts a loss


def test_geo_panel_uses_the_tests_geo(panel):
    tests = LiftTests.from_frame(
        table({"geo": "Sydney"}, {"geo": "Melbourne"}), panel, spread=LiftSpread.UNIFORM
    )
    params = _fixed_params(panel, retention=0.4, half=120.0, slope=1.5, beta=900.0)
    got = _predicted(panel, CONFIG, tests, params)
    curve = _hill(120.0, 1.5)
    want = []
    for g in (1, 0):
        x = panel.media[g, :, 0]
        delta = np.where(
            (np.arange(panel.n_time) >= 31) & (np.arange(panel.n_time) <= 44), 500 / 14, 0
        )
        want.append(_numpy_lift(x, delta, 1.0, 0.4, 10, curve, 900.0)[0])
    np.testing.assert_allclose(got, want, rtol=2e-4)
    assert abs(got[0] - got[1]) > 1e-3 * abs(got[0])  # the geos' spend differ


@pytest.mark.skipif(not BENCH.is_dir(), reason="shared benchmark data absent")
def test_true_parameters_reproduce_the_benchmark_true_lifts():
    """An independent generator's lifts (make_truth.py, numpy) from the true mechanics.

    The generator bumps spend by +50% in a region that is 20% of the market and
    counts the window and the carry-over tail: PROPORTIONAL spread with
    market_share 0.2 must give its noise-free lifts.
    """
    truth = json.loads((BENCH / "truth.json").read_text())
    data = from_frame(pd.read_csv(BENCH / "data.csv"), controls=("organic_traffic",))
    ch, names = truth["channels"], list(data.channels)
    config = ModelConfig(
        adstock=tuple(Adstock(ch[c]["adstock"][0]) for c in names),
        saturation=tuple(Saturation(ch[c]["saturation"][0]) for c in names),
        media=MediaPriors(effect=Effect.COEF),
        synergy=SynergyPriors(),
        max_lag=truth.get("l_max", 28),
    )
    ms, m = data.scaler.media_scale, data.scaler.target_scale
    p = [ch[c]["adstock"][1] | ch[c]["saturation"][1] for c in names]
    pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)]
    z = np.zeros(len(pairs))  # relative synergy (the default) is the generator's own form
    for a, b, g in truth["synergy"]:
        ia, ib = names.index(a), names.index(b)
        z[pairs.index((min(ia, ib), max(ia, ib)))] = g
    params = {
        "media/retention": jnp.asarray([q.get("alpha", 0.5) for q in p]),
        "media/shape": jnp.asarray([q.get("shape", 1.0) for q in p]),
        "media/scale": jnp.asarray([q.get("scale", 1.0) for q in p]),
        "media/half_saturation": jnp.asarray([q["half"] / ms[i] for i, q in enumerate(p)]),
        "media/slope": jnp.asarray([q.get("slope", 1.0) for q in p]),
        "media/coef": jnp.asarray([ch[c]["beta"] / m for c in names]),
        "synergy/scale": jnp.asarray(1.0),
        "synergy/z": jnp.asarray(z),
    }
    tests = load_lift_csv(
        BENCH / "lift_tests.csv", data, market_share=0.2, spread=LiftSpread.PROPORTIONAL
    )
    true = [r["true_lift"] for r in truth["lift_tests_true"]]
    np.testing.assert_allclose(_predicted(data, config, tests, params), true, rtol=1e-3)
    # A share of 1 (the whole market bumped by +10%) would predict ~20% more.
    wrong = dataclasses.replace(tests, market_share=np.ones(len(tests)))
    assert np.all(_predicted(data, config, wrong, params) > 1.15 * np.asarray(true))


# --------------------------------------------------------------------------- the model


def test_model_with_lift_tests_traces_and_prior_predictive_is_finite(data):
    tests = LiftTests.from_frame(
        table({}, {"channel": "b"}), data, heterogeneity=dist.HalfNormal(0.2)
    )
    config = ModelConfig()
    inputs = build_inputs(data, config, lift=tests)
    for s in range(3):
        tr = trace(seed(mmm, s)).get_trace(inputs, config)
        assert tr["lift/predicted"]["value"].shape == (2,)
        assert np.all(np.isfinite(tr["lift/predicted"]["value"]))
        assert np.all(np.asarray(tr["lift/predicted"]["value"]) > 0)
        assert tr["lift/delta_y"]["is_observed"]
        assert tr["lift/heterogeneity"]["value"].shape == ()
        np.testing.assert_allclose(
            tr["lift/delta_y"]["value"], tests.lift / data.scaler.target_scale, rtol=1e-6
        )
    # The likelihood sd is sqrt(se^2 + (tau * lift)^2) on the scaled target.
    tau = float(tr["lift/heterogeneity"]["value"])
    fn = tr["lift/delta_y"]["fn"]
    m = data.scaler.target_scale
    np.testing.assert_allclose(
        np.asarray(fn.scale), np.sqrt(tests.lift_se**2 + (tau * tests.lift) ** 2) / m, rtol=1e-5
    )


def test_predict_and_save_load_leave_lift_out(data, tmp_path, key):
    tests = LiftTests.from_frame(table({}), data)
    config = ModelConfig(yearly_order=0, weekly_order=0, max_lag=4)
    fit = fit_map(data, config, key=key, num_steps=20, progress_bar=False, lift_tests=tests)
    assert fit.lift_tests is tests
    assert fit.draws["lift/predicted"].shape == (1, 1, 1)
    mu = fit.predict()["mu"]
    plain = Fit(
        **{**{f.name: getattr(fit, f.name) for f in dataclasses.fields(fit)}, "lift_tests": None}
    )
    np.testing.assert_array_equal(mu, plain.predict()["mu"])
    assert fit.log_likelihood().shape == (1, 1, 1, data.n_time)
    loaded = Fit.load(fit.save(tmp_path / "fit.npz"))
    assert loaded.lift_tests.to_frame().equals(tests.to_frame())
    np.testing.assert_allclose(loaded.predict()["mu"], mu)


def test_whole_window_holdout_with_tiny_se_pins_roas(key):
    """Switching a channel off for the whole window measures its contribution.

    A hold-out of all of channel a's spend (PROPORTIONAL spread: every
    period's spend goes to zero) over the data window has lift = -contribution,
    so its ROAS is exactly -lift / spend_delta whatever the curve's shape. A
    1% se must pin the posterior there, even 60% away from what the revenue
    alone suggests.
    """
    rng = np.random.default_rng(3)
    n = 150
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    a = rng.gamma(3.0, 100.0, n)
    b = rng.gamma(3.0, 60.0, n)
    revenue = 2000.0 + 1.5 * a + 1.0 * b + rng.normal(0.0, 60.0, n)
    df = pd.DataFrame({"date": dates, "spend_a": a, "spend_b": b, "revenue": revenue})
    data = from_frame(df)
    implied = 2.4  # the data say about 1.5
    spend = float(a.sum())
    tests = LiftTests.from_frame(
        pd.DataFrame(
            [
                {
                    "channel": "a",
                    "start": dates[0],
                    "end": dates[-1],
                    "spend_delta": -spend,
                    "lift": -implied * spend,
                    "lift_se": 0.01 * implied * spend,
                }
            ]
        ),
        data,
        spread=LiftSpread.PROPORTIONAL,
    )
    # Weibull adstock: a scalar Beta retention prior fails numpyro's log_prob
    # under the suite's strict rank promotion.
    config = ModelConfig(yearly_order=0, weekly_order=0, max_lag=5)
    fit = fit_svi(
        data,
        config,
        key=key,
        num_steps=1500,
        num_samples=300,
        progress_bar=False,
        lift_tests=tests,
        learning_rate=0.02,
    )
    roas = fit.draws["media/roas"][0, :, 0]
    assert abs(roas.mean() / implied - 1.0) < 0.10
    predicted = fit.draws["lift/predicted"][0, :, 0] * data.scaler.target_scale
    assert abs(predicted.mean() / (-implied * spend) - 1.0) < 0.10


# --------------------------------------------------------------------------- ROAS priors


def test_roas_prior_mean_and_sd_match_the_stated_experiment():
    d = from_frame(frame().rename(columns={"spend_a": "spend_meta", "spend_b": "spend_tiktok"}))
    prior = roas_prior(d, known={"tiktok": (3.5, 0.3)})
    assert prior.batch_shape == (2,)
    np.testing.assert_allclose(prior.mean[1], 3.5, rtol=1e-5)
    np.testing.assert_allclose(jnp.sqrt(prior.variance[1]), 0.3 * 3.5, rtol=1e-5)
    # meta keeps the default relative prior, in the data's units: rho * revenue / spend
    default = MediaPriors().relative_roas
    revenue_per_spend = d.target.mean() / d.media.sum(axis=-1).mean()
    np.testing.assert_allclose(prior.mean[0], default.mean * revenue_per_spend, rtol=1e-5)
    np.testing.assert_allclose(prior.concentration[0], default.concentration)
    config = ModelConfig(media=MediaPriors(roas=prior))
    tr = trace(seed(mmm, 0)).get_trace(build_inputs(d, config), config)
    assert tr["media/roas"]["type"] == "sample" and tr["media/roas"]["value"].shape == (2,)
    with jax.numpy_rank_promotion("allow"):  # numpyro's batched sampler broadcasts implicitly
        draws = np.asarray(prior.sample(jax.random.PRNGKey(1), (20000,)))
    np.testing.assert_allclose(draws[:, 1].mean(), 3.5, rtol=0.02)
    np.testing.assert_allclose(draws[:, 1].std(), 1.05, rtol=0.03)


def test_roas_prior_rejects_unknown_channel_and_bad_values(data):
    with pytest.raises(ValueError, match="unknown channel 'tv'"):
        roas_prior(data, known={"tv": (2.0, 0.2)})
    with pytest.raises(ValueError, match="mean > 0"):
        roas_prior(data, known={"a": (0.0, 0.2)})
    with pytest.raises(TypeError, match="Gamma"):
        roas_prior(data, default=dist.HalfNormal(1.0))
