"""The pooled geo panel samples the Weibull scale as a decay: same prior, other coordinates."""

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
from mmm_jax.models import GeoPooling, ModelConfig, build_inputs, mmm
from mmm_jax.models.config import GeoShapes, MediaPriors
from mmm_jax.models.terms import sample_scale_as_decay, samples_decay
from mmm_jax.transforms.adstock import Adstock, weibull_decay, weibull_scale_from_decay
from tests.models.test_model import small_frame

GEOS = ["a", "b", "c", "d"]
KINDS = {
    "weibull_pdf": Adstock.WEIBULL_PDF,
    "weibull_cdf": Adstock.WEIBULL_CDF,
    "geometric": Adstock.GEOMETRIC,
    "delayed": Adstock.DELAYED,
    "mixed": (Adstock.GEOMETRIC, Adstock.WEIBULL_CDF, Adstock.WEIBULL_PDF),
}


@pytest.fixture(scope="module")
def panel():
    return from_frame(small_frame(n=60, geos=GEOS), geo="geo", controls=("traffic",))


@pytest.fixture(scope="module")
def national():
    return from_frame(small_frame(n=60), controls=("traffic",))


def _trace(data, config):
    return trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config)


def _site_kinds(tr):
    return {k: v["type"] for k, v in tr.items() if k.startswith("media/")}


@pytest.mark.parametrize(
    "which,pooling",
    [("national", None), ("national", GeoPooling()), ("panel", None)],
    ids=["national", "national_with_pooling", "panel_without_pooling"],
)
def test_models_other_than_the_pooled_panel_sample_the_scale_itself(
    which, pooling, panel, national
):
    data = {"panel": panel, "national": national}[which]
    config = ModelConfig(geo_pooling=pooling)
    sites = _site_kinds(_trace(data, config))
    assert sites["media/scale"] == "sample" and "media/decay" not in sites
    assert not samples_decay(config, data.n_geo, data.n_channel)


@pytest.mark.parametrize("shapes", list(GeoShapes))
@pytest.mark.parametrize("kind", list(KINDS))
def test_pooled_panel_samples_the_weibull_decay(kind, shapes, panel):
    config = ModelConfig(adstock=KINDS[kind], geo_pooling=GeoPooling(shapes=shapes))
    tr = _trace(panel, config)
    sites = _site_kinds(tr)
    if kind in ("geometric", "delayed"):  # no scale, nothing to reparametrise
        assert "media/scale" not in sites and "media/decay" not in sites
        return
    assert sites["media/decay"] == "sample" and sites["media/scale"] == "deterministic"
    k = np.asarray(tr["media/shape"]["value"], dtype=float)
    lam = np.asarray(tr["media/scale"]["value"], dtype=float)
    d = np.asarray(tr["media/decay"]["value"], dtype=float)
    want_shape = (4, 3) if shapes is GeoShapes.PER_GEO else (3,)
    assert k.shape == lam.shape == d.shape == want_shape
    kinds = config.adstock_kinds(3)
    for c, kc in enumerate(kinds):
        form = Adstock.WEIBULL_PDF if kc is Adstock.WEIBULL_PDF else Adstock.WEIBULL_CDF
        np.testing.assert_allclose(
            d[..., c], weibull_decay(k[..., c], lam[..., c], form), rtol=1e-5, atol=1e-5
        )


