"""Geo-hierarchical model: structure (fast) and ROAS recovery on beauty_geo_weekly (slow)."""

import dataclasses
import json
import time

import numpy as np
import pandas as pd
import pytest

import jax
import jax.numpy as jnp
import numpyro.distributions as dist
from numpyro.handlers import seed, trace
from numpyro.infer import Predictive

from mmm_jax.data import from_frame
from mmm_jax.models import GeoPooling, ModelConfig, build_inputs, mmm
from mmm_jax.models.config import GeoShapes, config_from_dict, config_to_dict
from mmm_jax.models.terms import media_response
from tests._paths import BENCHDATA
from tests.models.test_model import small_frame

GEOS = ["a", "b", "c", "d"]  # 4 geos, 3 channels: shapes cannot be confused
SIZES = [0.5, 1.0, 1.5, 2.5]
BENCH = BENCHDATA / "beauty_geo_weekly"


def sized_frame(n=120, sizes=SIZES, seed_=0, noise=20.0):
    """Geos whose spend, revenue and traffic follow their size; a price that does not."""
    rng = np.random.default_rng(seed_)
    dates = pd.date_range("2024-01-01", periods=n, freq="D")
    price = rng.normal(10.0, 1.0, n)  # the same in every geo: intensive
    rows = []
    for g, size in enumerate(sizes):
        a = size * rng.gamma(4.0, 25.0, n)
        b = size * rng.gamma(4.0, 40.0, n)
        c = size * rng.gamma(2.0, 20.0, n)
        rows.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "geo": f"g{g}",
                    "spend_a": a,
                    "spend_b": b,
                    "spend_c": c,
                    "traffic": size * rng.normal(100.0, 10.0, n),
                    "price": price,
                    "population": 1000.0 * size * np.exp(rng.normal(0.0, 0.05)),
                    "revenue": size * (800.0 - 10 * price)
                    + 2.0 * a
                    + 1.5 * b
                    + c
                    + size * rng.normal(0.0, noise, n),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def geo_data():
    return from_frame(small_frame(geos=GEOS), geo="geo", controls=("traffic",))


@pytest.fixture(scope="module")
def sized_data():
    return from_frame(
        sized_frame(), geo="geo", controls=("traffic", "price"), population="population"
    )


def _shapes(tr):
    return {k: tuple(v["value"].shape) for k, v in tr.items() if v["type"] != "plate"}


@pytest.mark.parametrize("shapes", list(GeoShapes))
def test_geo_sites_shapes_and_prior_predictive(geo_data, shapes):
    config = ModelConfig(geo_pooling=GeoPooling(shapes=shapes))
    inputs = build_inputs(geo_data, config)
    tr = trace(seed(mmm, 0)).get_trace(inputs, config)
    s = _shapes(tr)
    g, c = 4, 3
    assert s["geo/media_spread"] == (c,)
    assert s["geo/media_offset"] == (g, c)  # the offsets (non-centred by default) are sampled
    assert tr["geo/media_offset"]["type"] == "sample"
    assert tr["geo/media_multiplier"]["type"] == "deterministic"
    assert not any(k.startswith("geo/seasonality") for k in s)  # one relative seasonality
    assert s["baseline/intercept"] == (g,)
    assert s["media/roas"] == (c,) and s["media/coef"] == (c,)
    curve = (g, c) if shapes is GeoShapes.PER_GEO else (c,)
    assert s["media/half_saturation"] == curve and s["media/shape"] == curve
    assert s["mu"] == (g, geo_data.n_time)
    # multiplier = size * exp(u - mean_g u), u = tau^(1 - w) v
    tau, v = tr["geo/media_spread"]["value"], tr["geo/media_offset"]["value"]
    w, size = np.asarray(inputs.geo.centring), np.asarray(inputs.geo.size)
    u = tau[None, :] ** (1 - w) * v
    np.testing.assert_allclose(
        tr["geo/media_multiplier"]["value"],
        size[:, None] * np.exp(u - u.mean(axis=0, keepdims=True)),
        rtol=1e-5,
    )
    prior = Predictive(mmm, num_samples=20)(jax.random.PRNGKey(1), inputs, config)
    assert prior["y"].shape == (20, g, geo_data.n_time)
    assert np.all(np.isfinite(prior["y"]))


