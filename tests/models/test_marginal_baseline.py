"""The organic baseline integrated out of the likelihood (models.baseline_design and friends).

Each check compares against an independent computation in float64 numpy/scipy:
the design against the baseline term itself, the marginal likelihood against
the multivariate normal it must equal, the conditional draws against the
Bayesian linear regression they must sample.
"""

import numpy as np
import pytest
from scipy import stats

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.handlers import block, seed, substitute, trace
from numpyro.infer import Predictive

from mmm_jax.data import from_frame
from mmm_jax.models import BaselinePriors, GeoPooling, ModelConfig, build_inputs, mmm
from mmm_jax.models.config import Likelihood
from mmm_jax.models.mmm import baseline_design, marginal_baseline_blocker
from mmm_jax.models.terms import baseline_term
from tests._frames import random_frame

#: Two channels, two controls and revenue.
COLUMNS = {
    "spend_a": ("gamma", 2.0, 50.0),
    "spend_b": ("gamma", 2.0, 80.0),
    "traffic": ("normal", 100.0, 10.0),
    "visits": ("normal", 40.0, 8.0),
    "revenue": ("normal", 1000.0, 60.0),
}


def frame(n=90, geos=("north", "south"), seed_=1):
    return random_frame(COLUMNS, n=n, geos=geos, seed=seed_)


# Every block of the baseline: per-geo intercepts, trend, changepoints (with a
# Normal prior, so they can be integrated out), yearly and weekly seasonality,
# two controls, and non-default prior means and scales.
CONFIG = ModelConfig(
    yearly_order=1,
    weekly_order=2,
    n_changepoints=2,
    max_lag=7,
    baseline=BaselinePriors(
        intercept=dist.Normal(0.4, 0.3),
        trend=dist.Normal(0.1, 0.5),
        changepoint=dist.Normal(0.0, 0.2),
        seasonality=dist.Normal(0.0, 0.2),
        controls=dist.Normal(jnp.array([0.2, -0.1]), jnp.array([1.0, 0.5])),
    ),
)


@pytest.fixture(scope="module")
def data():
    return from_frame(frame(), geo="geo", controls=("traffic", "visits"))


@pytest.fixture(scope="module")
def inputs(data):
    return build_inputs(data, CONFIG)


