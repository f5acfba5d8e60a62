"""Acceptance of lift-test calibration on the benchmark (slow: four NUTS fits).

beauty_daily's lift tests were made by make_truth.py: go-dark tests of tiktok
and meta (the channel switched off for 4-6 weeks in a region holding 20% of
the market, counting the window and the carry-over tail). They are read with
the CSV's market_share and the default spread (in proportion to spend), which
switches the channel off exactly as the generator did.
"""

import json

import pandas as pd
import pytest

import jax

from mmm_jax.calibration import load_lift_csv
from mmm_jax.data import from_frame
from mmm_jax.diagnostics.metrics import hdi
from mmm_jax.inference import fit_nuts
from mmm_jax.models import MediaPriors, ModelConfig, roas_prior
from tests._paths import BENCHDATA

BENCH = BENCHDATA / "beauty_daily"
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
    tests = load_lift_csv(BENCH / "lift_tests.csv", data)
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


def test_tested_channels_narrow_and_cover_truth(bench, default_fits):
    _, _, true = bench
    before, after = default_fits
    for c in TESTED:
        assert after[c]["width"] <= 0.6 * before[c]["width"], (c, before[c], after[c])
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


def test_lift_test_pulls_a_wrong_prior_back(bench):
    """tiktok ROAS ~ 5 +- 2.5 a priori (truth 1.24); its go-dark test reads 1.43 +- 0.19."""
    data, tests, true = bench
    wrong = roas_prior(data, known={"tiktok": (5.0, 0.5)})
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
    k = tests.channel.index("tiktok")
    iroas = tests.lift[k] / tests.spend_delta[k]
    se = tests.lift_se[k] / abs(tests.spend_delta[k])
    assert before["tiktok"]["mean"] > 1.5 * true["tiktok"]  # the prior really is wrong
    # The test outweighs the wrong prior: within two of its standard errors.
    assert abs(after["tiktok"]["mean"] - iroas) < 2 * se, (after["tiktok"], iroas, se)