def test_geo_sizes_follow_population_revenue_or_nothing(sized_data):
    from mmm_jax.models.config import GeoSize
    from mmm_jax.models.geo import describe_geo_inputs, geo_inputs

    truth = np.asarray(SIZES) / np.mean(SIZES)
    auto = geo_inputs(sized_data, ModelConfig(geo_pooling=GeoPooling()))
    pop = np.asarray(sized_data.population)
    np.testing.assert_allclose(auto.size, pop / pop.mean())  # the population, when given
    np.testing.assert_allclose(auto.size.mean(), 1.0)
    np.testing.assert_allclose(auto.noise_scale, auto.size)
    revenue = geo_inputs(sized_data, ModelConfig(geo_pooling=GeoPooling(size=GeoSize.REVENUE)))
    mean_rev = sized_data.target.mean(axis=1)
    np.testing.assert_allclose(revenue.size, mean_rev / mean_rev.mean())
    np.testing.assert_allclose(revenue.size, truth, rtol=0.1)  # revenue follows size here
    equal = geo_inputs(
        sized_data, ModelConfig(geo_pooling=GeoPooling(size=GeoSize.EQUAL, noise_by_size=False))
    )
    np.testing.assert_array_equal(equal.size, 1.0)
    np.testing.assert_array_equal(equal.noise_scale, 1.0)
    # traffic follows geo size (its column is left alone), the price does not (scaled by size)
    np.testing.assert_array_equal(auto.control_size, [0.0, 1.0])
    info = describe_geo_inputs(sized_data, ModelConfig(geo_pooling=GeoPooling()), auto)
    assert info["size_from"] == "population" and "population" in info["why"]
    assert info["controls_scaled_by_size"] == ["price"]
    assert info["log_size_vs_log_revenue_corr"] > 0.99
    no_pop = dataclasses.replace(sized_data, population=None)
    assert (
        describe_geo_inputs(no_pop, ModelConfig(geo_pooling=GeoPooling()), revenue)["size_from"]
        == "revenue"
    )
    with pytest.raises(ValueError, match="needs data with a population"):
        geo_inputs(no_pop, ModelConfig(geo_pooling=GeoPooling(size=GeoSize.POPULATION)))


def test_centring_follows_how_much_each_geo_says(sized_data):
    """Long, quiet data pin each geo's effect (w near 1); a few noisy periods do not (w near 0)."""
    from mmm_jax.models.geo import geo_inputs

    config = ModelConfig(geo_pooling=GeoPooling(centred=None))
    # a year of daily data with little noise (the gauge's adstock guess, not the
    # noise, then limits how well each geo's effect is pinned)
    quiet = from_frame(
        sized_frame(n=365, noise=5.0),
        geo="geo",
        controls=("traffic", "price"),
        population="population",
    )
    strong = geo_inputs(quiet, config).centring
    noisy = from_frame(
        sized_frame(n=30, noise=400.0),
        geo="geo",
        controls=("traffic", "price"),
        population="population",
    )
    weak = geo_inputs(noisy, config).centring
    assert strong.shape == weak.shape == (4, 3)
    assert np.all((0 <= weak) & (weak <= 1)) and np.all((0 <= strong) & (strong <= 1))
    assert strong.mean() > 0.8 and weak.mean() < 0.3
    assert np.all(
        geo_inputs(sized_data, ModelConfig(geo_pooling=GeoPooling(centred=True))).centring == 1
    )
    assert np.all(
        geo_inputs(sized_data, ModelConfig(geo_pooling=GeoPooling(centred=False))).centring == 0
    )
    # the default form is non-centred
    assert np.all(geo_inputs(quiet, ModelConfig(geo_pooling=GeoPooling())).centring == 0)


