import dataclasses
import json

import numpy as np
import pytest

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.handlers import seed, substitute, trace

from mmm_jax.data import from_frame
from mmm_jax.models import (
    Adstock,
    MediaPriors,
    ModelConfig,
    Saturation,
    SynergyPriors,
    build_inputs,
    mmm,
)
from mmm_jax.models.config import Effect, Likelihood, config_from_dict, config_to_dict
from mmm_jax.models.mmm import fourier_features
from mmm_jax.models.terms import media_response
from tests._frames import random_frame

#: Three channels, a traffic control and revenue: the model tests' frame.
SMALL = {
    "spend_a": ("gamma", 2.0, 50.0),
    "spend_b": ("gamma", 2.0, 80.0),
    "spend_c": ("gamma", 2.0, 20.0),
    "traffic": ("normal", 100.0, 10.0),
    "revenue": ("normal", 1000.0, 50.0),
}


def small_frame(n=120, geos=None, seed_=0):
    return random_frame(SMALL, n=n, geos=geos, seed=seed_)


@pytest.fixture(scope="module")
def data():
    return from_frame(small_frame(), controls=("traffic",))


def test_sites_and_shapes(data):
    config = ModelConfig(synergy=SynergyPriors(), n_changepoints=2)
    inputs = build_inputs(data, config)
    tr = trace(seed(mmm, 0)).get_trace(inputs, config)
    shapes = {
        k: np.shape(v["value"]) for k, v in tr.items() if v["type"] in ("sample", "deterministic")
    }
    assert shapes["media/coef"] == (3,)
    assert shapes["media/shape"] == (3,) and shapes["media/scale"] == (3,)
    assert shapes["media/half_saturation"] == (3,) and shapes["media/slope"] == (3,)
    assert "media/retention" not in shapes  # weibull_pdf + hill by default
    assert shapes["baseline/intercept"] == (1,)
    assert shapes["baseline/changepoint"] == (2,)
    assert shapes["baseline/seasonality"] == (12,)  # yearly 3 + weekly 3, sin and cos
    assert shapes["baseline/controls"] == (1,)
    assert shapes["synergy/gamma"] == (3,)
    assert shapes["mu"] == (1, 120)
    assert shapes["y"] == (1, 120)
    assert np.all(np.isfinite(tr["y"]["value"]))


def test_synergy_is_relative_to_the_coefficients_by_default(data):
    """gamma = scale * z * sqrt(coef_i coef_j) by default, scale * z with relative=False."""
    pairs = [(0, 1), (0, 2), (1, 2)]
    for relative in (True, False):
        config = ModelConfig(synergy=SynergyPriors(relative=relative))
        tr = trace(seed(mmm, 1)).get_trace(build_inputs(data, config), config)
        coef = np.asarray(tr["media/coef"]["value"])
        tau, z = float(tr["synergy/scale"]["value"]), np.asarray(tr["synergy/z"]["value"])
        size = np.array([np.sqrt(coef[i] * coef[j]) for i, j in pairs]) if relative else 1.0
        np.testing.assert_allclose(tr["synergy/gamma"]["value"], tau * z * size, rtol=1e-5)
    with pytest.raises(TypeError, match="relative must be a bool"):
        SynergyPriors(relative=1)


