"""Model review on one short NUTS fit: each check against a direct numpy recomputation,
and deliberately broken fits (shrunk noise, stuck chains, shifted baseline) caught."""

import dataclasses
import json

import numpy as np
import pytest

import jax
import numpyro.distributions as dist
from numpyro.infer import Predictive

from mmm_jax.data import from_frame
from mmm_jax.diagnostics import hdi
from mmm_jax.diagnostics.metrics import contributions
from mmm_jax.diagnostics.review import (
    ReviewThresholds,
    add_review,
    check_convergence,
    check_holdout,
    check_negative_baseline,
    check_ppc,
    check_prior_shift,
    check_roas,
    check_roas_identified,
    prior_posterior_shift,
    prior_roas,
    review,
    review_table,
)
from mmm_jax.diagnostics.summary import convergence
from mmm_jax.inference import fit_nuts
from mmm_jax.models import BaselinePriors, ModelConfig, mmm
from mmm_jax.synthetic import SimulationConfig, simulate

WIDE_SD = 20.0  # intercept prior sd on the scaled target (the data pin it to ~0.01)


@pytest.fixture(scope="module")
def fit():
    cfg = SimulationConfig(n_periods=150)
    cfg = dataclasses.replace(cfg, channels=cfg.channels[:2])
    sim = simulate(cfg, seed=11)
    data = from_frame(sim.frame, controls=("organic_traffic",))
    config = ModelConfig(
        yearly_order=1,
        weekly_order=1,
        max_lag=14,
        baseline=BaselinePriors(intercept=dist.Normal(0.5, WIDE_SD)),
    )
    return fit_nuts(
        data,
        config,
        key=jax.random.PRNGKey(3),
        num_warmup=150,
        num_samples=100,
        num_chains=2,
        progress_bar=False,
        chain_method="vectorized",
    )


@pytest.fixture(scope="module")
def items(fit):
    return review(fit, key=jax.random.PRNGKey(5), prior_samples=2000)


def by_check(items):
    return {i["check"]: i for i in items}


def test_review_items_well_formed_and_json_safe(fit, items):
    checks = [i["check"] for i in items]
    assert checks == [
        "r_hat",
        "ess_bulk",
        "divergences",
        "ppc_coverage",
        "residual_autocorrelation",
        "r2",
        "units",
        "media_share",
        "negative_baseline",
        "roas_plausible",
        "roas_identified",
        "prior_shift",
    ]
    for i in items:
        assert set(i) == {"check", "status", "value", "message"}
        assert i["status"] in ("pass", "warn", "fail")
        assert len(i["message"]) > 10
    summary = add_review({"fit": {}}, items)
    back = json.loads(json.dumps(summary))
    assert [i["check"] for i in back["review"]] == checks
    table = review_table(items)
    lines = table.splitlines()
    assert len(lines) == len(items) + 2
    for i, line in zip(items, lines[2:], strict=True):
        assert line.startswith(i["status"].upper()) and i["check"] in line


def test_holdout_check_judges_forecast_coverage_and_error():
    def quality(coverage, mape):
        hold = {"r2": 0.5, "mape": mape, "nrmse": 0.2, "coverage": coverage, "n_holdout": 9}
        return {"r2": 0.8, "mape": 0.04, "nrmse": 0.1, "holdout": hold}

    cases = [  # coverage, hold-out MAPE (in sample 4%) -> status
        (0.89, 0.05, "pass"),
        (0.80, 0.05, "warn"),  # below the 0.85-0.95 band: overconfident out of sample
        (0.50, 0.05, "fail"),  # below 0.7
        (0.99, 0.05, "pass"),  # wide out of sample is not a failure of honesty
        (0.89, 0.09, "warn"),  # 2.25x the in-sample error
        (None, 0.05, "pass"),  # a one-draw fit: no band, judged on the error alone
        (None, 0.12, "warn"),
    ]
    for coverage, mape, status in cases:
        item = check_holdout(quality(coverage, mape))
        assert (item["check"], item["status"], item["value"]) == (
            "holdout_forecast",
            status,
            coverage,
        ), (coverage, mape)
        assert "last 9 periods" in item["message"] and f"{mape:.1%}" in item["message"]
    strict = ReviewThresholds(holdout_mape_ratio=1.1)
    assert check_holdout(quality(0.89, 0.05), thresholds=strict)["status"] == "warn"


