"""A bounded Hill slope prior is sampled as its normal score (or, without a quantile function,
in probit coordinates): same prior, other coordinates."""

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
from mmm_jax.models.terms import (
    _QUANTILE_FAMILIES,
    sample_slope_probit,
    samples_slope_normal,
    samples_slope_probit,
    slope_from_normal,
    slope_to_normal,
)
from mmm_jax.transforms.saturation import Saturation
from tests.models.test_model import small_frame


@pytest.fixture(scope="module")
def national():
    return from_frame(small_frame(n=60), controls=("traffic",))


def _media_sites(data, config):
    tr = trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config)
    return {k: v for k, v in tr.items() if k.startswith("media/")}


#: A bounded slope prior NumPyro has no quantile function (nor CDF) for: sampled in
#: probit coordinates. A slope below 1 is an odd prior but a legal one; these tests
#: are about the coordinates. (Beta has no quantiles either, but its log density
#: breaks strict rank promotion inside a plate.)
NO_QUANTILES = dist.Kumaraswamy(2.0, 5.0)


def _kumaraswamy_cdf(v):
    return 1.0 - (1.0 - np.clip(v, 0.0, 1.0) ** 2) ** 5


def test_default_slope_is_sampled_as_its_normal_score(national):
    config = ModelConfig()
    sites = _media_sites(national, config)
    assert samples_slope_normal(config) and not samples_slope_probit(config)
    assert sites["media/slope_normal"]["type"] == "sample" and "media/slope_probit" not in sites
    assert sites["media/slope"]["type"] == "deterministic"
    z = np.asarray(sites["media/slope_normal"]["value"], dtype=float)
    s = np.asarray(sites["media/slope"]["value"], dtype=float)
    # s = F^-1(Phi(z)), F the default TruncatedNormal(1, 1.5) on [1, 10]
    want = scipy.stats.truncnorm(0.0, 6.0, loc=1.0, scale=1.5).ppf(scipy.stats.norm.cdf(z))
    np.testing.assert_allclose(s, want, rtol=1e-4)
    assert np.all((s > 1.0) & (s < 10.0))


def test_bounded_slope_prior_without_quantiles_is_sampled_in_probit_coordinates(national):
    config = ModelConfig(media=MediaPriors(slope=NO_QUANTILES))
    sites = _media_sites(national, config)
    assert samples_slope_probit(config) and not samples_slope_normal(config)
    assert sites["media/slope_probit"]["type"] == "sample" and "media/slope_normal" not in sites
    assert sites["media/slope"]["type"] == "deterministic"
    z = np.asarray(sites["media/slope_probit"]["value"], dtype=float)
    s = np.asarray(sites["media/slope"]["value"], dtype=float)
    # s = Phi(z): the prior's bounds are 0 and 1
    np.testing.assert_allclose(s, scipy.stats.norm.cdf(z), rtol=1e-5)


