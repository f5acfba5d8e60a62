import numpy as np
import pytest

import jax
import jax.numpy as jnp

from mmm_jax.optimize import ResponseParams, horizon_response, steady_response
from mmm_jax.transforms import Saturation

D, C = 7, 3


def _params(seed=0, lag=4):
    rng = np.random.default_rng(seed)
    kinds = (Saturation.HILL, Saturation.MICHAELIS_MENTEN, Saturation.HILL)
    half = rng.uniform(0.5, 2.0, (D, C))
    slope = rng.uniform(0.8, 2.5, (D, C))
    slope[:, 1] = np.nan  # Michaelis-Menten does not use a slope
    w = rng.uniform(0.1, 1.0, (D, C, lag))
    return ResponseParams(
        coef=rng.uniform(0.2, 1.0, (D, C)),
        saturation=kinds,
        saturation_params={"half_saturation": half, "slope": slope},
        synergy=rng.uniform(0.0, 0.3, (D, 1)),
        pairs=((0, 2),),
        media_scale=np.array([1000.0, 2000.0, 500.0]),
        target_scale=np.array(5000.0),
        adstock_weights=w / w.sum(-1, keepdims=True),
    )


def _np_revenue(p, a):  # a: (..., channel) adstocked scaled media, params broadcast on last axis
    half, slope = p.saturation_params["half_saturation"], p.saturation_params["slope"]
    s = np.stack(
        [
            a[..., 0] ** slope[:, 0] / (a[..., 0] ** slope[:, 0] + half[:, 0] ** slope[:, 0]),
            a[..., 1] / (a[..., 1] + half[:, 1]),
            a[..., 2] ** slope[:, 2] / (a[..., 2] ** slope[:, 2] + half[:, 2] ** slope[:, 2]),
        ],
        -1,
    )
    return np.sum(p.coef * s, -1) + p.synergy[:, 0] * s[..., 0] * s[..., 2]


def test_steady_matches_numpy_and_aligned_rows():
    p = _params()
    f = steady_response(p)
    x = np.array([800.0, 2500.0, 300.0])
    want = _np_revenue(p, np.broadcast_to(x / p.media_scale, (D, C))) * 5000.0
    np.testing.assert_allclose(f(jnp.asarray(x)), want, rtol=1e-5)
    rows = np.random.default_rng(1).uniform(100.0, 3000.0, (D, C))
    got = f.aligned(jnp.asarray(rows))
    np.testing.assert_allclose(got, [f(jnp.asarray(r))[d] for d, r in enumerate(rows)], rtol=1e-5)
    g = jax.grad(lambda v: f(v).mean())(jnp.asarray(x))
    assert np.all(np.isfinite(g)) and np.all(g > 0)


def test_horizon_matches_numpy_convolution_with_history():
    p = _params()
    lag, H = 4, 5
    rng = np.random.default_rng(2)
    plan = rng.uniform(100.0, 2000.0, (H, C))
    history = rng.uniform(100.0, 2000.0, (6, C))
    f = horizon_response(p, n_periods=H, history=history)
    series = np.concatenate([history[-(lag - 1) :], plan, np.zeros((lag - 1, C))]) / p.media_scale
    total = np.zeros(D)
    for t in range(lag - 1, series.shape[0]):  # plan periods and the carry-over tail
        a = np.einsum("dcl,lc->dc", p.adstock_weights, series[t - np.arange(lag)])
        total += _np_revenue(p, a)
    np.testing.assert_allclose(f(jnp.asarray(plan)), total * 5000.0, rtol=1e-5)
    # aligned: row d under draw d
    plans = rng.uniform(100.0, 2000.0, (D, H, C))
    got = f.aligned(jnp.asarray(plans))
    np.testing.assert_allclose(got, [f(jnp.asarray(q))[d] for d, q in enumerate(plans)], rtol=1e-5)


def test_horizon_constant_spend_is_steady_state_times_periods_without_carryover():
    p = _params(lag=1)
    H = 6
    x = np.array([800.0, 2500.0, 300.0])
    h = horizon_response(p, n_periods=H)(jnp.asarray(np.tile(x, (H, 1))))
    np.testing.assert_allclose(h, H * np.asarray(steady_response(p)(jnp.asarray(x))), rtol=1e-5)


def test_invalid_params_raise():
    p = _params()
    with pytest.raises(ValueError, match="saturation kinds"):
        steady_response(p._replace(saturation=p.saturation[:2]))
    with pytest.raises(ValueError, match="slope"):
        steady_response(p._replace(saturation_params={"half_saturation": p.coef}))
    with pytest.raises(ValueError, match="both"):
        steady_response(p._replace(pairs=None))
    with pytest.raises(ValueError, match="adstock_weights"):
        horizon_response(p._replace(adstock_weights=None), n_periods=3)