def test_mu_equals_reference_computation(data):
    """mu from the trace equals the formula recomputed by hand with numpy."""
    config = ModelConfig(
        adstock=Adstock.GEOMETRIC,
        saturation=Saturation.HILL,
        yearly_order=1,
        weekly_order=0,
        media=MediaPriors(effect=Effect.COEF),
    )
    inputs = build_inputs(data, config)
    values = {
        "media/retention": jnp.array([0.5, 0.2, 0.0]),
        "media/half_saturation": jnp.array([1.0, 0.8, 1.5]),
        "media/slope": jnp.array([1.5, 1.0, 2.0]),
        "media/coef": jnp.array([0.3, 0.2, 0.1]),
        "baseline/intercept": jnp.array([0.4]),
        "baseline/trend": jnp.array(0.1),
        "baseline/seasonality": jnp.array([0.05, -0.02]),
        "baseline/controls": jnp.array([0.2]),
    }
    tr = trace(substitute(seed(mmm, 1), data=values)).get_trace(inputs, config)
    mu = np.asarray(tr["mu"]["value"])

    x = data.media_scaled[0]  # (time, channel)
    lag = np.arange(inputs.lagged.shape[-1])
    expected = np.zeros(x.shape[0])
    for c in range(3):
        a = float(values["media/retention"][c])
        w = np.where(lag == 0, 1.0, a**lag)
        w = w / w.sum()
        ad = np.array(
            [
                sum(w[k] * x[t - k, c] for k in range(len(w)) if t - k >= 0)
                for t in range(x.shape[0])
            ]
        )
        k, s = float(values["media/half_saturation"][c]), float(values["media/slope"][c])
        expected += float(values["media/coef"][c]) * ad**s / (ad**s + k**s)
    t = np.arange(x.shape[0]) / (x.shape[0] - 1)
    f = fourier_features(data.dates, 365.25, 1)
    expected += 0.4 + 0.1 * t + f @ np.array([0.05, -0.02]) + 0.2 * data.controls_scaled[0, :, 0]
    np.testing.assert_allclose(mu[0], expected, rtol=2e-5, atol=2e-6)


def test_geo_panel_shapes():
    d = from_frame(small_frame(n=60, geos=["north", "south"]), geo="geo")
    config = ModelConfig(weekly_order=0, yearly_order=0)
    inputs = build_inputs(d, config)
    tr = trace(seed(mmm, 0)).get_trace(inputs, config)
    assert tr["mu"]["value"].shape == (2, 60)
    assert tr["baseline/intercept"]["value"].shape == (2,)


def test_mixed_kinds_per_channel(data):
    config = ModelConfig(
        adstock=(Adstock.GEOMETRIC, Adstock.WEIBULL_PDF, Adstock.WEIBULL_CDF),
        saturation=(Saturation.HILL, Saturation.MICHAELIS_MENTEN, Saturation.LOGISTIC),
    )
    inputs = build_inputs(data, config)
    tr = trace(seed(mmm, 0)).get_trace(inputs, config)
    for name in ("retention", "shape", "scale", "half_saturation", "slope", "rate"):
        assert tr[f"media/{name}"]["value"].shape == (3,)
    # the third channel's curve is logistic: check media_response against tanh by hand
    params = {
        k[6:]: tr[k]["value"] for k in tr if k.startswith("media/") and tr[k]["type"] != "plate"
    }
    contribution, saturated, weights = media_response(inputs.lagged, params, config)
    np.testing.assert_allclose(
        contribution, tr["media/coef"]["value"][None, None, :] * saturated, rtol=1e-6
    )
    ad = np.convolve(data.media_scaled[0, :, 2], np.asarray(weights[2]))[: data.n_time]
    np.testing.assert_allclose(saturated[0, :, 2], np.tanh(0.5 * params["rate"][2] * ad), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, rtol=1e-6)


def test_student_t_likelihood(data):
    config = ModelConfig(likelihood=Likelihood.STUDENT_T)
    tr = trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config)
    fn = tr["y"]["fn"]
    assert isinstance(fn, dist.StudentT)
    np.testing.assert_allclose(fn.df, tr["nu"]["value"], rtol=1e-6)
    np.testing.assert_allclose(fn.loc, tr["mu"]["value"], rtol=1e-6)
    np.testing.assert_allclose(fn.scale, tr["sigma"]["value"], rtol=1e-6)


