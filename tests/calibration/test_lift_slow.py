"""Acceptance of lift-test calibration on the benchmark (slow: three NUTS fits).

beauty_daily's lift tests were made by make_truth.py: +50% spend in a region
that is 20% of the market, counting the window and the carry-over tail. They
are read with market_share=0.2 and PROPORTIONAL spread, which reproduce the
generator's true lifts from the true parameters exactly (test_lift.py).
"""

import json
from pathlib import Path

import pandas as pd
import pytest

import jax

from mmm_jax.calibration import LiftSpread, load_lift_csv, roas_prior
from mmm_jax.data import from_frame
from mmm_jax.diagnostics.metrics import hdi
from mmm_jax.inference import fit_nuts
from mmm_jax.models import MediaPriors, ModelConfig

BENCH = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchdata" / "beauty_daily"
TESTED = ("tiktok", "meta")
DRAWS = 500  # per chain, 4 chains, 500 warmup: enough for 90% HDI widths

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BENCH.is_dir(), reason="shared benchmark data absent"),
]


def _summary(fit, names):
    roas = fit.draws["media/roas"].reshape(-1, len(names))
    lo, hi = hdi(roas)
    return {
        c: {
            "mean": float(roas[:, i].mean()),
            "hdi": [float(lo[i]), float(hi[i])],
            "width": float(hi[i] - lo[i]),
        }
        for i, c in enumerate(names)
    }


@pytest.fixture(scope="module")
def bench():
    truth = json.loads((BENCH / "truth.json").read_text())
    data = from_frame(pd.read_csv(BENCH / "data.csv"), controls=("organic_traffic",))
    tests = load_lift_csv(
        BENCH / "lift_tests.csv", data, market_share=0.2, spread=LiftSpread.PROPORTIONAL
    )
    true = {c: truth["channels"][c]["roas"] for c in data.channels}
    return data, tests, true


def _fit(data, config, seed, tests=None):
    fit = fit_nuts(
        data,
        config,
        key=jax.random.PRNGKey(seed),
        num_warmup=500,
        num_samples=DRAWS,
        num_chains=4,
        progress_bar=False,
        lift_tests=tests,
    )
    return _summary(fit, data.channels), fit.info["divergences"]


@pytest.fixture(scope="module")
def default_fits(bench):
    data, tests, true = bench
    before, div0 = _fit(data, ModelConfig(), 0)
    after, div1 = _fit(data, ModelConfig(), 0, tests)
    print(
        json.dumps(
            {
                "truth": true,
                "uncalibrated": before,
                "calibrated": after,
                "divergences": [div0, div1],
            },
            indent=1,
        )
    )
    return before, after


@pytest.mark.xfail(
    reason="issue 4 open: beauty_daily's tests are +50% spend bumps, which measure the marginal "
    "response the model already predicts (tiktok 75.6k +- 14k against 74.0k +- 9.9k observed); "
    "measured HDI width ratios 1.04 (tiktok) and 0.86 (meta), not <= 0.7. Holdout tests narrow ROAS.",
    strict=False,
)
def test_tested_channels_narrow_and_cover_truth(bench, default_fits):
    _, _, true = bench
    before, after = default_fits
    for c in TESTED:
        assert after[c]["width"] <= 0.7 * before[c]["width"], (c, before[c], after[c])
        lo, hi = after[c]["hdi"]
        assert lo <= true[c] <= hi, (c, true[c], after[c])


def test_untested_channels_do_not_move_away_from_truth(bench, default_fits):
    data, _, true = bench
    before, after = default_fits
    for c in data.channels:
        if c in TESTED:
            continue
        err_before = abs(before[c]["mean"] - true[c])
        err_after = abs(after[c]["mean"] - true[c])
        # Monte Carlo slack: 2% of the truth.
        assert err_after <= err_before + 0.02 * true[c], (c, true[c], before[c], after[c])


@pytest.mark.xfail(
    reason="issue 4 open: a +50% bump test carries no information on the level the wrong ROAS "
    "prior sets; measured tiktok ROAS 4.64 before and 4.62 after against a truth of 1.24",
    strict=False,
)
def test_lift_test_pulls_a_wrong_prior_back(bench):
    data, tests, true = bench
    wrong = roas_prior(data.channels, known={"tiktok": (5.0, 0.1)})
    config = ModelConfig(media=MediaPriors(roas=wrong))
    # numpyro's init draws from a (channel,)-batched prior with implicit rank
    # promotion, which the suite's strict setting forbids.
    with jax.numpy_rank_promotion("allow"):
        before, _ = _fit(data, config, 1)
        after, _ = _fit(data, config, 1, tests)
    print(
        json.dumps(
            {
                "wrong_prior": {
                    "truth": true["tiktok"],
                    "uncalibrated": before["tiktok"],
                    "calibrated": after["tiktok"],
                }
            },
            indent=1,
        )
    )
    assert before["tiktok"]["mean"] > 2.0 * true["tiktok"]  # the prior really is wrong
    assert abs(after["tiktok"]["mean"] / true["tiktok"] - 1.0) < 0.25, after["tiktok"]