def test_design_reproduces_the_baseline_term(inputs):
    """X beta, for random coefficients, is what baseline_term computes from them."""
    design = baseline_design(inputs, CONFIG)
    n_geo, n_time = inputs.controls.shape[:2]
    assert design.design.shape == (n_geo * n_time, design.loc.shape[0])
    assert [s[0] for s in design.sites] == [
        "intercept",
        "trend",
        "changepoint",
        "seasonality",
        "controls",
    ]
    rng = np.random.default_rng(0)
    for _ in range(3):
        beta = rng.normal(size=design.loc.shape[0]).astype(np.float32)
        values = {
            name: beta[start : start + int(np.prod(shape, dtype=int))].reshape(shape)
            for name, start, shape in design.sites
        }
        base = substitute(seed(baseline_term, 0), data=values)(
            n_geo,
            inputs.trend_time,
            inputs.fourier,
            inputs.changepoints,
            inputs.controls,
            CONFIG.baseline,
        )
        expected = np.asarray(design.design) @ beta
        np.testing.assert_allclose(np.asarray(base).reshape(-1), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(design.loc[-2:], [0.2, -0.1])
    np.testing.assert_allclose(design.scale[-2:], [1.0, 0.5])
    np.testing.assert_allclose(design.loc[:n_geo], 0.4)


def _media_and_sigma(inputs, data):
    """One prior draw of every non-baseline parameter, and what the model makes of it."""
    y = jnp.asarray(data.target_scaled)
    design = baseline_design(inputs, CONFIG)
    tr = trace(seed(mmm, 3)).get_trace(inputs._replace(baseline=design), CONFIG, y)
    latent = {
        k: v["value"]
        for k, v in tr.items()
        if v["type"] == "sample" and not v["is_observed"] and k != "baseline/coefficients_z"
    }
    return y, design, tr, latent


def test_marginal_likelihood_is_the_multivariate_normal(inputs, data):
    """The factor equals log N(y - media; X m, sigma^2 I + X S X^T), computed directly."""
    y, design, tr, latent = _media_and_sigma(inputs, data)
    # the media part: the full model's mu with the baseline coefficients at zero
    zeros = {f"baseline/{name}": jnp.zeros(shape) for name, _, shape in design.sites}
    full = trace(substitute(seed(mmm, 0), data={**latent, **zeros})).get_trace(inputs, CONFIG, y)
    media = np.asarray(full["mu"]["value"], dtype=np.float64).reshape(-1)
    x = np.asarray(design.design, dtype=np.float64)
    s = np.asarray(design.scale, dtype=np.float64)
    sigma = float(latent["sigma"])
    cov = sigma**2 * np.eye(len(media)) + (x * s**2) @ x.T
    expected = stats.multivariate_normal(x @ np.asarray(design.loc, np.float64), cov).logpdf(
        np.asarray(y, np.float64).reshape(-1) - media
    )
    got = float(tr["baseline/marginal"]["fn"].log_prob(tr["baseline/marginal"]["value"]).sum())
    # float32 over 180 observations: a few parts in a million of the magnitude
    assert got == pytest.approx(expected, rel=2e-5, abs=2e-2)


def test_conditional_draws_are_the_regression_posterior(inputs, data):
    """Given the other parameters, the draws follow N(m + A^-1 X^T u / s^2, A^-1)."""
    y, design, _, latent = _media_and_sigma(inputs, data)
    n = 4000
    repeated = {k: jnp.broadcast_to(v, (n, *jnp.shape(v))) for k, v in latent.items()}
    names = [f"baseline/{name}" for name, _, _ in design.sites]
    out = Predictive(mmm, posterior_samples=repeated, return_sites=names, parallel=True)(
        jax.random.PRNGKey(1), inputs._replace(baseline=design._replace(draw=True)), CONFIG, y=y
    )
    draws = np.concatenate([np.asarray(out[k]).reshape(n, -1) for k in names], axis=1)
    # independent float64 computation
    zeros = {f"baseline/{name}": jnp.zeros(shape) for name, _, shape in design.sites}
    full = trace(substitute(seed(mmm, 0), data={**latent, **zeros})).get_trace(inputs, CONFIG, y)
    r = np.asarray(y, np.float64).reshape(-1) - np.asarray(full["mu"]["value"], np.float64).reshape(
        -1
    )
    x = np.asarray(design.design, np.float64)
    m = np.asarray(design.loc, np.float64)
    s2 = float(latent["sigma"]) ** 2
    a = np.diag(1 / np.asarray(design.scale, np.float64) ** 2) + x.T @ x / s2
    cov = np.linalg.inv(a)
    mean = m + cov @ (x.T @ (r - x @ m) / s2)
    sd = np.sqrt(np.diag(cov))
    # means within 4 Monte Carlo standard errors, standard deviations within 8%
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 4 * sd / np.sqrt(n))
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.08)
    # and the correlations (intercepts against controls are strongly correlated)
    np.testing.assert_allclose(np.corrcoef(draws.T), cov / np.outer(sd, sd), atol=0.06)


def test_marginal_model_has_no_baseline_or_observation_sites(inputs, data):
    y = jnp.asarray(data.target_scaled)
    marginal = inputs._replace(baseline=baseline_design(inputs, CONFIG))
    tr = trace(seed(mmm, 0)).get_trace(marginal, CONFIG, y)
    assert "mu" not in tr and "y" not in tr
    assert not [k for k in tr if k.startswith("baseline/") and k != "baseline/marginal"]
    assert "sigma" in tr and "media/roas" in tr
    with pytest.raises(ValueError, match="only given y"):
        block(seed(mmm, 0))(marginal, CONFIG, None)


@pytest.mark.parametrize(
    "config, reason",
    [
        (ModelConfig(likelihood=Likelihood.STUDENT_T), "student_t, not normal"),
        (ModelConfig(likelihood=Likelihood.LOGNORMAL), "lognormal, not normal"),
        (ModelConfig(n_changepoints=2), "changepoint is Laplace"),
        (ModelConfig(baseline=BaselinePriors(intercept=dist.HalfNormal(1.0))), "intercept is"),
        (
            ModelConfig(geo_pooling=GeoPooling(seasonality_spread=dist.HalfNormal(0.3))),
            "scales the seasonality per geo",
        ),
    ],
)
def test_blockers_say_why(data, config, reason):
    inputs = build_inputs(data, config)
    assert reason in marginal_baseline_blocker(inputs, config)
    with pytest.raises(ValueError, match="cannot integrate the baseline out"):
        baseline_design(inputs, config)


