import dataclasses

import numpy as np
import pytest

from mmm_jax.calibration import LiftTests
from mmm_jax.data import from_frame
from mmm_jax.synthetic.geo_experiment import (
    GeoExperimentConfig,
    did_estimate,
    lift_rows,
    long_run_variance,
    regression_estimate,
    simulate_geo_experiment,
)

SEEDS = range(30)


@pytest.fixture(scope="module")
def runs():
    cfg = GeoExperimentConfig()
    out = []
    for s in SEEDS:
        e = simulate_geo_experiment(cfg, seed=s)
        out.append((e.truth["true_lift"], did_estimate(e), regression_estimate(e)))
    return out


def test_experiment_adds_exactly_the_media_change_in_test_regions():
    cfg = GeoExperimentConfig(n_pre=30, n_test=10, n_post=10)
    e = simulate_geo_experiment(cfg, seed=1)
    diff = e.frame["revenue"].to_numpy() - e.business_as_usual["revenue"].to_numpy()
    geo = e.frame["geo"].to_numpy()
    t = np.repeat(np.arange(cfg.n_periods), 2)
    assert np.all(diff[geo == "Sydney"] == 0.0)
    assert np.all(diff[(geo == "Melbourne") & (t < cfg.n_pre)] == 0.0)
    np.testing.assert_allclose(diff[geo == "Melbourne"].sum(), e.truth["true_lift"], rtol=1e-9)
    spend = e.frame["spend_search"].to_numpy() - e.business_as_usual["spend_search"].to_numpy()
    window = (t >= cfg.n_pre) & (t < cfg.n_pre + cfg.n_test) & (geo == "Melbourne")
    np.testing.assert_allclose(
        spend[window], 0.5 * e.business_as_usual["spend_search"].to_numpy()[window]
    )
    assert np.all(spend[~window] == 0.0)
    np.testing.assert_allclose(spend.sum(), e.truth["spend_delta"])
    # Carry-over: the lift continues after the window.
    after = np.asarray(e.truth["lift_by_period"])[cfg.n_test :]
    assert after[0] > 0 and after.sum() > 0.05 * e.truth["true_lift"]
    # One national plan: every region spends alike before the test.
    bau = e.business_as_usual
    np.testing.assert_array_equal(
        bau.loc[bau.geo == "Melbourne", "spend_social"].to_numpy(),
        bau.loc[bau.geo == "Sydney", "spend_social"].to_numpy(),
    )


def test_ninety_percent_intervals_cover_the_true_lift(runs):
    for k in (1, 2):
        covered = [
            est.interval(0.9)[0] <= true <= est.interval(0.9)[1]
            for true, *ests in runs
            for est in [ests[k - 1]]
        ]
        assert np.mean(covered) >= 0.75, (runs[0][k].method, np.mean(covered))


def test_did_is_unbiased_on_average(runs):
    err = np.array([r[1].lift - r[0] for r in runs])
    # z-test of mean error = 0 over seeds; and the error is small against the lift.
    assert abs(err.mean()) < 2.5 * err.std(ddof=1) / np.sqrt(len(err))
    assert abs(err.mean()) < 0.2 * np.mean([r[0] for r in runs])


def test_did_by_hand():
    cfg = GeoExperimentConfig(n_pre=40, n_test=7, n_post=7)
    e = simulate_geo_experiment(cfg, seed=4)
    wide = e.frame.pivot(index="date", columns="geo", values="revenue")
    d = (wide["Melbourne"] - wide["Sydney"]).to_numpy()
    est = did_estimate(e)
    np.testing.assert_allclose(est.lift, d[40:].sum() - 14 * d[:40].mean(), rtol=1e-10)
    omega = long_run_variance(d[:40] - d[:40].mean())
    np.testing.assert_allclose(est.se, np.sqrt(omega * (14 + 14**2 / 40)), rtol=1e-10)


