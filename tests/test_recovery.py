"""Recovery on ../shared/benchdata/beauty_daily against its ground truth (issue 3's acceptance).

Slow: NUTS 4 chains x 1000 warmup x 1000 draws. Run with ``make test-slow``.
The truth is only what the tests compare against; no default was tuned to it.

Each test runs on two models: the default (``ModelConfig()``, what the issue's
"fit with organic_traffic as control, no lift tests" describes) and the same
with the synergy term, the form that generated the data (meta x google).

Whether the ROAS intervals are honest is not judged on this one dataset but
over many (`benchmarks/sbc.py`, `tests/test_sbc.py`); what one go-dark test
does to beauty_daily's ROAS is `tests/calibration/test_lift_slow.py`.
"""

import json

import numpy as np
import pytest

import jax

from mmm_jax.data import load_csv
from mmm_jax.diagnostics.metrics import contributions, marginal_roas, waste_flags
from mmm_jax.diagnostics.summary import convergence
from mmm_jax.inference import fit_nuts
from mmm_jax.models import ModelConfig, SynergyPriors
from tests._paths import BENCHDATA

DATA = BENCHDATA / "beauty_daily"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not DATA.exists(), reason="../shared/benchdata is not beside the checkout"),
]
CONFIGS = {"default": ModelConfig(), "synergy": ModelConfig(synergy=SynergyPriors())}


@pytest.fixture(scope="module")
def truth():
    return json.loads((DATA / "truth.json").read_text())


@pytest.fixture(scope="module")
def data():
    return load_csv(DATA / "data.csv", controls=("organic_traffic",))


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
    return request.param


@pytest.fixture(scope="module")
def nuts(data, model):
    fit = fit_nuts(
        data,
        CONFIGS[model],
        key=jax.random.PRNGKey(0),
        num_warmup=1000,
        num_samples=1000,
        num_chains=4,
    )
    return fit, contributions(fit), marginal_roas(fit)


def test_nuts_converges(nuts):
    # Default model: max R-hat 1.004, 3 divergences in 4000 draws; synergy model 1.005 and 2
    # (2026-11-30). With the baseline sampled instead of integrated out: 1.006 and 15; synergy
    # 1.006 and 40. An earlier build of the synergy model (same posterior, other rounding) had
    # one chain mixing synergy/gamma slowly with this key: R-hat 1.013, 21 divergences.
    fit, _, _ = nuts
    assert fit.info["marginalized_baseline"]
    conv = convergence(fit)
    assert conv["r_hat_max"] < 1.01
    assert conv["divergences"] < 0.01 * fit.n_samples


def test_nuts_baseline_share(nuts, truth):
    _, c, _ = nuts
    assert abs(float(c.baseline_share.mean()) - truth["baseline_share"]) < 0.05


def test_waste_flags(nuts, truth, data):
    _, _, mroas = nuts
    flags = waste_flags(mroas)
    true_m = np.array([truth["channels"][c]["marginal_roas"] for c in data.channels])
    assert np.all(flags[true_m < 1.0]), "a truly wasteful channel was not flagged"
    assert not np.any(flags[true_m > 1.2]), "a channel with true marginal ROAS > 1.2 was flagged"