def test_blocker_counts_coefficients(inputs):
    assert marginal_baseline_blocker(inputs, CONFIG) is None
    # 2 intercepts + trend + 2 hinges + 2 + 4 Fourier + 2 controls = 13
    assert marginal_baseline_blocker(inputs, CONFIG, max_coefficients=13) is None
    assert "13 baseline coefficients" in marginal_baseline_blocker(
        inputs, CONFIG, max_coefficients=12
    )


# ------------------------------------------------------------------ geo panels, by geo


def _sized_panel():
    from tests.models.test_geo import sized_frame

    return from_frame(
        sized_frame(n=40), geo="geo", controls=("traffic", "price"), population="population"
    )


GEO_CONFIG = ModelConfig(
    yearly_order=1,
    weekly_order=0,
    n_changepoints=1,
    max_lag=5,
    geo_pooling=GeoPooling(),
    baseline=BaselinePriors(
        intercept=dist.Normal(0.4, 0.3),
        trend=dist.Normal(0.1, 0.5),
        changepoint=dist.Normal(0.0, 0.2),
        seasonality=dist.Normal(0.0, 0.2),
        controls=dist.Normal(jnp.array([0.2, -0.1]), jnp.array([1.0, 0.5])),
    ),
)


def _dense_equivalent(inputs):
    """The same baseline as one dense design in the original rows, float64: (X, loc, scale)."""
    from mmm_jax.models.mmm import geo_baseline_design

    design = geo_baseline_design(inputs, GEO_CONFIG)
    n_geo, n_time = inputs.controls.shape[:2]
    v = np.asarray(design.noise_scale, np.float64)
    shared = np.asarray(design.centred, np.float64) + np.asarray(design.mean, np.float64)[:, None]
    shared = shared * v[:, None, None]  # back to the original rows
    e = np.asarray(design.height, np.float64) * v  # = size
    blocks = []
    for g in range(n_geo):
        onehot = np.zeros((n_time, n_geo))
        onehot[:, g] = e[g]
        blocks.append(np.concatenate([onehot, shared[g]], axis=1))
    x = np.concatenate(blocks, axis=0)
    loc = np.r_[np.full(n_geo, 0.4), np.asarray(design.loc, np.float64)]
    scale = np.r_[np.full(n_geo, 0.3), np.asarray(design.scale, np.float64)]
    return design, x, loc, scale, np.repeat(v, n_time)


def test_geo_design_reproduces_the_sized_baseline_term():
    from mmm_jax.models.terms import baseline_term

    data = _sized_panel()
    inputs = build_inputs(data, GEO_CONFIG)
    design, x, _, _, _ = _dense_equivalent(inputs)
    assert [s[0] for s in design.sites] == ["trend", "changepoint", "seasonality", "controls"]
    n_geo = data.n_geo
    rng = np.random.default_rng(0)
    for _ in range(3):
        beta = rng.normal(size=x.shape[1])
        values = {"intercept": beta[:n_geo]}
        for name, start, shape in design.sites:
            size = int(np.prod(shape, dtype=int))
            values[name] = beta[n_geo + start : n_geo + start + size].reshape(shape)
        base = substitute(seed(baseline_term, 0), data=values)(
            n_geo,
            inputs.trend_time,
            inputs.fourier,
            inputs.changepoints,
            inputs.controls,
            GEO_CONFIG.baseline,
            None,
            inputs.geo.size,
            inputs.geo.control_size,
        )
        np.testing.assert_allclose(np.asarray(base).reshape(-1), x @ beta, rtol=1e-4, atol=1e-4)


def _geo_media_and_sigma(inputs, data):
    from mmm_jax.models.mmm import geo_baseline_design

    y = jnp.asarray(data.target_scaled)
    design = geo_baseline_design(inputs, GEO_CONFIG)
    tr = trace(seed(mmm, 3)).get_trace(inputs._replace(baseline=design), GEO_CONFIG, y)
    latent = {
        k: v["value"]
        for k, v in tr.items()
        if v["type"] == "sample" and not v["is_observed"] and not k.endswith("_z")
    }
    zeros = {f"baseline/{name}": jnp.zeros(shape) for name, _, shape in design.sites}
    zeros["baseline/intercept"] = jnp.zeros(data.n_geo)
    full = trace(substitute(seed(mmm, 0), data={**latent, **zeros})).get_trace(
        inputs, GEO_CONFIG, y
    )
    resid = np.asarray(y, np.float64).reshape(-1) - np.asarray(
        full["mu"]["value"], np.float64
    ).reshape(-1)
    return design, tr, latent, resid


