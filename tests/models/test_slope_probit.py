"""The Hill slope is sampled in probit coordinates when its prior is bounded: same prior, other coordinates."""

import numpy as np
import pytest
import scipy.stats

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.handlers import seed, trace
from numpyro.infer import Predictive, init_to_median
from numpyro.infer.util import initialize_model

from mmm_jax.data import from_frame
from mmm_jax.models import ModelConfig, build_inputs, mmm
from mmm_jax.models.config import MediaPriors
from mmm_jax.models.terms import sample_slope_probit, samples_slope_probit
from mmm_jax.transforms.saturation import Saturation
from tests.models.test_model import small_frame


@pytest.fixture(scope="module")
def national():
    return from_frame(small_frame(n=60), controls=("traffic",))


def _media_sites(data, config):
    tr = trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config)
    return {k: v for k, v in tr.items() if k.startswith("media/")}


def test_default_slope_is_sampled_in_probit_coordinates(national):
    config = ModelConfig()
    sites = _media_sites(national, config)
    assert samples_slope_probit(config)
    assert sites["media/slope_probit"]["type"] == "sample"
    assert sites["media/slope"]["type"] == "deterministic"
    z = np.asarray(sites["media/slope_probit"]["value"], dtype=float)
    s = np.asarray(sites["media/slope"]["value"], dtype=float)
    # s = 1 + 9 Phi(z): the default prior's bounds are 1 and 10
    np.testing.assert_allclose(s, 1.0 + 9.0 * scipy.stats.norm.cdf(z), rtol=1e-5)
    assert np.all((s > 1.0) & (s < 10.0))


@pytest.mark.parametrize(
    "prior",
    [dist.LogNormal(0.3, 0.5), dist.Gamma(4.0, 2.0)],
    ids=["lognormal", "gamma"],
)
def test_unbounded_slope_prior_keeps_the_slope_sampled(prior, national):
    config = ModelConfig(media=MediaPriors(slope=prior))
    sites = _media_sites(national, config)
    assert not samples_slope_probit(config)
    assert sites["media/slope"]["type"] == "sample" and "media/slope_probit" not in sites


def test_models_without_hill_have_no_slope(national):
    sites = _media_sites(national, ModelConfig(saturation=Saturation.MICHAELIS_MENTEN))
    assert "media/slope" not in sites and "media/slope_probit" not in sites


def test_probit_density_is_the_slope_prior_with_its_jacobian():
    """log p(z) = log p_s(s(z)) + log |ds/dz|, the Jacobian by autodiff."""
    # scalar: NumPyro's TruncatedNormal with a batched loc breaks strict rank promotion
    prior = dist.TruncatedNormal(1.5, 1.5, low=1.0, high=10.0)

    def model():
        with numpyro.plate("channel", 2):
            sample_slope_probit(prior)

    tr = trace(seed(model, 0)).get_trace()
    fn = tr["slope_probit"]["fn"]
    z = jnp.asarray([-2.5, 0.4])
    to_slope = lambda v: 1.0 + 9.0 * jax.scipy.special.ndtr(v)  # noqa: E731
    s = to_slope(z)
    jac = jax.vmap(jax.grad(to_slope))(z)
    want = prior.log_prob(s) + jnp.log(jac)
    np.testing.assert_allclose(fn.log_prob(z), want, rtol=1e-5, atol=1e-5)
    # a slope a hair above its bound (a curve the data cannot tell from Michaelis-Menten)
    # is far out in z but finite, and maps back
    s_low = jnp.asarray([1.0 + 1e-6, 9.99])
    z_low = fn.base_dist.transforms[0](s_low)  # fn is the plate-expanded pushforward
    assert np.all(np.isfinite(np.asarray(z_low))) and float(z_low[0]) < -4.0
    np.testing.assert_allclose(to_slope(z_low), s_low, rtol=1e-6)
    # on the bounds themselves (a float32 draw can land there) the coordinate stays finite
    z_edge = fn.base_dist.transforms[0](jnp.asarray([1.0, 10.0]))
    assert np.all(np.isfinite(np.asarray(z_edge)))
    assert float(z_edge[0]) < -8.0 and float(z_edge[1]) > 3.0


def test_slope_drawn_through_the_probit_has_the_configured_prior(national):
    """Kolmogorov-Smirnov: 4000 prior draws of the model's `media/slope` against the prior's CDF."""
    config = ModelConfig()
    draws = Predictive(mmm, num_samples=4000, return_sites=["media/slope"])(
        jax.random.PRNGKey(3), build_inputs(national, config), config
    )
    x = np.asarray(draws["media/slope"], dtype=float)
    assert x.shape == (4000, national.n_channel)
    prior = config.media.slope
    for c in range(national.n_channel):
        p = scipy.stats.kstest(x[:, c], lambda v: np.asarray(prior.cdf(v))).pvalue
        assert p > 0.01, (c, p)


def test_nuts_initialisation_starts_from_the_probit_site(national):
    config = ModelConfig()
    info = initialize_model(
        jax.random.PRNGKey(0),
        mmm,
        model_args=(build_inputs(national, config), config),
        model_kwargs={"y": national.target_scaled},
        init_strategy=init_to_median(num_samples=15),
    )
    params = info.param_info.z
    assert np.isfinite(float(info.param_info.potential_energy))
    assert "media/slope_probit" in params and "media/slope" not in params


def test_fit_saved_before_the_probit_gets_its_coordinates_back(national):
    """An older fit.npz holds `media/slope` only; loading restores `media/slope_probit` exactly."""
    from mmm_jax.inference.fit import _with_current_coordinates

    z = np.random.default_rng(0).normal(-1.3, 0.8, size=(2, 50, 3)).astype(np.float32)
    slope = (1.0 + 9.0 * scipy.stats.norm.cdf(z)).astype(np.float32)
    old = {"media/slope": slope, "sigma": np.ones((2, 50), np.float32)}
    back = _with_current_coordinates(old, ModelConfig(), national)
    assert back["media/slope_probit"].dtype == np.float32
    np.testing.assert_allclose(back["media/slope_probit"], z, atol=2e-4)
    assert "media/slope_probit" not in old  # the caller's dict is left alone
    # an unbounded slope prior samples the slope itself: nothing to add
    unbounded = ModelConfig(media=MediaPriors(slope=dist.LogNormal(0.3, 0.5)))
    assert "media/slope_probit" not in _with_current_coordinates(old, unbounded, national)


def test_slope_prior_with_an_infinite_bound_keeps_the_slope_sampled(national):
    """A probit needs two finite bounds; a one-sided truncation stays in NumPyro's coordinates."""
    prior = dist.TruncatedNormal(1.0, 1.5, low=1.0, high=jnp.inf)
    config = ModelConfig(media=MediaPriors(slope=prior))
    assert not samples_slope_probit(config)
    sites = _media_sites(national, config)
    assert sites["media/slope"]["type"] == "sample" and "media/slope_probit" not in sites