def test_decay_density_is_the_scale_prior_with_its_jacobian(panel):
    """log p(d | k) = log p_lambda(lambda(d)) + log |d lambda / d d|, the Jacobian by autodiff."""
    prior = dist.LogNormal(jnp.asarray([0.3, 0.7, 1.2]), 0.8)  # one per channel
    config = ModelConfig(
        adstock=KINDS["mixed"], media=MediaPriors(scale=prior), geo_pooling=GeoPooling()
    )
    tr = _trace(panel, config)
    k = tr["media/shape"]["value"]
    lam = jnp.asarray([0.7, 3.0, 9.0])
    # the geometric channel's unused scale goes through the CDF form
    forms = (Adstock.WEIBULL_CDF, Adstock.WEIBULL_CDF, Adstock.WEIBULL_PDF)
    d = jnp.stack([weibull_decay(k[c], lam[c], forms[c]) for c in range(3)])
    jac = jnp.stack(
        [
            jax.grad(lambda x, c=c: weibull_scale_from_decay(k[c], x, forms[c]))(d[c])
            for c in range(3)
        ]
    )
    want = prior.log_prob(lam) + jnp.log(jnp.abs(jac))
    np.testing.assert_allclose(tr["media/decay"]["fn"].log_prob(d), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(jac, -lam / k, rtol=1e-5)  # |d lambda / d d| = lambda / k


@pytest.mark.parametrize(
    "prior",
    [dist.LogNormal(0.7, 0.8), dist.Gamma(2.0, 0.5), dist.HalfNormal(4.0)],
    ids=["lognormal", "gamma", "halfnormal"],
)
@pytest.mark.parametrize("kind", [Adstock.WEIBULL_PDF, Adstock.WEIBULL_CDF])
def test_scale_drawn_through_the_decay_has_the_configured_prior(prior, kind):
    """Kolmogorov-Smirnov: 8000 prior draws of `scale` against the prior's own CDF."""

    def model():
        with numpyro.plate("channel", 2):
            k = numpyro.sample("shape", dist.LogNormal(0.0, 0.5))
            sample_scale_as_decay(prior, k, (kind, kind))

    draws = Predictive(model, num_samples=8000)(jax.random.PRNGKey(0))
    lam = np.asarray(draws["scale"], dtype=float)
    for c in range(2):
        p = scipy.stats.kstest(lam[:, c], lambda x: np.asarray(prior.cdf(x))).pvalue
        assert p > 0.01, (c, p)


def test_panel_prior_of_scale_and_shape_are_the_configured_ones(panel):
    config = ModelConfig(geo_pooling=GeoPooling())
    inputs = build_inputs(panel, config)
    draws = Predictive(mmm, num_samples=2000, return_sites=["media/scale", "media/shape"])(
        jax.random.PRNGKey(1), inputs, config
    )
    for site, prior in (("media/scale", config.media.scale), ("media/shape", config.media.shape)):
        x = np.asarray(draws[site], dtype=float)
        assert x.shape == (2000, 3)
        cdf = prior.cdf
        for c in range(3):
            assert scipy.stats.kstest(x[:, c], lambda v, f=cdf: np.asarray(f(v))).pvalue > 0.01


def test_bounded_scale_prior_keeps_the_scale_sampled(panel):
    config = ModelConfig(media=MediaPriors(scale=dist.Uniform(0.5, 8.0)), geo_pooling=GeoPooling())
    sites = _site_kinds(_trace(panel, config))
    assert sites["media/scale"] == "sample" and "media/decay" not in sites


@pytest.mark.parametrize("shapes", list(GeoShapes))
@pytest.mark.parametrize("kind", list(KINDS))
def test_nuts_initialisation_works_for_every_adstock_kind(kind, shapes, panel):
    """fit_nuts's init (init_to_median: 15 draws per site) under strict rank promotion."""
    # Not the default Beta: NumPyro's Beta.log_prob multiplies its (2,)
    # concentration by the (..., 2) stacked value, which strict rank promotion
    # refuses whatever the model does.
    retention = dist.Uniform(0.05, 0.95)
    config = ModelConfig(
        adstock=KINDS[kind],
        media=MediaPriors(retention=retention),
        geo_pooling=GeoPooling(shapes=shapes),
    )
    inputs = build_inputs(panel, config)
    info = initialize_model(
        jax.random.PRNGKey(0),
        mmm,
        model_args=(inputs, config),
        model_kwargs={"y": panel.target_scaled},
        init_strategy=init_to_median(num_samples=15),
    )
    params = info.param_info.z
    assert np.isfinite(float(info.param_info.potential_energy))
    assert ("media/decay" in params) == (kind not in ("geometric", "delayed"))
    assert "media/scale" not in params


def test_nuts_fit_records_scale_from_decay(panel):
    from mmm_jax.inference import fit_nuts

    config = ModelConfig(geo_pooling=GeoPooling(shapes=GeoShapes.PER_GEO), max_lag=4)
    fit = fit_nuts(
        panel,
        config,
        key=jax.random.PRNGKey(0),
        num_warmup=10,
        num_samples=10,
        num_chains=1,
        progress_bar=False,
    )
    k, d, lam = (fit.draws[f"media/{n}"] for n in ("shape", "decay", "scale"))
    assert lam.shape == d.shape == (1, 10, 4, 3)
    np.testing.assert_allclose(lam, weibull_scale_from_decay(k, d, Adstock.WEIBULL_PDF), rtol=1e-4)
    assert np.all(np.isfinite(lam)) and np.all(lam > 0)


@pytest.mark.parametrize("shapes", list(GeoShapes))
def test_panel_fit_saved_before_the_decay_loads_with_the_same_predictions(shapes, panel, tmp_path):
    """A pooled panel's fit.npz from before ``media/decay`` holds ``media/scale`` sampled.

    Loading it must restore ``media/decay`` (and the Hill slope's probit
    coordinate): predictions substitute the sampled sites, so without them
    the Weibull scale would be redrawn from the prior. Mixed kinds, so that
    the PDF form's offset and the channels without a scale are both covered.
    """
    import dataclasses

    from mmm_jax.inference import Fit, fit_nuts

    config = ModelConfig(
        adstock=KINDS["mixed"],
        media=MediaPriors(retention=dist.Uniform(0.05, 0.95)),  # see the test above
        geo_pooling=GeoPooling(shapes=shapes),
        max_lag=4,
    )
    fit = fit_nuts(
        panel,
        config,
        key=jax.random.PRNGKey(1),
        num_warmup=10,
        num_samples=6,
        num_chains=1,
        progress_bar=False,
    )
    old_draws = {
        k: v for k, v in fit.draws.items() if k not in ("media/decay", "media/slope_normal")
    }
    old = dataclasses.replace(fit, draws=old_draws)
    # the gap this closes: without the decay the scale is redrawn, so predictions move
    assert not np.allclose(old.predict()["mu"], fit.predict()["mu"], rtol=1e-3)
    back = Fit.load(old.save(tmp_path / "old.npz"), data=panel)
    np.testing.assert_allclose(
        back.draws["media/decay"], fit.draws["media/decay"], rtol=1e-4, atol=1e-4
    )
    np.testing.assert_allclose(back.predict()["mu"], fit.predict()["mu"], rtol=1e-4, atol=1e-5)