def test_geo_marginal_likelihood_is_the_multivariate_normal():
    """Per-geo integration equals log N(y - media; X m, diag(sigma v_g)^2 + X S X^T)."""
    data = _sized_panel()
    inputs = build_inputs(data, GEO_CONFIG)
    design, tr, latent, resid = _geo_media_and_sigma(inputs, data)
    _, x, loc, scale, v = _dense_equivalent(inputs)
    assert not np.allclose(v, 1.0)  # noise grows with geo size
    sigma = float(latent["sigma"])
    cov = np.diag((sigma * v) ** 2) + (x * scale**2) @ x.T
    expected = stats.multivariate_normal(x @ loc, cov).logpdf(resid)
    got = float(tr["baseline/marginal"]["fn"].log_prob(tr["baseline/marginal"]["value"]).sum())
    assert got == pytest.approx(expected, rel=2e-5, abs=2e-2)


def test_geo_conditional_draws_are_the_regression_posterior():
    data = _sized_panel()
    inputs = build_inputs(data, GEO_CONFIG)
    design, _, latent, resid = _geo_media_and_sigma(inputs, data)
    _, x, loc, scale, v = _dense_equivalent(inputs)
    n = 4000
    repeated = {k: jnp.broadcast_to(val, (n, *jnp.shape(val))) for k, val in latent.items()}
    names = ["baseline/intercept"] + [f"baseline/{name}" for name, _, _ in design.sites]
    out = Predictive(mmm, posterior_samples=repeated, return_sites=names, parallel=True)(
        jax.random.PRNGKey(1),
        inputs._replace(baseline=design._replace(draw=True)),
        GEO_CONFIG,
        y=jnp.asarray(data.target_scaled),
    )
    draws = np.concatenate([np.asarray(out[k]).reshape(n, -1) for k in names], axis=1)
    prec_noise = 1.0 / (float(latent["sigma"]) * v) ** 2
    a = np.diag(1 / scale**2) + (x.T * prec_noise) @ x
    cov = np.linalg.inv(a)
    mean = loc + cov @ (x.T @ (prec_noise * (resid - x @ loc)))
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 4 * sd / np.sqrt(n))
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.08)
    np.testing.assert_allclose(np.corrcoef(draws.T), cov / np.outer(sd, sd), atol=0.06)


def test_panels_integrate_out_by_geo_without_a_coefficient_limit():
    from mmm_jax.inference._baseline import pick_baseline_design
    from mmm_jax.models.terms import GeoBaselineDesign

    data = _sized_panel()
    for config in (GEO_CONFIG, ModelConfig(yearly_order=1, weekly_order=0, max_lag=5)):
        inputs = build_inputs(data, config)
        assert isinstance(pick_baseline_design(inputs, config, None), GeoBaselineDesign)
    national = from_frame(
        frame(geos=("north",)).drop(columns="geo"), controls=("traffic", "visits")
    )
    inputs = build_inputs(national, CONFIG)
    assert type(pick_baseline_design(inputs, CONFIG, None)).__name__ == "BaselineDesign"


def test_conditional_baseline_returns_every_baseline_site_of_a_panel():
    """Fits keep every baseline site, per-geo intercepts included, so predictions need no prior."""
    from mmm_jax.inference._baseline import conditional_baseline

    data = _sized_panel()
    inputs = build_inputs(data, GEO_CONFIG)
    design, _, latent, _ = _geo_media_and_sigma(inputs, data)
    samples = {k: jnp.broadcast_to(v, (2, 3, *jnp.shape(v))) for k, v in latent.items()}
    out = conditional_baseline(
        samples,
        inputs._replace(baseline=design),
        GEO_CONFIG,
        jnp.asarray(data.target_scaled),
        jax.random.PRNGKey(0),
    )
    sampled = trace(seed(mmm, 0)).get_trace(inputs, GEO_CONFIG)  # the baseline sampled
    expected = {
        k for k, s in sampled.items() if k.startswith("baseline/") and s["type"] == "sample"
    }
    assert set(out) == expected
    assert out["baseline/intercept"].shape == (2, 3, data.n_geo)
    assert all(np.all(np.isfinite(np.asarray(v))) for v in out.values())
