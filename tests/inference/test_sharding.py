"""Geos sharded over 4 CPU devices: same log density and gradient, and short fits run."""

import numpy as np
import pandas as pd
import pytest

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec
from numpyro.handlers import seed, substitute, trace
from numpyro.infer.util import log_density

from mmm_jax.data import from_frame
from mmm_jax.inference import fit_nuts, fit_svi
from mmm_jax.inference.sharding import GEO_AXIS, geo_mesh, shard_inputs
from mmm_jax.models import GeoPooling, ModelConfig, build_inputs, mmm
from mmm_jax.models.mmm import baseline_design, geo_baseline_design

N_GEO = 8


def geo_frame(n_geo=N_GEO, n=60, seed_=0):
    rng = np.random.default_rng(seed_)
    dates = pd.date_range("2024-01-01", periods=n, freq="W-MON")
    rows = []
    for g in range(n_geo):
        size = np.exp(rng.normal(0.0, 0.3))
        a = size * rng.gamma(4.0, 25.0, n)
        b = size * rng.gamma(4.0, 40.0, n)
        rows.append(
            pd.DataFrame(
                {
                    "date": dates,
                    "geo": f"g{g}",
                    "spend_a": a,
                    "spend_b": b,
                    "traffic": rng.normal(100.0, 10.0, n),
                    "revenue": size * 1000.0 + 2.0 * a + 1.5 * b + rng.normal(0.0, 30.0, n),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def data():
    return from_frame(geo_frame(), geo="geo", controls=("traffic",))


CONFIG = ModelConfig(geo_pooling=GeoPooling(), yearly_order=2)


def test_geo_mesh_splits_evenly():
    assert jax.device_count() >= 4
    assert geo_mesh(8).shape[GEO_AXIS] == 4
    assert geo_mesh(6).shape[GEO_AXIS] == 3
    assert geo_mesh(7).shape[GEO_AXIS] == 1
    with pytest.raises(ValueError, match="n_geo"):
        geo_mesh(0)


def test_shard_inputs_places_geo_arrays(data):
    inputs = build_inputs(data, CONFIG)
    mesh = geo_mesh(data.n_geo)
    sharded, y = shard_inputs(inputs, data.target_scaled, mesh)
    assert sharded.lagged.sharding.spec == PartitionSpec(GEO_AXIS, None, None, None)
    assert y.sharding.spec == PartitionSpec(GEO_AXIS, None)
    assert sharded.fourier.sharding.is_fully_replicated
    # each device holds 2 of the 8 geos
    shard_shapes = {s.data.shape for s in sharded.lagged.addressable_shards}
    assert shard_shapes == {(2,) + inputs.lagged.shape[1:]}
    np.testing.assert_array_equal(np.asarray(sharded.lagged), np.asarray(inputs.lagged))


def test_a_mesh_excludes_an_integrated_out_baseline(data):
    # Its design flattens geo and time, so it cannot be split over geos.
    config = ModelConfig(yearly_order=2)
    inputs = build_inputs(data, config)
    marginal = inputs._replace(baseline=baseline_design(inputs, config))
    mesh = geo_mesh(data.n_geo)
    with pytest.raises(ValueError, match="integrated-out baseline"):
        shard_inputs(marginal, data.target_scaled, mesh)
    with pytest.raises(ValueError, match="dense baseline design flattens geo and time"):
        seed(mmm, 0)(marginal._replace(mesh=mesh), config, jnp.asarray(data.target_scaled))


def _params(data):
    inputs = build_inputs(data, CONFIG)
    tr = trace(seed(mmm, 1)).get_trace(inputs, CONFIG)
    return {k: v["value"] for k, v in tr.items() if v["type"] == "sample" and not v["is_observed"]}


@pytest.mark.parametrize("marginal", [False, True], ids=["sampled", "integrated"])
def test_sharded_log_density_and_gradient_match(data, marginal):
    inputs = build_inputs(data, CONFIG)
    params = _params(data)
    if marginal:  # the baseline integrated out geo by geo, as fits do by default
        inputs = inputs._replace(baseline=geo_baseline_design(inputs, CONFIG))
        params = {k: v for k, v in params.items() if not k.startswith("baseline/")}
    y = jnp.asarray(data.target_scaled)
    mesh = geo_mesh(data.n_geo)
    s_inputs, s_y = shard_inputs(inputs, data.target_scaled, mesh)

    assert s_inputs.mesh is mesh and inputs.mesh is None

    def make(inp, yy):
        def f(p):
            return log_density(mmm, (inp, CONFIG), {"y": yy}, p)[0]

        return jax.jit(jax.value_and_grad(f))

    plain_value, plain_grad = make(inputs, y)(params)
    sharded_fn = make(s_inputs, s_y)
    value, grad = sharded_fn(params)
    assert np.isfinite(float(plain_value))
    np.testing.assert_allclose(float(value), float(plain_value), rtol=1e-5)
    for k in params:
        np.testing.assert_allclose(
            np.asarray(grad[k]), np.asarray(plain_grad[k]), rtol=2e-4, atol=1e-3, err_msg=k
        )
    # the compiled program really is split: XLA had to sum partial results across devices
    hlo = sharded_fn.lower(params).compile().as_text()
    assert "all-reduce" in hlo
    if marginal:
        assert s_inputs.baseline.centred.sharding.spec[0] == GEO_AXIS
        return
    # the observed site's per-geo log-likelihood stays split over the geo axis
    tr = trace(substitute(mmm, params)).get_trace(s_inputs, CONFIG, s_y)
    assert tr["mu"]["value"].sharding.spec[0] == GEO_AXIS


def test_sharded_nuts_runs(data, key):
    fit = fit_nuts(
        data,
        CONFIG,
        key=key,
        num_warmup=5,
        num_samples=5,
        num_chains=1,
        max_tree_depth=3,
        geo_sharding=True,
        progress_bar=False,
    )
    assert fit.info["chain_method"] == "sequential"
    assert fit.info["geo_shards"] == 4
    assert fit.draws["geo/media_offset"].shape == (1, 5, N_GEO, 2)
    assert all(np.all(np.isfinite(v)) for v in fit.draws.values())
    with pytest.raises(ValueError, match="parallel"):
        fit_nuts(data, CONFIG, key=key, num_chains=2, chain_method="parallel", geo_sharding=True)


@pytest.mark.slow
def test_sharded_svi_follows_unsharded(data, key):
    kwargs = dict(key=key, num_steps=300, num_samples=50, guide="auto_normal", progress_bar=False)
    svi = fit_svi(data, CONFIG, geo_sharding=geo_mesh(data.n_geo), **kwargs)
    plain = fit_svi(data, CONFIG, **kwargs)
    assert np.isfinite(svi.info["final_loss"])
    # same key, same steps: the sharded optimisation follows the unsharded one
    np.testing.assert_allclose(svi.info["final_loss"], plain.info["final_loss"], rtol=0.02)
    np.testing.assert_allclose(
        svi.draws["media/roas"].mean(axis=(0, 1)),
        plain.draws["media/roas"].mean(axis=(0, 1)),
        rtol=0.05,
    )
