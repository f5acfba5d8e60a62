"""Geo-hierarchical model: structure (fast) and ROAS recovery on beauty_geo_weekly (slow)."""

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jax
import jax.numpy as jnp
from numpyro.handlers import seed, trace
from numpyro.infer import Predictive

from mmm_jax.data import from_frame
from mmm_jax.models import GeoPooling, GeoShapes, ModelConfig, build_inputs, mmm
from mmm_jax.models.config import config_from_dict, config_to_dict
from mmm_jax.models.terms import media_response
from tests.models.test_model import small_frame

GEOS = ["a", "b", "c", "d"]  # 4 geos, 3 channels: shapes cannot be confused
BENCH = Path(__file__).resolve().parents[2] / ".." / "shared" / "benchdata" / "beauty_geo_weekly"


@pytest.fixture(scope="module")
def geo_data():
    return from_frame(small_frame(geos=GEOS), geo="geo", controls=("traffic",))


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
    assert s["geo/media_z"] == (g, c)  # the non-centred offsets are the sampled sites
    assert tr["geo/media_z"]["type"] == "sample"
    assert tr["geo/media_multiplier"]["type"] == "deterministic"
    assert s["geo/seasonality_z"] == (g,) and s["geo/seasonality_scale"] == (g,)
    assert s["baseline/intercept"] == (g,)
    assert s["media/roas"] == (c,) and s["media/coef"] == (c,)
    curve = (g, c) if shapes is GeoShapes.PER_GEO else (c,)
    assert s["media/half_saturation"] == curve and s["media/shape"] == curve
    assert s["mu"] == (g, geo_data.n_time)
    # non-centred: multiplier = exp(tau z - tau^2 / 2) exactly
    tau, z = tr["geo/media_spread"]["value"], tr["geo/media_z"]["value"]
    np.testing.assert_allclose(
        tr["geo/media_multiplier"]["value"],
        np.exp(tau[None, :] * z - 0.5 * tau[None, :] ** 2),
        rtol=1e-6,
    )
    prior = Predictive(mmm, num_samples=20)(jax.random.PRNGKey(1), inputs, config)
    assert prior["y"].shape == (20, g, geo_data.n_time)
    assert np.all(np.isfinite(prior["y"]))


def test_geo_mu_is_per_geo_coefficients_times_curves(geo_data):
    """mu from the model equals a hand sum: baseline + coef_c m_gc S(A(x)) per geo."""
    config = ModelConfig(geo_pooling=GeoPooling(), yearly_order=2)
    inputs = build_inputs(geo_data, config)
    tr = trace(seed(mmm, 3)).get_trace(inputs, config)
    v = {k: s["value"] for k, s in tr.items() if s["type"] != "plate"}
    params = {k.split("/")[1]: v[k] for k in v if k.startswith("media/")}
    _, saturated, _ = media_response(inputs.lagged, params, config)
    coef = v["media/coef"][None, :] * v["geo/media_multiplier"]  # (geo, channel)
    media = jnp.einsum("gtc,gc->gt", saturated, coef)
    season = jnp.einsum("tf,f->t", inputs.fourier, v["baseline/seasonality"])
    base = (
        v["baseline/intercept"][:, None]
        + v["baseline/trend"] * inputs.trend_time[None, :]
        + v["geo/seasonality_scale"][:, None] * season[None, :]
        + jnp.einsum("gtj,j->gt", inputs.controls, v["baseline/controls"])
    )
    np.testing.assert_allclose(v["mu"], base + media, rtol=1e-5, atol=1e-5)


def test_one_geo_with_pooling_is_the_national_model(key):
    data = from_frame(small_frame(), controls=("traffic",))
    national = ModelConfig()
    pooled = ModelConfig(geo_pooling=GeoPooling())
    tr_n = trace(seed(mmm, 0)).get_trace(build_inputs(data, national), national)
    tr_p = trace(seed(mmm, 0)).get_trace(build_inputs(data, pooled), pooled)
    assert _shapes(tr_n) == _shapes(tr_p)
    assert not any(k.startswith("geo/") for k in tr_p)
    np.testing.assert_array_equal(tr_n["mu"]["value"], tr_p["mu"]["value"])


def test_geo_pooling_config_round_trip_and_checks():
    config = ModelConfig(geo_pooling=GeoPooling(shapes=GeoShapes.PER_GEO, seasonality_spread=None))
    back = config_from_dict(json.loads(json.dumps(config_to_dict(config))))
    assert back.geo_pooling.shapes is GeoShapes.PER_GEO
    assert back.geo_pooling.seasonality_spread is None
    assert float(back.geo_pooling.media_spread.scale) == pytest.approx(0.3)
    old = config_to_dict(ModelConfig())
    del old["geo_pooling"]  # a config saved before the option existed
    assert config_from_dict(old).geo_pooling is None
    with pytest.raises(TypeError, match="GeoShapes"):
        GeoPooling(shapes="shared")
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


def test_centred_pooling_is_the_same_model_reparametrised(geo_data):
    """Centred and non-centred give the same mu, and log densities that differ by the Jacobian."""
    from numpyro.infer.util import log_density

    cen = ModelConfig(geo_pooling=GeoPooling(centred=True))
    non = ModelConfig(geo_pooling=GeoPooling())
    inputs = build_inputs(geo_data, cen)
    y = jnp.asarray(geo_data.target_scaled)
    tr = trace(seed(mmm, 4)).get_trace(inputs, cen, y)
    assert tr["geo/media_log_multiplier"]["value"].shape == (4, 3)
    assert tr["geo/seasonality_log_scale"]["value"].shape == (4,)
    assert "geo/media_z" not in tr and "geo/seasonality_z" not in tr
    params = {
        k: s["value"] for k, s in tr.items() if s["type"] == "sample" and not s["is_observed"]
    }
    tau, omega = params["geo/media_spread"], params["geo/seasonality_spread"]
    log_m, log_s = params.pop("geo/media_log_multiplier"), params.pop("geo/seasonality_log_scale")
    as_z = {
        **params,
        "geo/media_z": (log_m + 0.5 * tau[None, :] ** 2) / tau[None, :],
        "geo/seasonality_z": (log_s + 0.5 * omega**2) / omega,
    }
    lp_cen, tr_cen = log_density(
        mmm,
        (inputs, cen, y),
        {},
        {**params, "geo/media_log_multiplier": log_m, "geo/seasonality_log_scale": log_s},
    )
    lp_non, tr_non = log_density(mmm, (inputs, non, y), {}, as_z)
    np.testing.assert_allclose(tr_cen["mu"]["value"], tr_non["mu"]["value"], rtol=1e-5)
    jacobian = 4 * jnp.sum(jnp.log(tau)) + 4 * jnp.log(omega)  # d(log m)/dz = tau per entry
    np.testing.assert_allclose(lp_non - lp_cen, jacobian, rtol=1e-4, atol=1e-2)
    back = config_from_dict(json.loads(json.dumps(config_to_dict(cen))))
    assert back.geo_pooling.centred is True
    with pytest.raises(TypeError, match="centred must be a bool"):
        GeoPooling(centred="yes")