def test_per_channel_prior_batch_shape(data):
    good = ModelConfig(media=MediaPriors(coef=dist.HalfNormal(jnp.array([0.1, 0.2, 0.3]))))
    build_inputs(data, good)
    bad = ModelConfig(media=MediaPriors(coef=dist.HalfNormal(jnp.ones(4))))
    with pytest.raises(ValueError, match=r"media.coef has batch shape \(4,\)"):
        build_inputs(data, bad)
    with pytest.raises(ValueError, match="adstock has 2 kinds for 3 channels"):
        build_inputs(data, ModelConfig(adstock=(Adstock.GEOMETRIC,) * 2))


def test_config_validation_messages():
    with pytest.raises(TypeError, match="adstock must be one of .* or their Adstock members"):
        ModelConfig(adstock=1)
    with pytest.raises(ValueError, match="max_lag must be >= 1"):
        ModelConfig(max_lag=0)
    with pytest.raises(ValueError, match="yearly_order must be a non-negative int"):
        ModelConfig(yearly_order=-1)


def test_config_json_round_trip():
    config = ModelConfig(
        adstock=(Adstock.GEOMETRIC, Adstock.WEIBULL_CDF),
        saturation=Saturation.MICHAELIS_MENTEN,
        synergy=SynergyPriors(),
        max_lag=10,
        media=MediaPriors(coef=dist.HalfNormal(jnp.array([0.1, 0.2]))),
    )
    spec = json.loads(json.dumps(config_to_dict(config)))
    back = config_from_dict(spec)
    assert back.adstock == config.adstock and back.saturation == config.saturation
    assert back.max_lag == 10 and back.synergy is not None
    np.testing.assert_allclose(back.media.coef.scale, [0.1, 0.2])
    assert config_to_dict(back) == spec
    assert back.synergy.relative is True
    # A config saved before synergy could be relative holds the absolute form.
    del spec["synergy"]["relative"]
    assert config_from_dict(spec).synergy.relative is False
    changed = dataclasses.replace(config, max_lag=5)
    assert changed.max_lag == 5 and config.max_lag == 10


def test_prior_predictive_is_finite_and_plausible(data):
    """Prior predictive revenue on the scaled target stays within a sane range."""
    from numpyro.infer import Predictive

    config = ModelConfig()
    inputs = build_inputs(data, config)
    prior = Predictive(mmm, num_samples=200)(jax.random.PRNGKey(0), inputs, config)
    y = np.asarray(prior["y"])
    assert np.all(np.isfinite(y))
    # weakly informative: the bulk of prior mass is within an order of magnitude of the data
    assert 0.05 < np.median(np.abs(y)) < 10.0


def test_roas_parametrisation_and_fixed_reference(data):
    """The sampled ROAS is contribution / spend over the fit window (no synergy),
    and a counterfactual built with the fit data as reference keeps the coefficients."""
    config = ModelConfig(media=MediaPriors(roas=dist.LogNormal(0.2, 0.9)))
    inputs = build_inputs(data, config)
    roas = jnp.array([0.5, 2.0, 4.0])
    tr = trace(substitute(seed(mmm, 3), data={"media/roas": roas})).get_trace(inputs, config)
    params = {
        k[6:]: tr[k]["value"] for k in tr if k.startswith("media/") and tr[k]["type"] != "plate"
    }
    contribution, _, _ = media_response(inputs.lagged, params, config)
    revenue = np.asarray(contribution).sum(axis=(0, 1)) * data.scaler.target_scale
    np.testing.assert_allclose(revenue / data.media.sum(axis=(0, 1)), roas, rtol=1e-4)

    half = data.with_media(data.media * 0.5)
    cf_inputs = build_inputs(half, config, reference=data)
    fixed = {k: tr[k]["value"] for k in tr if tr[k]["type"] == "sample" and k != "y"}
    tr_cf = trace(substitute(seed(mmm, 4), data=fixed)).get_trace(cf_inputs, config)
    np.testing.assert_allclose(tr_cf["media/coef"]["value"], tr["media/coef"]["value"], rtol=1e-6)
    # without the reference the coefficient would have been re-derived from the halved spend
    tr_wrong = trace(substitute(seed(mmm, 4), data=fixed)).get_trace(
        build_inputs(half, config), config
    )
    assert not np.allclose(tr_wrong["media/coef"]["value"], tr["media/coef"]["value"], rtol=1e-3)


