"""Recovery on ../shared/benchdata/beauty_daily against its ground truth (issue 3's acceptance).

Slow: NUTS 4 chains x 1000 warmup x 1000 draws. Run with ``make test-slow``.
The truth is only what the tests compare against; no default was tuned to it.

Each test runs on two models: the default (``ModelConfig()``, what the issue's
"fit with organic_traffic as control, no lift tests" describes) and the same
with the synergy term, the form that generated the data (meta x google). The
xfail reasons give the values measured when they were last run.
"""

import json
from pathlib import Path

import numpy as np
import pytest

import jax

from mmm_jax.data import load_csv
from mmm_jax.diagnostics import hdi
from mmm_jax.diagnostics.metrics import contributions, marginal_roas, waste_flags
from mmm_jax.diagnostics.summary import convergence
from mmm_jax.inference import fit_nuts, fit_svi
from mmm_jax.models import ModelConfig, SynergyPriors

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchdata" / "beauty_daily"
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


def true_roas(truth, data):
    return np.array([truth["channels"][c]["roas"] for c in data.channels])


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


@pytest.mark.xfail(
    reason="issue 3 open: meta, tiktok and amazon are inside their 90% HDIs; google's true 2.50 "
    "is just above its HDI, [1.24, 2.34] (default) and [1.26, 2.40] (synergy): its posterior "
    "Hill slope is steeper than the true 1.2. "
    "A calibrated model covers all four on 66% of datasets; over 10 generated datasets this one "
    "did on 5 to 7 (two runs), google on 6 to 7 of 10 (benchmarks/recovery_seeds.py)",
    strict=False,
)
def test_nuts_roas_hdi_covers_truth(nuts, truth, data):
    _, c, _ = nuts
    low, high = hdi(c.roas, 0.9)
    tr = true_roas(truth, data)
    assert np.all((low <= tr) & (tr <= high)), dict(zip(data.channels, zip(low, tr, high)))


def test_nuts_baseline_share(nuts, truth):
    _, c, _ = nuts
    assert abs(float(c.baseline_share.mean()) - truth["baseline_share"]) < 0.05


def test_waste_flags(nuts, truth, data):
    _, _, mroas = nuts
    flags = waste_flags(mroas)
    true_m = np.array([truth["channels"][c]["marginal_roas"] for c in data.channels])
    assert np.all(flags[true_m < 1.0]), "a truly wasteful channel was not flagged"
    assert not np.any(flags[true_m > 1.2]), "a channel with true marginal ROAS > 1.2 was flagged"


@pytest.mark.xfail(
    reason="issue 3 open: without lift tests the level of a channel's response below its observed "
    "spend is weakly identified; posterior-mean ROAS errors +41% meta, -28% google, +46% tiktok, "
    "-26% amazon, default model; +41/-28/+49/-27% with synergy (mean absolute 35-36%; "
    "PyMC-Marketing 42%, Meridian 39%). Over 10 generated "
    "datasets (benchmarks/recovery_seeds.py) all four means were within 25% on 1: the 90% HDIs "
    "are as wide as the truth, and cover it 88-92% of the time",
    strict=False,
)
def test_nuts_roas_means_within_25_percent(nuts, truth, data):
    _, c, _ = nuts
    err = c.roas.mean(0) / true_roas(truth, data) - 1
    assert np.all(np.abs(err) < 0.25), dict(zip(data.channels, err))


@pytest.mark.xfail(
    reason="issue 3 open: AutoMVN (baseline integrated out) means +32% meta, -30% google, +44% "
    "tiktok, -32% amazon (default model), +32/-30/+43/-33% (synergy): close to NUTS's own means, "
    "which miss by as much; see test_nuts_roas_means_within_25_percent. With the guide over every "
    "parameter (marginalize_baseline=False) +17/-33/+31/-34%, from a posterior whose ROAS sds "
    "are a third to a half of NUTS's",
    strict=False,
)
def test_svi_roas_means_within_30_percent(data, truth, model):
    fit = fit_svi(
        data, CONFIGS[model], key=jax.random.PRNGKey(0), num_steps=10_000, progress_bar=False
    )
    err = contributions(fit).roas.mean(0) / true_roas(truth, data) - 1
    assert np.all(np.abs(err) < 0.30), dict(zip(data.channels, err))