def test_geo_mu_is_sized_baseline_plus_per_geo_coefficients_times_curves(sized_data):
    """mu equals a hand sum: n_g (intercept + trend + season) + controls + coef_c m_gc S(A(x))."""
    config = ModelConfig(geo_pooling=GeoPooling(), yearly_order=2)
    inputs = build_inputs(sized_data, config)
    tr = trace(seed(mmm, 3)).get_trace(inputs, config)
    v = {k: s["value"] for k, s in tr.items() if s["type"] != "plate"}
    params = {k.split("/")[1]: v[k] for k in v if k.startswith("media/")}
    _, saturated, _ = media_response(inputs.lagged, params, config)
    coef = v["media/coef"][None, :] * v["geo/media_multiplier"]  # (geo, channel)
    media = jnp.einsum("gtc,gc->gt", saturated, coef)
    size = np.asarray(inputs.geo.size)
    season = jnp.einsum("tf,f->t", inputs.fourier, v["baseline/seasonality"])
    relative = (
        v["baseline/intercept"][:, None]
        + v["baseline/trend"] * inputs.trend_time[None, :]
        + season[None, :]
    )
    factor = np.where(np.asarray(inputs.geo.control_size)[None, :] > 0, size[:, None], 1.0)
    controls = jnp.einsum("gtj,gj,j->gt", inputs.controls, factor, v["baseline/controls"])
    np.testing.assert_allclose(
        v["mu"], size[:, None] * relative + controls + media, rtol=1e-5, atol=1e-5
    )


def test_roas_site_is_the_national_roas_over_every_geo(sized_data):
    """Without synergy, media/roas is exactly the counterfactual ROAS over all geos and periods."""
    from mmm_jax.diagnostics.metrics import contributions
    from mmm_jax.inference import Fit
    from mmm_jax.models.mmm import time_frame

    config = ModelConfig(geo_pooling=GeoPooling())
    inputs = build_inputs(sized_data, config)
    prior = Predictive(mmm, num_samples=5)(jax.random.PRNGKey(2), inputs, config)
    fit = Fit(
        method="prior",
        draws={k: np.asarray(v)[None] for k, v in prior.items() if k not in ("mu", "y")},
        data=sized_data,
        config=config,
        frame=time_frame(sized_data.dates),
    )
    np.testing.assert_allclose(contributions(fit).roas, prior["media/roas"], rtol=2e-4)


def test_one_geo_with_pooling_is_the_national_model(key):
    data = from_frame(small_frame(), controls=("traffic",))
    national = ModelConfig()
    pooled = ModelConfig(geo_pooling=GeoPooling())
    tr_n = trace(seed(mmm, 0)).get_trace(build_inputs(data, national), national)
    tr_p = trace(seed(mmm, 0)).get_trace(build_inputs(data, pooled), pooled)
    assert _shapes(tr_n) == _shapes(tr_p)
    assert not any(k.startswith("geo/") for k in tr_p)
    assert build_inputs(data, pooled).geo is None
    np.testing.assert_array_equal(tr_n["mu"]["value"], tr_p["mu"]["value"])


def test_geo_pooling_config_round_trip_and_checks():
    from mmm_jax.models.config import GeoSize

    config = ModelConfig(
        geo_pooling=GeoPooling(
            shapes=GeoShapes.PER_GEO, size=GeoSize.REVENUE, noise_by_size=False, centred=True
        )
    )
    back = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert back.geo_pooling.shapes is GeoShapes.PER_GEO
    assert back.geo_pooling.size is GeoSize.REVENUE
    assert back.geo_pooling.noise_by_size is False and back.geo_pooling.centred is True
    assert back.geo_pooling.seasonality_spread is None
    assert float(back.geo_pooling.media_spread.scale) == pytest.approx(0.3)
    default = config_from_dict(config_to_dict(ModelConfig(geo_pooling=GeoPooling())))
    assert default.geo_pooling.centred is False and default.geo_pooling.size is GeoSize.AUTO
    old = config_to_dict(ModelConfig())
    del old["geo_pooling"]  # a config saved before the option existed
    assert config_from_dict(old).geo_pooling is None
    # a geo model saved before geo sizes existed means other things: refused, not misread
    before = config_to_dict(ModelConfig(geo_pooling=GeoPooling()))
    for name in ("size", "noise_by_size"):
        del before["geo_pooling"][name]
    with pytest.raises(ValueError, match="no geo sizes"):
        config_from_dict(before)
    by_name = GeoPooling(shapes="per_geo", size="revenue")
    assert by_name.shapes is GeoShapes.PER_GEO and by_name.size is GeoSize.REVENUE
    with pytest.raises(TypeError, match="GeoShapes"):
        GeoPooling(shapes=True)
    with pytest.raises(ValueError, match="size must be one of auto, population"):
        GeoPooling(size="people")
    with pytest.raises(TypeError, match="GeoPooling"):
        ModelConfig(geo_pooling=True)