def test_relative_roas_is_roas_over_revenue_per_spend(data):
    """By default the prior is on rho = ROAS / (mean revenue / mean total spend): the
    counterfactual ROAS is rho times that ratio, and rho times a channel's spend
    share is its share of revenue."""
    config = ModelConfig()
    assert config.media.effect_kind is Effect.RELATIVE_ROAS
    inputs = build_inputs(data, config)
    rho = jnp.array([0.1, 0.5, 1.2])
    tr = trace(substitute(seed(mmm, 3), data={"media/relative_roas": rho})).get_trace(
        inputs, config
    )
    assert tr["media/roas"]["type"] == "deterministic"
    revenue_per_spend = data.target.mean() / data.media.sum(axis=-1).mean()
    np.testing.assert_allclose(tr["media/roas"]["value"], rho * revenue_per_spend, rtol=1e-5)
    params = {
        k[6:]: tr[k]["value"] for k in tr if k.startswith("media/") and tr[k]["type"] != "plate"
    }
    contribution, _, _ = media_response(inputs.lagged, params, config)
    share = np.asarray(contribution).sum(axis=(0, 1)) / data.target_scaled.sum()
    spend_share = data.media.sum(axis=(0, 1)) / data.media.sum()
    np.testing.assert_allclose(share, rho * spend_share, rtol=1e-4)


@pytest.mark.parametrize("factor", [1e-3, 1e3])
def test_relative_roas_prior_is_unit_free(data, factor):
    """Spend in other units (x 1e-3 or 1e3) gives the same model: the same draws
    of every parameter and of mu, and a ROAS in the new units."""
    config = ModelConfig()
    other = data.with_media(data.media * factor)
    other = other.with_scaler(
        dataclasses.replace(other.scaler, media_scale=data.scaler.media_scale * factor)
    )
    tr = trace(seed(mmm, 5)).get_trace(build_inputs(data, config), config)
    tr_other = trace(seed(mmm, 5)).get_trace(build_inputs(other, config), config)
    for site in ("media/relative_roas", "media/coef", "media/half_saturation", "mu"):
        np.testing.assert_allclose(tr_other[site]["value"], tr[site]["value"], rtol=1e-5)
    np.testing.assert_allclose(
        tr_other["media/roas"]["value"], tr["media/roas"]["value"] / factor, rtol=1e-5
    )


def test_effect_parametrisations_and_their_round_trip():
    roas = ModelConfig(media=MediaPriors(roas=dist.LogNormal(0.2, 0.9)))
    assert roas.media.effect_kind is Effect.ROAS
    coef = ModelConfig(media=MediaPriors(effect=Effect.COEF))
    for config in (ModelConfig(), roas, coef):
        back = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
        assert back.media.effect_kind is config.media.effect_kind
    # files written before the relative ROAS: a roas prior, or none for coef
    old = config_to_dict(roas)
    del old["media"]["effect"], old["media"]["relative_roas"], old["media"]["roas_level"]
    assert config_from_dict(old).media.effect_kind is Effect.ROAS
    old["media"]["roas"] = None
    assert config_from_dict(old).media.effect_kind is Effect.COEF
    with pytest.raises(ValueError, match="effect=Effect.ROAS needs a roas prior"):
        MediaPriors(effect=Effect.ROAS)
    # the plain names are accepted and held as the enum; others are refused, naming the choices
    assert MediaPriors(effect="coef").effect is Effect.COEF
    with pytest.raises(
        ValueError, match="effect must be one of relative_roas, roas, coef, got 'rOAS'"
    ):
        MediaPriors(effect="rOAS")
    with pytest.raises(TypeError, match="effect must be one of .* or their Effect members"):
        MediaPriors(effect=1.0)