def test_convergence_items_follow_diagnostics(fit, items):
    d = convergence(fit)
    got = by_check(items)
    assert got["r_hat"]["value"] == pytest.approx(d["r_hat_max"])
    assert got["ess_bulk"]["value"] == pytest.approx(d["ess_bulk_min"])
    assert got["divergences"]["value"] == d["divergences"] == int(fit.stats["diverging"].sum())
    r = d["r_hat_max"]
    assert got["r_hat"]["status"] == ("pass" if r < 1.01 else "warn" if r < 1.05 else "fail")
    ess = d["ess_bulk_min"]
    assert got["ess_bulk"]["status"] == ("pass" if ess >= 400 else "warn" if ess >= 100 else "fail")
    # Reusing a summary's diagnostics gives the same items.
    assert check_convergence(fit, diagnostics=d) == check_convergence(fit)


def test_stuck_chains_fail_r_hat(fit):
    draws = dict(fit.draws)
    roas = np.array(draws["media/roas"])
    roas[1] = roas[1] + 5.0 * roas.std()  # chain 1 stuck somewhere else
    stuck = dataclasses.replace(fit, draws={**draws, "media/roas": roas})
    item = by_check(check_convergence(stuck))["r_hat"]
    assert item["status"] == "fail"
    assert item["value"] > 1.5
    assert "disagree" in item["message"]


