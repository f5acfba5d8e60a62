"""The one media response surface: numpy by hand, geos side by side, horizons, checks."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from mmm_jax.transforms import ResponseParams, horizon_response, steady_response
from mmm_jax.transforms.saturation import Saturation

D, C = 7, 3


def _params(seed=0, lag=4, geos=1):
    """Draws ``(D, geos, C)``: Hill, Michaelis-Menten, Hill; synergy between channels 0 and 2."""
    rng = np.random.default_rng(seed)
    kinds = (Saturation.HILL, Saturation.MICHAELIS_MENTEN, Saturation.HILL)
    half = rng.uniform(0.5, 2.0, (D, geos, C))
    slope = rng.uniform(0.8, 2.5, (D, geos, C))
    slope[..., 1] = np.nan  # Michaelis-Menten does not use a slope
    w = rng.uniform(0.1, 1.0, (D, geos, C, lag))
    return ResponseParams(
        coef=rng.uniform(0.2, 1.0, (D, geos, C)),
        saturation=kinds,
        saturation_params={"half_saturation": half, "slope": slope},
        synergy=rng.uniform(0.0, 0.3, (D, geos, 1)),
        pairs=((0, 2),),
        media_scale=np.array([1000.0, 2000.0, 500.0]),
        target_scale=np.array(5000.0),
        adstock_weights=w / w.sum(-1, keepdims=True),
    )


def _np_revenue(p, a, g=0):
    """Scaled revenue of geo ``g`` for adstocked scaled media ``a`` ``(..., channel)``."""
    half, slope = p.saturation_params["half_saturation"][:, g], p.saturation_params["slope"][:, g]
    s = np.stack(
        [
            a[..., 0] ** slope[:, 0] / (a[..., 0] ** slope[:, 0] + half[:, 0] ** slope[:, 0]),
            a[..., 1] / (a[..., 1] + half[:, 1]),
            a[..., 2] ** slope[:, 2] / (a[..., 2] ** slope[:, 2] + half[:, 2] ** slope[:, 2]),
        ],
        -1,
    )
    return np.sum(p.coef[:, g] * s, -1) + p.synergy[:, g, 0] * s[..., 0] * s[..., 2]


def test_steady_matches_numpy_and_aligned_rows():
    p = _params()
    f = steady_response(p, geo_mix=np.ones((1, C)))
    assert f.spend_shape == (C,) and f.n_draws == D
    x = np.array([800.0, 2500.0, 300.0])
    want = _np_revenue(p, np.broadcast_to(x / p.media_scale, (D, C))) * 5000.0
    np.testing.assert_allclose(f(jnp.asarray(x)), want, rtol=1e-5)
    rows = np.random.default_rng(1).uniform(100.0, 3000.0, (D, C))
    got = f.aligned(jnp.asarray(rows))
    np.testing.assert_allclose(got, [f(jnp.asarray(r))[d] for d, r in enumerate(rows)], rtol=1e-5)
    g = jax.grad(lambda v: f(v).mean())(jnp.asarray(x))
    assert np.all(np.isfinite(g)) and np.all(g > 0)
    # one geo decided per (geo, channel) is the same surface
    by_geo = steady_response(p)
    assert by_geo.spend_shape == (1, C)
    np.testing.assert_allclose(by_geo(jnp.asarray(x[None])), f(jnp.asarray(x)), rtol=1e-6)


def test_geos_are_summed_each_on_its_own_curve_and_split_in_the_mix():
    p = _params(seed=3, geos=2)
    x = np.array([[800.0, 2500.0, 300.0], [200.0, 100.0, 900.0]])  # (geo, channel)
    want = sum(_np_revenue(p, np.broadcast_to(x[g] / p.media_scale, (D, C)), g) for g in (0, 1))
    f = steady_response(p)
    assert f.spend_shape == (2, C)
    np.testing.assert_allclose(f(jnp.asarray(x)), want * 5000.0, rtol=1e-5)
    rows = np.random.default_rng(2).uniform(100.0, 3000.0, (D, 2, C))
    np.testing.assert_allclose(
        f.aligned(jnp.asarray(rows)), [f(jnp.asarray(r))[d] for d, r in enumerate(rows)], rtol=1e-5
    )
    # per channel: spend split over geos in the mix, each geo on its own curve
    mix = x / x.sum(axis=0)
    split = steady_response(p, geo_mix=mix)
    np.testing.assert_allclose(split(jnp.asarray(x.sum(axis=0))), f(jnp.asarray(x)), rtol=1e-5)
    with pytest.raises(ValueError, match="sum to one"):
        steady_response(p, geo_mix=2 * mix)
    with pytest.raises(ValueError, match="geo_mix must have shape"):
        steady_response(p, geo_mix=np.ones((1, C)))


def test_horizon_matches_numpy_convolution_with_history():
    p = _params()
    lag, H = 4, 5
    rng = np.random.default_rng(2)
    plan = rng.uniform(100.0, 2000.0, (H, C))
    history = rng.uniform(100.0, 2000.0, (6, C))
    f = horizon_response(p, n_periods=H, history=history, geo_mix=np.ones((1, C)))
    series = np.concatenate([history[-(lag - 1) :], plan, np.zeros((lag - 1, C))]) / p.media_scale
    total = np.zeros(D)
    for t in range(lag - 1, series.shape[0]):  # plan periods and the carry-over tail
        a = np.einsum("dcl,lc->dc", p.adstock_weights[:, 0], series[t - np.arange(lag)])
        total += _np_revenue(p, a)
    np.testing.assert_allclose(f(jnp.asarray(plan)), total * 5000.0, rtol=1e-5)
    # aligned: row d under draw d
    plans = rng.uniform(100.0, 2000.0, (D, H, C))
    got = f.aligned(jnp.asarray(plans))
    np.testing.assert_allclose(got, [f(jnp.asarray(q))[d] for d, q in enumerate(plans)], rtol=1e-5)
    # per (geo, channel): the same numbers with the geo axis spelled out
    g = horizon_response(p, n_periods=H, history=history[:, None])
    np.testing.assert_allclose(g(jnp.asarray(plan[:, None])), f(jnp.asarray(plan)), rtol=1e-6)


def test_horizon_of_two_geos_adds_each_geos_carry_over():
    p = _params(seed=4, geos=2)
    lag, H = 4, 3
    plan = np.random.default_rng(5).uniform(100.0, 2000.0, (H, 2, C))
    f = horizon_response(p, n_periods=H)
    total = np.zeros(D)
    for g in (0, 1):
        series = np.concatenate([np.zeros((lag - 1, C)), plan[:, g], np.zeros((lag - 1, C))])
        series = series / p.media_scale
        for t in range(lag - 1, series.shape[0]):
            a = np.einsum("dcl,lc->dc", p.adstock_weights[:, g], series[t - np.arange(lag)])
            total += _np_revenue(p, a, g)
    np.testing.assert_allclose(f(jnp.asarray(plan)), total * 5000.0, rtol=1e-5)


def test_horizon_constant_spend_is_steady_state_times_periods_without_carryover():
    p = _params(lag=1)
    H = 6
    x = np.array([800.0, 2500.0, 300.0])
    mix = np.ones((1, C))
    h = horizon_response(p, n_periods=H, geo_mix=mix)(jnp.asarray(np.tile(x, (H, 1))))
    steady = steady_response(p, geo_mix=mix)(jnp.asarray(x))
    np.testing.assert_allclose(h, H * np.asarray(steady), rtol=1e-5)


def test_invalid_params_raise():
    p = _params()
    with pytest.raises(ValueError, match="saturation kinds"):
        steady_response(p._replace(saturation=p.saturation[:2]))
    with pytest.raises(ValueError, match="slope"):
        steady_response(p._replace(saturation_params={"half_saturation": p.coef}))
    with pytest.raises(ValueError, match="both"):
        steady_response(p._replace(pairs=None))
    with pytest.raises(ValueError, match=r"\(draw, geo, channel\)"):
        steady_response(p._replace(coef=p.coef[:, 0]))
    with pytest.raises(ValueError, match="synergy has shape"):
        steady_response(p._replace(synergy=p.synergy[:, 0]))
    with pytest.raises(ValueError, match="adstock_weights"):
        horizon_response(p._replace(adstock_weights=None), n_periods=3)
    with pytest.raises(ValueError, match="adstock_weights must have shape"):
        horizon_response(p._replace(adstock_weights=p.adstock_weights[:, 0]), n_periods=3)