def test_lognormal_likelihood_has_mean_mu(data):
    config = ModelConfig(likelihood=Likelihood.LOGNORMAL)
    tr = trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config)
    fn = tr["y"]["fn"]
    assert isinstance(fn, dist.LogNormal)
    mu = np.asarray(tr["mu"]["value"])
    ok = mu > 1e-3  # a prior draw may put mu below the floor on some days
    np.testing.assert_allclose(np.asarray(fn.mean)[ok], mu[ok], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(fn.mean)[~ok], 1e-3, rtol=1e-5)
    np.testing.assert_allclose(fn.scale, tr["sigma"]["value"], rtol=1e-6)


@pytest.mark.parametrize("kind", list(Saturation))
def test_saturation_at_mean_parametrisation(data, kind):
    """The derived curve is exactly S-bar saturated at the mean (scaled) spend of 1."""
    from mmm_jax.transforms.saturation import saturate

    config = ModelConfig(saturation=kind, media=MediaPriors(saturation_at_mean=dist.Beta(2.0, 2.0)))
    tr = trace(seed(mmm, 1)).get_trace(build_inputs(data, config), config)
    level = tr["media/saturation_at_mean"]["value"]
    assert tr["media/saturation_at_mean"]["type"] == "sample"
    derived = "rate" if kind is Saturation.LOGISTIC else "half_saturation"
    assert tr[f"media/{derived}"]["type"] == "deterministic"
    params = {
        k[6:]: tr[k]["value"] for k in tr if k.startswith("media/") and tr[k]["type"] != "plate"
    }
    np.testing.assert_allclose(saturate(kind, jnp.ones(3), params), level, rtol=1e-5)


def test_config_from_another_version_is_refused_clearly():
    spec = config_to_dict(ModelConfig())
    spec["media"]["mystery_prior"] = {"dist": "Normal", "params": {"loc": 0.0, "scale": 1.0}}
    with pytest.raises(
        ValueError, match=r"another version of mmm_jax: unknown fields \['mystery_prior'\]"
    ):
        config_from_dict(spec)


def test_priors_serialise_or_fail_at_save_time():
    per_channel = dist.LogNormal(0.0, 1.0).expand([3])
    spec = json.loads(json.dumps(config_to_dict(ModelConfig(media=MediaPriors(roas=per_channel)))))
    back = config_from_dict(spec).media.roas
    assert back.batch_shape == (3,)
    np.testing.assert_allclose(
        back.log_prob(jnp.array([0.5, 1.0, 2.0])), per_channel.log_prob(jnp.array([0.5, 1.0, 2.0]))
    )
    # Truncations round-trip too (the default Hill slope prior is one).
    points = jnp.array([1.2, 2.0, 2.9])
    default = MediaPriors().slope
    # at least 1, at most 10: NUTS samples a logit, which cannot run away to a slope of 1e10
    unconstrained = jnp.array([-40.0, 0.0, 40.0])
    bounded = dist.transforms.biject_to(default.support)(unconstrained)
    assert float(bounded.min()) >= 1.0 and float(bounded.max()) <= 10.0
    for prior in (
        default,
        dist.TruncatedNormal(1.0, 1.5, low=1.0),
        dist.TruncatedNormal(2.0, 1.0, high=3.0),
        dist.TruncatedDistribution(dist.Cauchy(1.0, 2.0), low=1.1, high=3.0),
        dist.TruncatedNormal(1.0, 1.5, low=1.0).expand([3]),
    ):
        spec = json.loads(json.dumps(config_to_dict(ModelConfig(media=MediaPriors(slope=prior)))))
        back = config_from_dict(spec).media.slope
        assert type(back) is type(prior) and back.batch_shape == prior.batch_shape
        np.testing.assert_allclose(back.log_prob(points), prior.log_prob(points), rtol=1e-6)
    transformed = dist.TransformedDistribution(
        dist.Normal(0.0, 1.0), dist.transforms.ExpTransform()
    )
    with pytest.raises(TypeError, match="cannot serialise distribution"):
        config_to_dict(ModelConfig(media=MediaPriors(coef=transformed, effect=Effect.COEF)))