def test_geo_contributions_sum_to_national(geo_data, key):
    """Per-geo counterfactual contributions add up to the national ones, draw by draw."""
    from mmm_jax.diagnostics import analyse
    from mmm_jax.inference import Fit
    from mmm_jax.models.mmm import time_frame

    config = ModelConfig(geo_pooling=GeoPooling())
    inputs = build_inputs(geo_data, config)
    prior = Predictive(mmm, num_samples=6)(key, inputs, config)
    keep = [k for k in prior if k not in ("mu", "y")]
    fit = Fit(
        method="prior",
        draws={k: np.asarray(prior[k])[None] for k in keep},
        data=geo_data,
        config=config,
        frame=time_frame(geo_data.dates),
    )
    a = analyse(fit)
    c = a.contributions
    assert c.by_geo.shape == (6, 4, 3) and c.geos == geo_data.geos
    np.testing.assert_allclose(c.by_geo.sum(axis=1), c.by_channel, rtol=1e-4)
    np.testing.assert_allclose(c.total_by_geo.sum(axis=1), c.total, rtol=1e-5)
    np.testing.assert_allclose(c.baseline_by_geo.sum(axis=1), c.baseline, rtol=1e-5)
    np.testing.assert_allclose(c.spend_by_geo.sum(axis=0), c.spend, rtol=1e-12)
    total_roas = c.by_geo.sum(axis=1) / c.spend_by_geo.sum(axis=0)
    np.testing.assert_allclose(total_roas, c.roas, rtol=1e-4)
    np.testing.assert_allclose(c.roas_by_geo, c.by_geo / c.spend_by_geo, rtol=1e-6)
    m = a.response
    expected = prior["media/coef"][:, None, :] * prior["geo/media_multiplier"]
    np.testing.assert_allclose(m.coef, expected, rtol=1e-6)
    assert m.saturation_params["half_saturation"].shape == (6, 4, 3)


@pytest.mark.slow
def test_beauty_geo_weekly_total_roas_within_hdi():
    """Issue 7 acceptance: every channel's total ROAS within its 90% HDI of the truth."""
    if not BENCH.is_dir():
        pytest.skip("benchmark data not available")
    from mmm_jax.diagnostics.metrics import contributions, hdi
    from mmm_jax.inference import fit_nuts

    truth = json.loads((BENCH / "truth.json").read_text())
    frame = pd.read_csv(BENCH / "data.csv")
    data = from_frame(frame, geo="geo", controls=("organic_traffic",))
    config = ModelConfig(geo_pooling=GeoPooling())
    t0 = time.perf_counter()
    fit = fit_nuts(
        data,
        config,
        key=jax.random.PRNGKey(0),
        num_warmup=500,
        num_samples=500,
        num_chains=2,
        progress_bar=False,
    )
    seconds = time.perf_counter() - t0
    roas = contributions(fit).roas
    low, high = hdi(roas)
    report = {}
    for i, name in enumerate(data.channels):
        true = truth["channels"][name.removeprefix("spend_")]["roas"]
        report[name] = (true, float(low[i]), float(high[i]))
    print(f"NUTS {seconds:.0f} s, divergences {fit.info['divergences']}: {report}")
    for name, (true, lo, hi) in report.items():
        assert lo <= true <= hi, (
            f"{name}: true ROAS {true:.3f} outside 90% HDI [{lo:.3f}, {hi:.3f}]"
        )


