"""benchmarks/sbc.py: the datasets carry the truth they claim, and the scoring computes
what it reports (ranks, coverage, errors, waste-flag rates); a small run end to end (slow)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests._paths import BENCHDATA, load_script

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = BENCHDATA / "make_truth.py"
needs_generator = pytest.mark.skipif(not GENERATOR.is_file(), reason="shared generator absent")


@pytest.fixture(scope="module")
def sbc():
    return load_script(ROOT / "benchmarks" / "sbc.py", "bench_sbc")


def test_ranks_are_uniform_for_a_calibrated_posterior_and_not_for_a_biased_one(sbc):
    rng = np.random.default_rng(0)
    n_rep, n_draw = 2000, 400
    truth = rng.normal(size=n_rep)
    # Conjugate normal: prior N(0, 1), one observation with sd 1 -> posterior N(x / 2, 1 / 2).
    x = truth + rng.normal(size=n_rep)
    post = x / 2 + math.sqrt(0.5) * rng.normal(size=(n_draw, n_rep))
    ranks = sbc.sbc_rank(post, truth, 99)
    assert ranks.min() >= 0 and ranks.max() <= 99
    assert sbc.chi2_uniform(ranks, 99, 10)["p_value"] > 0.01
    overconfident = x / 2 + 0.3 * math.sqrt(0.5) * rng.normal(size=(n_draw, n_rep))
    assert sbc.chi2_uniform(sbc.sbc_rank(overconfident, truth, 99), 99, 10)["p_value"] < 1e-6
    # The rank counts the thinned draws below the truth.
    draws = np.arange(10.0)[:, None]
    assert sbc.sbc_rank(draws, np.array([4.5]), 10).tolist() == [5]


def test_summary_scores_coverage_error_low_roas_and_waste(sbc):
    def run(lift, roas_true, roas_mean, lo, hi, mroas_true, wasteful):
        rec = {"lift": lift, "channels": ["a", "b"], "wasteful": wasteful, "fit_s": 1.0}
        rec.update(r_hat_max=1.0, divergences=0, n_draws=100)
        for q, true, mean in (
            ("roas", roas_true, roas_mean),
            ("marginal_roas", mroas_true, mroas_true),
            ("baseline_share", [0.5], [0.5]),
        ):
            k = len(true)
            rec[q] = {
                "true": true,
                "mean": mean,
                "rank": [50] * k,
                **{f"hdi{p}": [lo[:k], hi[:k]] for p in (50, 80, 90)},
            }
        return rec

    runs = [
        # a covered, +10%; b (true 0.1) missed by [0.3, 0.9]; a flagged though mROAS 1.5
        run(False, [2.0, 0.1], [2.2, 0.6], [1.0, 0.3], [3.0, 0.9], [1.5, 0.5], [True, True]),
        # a covered, -30%; b (true 0.2) covered; nothing flagged
        run(False, [2.0, 0.2], [1.4, 0.25], [0.1, 0.0], [3.0, 0.9], [1.5, 0.5], [False, False]),
    ]
    s = sbc.summarise(runs, 99)["none"]
    assert s["n_fits"] == 2
    # roas: 3 of 4 inside; baseline share 0.5: outside [1.0, 3.0], inside [0.1, 3.0]
    assert s["roas"]["coverage"]["0.9"]["coverage"] == 0.75
    assert s["baseline_share"]["coverage"]["0.9"]["coverage"] == 0.5
    assert math.isclose(s["roas_error"]["median_rel_error"], 0.2)  # |+10%|, |-30%|
    assert s["roas_error"]["n_channels_true_roas_ge_0_3"] == 2
    assert s["low_roas"] == {"n": 2, "hdi90_excludes_truth": 0.5, "median_estimate": 0.425}
    w = s["waste_flags"]
    assert w["n_true_mroas_below_0_8"] == 2 and w["detection_rate"] == 0.5
    assert w["n_true_mroas_above_1_2"] == 2 and w["false_positive_rate"] == 0.5
    # A third fit whose chains disagree wildly (b read at 10^5) leaves the low-ROAS
    # channels' typical estimate at the middle one, where a mean would read 33,000.
    wild = run(False, [2.0, 0.15], [2.0, 1e5], [1.0, 0.0], [3.0, 9e5], [1.5, 0.5], [True, True])
    assert sbc.summarise([*runs, wild], 99)["none"]["low_roas"]["median_estimate"] == 0.6


def test_coverage_is_repeated_over_the_fits_the_review_does_not_fail(sbc):
    def run(hit, r_hat=1.0, ess=1000.0, divergences=0):
        lo, hi = (0.0, 1.0) if hit else (0.6, 1.0)
        rec = {"lift": False, "channels": ["a"], "wasteful": [False], "fit_s": 1.0}
        rec.update(r_hat_max=r_hat, ess_bulk_min=ess, divergences=divergences, n_draws=2000)
        for q in sbc.QUANTITIES:
            rec[q] = {
                "true": [0.5],
                "mean": [0.5],
                "rank": [50],
                **{f"hdi{p}": [[lo], [hi]] for p in (50, 80, 90)},
            }
        return rec

    # The review fails R-hat >= 1.05, bulk ESS < 100 and a divergent share >= 1%;
    # it only warns at R-hat 1.02, ESS 150 or 10 divergences in 2000 draws.
    failing = [run(False, r_hat=1.06), run(False, ess=50.0), run(True, divergences=20)]
    warned = [run(True, r_hat=1.02), run(True, ess=150.0), run(False, divergences=10)]
    assert [sbc.sampler_failed(r) for r in failing] == [True, True, True]
    assert [sbc.sampler_failed(r) for r in warned + [run(True)]] == [False] * 4
    s = sbc.summarise(failing + warned + [run(True)], 99)["none"]
    assert s["roas"]["coverage"]["0.8"]["coverage"] == pytest.approx(4 / 7)
    passed = s["sampler_not_failed"]
    assert passed["n_fits"] == 4
    for q in sbc.QUANTITIES:
        assert passed[q]["0.5"]["coverage"] == 0.75 and passed[q]["0.9"]["n"] == 4
    # Nothing passes: the count says so and no coverage is made up.
    assert sbc.summarise(failing, 99)["none"]["sampler_not_failed"] == {"n_fits": 0}


def test_central_intervals_are_read_off_the_ranks_beside_the_hdis(sbc):
    def run(rank, hdi_hit):
        lo, hi = (0.0, 1.0) if hdi_hit else (0.6, 1.0)
        return {"baseline_share": {
            "true": [0.5], "rank": [rank], **{f"hdi{p}": [[lo], [hi]] for p in (50, 80, 90)},
        }}  # fmt: skip

    # Among 99 draws, rank 49 is the median: inside every central interval;
    # rank 5 is inside the central 90% (u = 0.055) only, rank 0 inside none.
    runs = [run(49, True), run(49, False), run(5, True), run(0, False)]
    c = sbc.central_from_ranks(runs, "baseline_share", 99)
    assert [c[k]["coverage"] for k in ("0.5", "0.8", "0.9")] == [0.5, 0.5, 0.75]
    # The HDIs cover 2 of 4 at every level.
    assert [c[k]["hdi_minus_central"] for k in ("0.5", "0.8", "0.9")] == [0.0, 0.0, -0.25]
    lo, hi = c["0.9"]["ci95"]
    assert -1.0 <= lo <= -0.25 <= hi <= 0.0
    # With exact draws the ranks are uniform and the central coverage nominal.
    rng = np.random.default_rng(3)
    uniform = [run(int(r), True) for r in rng.integers(0, 100, size=4000)]
    c = sbc.central_from_ranks(uniform, "baseline_share", 99)
    for level in ("0.5", "0.8", "0.9"):
        assert c[level]["coverage"] == pytest.approx(float(level), abs=0.025)


def test_rank_against_skew_finds_a_tail_pooled_ranks_cannot_see(sbc):
    rng = np.random.default_rng(4)

    def run(lean, u):
        # a posterior of gamma draws leaning right (lean 1) or left (-1), the
        # truth at its quantile u
        draws = lean * rng.gamma(1.5, size=(2000, 1))
        true = np.quantile(draws, u, axis=0)
        return {"q": {
            "true": true.tolist(), "skew": sbc.skewness(draws).tolist(),
            "rank": sbc.sbc_rank(draws, true, 99).tolist(),
        }}  # fmt: skip

    leans = rng.choice([-1, 1], size=600)
    calibrated = [run(s, rng.uniform()) for s in leans]
    # the truth in the long tail more often than the posterior says: u with
    # density 2u toward the tail, so ranks pooled over both leans stay uniform
    tail = np.sqrt(rng.uniform(size=leans.size))
    wrong = [run(s, t if s > 0 else 1 - t) for s, t in zip(leans, tail)]
    pooled = np.concatenate([r["q"]["rank"] for r in wrong])
    assert sbc.chi2_uniform(pooled, 99, 10)["p_value"] > 0.01
    ok = sbc.rank_vs_skew(calibrated, "q", 99)
    assert ok["n"] == ok["n_fits"] == 600
    assert ok["p_value"] > 0.01 and abs(ok["spearman"]) < 0.12
    bad = sbc.rank_vs_skew(wrong, "q", 99)
    assert bad["spearman"] > 0.3 and bad["p_value"] < 1e-6
    # fits recorded before the skewness was are left out
    old = [{"q": {k: v for k, v in r["q"].items() if k != "skew"}} for r in wrong[:5]]
    assert sbc.rank_vs_skew(old + wrong, "q", 99)["n_fits"] == 600
    assert sbc.rank_vs_skew(old, "q", 99)["spearman"] is None


def test_the_fit_draws_on_keys_the_truth_and_the_tests_never_used(sbc):
    import jax

    seed = 138
    root = jax.random.PRNGKey(seed)
    data_keys = jax.random.split(root)  # prior_dataset's: the truth's and the tests' keys
    baseline = jax.random.fold_in(root, 1)
    # The bug this guards against: fitted with PRNGKey(seed), chain i ran on split(root, 4)[i],
    # which under partitionable Threefry is the truth's key (i = 0) and the tests' (i = 1).
    if jax.config.jax_threefry_partitionable:
        old_chains = np.asarray(jax.random.split(root, 4))
        assert (old_chains[0] == np.asarray(data_keys[0])).all()
        assert (old_chains[1] == np.asarray(baseline)).all()
    key = sbc.fit_key(seed)
    fit_side = [key, *jax.random.split(key, 4), jax.random.fold_in(key, 1)]
    used = [root, *data_keys, baseline]
    for a in fit_side:
        for b in used:
            assert not (np.asarray(a) == np.asarray(b)).all()
    assert (np.asarray(sbc.fit_key(seed)) == np.asarray(key)).all()  # reproducible
    assert not (np.asarray(sbc.fit_key(seed + 1)) == np.asarray(key)).all()


def test_each_fit_records_the_shape_and_the_ess_of_every_quantity(sbc):
    rng = np.random.default_rng(3)
    n = 4000
    independent = rng.normal(size=n)
    walk = np.cumsum(rng.normal(size=n))  # four chains of a random walk: almost no information
    gamma = rng.gamma(2.0, size=n)
    x = np.c_[independent, gamma, -gamma, walk]
    skew = sbc.skewness(x)
    assert abs(skew[0]) < 0.15
    assert skew[1] == pytest.approx(2 / math.sqrt(2.0), abs=0.25)  # a gamma(2)'s skew is sqrt 2
    assert skew[2] == pytest.approx(-skew[1])
    assert sbc.skewness(np.ones((10, 1)))[0] == 0.0
    ess = sbc.ess_bulk(x, chains=4)
    assert ess.shape == (4,)
    assert ess[0] > 0.7 * n and ess[3] < 0.02 * n


def test_waste_flags_are_read_at_the_librarys_level_and_along_the_operating_curve(sbc):
    from mmm_jax.diagnostics.metrics import WASTE_PROB

    def run(prob, mroas_true, wasteful):
        rec = {"lift": False, "wasteful": wasteful, "prob_mroas_below_1": prob}
        rec["marginal_roas"] = {"true": mroas_true}
        return rec

    # Recorded flags (made at 0.9) are ignored where the probabilities are there:
    # true mROAS 0.5 at P 0.85 and 0.95, 0.6 at P 0.6; 1.5 at P 0.82 and 0.1.
    runs = [
        run([0.85, 0.82], [0.5, 1.5], [False, False]),
        run([0.95, 0.6, 0.1], [0.5, 0.6, 1.5], [True, False, False]),
    ]
    w = sbc.waste_rates(runs, WASTE_PROB)
    assert WASTE_PROB == 0.8 and w["prob"] == 0.8
    assert w["n_true_mroas_below_0_8"] == 3 and math.isclose(w["detection_rate"], 2 / 3)
    assert w["n_true_mroas_above_1_2"] == 2 and w["false_positive_rate"] == 0.5
    assert sbc.waste_rates(runs, 0.9)["detection_rate"] == pytest.approx(1 / 3)
    assert sbc.waste_rates(runs, 0.9)["false_positive_rate"] == 0.0
    # A fit recorded without the probabilities keeps the flags it was scored with.
    old = [{k: v for k, v in r.items() if k != "prob_mroas_below_1"} for r in runs]
    assert sbc.waste_rates(old, 0.5)["detection_rate"] == pytest.approx(1 / 3)
    # The curve: lower levels flag more of both kinds.
    curve = [sbc.waste_rates(runs, p) for p in sbc.WASTE_CURVE]
    det = [c["detection_rate"] for c in curve]
    fp = [c["false_positive_rate"] for c in curve]
    assert det == sorted(det, reverse=True) and fp == sorted(fp, reverse=True)
    assert det[0] == 1.0 and det[-1] == pytest.approx(1 / 3) and fp[-1] == 0.0


def test_param_calibration_reads_coverage_and_uniformity_off_the_ranks(sbc):
    rng = np.random.default_rng(1)
    n_rep, n_draw = 800, 400
    truth = rng.normal(size=(n_rep, 2))
    x = truth + rng.normal(size=(n_rep, 2))
    calibrated = x / 2 + math.sqrt(0.5) * rng.normal(size=(n_draw, n_rep, 2))
    narrow = x / 2 + 0.5 * math.sqrt(0.5) * rng.normal(size=(n_draw, n_rep, 2))
    runs = [
        {
            "param_ranks": {
                "good": sbc.sbc_rank(calibrated[:, i], truth[i], 99).tolist(),
                "narrow": sbc.sbc_rank(narrow[:, i], truth[i], 99).tolist(),
            }
        }
        for i in range(n_rep)
    ]
    out = sbc.param_calibration(runs, 99)
    assert set(out) == {"good", "narrow"}
    good, narrow = out["good"], out["narrow"]
    assert good["ranks"]["p_value"] > 0.01 and narrow["ranks"]["p_value"] < 1e-6
    for level in sbc.LEVELS:
        # 1600 ranks: the binomial se is at most 1.25 points
        assert abs(good["central_coverage"][str(level)] - level) < 0.04
    # half the width: a normal's central 90% interval shrinks to one of about 59%
    assert narrow["central_coverage"]["0.9"] == pytest.approx(0.59, abs=0.04)
    # a truth of rank 0 of 99 draws lies outside every central interval; rank 49, inside all
    edge = sbc.param_calibration([{"param_ranks": {"p": [0, 49]}}], 99)["p"]
    assert edge["central_coverage"] == {"0.5": 0.5, "0.8": 0.5, "0.9": 0.5}


@needs_generator
def test_generator_dataset_carries_the_generators_truth(sbc):
    mt = sbc.load_generator()
    ds = sbc.generator_dataset(mt, 3)
    cfg = sbc.generator_config(mt, np.random.default_rng([3, 17]))
    _, lifts, truth = mt.generate(cfg, 3)
    names = list(ds.data.channels)
    np.testing.assert_allclose(ds.truth["roas"], [truth["channels"][c]["roas"] for c in names])
    assert ds.truth["baseline_share"] == truth["baseline_share"]
    # one go-dark test per channel: the region's whole spend cut, as the generator ran it
    assert sorted(ds.lift.channel) == sorted(names)
    for k, c in enumerate(ds.lift.channel):
        s, e = (int(v[k]) for v in ds.lift.periods(ds.data))
        spent = sbc.GODARK_SHARE * ds.data.media[0, s : e + 1, names.index(c)].sum()
        assert ds.lift.spend_delta[k] == pytest.approx(-spent, rel=1e-6)
    # standard errors fixed by the design: 15% of the lift a ROAS of 1 would give
    np.testing.assert_allclose(ds.lift.lift_se, 0.15 * np.abs(ds.lift.spend_delta), rtol=1e-6)
    z = (ds.lift.lift - lifts["true_lift"].to_numpy()) / ds.lift.lift_se
    assert np.all(np.abs(z) < 5) and not np.allclose(z, 0)
    # relative to the true lift: the generator's own tests, as lift_tests.csv holds them
    rel = sbc.generator_dataset(mt, 3, godark_se="relative")
    np.testing.assert_allclose(rel.lift.lift, lifts["lift"])
    np.testing.assert_allclose(rel.lift.lift_se, lifts["lift_se"])
    np.testing.assert_allclose(rel.data.target, ds.data.target)  # the same data either way
    with pytest.raises(ValueError, match="godark_se"):
        sbc.generator_dataset(mt, 3, godark_se="tiny")


@needs_generator
def test_prior_dataset_truth_is_the_prior_draw(sbc):
    from mmm_jax.models import ModelConfig

    config = ModelConfig()
    ds = sbc.prior_dataset(sbc.load_generator(), 2, config)
    # The scale is fixed: the model sees the prior the data were drawn from.
    assert ds.data.scaler.target_scale != pytest.approx(ds.data.target.mean(), rel=1e-3)
    # Without synergy the counterfactual ROAS is the sampled one (site media/roas).
    import jax
    from numpyro.infer import Predictive

    from mmm_jax.models import build_inputs, mmm

    key_prior, _ = jax.random.split(jax.random.PRNGKey(2))
    inputs = build_inputs(ds.data, config, lift=ds.lift)
    prior = Predictive(mmm, num_samples=1)(key_prior, inputs, config)
    np.testing.assert_allclose(ds.truth["roas"], prior["media/roas"][0], rtol=1e-4)
    # Each global parameter's true value is kept, to be ranked among the posterior draws.
    params = ds.truth["params"]
    np.testing.assert_allclose(params["media/slope"], prior["media/slope"][0], rtol=1e-6)
    np.testing.assert_allclose(params["sigma"], np.atleast_1d(prior["sigma"][0]), rtol=1e-6)
    assert params["media/slope"].shape == (ds.data.n_channel,)
    assert all(v.size <= sbc.MAX_PARAM_SIZE for v in params.values())
    np.testing.assert_allclose(
        ds.data.target_scaled, np.asarray(prior["y"][0], dtype=np.float64), rtol=1e-6
    )
    # The tests measure the true lift with the design's standard error.
    z = (ds.lift.lift - np.asarray(prior["lift/predicted"][0]) * ds.data.scaler.target_scale) / (
        ds.lift.lift_se
    )
    assert np.all(np.abs(z) < 5)
    np.testing.assert_allclose(ds.lift.lift_se, sbc.GODARK_REL_SE * np.abs(ds.lift.spend_delta))


@pytest.mark.slow
@needs_generator
def test_small_run_end_to_end(sbc, tmp_path):
    args = [
        "--family", "prior", "--datasets", "3", "--chains", "2", "--warmup", "150",
        "--draws", "150", "--out", str(tmp_path),
    ]  # fmt: skip
    assert sbc.main(args) == 0
    report = json.loads((tmp_path / "sbc_prior.json").read_text())
    assert len(report["runs"]) == 6 and (tmp_path / "sbc_prior.png").is_file()
    assert (tmp_path / "sbc_prior_params.png").is_file()
    runs = report["runs"]
    s = report["summary"]
    for variant, with_lift in (("none", False), ("godark", True)):
        rs = [r for r in runs if r["lift"] is with_lift]
        true = np.concatenate([r["roas"]["true"] for r in rs])
        lo = np.concatenate([r["roas"]["hdi90"][0] for r in rs])
        hi = np.concatenate([r["roas"]["hdi90"][1] for r in rs])
        got = s[variant]["roas"]["coverage"]["0.9"]["coverage"]
        assert got == pytest.approx(np.mean((lo <= true) & (true <= hi)))
        assert sum(s[variant]["roas"]["ranks"]["counts"]) == true.size
        # every global parameter ranked too: the slope once per channel and fit
        slope = s[variant]["params"]["media/slope"]
        assert sum(slope["ranks"]["counts"]) == 4 * len(rs)
        assert all(len(r["param_ranks"]["media/slope"]) == 4 for r in rs)
        for r in rs:  # the posterior's shape and information, per quantity and channel
            assert len(r["roas"]["skew"]) == len(r["roas"]["ess_bulk"]) == 4
            assert 0 < r["baseline_share"]["ess_bulk"][0] <= 2 * r["n_draws"]
        passed = [r for r in rs if not sbc.sampler_failed(r)]
        assert s[variant]["sampler_not_failed"]["n_fits"] == len(passed)
    # every fit on its own key stream, recorded
    assert {r["fit_key"] for r in runs} == {f"fold_in(PRNGKey(seed), {sbc.FIT_STREAM})"}
    # the tests inform: the go-dark fits are narrower
    width = {
        v: np.mean(
            [
                np.subtract(r["roas"]["hdi90"][1], r["roas"]["hdi90"][0])
                for r in runs
                if r["lift"] is w
            ]
        )
        for v, w in (("none", False), ("godark", True))
    }
    assert width["godark"] < 0.7 * width["none"]
    # a rerun with the same settings resumes: nothing left to fit, the wall
    # time of the first session kept
    assert sbc.main(args) == 0
    again = json.loads((tmp_path / "sbc_prior.json").read_text())
    assert len(again["runs"]) == 6
    assert again["wall_s"] >= report["wall_s"] >= sum(r["fit_s"] for r in runs)


def test_bootstrap_interval_resamples_whole_fits(sbc):
    rng = np.random.default_rng(4)
    assert sbc.bootstrap_interval([np.ones(4, bool)] * 10) == [1.0, 1.0]
    assert sbc.bootstrap_interval([np.zeros(0, bool)]) == [None, None]
    # 200 fits of 4 channels each, every channel covered with probability 0.5:
    # independent channels give the binomial spread of 800 values; channels
    # that hit or miss together (one shared dataset) give that of 200.
    independent = [rng.random(4) < 0.5 for _ in range(200)]
    together = [np.full(4, rng.random() < 0.5) for _ in range(200)]
    binomial = 2 * 1.96 * math.sqrt(0.25 / 800)
    lo, hi = sbc.bootstrap_interval(independent)
    assert hi - lo == pytest.approx(binomial, rel=0.2)
    assert lo < np.mean(np.concatenate(independent)) < hi
    lo, hi = sbc.bootstrap_interval(together)
    assert hi - lo == pytest.approx(2 * binomial, rel=0.2)  # sqrt(800 / 200) = 2


def test_merge_pools_runs_on_other_seeds_and_refuses_what_does_not_pool(sbc, tmp_path):
    rng = np.random.default_rng(5)

    def fit(seed, lift):
        true = rng.gamma(2.0, 0.5, size=3)
        rec = {"seed": seed, "lift": lift, "channels": ["a", "b", "c"], "fit_s": 1.0}
        rec.update(r_hat_max=1.0, divergences=0, n_draws=100, wasteful=[False, True, False])
        for q, k in (("roas", 3), ("marginal_roas", 3), ("baseline_share", 1)):
            t = true[:k]
            lo = t - rng.uniform(-0.3, 1, k)  # some intervals miss the truth
            hi = lo + rng.uniform(0.1, 1.5, k)
            rec[q] = {"true": t.tolist(), "mean": ((lo + hi) / 2).tolist(), "sd": [0.1] * k}
            rec[q].update({f"hdi{p}": [lo.tolist(), hi.tolist()] for p in (50, 80, 90)})
            rec[q]["rank"] = rng.integers(0, 100, k).tolist()
        rec["param_ranks"] = {"sigma": rng.integers(0, 100, 1).tolist()}
        return rec

    base = {"family": "prior", "chains": 4, "warmup": 500, "draws": 500, "rank_draws": 99}
    config = "ModelConfig(noise=<HalfNormal object at 0x7f01>)"

    def report(first, seeds, lift="none", **changed):
        runs = [fit(s, False) for s in seeds]
        settings = {**base, "first_seed": first, "lift": lift, **changed}
        rep = {"settings": settings, "config": config, "runs": runs, "wall_s": 10.0}
        rep["summary"] = sbc.summarise(runs, 99)
        return rep

    a, b = report(1, range(1, 21)), report(21, range(21, 41))
    b["config"] = config.replace("0x7f01", "0x55aa")  # another process, same model
    paths = []
    for name, rep in (("a.json", a), ("b.json", b)):
        paths.append(tmp_path / name)
        paths[-1].write_text(json.dumps(rep))
    out = tmp_path / "pooled.json"
    pooled = sbc.merge(paths, out)
    assert json.loads(out.read_text())["merged_from"] == ["a.json", "b.json"]
    assert out.with_suffix(".png").is_file()
    s = pooled["summary"]["none"]
    assert s["n_fits"] == 40 and pooled["settings"]["first_seed"] == 1
    for level in ("0.5", "0.9"):
        both = [a["summary"]["none"]["roas"]["coverage"][level], b["summary"]["none"]]
        expected = (both[0]["coverage"] + both[1]["roas"]["coverage"][level]["coverage"]) / 2
        assert s["roas"]["coverage"][level]["coverage"] == pytest.approx(expected)
        lo, hi = s["roas"]["coverage"][level]["ci95"]
        assert lo <= s["roas"]["coverage"][level]["coverage"] <= hi
    assert sum(s["params"]["sigma"]["ranks"]["counts"]) == 40
    assert pooled["wall_s"] == 20.0

    clash = tmp_path / "clash.json"
    clash.write_text(json.dumps(report(15, range(15, 25))))
    with pytest.raises(ValueError, match="seed 15"):
        sbc.merge([paths[0], clash], tmp_path / "x.json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(report(41, range(41, 45), chains=2)))
    with pytest.raises(ValueError, match="differ in settings"):
        sbc.merge([paths[0], other], tmp_path / "x.json")
    unfinished = tmp_path / "unfinished.json"
    unfinished.write_text(json.dumps({k: v for k, v in b.items() if k != "summary"}))
    with pytest.raises(ValueError, match="unfinished"):
        sbc.merge([paths[0], unfinished], tmp_path / "x.json")
    with pytest.raises(ValueError, match="one of the files"):
        sbc.merge(paths, paths[1])
    assert not (tmp_path / "x.json").exists()  # nothing written on refusal
    # the command line says so in one line, without a traceback
    with pytest.raises(SystemExit):
        sbc.main(["--merge", str(paths[0]), str(tmp_path / "missing.json")])
    not_sbc = tmp_path / "scale.json"
    not_sbc.write_text(json.dumps({"results": []}))
    with pytest.raises(SystemExit):
        sbc.main(["--merge", str(not_sbc), "--out", str(tmp_path)])