def test_adstock_window_longer_than_data_is_refused(data):
    with pytest.raises(ValueError, match=r"max_lag=200\) is longer than the data \(120 periods\)"):
        build_inputs(data, ModelConfig(max_lag=200))


def test_options_are_given_by_name_and_held_as_enums():
    from mmm_jax.models import GeoPooling
    from mmm_jax.models.config import GeoShapes, GeoSize

    config = ModelConfig(
        adstock=("geometric", Adstock.WEIBULL_PDF, "delayed"),
        saturation="michaelis_menten",
        likelihood="student_t",
        geo_pooling=GeoPooling(shapes="per_geo", size="population"),
    )
    assert config.adstock == (Adstock.GEOMETRIC, Adstock.WEIBULL_PDF, Adstock.DELAYED)
    assert config.saturation is Saturation.MICHAELIS_MENTEN
    assert config.likelihood is Likelihood.STUDENT_T
    assert config.geo_pooling.shapes is GeoShapes.PER_GEO
    assert config.geo_pooling.size is GeoSize.POPULATION
    # held as the enums, a configuration by name is the configuration by enum
    by_name = ModelConfig(likelihood="normal", adstock=["weibull_pdf"])
    assert config_to_dict(by_name) == config_to_dict(ModelConfig(adstock=(Adstock.WEIBULL_PDF,)))
    spec = config_to_dict(config)
    assert config_to_dict(config_from_dict(json.loads(json.dumps(spec)))) == spec
    with pytest.raises(ValueError, match="likelihood must be one of normal, student_t"):
        ModelConfig(likelihood="gaussian")
    with pytest.raises(ValueError, match="adstock must be one of geometric, "):
        ModelConfig(adstock=("geometric", "weibull"))
    with pytest.raises(TypeError, match="adstock must be one Adstock or a tuple of them"):
        ModelConfig(adstock=())
    with pytest.raises(ValueError, match="shapes must be one of shared, per_geo"):
        GeoPooling(shapes="pooled")
    with pytest.raises(TypeError, match="size must be one of .* or their GeoSize members"):
        GeoPooling(size=3)


@pytest.mark.parametrize("panel", [False, True], ids=["national_observed", "pooled_panel"])
def test_model_sites_match_an_eager_trace(data, panel):
    from mmm_jax.models import GeoPooling
    from mmm_jax.models.mmm import model_sites

    if panel:  # geo offsets, and the Weibull scale as a deterministic of media/decay
        d = from_frame(small_frame(n=60, geos=["north", "south", "west"]), geo="geo")
        config, y = ModelConfig(geo_pooling=GeoPooling(), weekly_order=0), None
    else:
        d, config = data, ModelConfig(synergy=SynergyPriors(), n_changepoints=2)
        y = jnp.asarray(d.target_scaled)
    inputs = build_inputs(d, config)
    eager = trace(seed(mmm, 0)).get_trace(inputs, config, y)
    sites = model_sites(inputs, config, y)
    assert list(sites) == list(eager)
    for name, site in eager.items():
        got = sites[name]
        assert got.type == site["type"], name
        assert got.is_observed == bool(site.get("is_observed", False)), name
        assert got.shape == np.shape(site["value"]), name
    assert sites["y"].is_observed is (y is not None)
    if panel:
        assert (
            sites["media/decay"].type == "sample" and sites["media/scale"].type == "deterministic"
        )
        assert sites["geo/media_offset"].shape == (3, 3)