def test_geo_response_and_per_geo_budget(geo_data, key):
    """The response of a geo panel equals the per-geo curves summed, and optimises per geo."""
    from mmm_jax.diagnostics import analyse
    from mmm_jax.inference import Fit
    from mmm_jax.models.mmm import time_frame
    from mmm_jax.optimize import optimize_budget
    from mmm_jax.transforms.saturation import saturate_channels

    config = ModelConfig(geo_pooling=GeoPooling())
    inputs = build_inputs(geo_data, config)
    prior = Predictive(mmm, num_samples=5)(key, inputs, config)
    fit = Fit(
        method="prior",
        draws={k: np.asarray(v)[None] for k, v in prior.items() if k not in ("mu", "y")},
        data=geo_data,
        config=config,
        frame=time_frame(geo_data.dates),
    )
    a = analyse(fit)
    hist = a.historical_spend
    assert hist.shape == (4, 3)
    np.testing.assert_allclose(hist.sum(axis=0), geo_data.media.sum(axis=0).mean(axis=0))
    x = hist * np.array([1.2, 0.7, 1.0])  # (geo, channel)
    scale = np.asarray(geo_data.scaler.media_scale)
    kinds = config.saturation_kinds(3)
    hand = []
    for d in range(5):
        params = {n: prior[f"media/{n}"][d] for n in ("half_saturation", "slope")}
        s = saturate_channels(kinds, jnp.asarray(x / scale), params)  # (geo, channel)
        coef = prior["media/coef"][d][None, :] * prior["geo/media_multiplier"][d]
        hand.append(float(jnp.sum(coef * s)) * geo_data.scaler.target_scale)
    per_geo = a.response_fn_by_geo
    np.testing.assert_allclose(per_geo(jnp.asarray(x)), hand, rtol=1e-4)
    # per channel: split over geos in the historical mix
    national = a.response_fn
    share = hist / hist.sum(axis=0)
    np.testing.assert_allclose(a.geo_mix, share, rtol=1e-12)
    np.testing.assert_allclose(
        national(jnp.asarray(hist.sum(axis=0) * 0.8)),
        per_geo(jnp.asarray(0.8 * share * hist.sum(0))),
        rtol=1e-5,
    )
    budget = float(hist.sum())
    result = optimize_budget(
        per_geo,
        budget=budget,
        lower=0.5 * hist,
        upper=2.0 * hist,
        key=key,
        num_steps=200,
        reference=hist,
    )
    assert result.allocation.shape == (4, 3)
    np.testing.assert_allclose(result.allocation.sum(), budget, rtol=1e-6)
    assert np.all(result.allocation >= 0.5 * hist - 1e-6) and np.all(
        result.allocation <= 2 * hist + 1e-6
    )
    # optimal beats historical under the same posterior
    assert result.expected_revenue.mean() >= float(np.mean(per_geo(jnp.asarray(hist)))) - 1e-6


@pytest.mark.parametrize("centred", [True, False, None])
def test_partial_centring_is_the_same_model_reparametrised(sized_data, centred):
    """Any centring gives the same mu for the same u, with log densities apart by the Jacobian."""
    from numpyro.infer.util import log_density

    config = ModelConfig(geo_pooling=GeoPooling(centred=centred))
    reference = ModelConfig(geo_pooling=GeoPooling(centred=True))  # v = u
    inputs = build_inputs(sized_data, config)
    ref_inputs = build_inputs(sized_data, reference)
    y = jnp.asarray(sized_data.target_scaled)
    tr = trace(seed(mmm, 4)).get_trace(ref_inputs, reference, y)
    params = {
        k: s["value"] for k, s in tr.items() if s["type"] == "sample" and not s["is_observed"]
    }
    tau, u = params["geo/media_spread"], params.pop("geo/media_offset")
    w = np.asarray(inputs.geo.centring)
    if centred is None:
        assert 0 < w.min() < w.max() < 1  # a real mix on these data
    v = u / tau[None, :] ** (1.0 - w)
    lp_ref, tr_ref = log_density(
        mmm, (ref_inputs, reference, y), {}, {**params, "geo/media_offset": u}
    )
    lp, tr_new = log_density(mmm, (inputs, config, y), {}, {**params, "geo/media_offset": v})
    np.testing.assert_allclose(tr_new["mu"]["value"], tr_ref["mu"]["value"], rtol=1e-5)
    # du/dv = tau^(1 - w) per entry
    jacobian = jnp.sum((1.0 - w) * jnp.log(tau)[None, :])
    np.testing.assert_allclose(lp - lp_ref, jacobian, rtol=1e-4, atol=1e-2)
    back = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert back.geo_pooling.centred is centred
    with pytest.raises(TypeError, match="centred must be a bool or None"):
        GeoPooling(centred="yes")


def test_seasonality_spread_adds_per_geo_amplitudes_and_is_sampled(geo_data):
    from mmm_jax.models.mmm import marginal_baseline_blocker

    config = ModelConfig(geo_pooling=GeoPooling(seasonality_spread=dist.HalfNormal(0.3)))
    inputs = build_inputs(geo_data, config)
    s = _shapes(trace(seed(mmm, 0)).get_trace(inputs, config))
    assert s["geo/seasonality_z"] == (4,) and s["geo/seasonality_scale"] == (4,)
    assert "not linear" in marginal_baseline_blocker(inputs, config)