def test_normal_score_round_trips_and_stays_finite_on_the_bounds():
    prior = ModelConfig().media.slope
    s = jnp.asarray([1.0 + 1e-5, 1.3, 2.0, 4.5, 7.0])
    z = slope_to_normal(prior, s)
    # the prior's own quantiles: z = Phi^-1(F(s))
    want = scipy.stats.norm.ppf(
        scipy.stats.truncnorm(0.0, 6.0, loc=1.0, scale=1.5).cdf(np.asarray(s, dtype=float))
    )
    np.testing.assert_allclose(z, want, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(slope_from_normal(prior, z), s, rtol=1e-4)
    # a float32 draw on a bound gets a finite coordinate that maps back to the bound
    edge = slope_to_normal(prior, jnp.asarray([1.0]))
    assert np.all(np.isfinite(np.asarray(edge))) and float(edge[0]) < -5.0
    np.testing.assert_allclose(slope_from_normal(prior, edge), [1.0], atol=1e-5)
    # the map has a usable derivative where the prior has its mass and in the far tail
    grad = jax.vmap(jax.grad(lambda v: slope_from_normal(prior, v)))(jnp.asarray([-4.0, 0.0, 2.0]))
    assert np.all(np.asarray(grad) > 0) and np.all(np.isfinite(np.asarray(grad)))


@pytest.mark.parametrize(
    "prior",
    [dist.LogNormal(0.3, 0.5), dist.Gamma(4.0, 2.0)],
    ids=["lognormal", "gamma"],
)
def test_unbounded_slope_prior_keeps_the_slope_sampled(prior, national):
    config = ModelConfig(media=MediaPriors(slope=prior))
    sites = _media_sites(national, config)
    assert not samples_slope_probit(config) and not samples_slope_normal(config)
    assert sites["media/slope"]["type"] == "sample"
    assert "media/slope_probit" not in sites and "media/slope_normal" not in sites


def test_models_without_hill_have_no_slope(national):
    sites = _media_sites(national, ModelConfig(saturation=Saturation.MICHAELIS_MENTEN))
    assert not {"media/slope", "media/slope_probit", "media/slope_normal"} & set(sites)


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


@pytest.mark.parametrize("family", _QUANTILE_FAMILIES, ids=lambda f: f.__name__)
def test_every_family_taken_as_having_quantiles_has_them(family):
    """The type list behind samples_slope_normal: each one's CDF and quantile invert on [1, 10]."""
    if family is dist.Uniform:
        prior = dist.Uniform(1.0, 10.0)
    else:
        prior = dist.TruncatedDistribution(family(1.5, 1.0), low=1.0, high=10.0)
    assert samples_slope_normal(ModelConfig(media=MediaPriors(slope=prior)))
    s = jnp.asarray([1.05, 1.5, 2.5, 4.0])
    np.testing.assert_allclose(slope_from_normal(prior, slope_to_normal(prior, s)), s, rtol=1e-4)


@pytest.mark.parametrize("prior", [None, NO_QUANTILES], ids=["normal_score", "probit"])
def test_slope_drawn_through_its_coordinate_has_the_configured_prior(prior, national):
    """Kolmogorov-Smirnov: 4000 prior draws of the model's `media/slope` against the prior's CDF."""
    config = ModelConfig() if prior is None else ModelConfig(media=MediaPriors(slope=prior))
    draws = Predictive(mmm, num_samples=4000, return_sites=["media/slope"])(
        jax.random.PRNGKey(3), build_inputs(national, config), config
    )
    x = np.asarray(draws["media/slope"], dtype=float)
    assert x.shape == (4000, national.n_channel)
    if prior is None:
        cdf = lambda v: np.asarray(config.media.slope.cdf(v))  # noqa: E731
    else:
        cdf = _kumaraswamy_cdf
    for c in range(national.n_channel):
        p = scipy.stats.kstest(x[:, c], cdf).pvalue
        assert p > 0.01, (c, p)


@pytest.mark.parametrize(
    "prior,site", [(None, "media/slope_normal"), (NO_QUANTILES, "media/slope_probit")]
)
def test_nuts_initialisation_starts_from_the_coordinate_site(prior, site, national):
    config = ModelConfig() if prior is None else ModelConfig(media=MediaPriors(slope=prior))
    info = initialize_model(
        jax.random.PRNGKey(0),
        mmm,
        model_args=(build_inputs(national, config), config),
        model_kwargs={"y": national.target_scaled},
        init_strategy=init_to_median(num_samples=15),
    )
    params = info.param_info.z
    assert np.isfinite(float(info.param_info.potential_energy))
    assert site in params and "media/slope" not in params


def test_fit_saved_before_gets_its_coordinates_back(national):
    """An older fit.npz holds `media/slope` (and `media/slope_probit` from the version between);
    loading restores the coordinate the model now samples, exactly."""
    from mmm_jax.inference.fit import _with_current_coordinates

    rng = np.random.default_rng(0)
    # slopes in [1, 6]: above about 8.7, where the prior has 1e-7 of its mass,
    # float32 cannot tell F(s) from 1 and the coordinate is clipped
    z = np.clip(rng.normal(-1.3, 0.8, size=(2, 50, 3)), -5.0, -0.6).astype(np.float32)
    slope = (1.0 + 9.0 * scipy.stats.norm.cdf(z)).astype(np.float32)  # probit of [1, 10]
    old = {"media/slope": slope, "media/slope_probit": z, "sigma": np.ones((2, 50), np.float32)}
    back = _with_current_coordinates(old, ModelConfig(), national)
    assert "media/slope_probit" not in back  # the model samples `slope_normal` now
    want = scipy.stats.norm.ppf(
        scipy.stats.truncnorm(0.0, 6.0, loc=1.0, scale=1.5).cdf(slope.astype(float))
    )
    assert back["media/slope_normal"].dtype == np.float32
    np.testing.assert_allclose(back["media/slope_normal"], want, atol=2e-3)
    assert (
        "media/slope_normal" not in old and "media/slope_probit" in old
    )  # the caller's dict is left alone
    # a bounded prior without quantiles samples the probit: that is what comes back
    unit = scipy.stats.norm.cdf(z).astype(np.float32)  # a slope on Beta's (0, 1)
    probit = _with_current_coordinates(
        {"media/slope": unit}, ModelConfig(media=MediaPriors(slope=NO_QUANTILES)), national
    )
    np.testing.assert_allclose(probit["media/slope_probit"], z, atol=2e-3)
    assert "media/slope_normal" not in probit
    # an unbounded slope prior samples the slope itself: nothing to add
    unbounded = ModelConfig(media=MediaPriors(slope=dist.LogNormal(0.3, 0.5)))
    assert set(_with_current_coordinates({"media/slope": slope}, unbounded, national)) == {
        "media/slope"
    }


def test_slope_prior_with_an_infinite_bound_keeps_the_slope_sampled(national):
    """Both coordinates need two finite bounds; a one-sided truncation stays in NumPyro's."""
    prior = dist.TruncatedNormal(1.0, 1.5, low=1.0, high=jnp.inf)
    config = ModelConfig(media=MediaPriors(slope=prior))
    assert not samples_slope_probit(config) and not samples_slope_normal(config)
    sites = _media_sites(national, config)
    assert sites["media/slope"]["type"] == "sample"
    assert "media/slope_probit" not in sites and "media/slope_normal" not in sites