def test_long_run_variance_of_ar1_matches_closed_form():
    rng = np.random.default_rng(0)
    rho, n = 0.7, 20000
    x = np.zeros(n)
    eps = rng.standard_normal(n)
    for t in range(1, n):
        x[t] = rho * x[t - 1] + eps[t]
    # Spectral density at zero of an AR(1) with unit innovations: 1 / (1 - rho)^2.
    np.testing.assert_allclose(long_run_variance(x - x.mean()), 1 / (1 - rho) ** 2, rtol=0.08)
    white = rng.standard_normal(n)
    np.testing.assert_allclose(long_run_variance(white - white.mean()), 1.0, rtol=0.05)


def test_rows_are_valid_lift_tests_for_a_national_and_a_geo_mmm():
    cfg = GeoExperimentConfig(
        regions=("Melbourne", "Sydney", "Brisbane"), n_pre=60, n_test=14, n_post=14, spend_lift=1.0
    )
    e = simulate_geo_experiment(cfg, seed=2)
    rows = lift_rows(e, [did_estimate(e), regression_estimate(e)])
    assert list(rows.columns) == [
        "channel",
        "start",
        "end",
        "spend_delta",
        "lift",
        "lift_se",
        "market_share",
        "method",
        "true_lift",
    ]
    assert rows["start"].iloc[0] == e.dates[60].strftime("%Y-%m-%d")
    assert rows["end"].iloc[0] == e.dates[73].strftime("%Y-%m-%d")
    assert 0.2 < rows["market_share"].iloc[0] < 0.5  # one region of three
    national = e.business_as_usual.drop(columns="geo").groupby("date", as_index=False).sum()
    data = from_frame(national, controls=("organic_traffic",))
    rows = rows[rows["lift"] > 0]
    tests = LiftTests.from_frame(rows, data)
    assert len(tests) == len(rows)
    panel = from_frame(e.frame, geo="geo", controls=("organic_traffic",))
    geo_rows = lift_rows(e, did_estimate(e), geo="Melbourne", market_share=1.0)
    if geo_rows["lift"].iloc[0] > 0:
        assert LiftTests.from_frame(geo_rows, panel).geo == ("Melbourne",)


def test_config_errors():
    with pytest.raises(ValueError, match="proper, non-empty subset"):
        GeoExperimentConfig(test_regions=("Melbourne", "Sydney"))
    with pytest.raises(ValueError, match="channel 'tv'"):
        GeoExperimentConfig(channel="tv")
    with pytest.raises(ValueError, match="spend_lift"):
        dataclasses.replace(GeoExperimentConfig(), spend_lift=0.0)


def test_a_given_plan_is_every_regions_share_of_the_markets_spend():
    """The demo's case: the regions spend the MMM data's own plan, so a go-dark test
    in one of G regions cuts 1/G of what the data spent in the window (a flighted
    channel's random regional plan could be in flight where the data were not)."""
    cfg = GeoExperimentConfig(
        regions=("a", "b", "c", "d"), test_regions=("a",), n_pre=40, n_test=14, n_post=7
    )
    cfg = dataclasses.replace(cfg, spend_lift=-1.0 + 1e-9)
    names = [ch.name for ch in cfg.market.channels]
    plan = np.random.default_rng(0).gamma(2.0, 50.0, (cfg.n_periods, len(names)))
    e = simulate_geo_experiment(cfg, seed=4, plan=plan)
    bau = e.business_as_usual
    for k, name in enumerate(names):
        by_region = bau.pivot(index="date", columns="geo", values=f"spend_{name}")
        np.testing.assert_allclose(by_region.to_numpy(), np.repeat(plan[:, k : k + 1] / 4, 4, 1))
    c = names.index(cfg.channel)
    window_spend = plan[cfg.n_pre : cfg.n_pre + cfg.n_test, c].sum()
    np.testing.assert_allclose(-e.truth["spend_delta"], window_spend / 4, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        simulate_geo_experiment(cfg, seed=4, plan=plan[1:])
    with pytest.raises(ValueError, match="needs shared_plan"):
        simulate_geo_experiment(dataclasses.replace(cfg, shared_plan=False), seed=4, plan=plan)
    with pytest.raises(ValueError, match="non-negative"):
        simulate_geo_experiment(cfg, seed=4, plan=-plan)