def test_divergence_thresholds(fit):
    n = fit.n_samples
    for count, status in ((0, "pass"), (1, "warn"), (n // 10, "fail")):
        div = np.zeros((fit.n_chain, fit.n_draw), bool)
        div.reshape(-1)[:count] = True
        f = dataclasses.replace(fit, stats={**fit.stats, "diverging": div})
        item = by_check(check_convergence(f))["divergences"]
        assert (item["value"], item["status"]) == (count, status)


def test_svi_flag(fit):
    for converged, status in ((True, "pass"), (False, "fail")):
        f = dataclasses.replace(fit, method="svi", info={"converged": converged})
        got = by_check(check_convergence(f))
        assert got["svi_converged"]["status"] == status
        assert "divergences" not in got


def ppc_by_hand(fit, key):
    data = fit.data
    scale = float(data.scaler.target_scale)
    pred = fit.predict(sites=("mu", "y"), key=key)
    y = np.asarray(pred["y"])[:, 0] * scale  # (sample, time)
    actual = np.asarray(data.target)[0]
    inside = [(np.sum(y[:, t] < actual[t]) / y.shape[0]) for t in range(actual.size)]
    lo, hi = np.quantile(y, [0.05, 0.95], axis=0)
    coverage = np.mean((actual >= lo) & (actual <= hi))
    resid = actual - np.asarray(pred["mu"])[:, 0].mean(axis=0) * scale
    rho = np.corrcoef(resid[:-1], resid[1:])[0, 1]
    return coverage, np.asarray(inside), rho


def test_ppc_coverage_matches_numpy(fit):
    key = jax.random.PRNGKey(9)
    got = by_check(check_ppc(fit, key=key))
    coverage, pit, rho = ppc_by_hand(fit, key)
    assert got["ppc_coverage"]["value"] == pytest.approx(coverage, abs=1e-12)
    # Same thing through the probability integral transform: inside <=> 5% < PIT < 95% (up to ties).
    assert abs(np.mean((pit > 0.05) & (pit < 0.95)) - coverage) <= 2.0 / pit.size
    c = coverage
    assert got["ppc_coverage"]["status"] == (
        "pass" if 0.85 <= c <= 0.95 else "fail" if c < 0.7 else "warn"
    )
    # corrcoef centres the two slices separately; they agree to O(1/T).
    assert got["residual_autocorrelation"]["value"] == pytest.approx(rho, abs=0.03)


def test_shrunk_noise_fails_ppc(fit):
    sigma = np.asarray(fit.draws["sigma"]) / 10.0
    broken = dataclasses.replace(fit, draws={**fit.draws, "sigma": sigma})
    key = jax.random.PRNGKey(9)
    item = by_check(check_ppc(broken, key=key))["ppc_coverage"]
    assert item["status"] == "fail"
    assert item["value"] < 0.7
    assert item["value"] == pytest.approx(ppc_by_hand(broken, key)[0], abs=1e-12)


def test_negative_baseline_probability(fit):
    item = check_negative_baseline(fit)
    base = fit.predict(media=np.zeros_like(fit.data.media))["mu"]
    assert item["value"] == pytest.approx(np.mean((base < 0).any(axis=(1, 2))))
    # Lower the intercept of half the draws far below zero: P(negative somewhere) = 1/2 exactly.
    icpt = np.array(fit.draws["baseline/intercept"])
    icpt[1] -= 50.0
    shifted = dataclasses.replace(fit, draws={**fit.draws, "baseline/intercept": icpt})
    item = check_negative_baseline(shifted)
    assert item["value"] == pytest.approx(0.5)
    assert item["status"] == "warn"
    strict = ReviewThresholds(negative_baseline_fail=0.4)
    assert check_negative_baseline(shifted, thresholds=strict)["status"] == "fail"


def test_roas_check(fit, items):
    got = by_check(items)["roas_plausible"]
    roas = contributions(fit).roas
    for c, name in enumerate(fit.data.channels):
        assert got["value"][name]["mean"] == pytest.approx(np.mean(roas[:, c]), rel=1e-5)
        assert got["value"][name]["prob_above"] == pytest.approx(np.mean(roas[:, c] > 50.0))
    rng = np.random.default_rng(0)
    fine = rng.lognormal(1.0, 0.2, (1000, 1))
    high_mean = np.full((1000, 1), 25.0)
    heavy_tail = np.where(rng.random((1000, 1)) < 0.1, 60.0, 2.0)  # mean 7.8, P(>50) = 0.1
    synthetic = np.concatenate([fine, high_mean], axis=1)
    item = check_roas(fit, roas=synthetic)
    names = fit.data.channels
    assert item["status"] == "warn"
    assert names[1] in item["message"] and f"{names[0]} (" not in item["message"]
    item = check_roas(fit, roas=np.concatenate([fine, heavy_tail], axis=1))
    assert item["status"] == "warn"
    assert item["value"][names[1]]["prob_above"] == pytest.approx(np.mean(heavy_tail > 50))
    assert check_roas(fit, roas=np.concatenate([fine, fine], axis=1))["status"] == "pass"


def test_prior_shift_closed_forms(fit):
    shift = prior_posterior_shift(fit, key=jax.random.PRNGKey(4), num_samples=4000)
    # deterministic, not sampled: the prior is on the relative ROAS
    assert "media/coef" not in shift and "media/roas" not in shift
    assert {"media/relative_roas", "baseline/intercept", "sigma"} <= set(shift)
    post = fit.flat_draws()
    # Intercept: prior Normal(0.5, 20) -> contraction = 1 - var_post / 400 up to prior-sampling error.
    c = shift["baseline/intercept"]["contraction"][0]
    v_post = np.var(post["baseline/intercept"][:, 0])
    implied_prior_var = v_post / (1.0 - c)
    assert implied_prior_var == pytest.approx(WIDE_SD**2, rel=0.1)
    assert c > 0.999
    z = shift["baseline/intercept"]["z_shift"][0]
    assert z == pytest.approx(abs(np.mean(post["baseline/intercept"]) - 0.5) / WIDE_SD, abs=0.03)
    # sigma: prior HalfNormal(0.2), variance 0.04 (1 - 2 / pi).
    c = shift["sigma"]["contraction"]
    implied = np.var(post["sigma"]) / (1.0 - c)
    assert implied == pytest.approx(0.04 * (1.0 - 2.0 / np.pi), rel=0.1)
    labels = shift["media/relative_roas"]["labels"]
    assert labels == [f"media/relative_roas[{n}]" for n in fit.data.channels]
    # the Hill slope is sampled as its normal score but judged as the slope itself
    assert "media/slope_normal" in post  # the default Hill prior is bounded
    assert "media/slope" in shift and "media/slope_normal" not in shift
    c = shift["media/slope"]["contraction"]
    prior = Predictive(mmm, num_samples=4000, return_sites=["media/slope"])(
        jax.random.PRNGKey(4), fit.inputs(), fit.config
    )["media/slope"]
    want = 1.0 - np.var(post["media/slope"], axis=0) / np.var(np.asarray(prior), axis=0)
    np.testing.assert_allclose(c, want, atol=1e-5)  # float32 variances


def test_prior_shift_item_names_weak_parameters(fit, items):
    item = by_check(items)["prior_shift"]
    weak = [k for k, v in item["value"].items() if v["contraction"] < 0.1]
    for label in weak:  # media parameters by channel, the rest by site
        site, _, name = label.partition("[")
        if site.startswith("media/"):
            channel = name.rstrip("]")
            part = item["message"].split(f"{channel} (", 1)[1].split(")", 1)[0]
            assert site.removeprefix("media/") in part.split(", ")
        else:
            assert site in item["message"]
    if weak:
        assert f"({len(weak)} of {len(item['value'])} parameters)" in item["message"]
    media_weak = [w for w in weak if w.startswith("media/")]
    assert item["status"] == ("warn" if media_weak else "pass")


def test_residual_autocorrelation_is_judged_by_how_much_it_narrows_intervals():
    from mmm_jax.diagnostics.review import _autocorrelation_item

    t = ReviewThresholds()
    # 730 periods: noise gives |rho| < 2.576 / sqrt(730) = 0.095
    assert _autocorrelation_item(0.09, 730, t)["status"] == "pass"
    ok = _autocorrelation_item(0.15, 730, t)  # significant, but intervals only 1.16x narrow
    assert ok["status"] == "pass" and "1.16x" in ok["message"]
    warn = _autocorrelation_item(0.29, 730, t)  # the case of issue 19: 1.35x
    assert warn["status"] == "warn" and "1.35x too narrow" in warn["message"]
    assert _autocorrelation_item(0.45, 730, t)["status"] == "fail"  # 1.62x
    # 30 periods: 0.29 is within what noise gives (0.47)
    assert _autocorrelation_item(0.29, 30, t)["status"] == "pass"
    assert _autocorrelation_item(-0.3, 730, t)["status"] == "warn"
    assert _autocorrelation_item(float("nan"), 1, t)["status"] == "warn"
    with pytest.raises(ValueError, match="autocorr_width_warn"):
        ReviewThresholds(autocorr_width_warn=2.0, autocorr_width_fail=1.5)


def test_r2_units_and_media_share_checks(fit):
    from mmm_jax.diagnostics.review import check_media_share, check_r2, check_units

    assert check_r2(0.8)["status"] == "pass"
    low = check_r2(0.31)
    assert low["status"] == "warn" and "only 31%" in low["message"]
    assert check_r2(None)["status"] == "warn"
    ratio = fit.data.scaler.target_scale / fit.data.scaler.media_scale.sum()
    item = check_units(fit)
    assert item["status"] == "pass" and item["value"] == pytest.approx(ratio)
    for factor in (1e-4, 1e4):  # spend in other units than revenue
        scaler = dataclasses.replace(
            fit.data.scaler, media_scale=fit.data.scaler.media_scale * factor
        )
        other = dataclasses.replace(fit, data=fit.data.with_scaler(scaler))
        item = check_units(other)
        assert item["status"] == "warn" and "same currency" in item["message"]
        assert item["value"] == pytest.approx(ratio / factor)
    share = check_media_share(fit, baseline_share=np.full(100, 0.9998))
    assert share["status"] == "warn" and share["value"] == pytest.approx(0.0002)
    assert "0.02% of revenue" in share["message"]
    assert check_media_share(fit, baseline_share=np.full(100, 0.6))["status"] == "pass"
    assert check_media_share(fit, baseline_share=np.full(100, 0.05))["status"] == "warn"


def test_prior_as_posterior_teaches_nothing(fit):
    """A 'fit' whose draws are prior draws: every z-shift ~ 0 and the review says so."""
    sites = [k for k in fit.draws if k not in ("media/coef", "media/roas")]
    prior = Predictive(mmm, num_samples=4000, return_sites=sites)(
        jax.random.PRNGKey(77), fit.inputs(), fit.config
    )
    draws = {k: np.asarray(v)[None] for k, v in prior.items()}
    prior_fit = dataclasses.replace(fit, draws=draws)
    shift = prior_posterior_shift(prior_fit, key=jax.random.PRNGKey(4), num_samples=4000)
    z = np.concatenate([d["z_shift"].reshape(-1) for d in shift.values()])
    c = np.concatenate([d["contraction"].reshape(-1) for d in shift.values()])
    assert np.max(z) < 0.12  # SE of a mean difference over 4000 + 4000 draws: 0.022
    assert abs(np.median(c)) < 0.1
    item = check_prior_shift(prior_fit, key=jax.random.PRNGKey(4), num_samples=4000)
    assert item["status"] == "warn"
    assert "relative_roas" in item["message"] and "mostly the prior" in item["message"]
    item = check_roas_identified(prior_fit, key=jax.random.PRNGKey(4), num_samples=4000)
    assert item["status"] == "warn"
    for name in fit.data.channels:  # prior against prior: the same width up to sampling error
        assert 0.85 < item["value"][name]["width_ratio"] < 1.15
        assert name in item["message"]
    assert "not identified by the data" in item["message"] and "go-dark" in item["message"]


def test_roas_identified_compares_posterior_and_prior_widths(fit):
    names = list(fit.data.channels)
    prior = prior_roas(fit, key=jax.random.PRNGKey(9), num_samples=2000)
    p_lo, p_hi = hdi(prior, 0.9)
    rng = np.random.default_rng(0)
    narrow = rng.normal(1.0, 0.02 * (p_hi[0] - p_lo[0]), (2000, 1))  # ratio ~0.066
    wide = prior[:, 1:2]  # the prior itself: ratio 1
    item = check_roas_identified(
        fit,
        roas=np.concatenate([narrow, wide], axis=1),
        key=jax.random.PRNGKey(9),
        num_samples=2000,
    )
    lo, hi = hdi(narrow, 0.9)
    assert item["value"][names[0]]["width_ratio"] == pytest.approx(
        float(hi[0] - lo[0]) / float(p_hi[0] - p_lo[0]), rel=1e-6
    )
    assert item["value"][names[1]]["width_ratio"] == pytest.approx(1.0, rel=1e-6)
    assert item["status"] == "warn"
    assert f"ROAS of {names[1]} is not identified" in item["message"]
    assert names[0] not in item["message"]
    both = np.concatenate([narrow, narrow], axis=1)
    ok = check_roas_identified(fit, roas=both, key=jax.random.PRNGKey(9), num_samples=2000)
    assert ok["status"] == "pass"
