"""Saturation curves: closed forms, bounds, monotonicity, finite gradients, dispatch."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import jax
import jax.numpy as jnp

from mmm_jax.transforms.saturation import (
    SATURATION_PARAMS,
    Saturation,
    hill,
    logistic,
    michaelis_menten,
    saturate,
)

# kind -> (function(x, *params) jitted once, nominal params)
CURVES = {
    Saturation.HILL: (jax.jit(hill), (2.0, 1.5)),
    Saturation.MICHAELIS_MENTEN: (jax.jit(michaelis_menten), (2.0,)),
    Saturation.LOGISTIC: (jax.jit(logistic), (0.7,)),
}
KINDS = list(Saturation)


def _f32(lo, hi):
    return st.floats(float(np.float32(lo)), float(np.float32(hi)), width=32)


def _param_strategy(kind):
    half = _f32(0.01, 100.0)
    return {
        Saturation.HILL: st.tuples(half, _f32(0.1, 5.0)),
        Saturation.MICHAELIS_MENTEN: st.tuples(half),
        Saturation.LOGISTIC: st.tuples(_f32(0.01, 10.0)),
    }[kind]


def _hill_np(x, k, s):
    x = np.asarray(x, np.float64)
    return x**s / (x**s + k**s)


# ---------------------------------------------------------------------------
# Closed forms
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0.01, 0.5, 1.0, 37.0, 1e4])
@pytest.mark.parametrize("s", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_hill_at_half_saturation_is_half(k, s):
    value = CURVES[Saturation.HILL][0](k, k, s)
    if jax.default_backend() == "cpu":
        assert float(value) == 0.5
    else:  # GPU float32 division is not correctly rounded: an H200 gave 37 / 37 < 1, h = 0.49999988
        assert abs(float(value) - 0.5) <= 2 * float(jnp.finfo(value.dtype).eps)


@pytest.mark.parametrize("k,s", [(1.0, 1.0), (2.0, 0.5), (0.3, 3.0), (10.0, 4.5)])
def test_hill_closed_form(k, s):
    x = np.array([0.0, 1e-6, 0.01, 0.1, 0.5, 1.0, 2.0, 7.5, 30.0, 1e3], np.float32)
    np.testing.assert_allclose(
        CURVES[Saturation.HILL][0](x, k, s), _hill_np(x, k, s), rtol=1e-5, atol=1e-7
    )


def test_hill_closed_form_values():
    # 2^2 / (2^2 + 4^2) = 0.2 ; 9 / (9 + 1) = 0.9 ; sqrt(4)/(sqrt(4)+sqrt(1)) = 2/3
    h = CURVES[Saturation.HILL][0]
    assert float(h(2.0, 4.0, 2.0)) == pytest.approx(0.2, rel=1e-6)
    assert float(h(3.0, 1.0, 2.0)) == pytest.approx(0.9, rel=1e-6)
    assert float(h(4.0, 1.0, 0.5)) == pytest.approx(2.0 / 3.0, rel=1e-6)


@pytest.mark.parametrize("k", [0.05, 1.0, 20.0])
def test_michaelis_menten_is_hill_with_unit_slope(k):
    x = np.geomspace(1e-4, 1e4, 50).astype(np.float32)
    mm = CURVES[Saturation.MICHAELIS_MENTEN][0](x, k)
    np.testing.assert_allclose(mm, CURVES[Saturation.HILL][0](x, k, 1.0), rtol=2e-6)
    np.testing.assert_allclose(mm, x / (x + np.float64(k)), rtol=1e-6)
    assert float(michaelis_menten(0.0, k)) == 0.0


@pytest.mark.parametrize("rate", [0.01, 0.7, 3.0])
def test_logistic_closed_form(rate):
    x = np.linspace(0.0, 20.0, 41).astype(np.float32)
    out = CURVES[Saturation.LOGISTIC][0](x, rate)
    np.testing.assert_allclose(out, np.tanh(rate * x.astype(np.float64) / 2), rtol=1e-6, atol=1e-7)
    e = np.exp(-rate * x.astype(np.float64))
    np.testing.assert_allclose(out, (1 - e) / (1 + e), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------
# Properties: bounded in [0, 1), monotone, zero at zero
# ---------------------------------------------------------------------------
N = 16
PROP = settings(max_examples=25, deadline=None)
_x = arrays(np.float32, N, elements=_f32(0.0, 1e4))


@pytest.mark.parametrize("kind", KINDS)
@PROP
@given(data=st.data(), x=_x)
def test_bounded_and_monotone_float32(kind, data, x):
    fn, _ = CURVES[kind]
    params = data.draw(_param_strategy(kind))
    x = np.sort(x)
    out = np.asarray(fn(x, *params))
    assert np.all(np.isfinite(out))
    # in float32 values within 6e-8 of one round to 1.0: [0, 1] here, strict below
    assert np.all(out >= 0) and np.all(out <= 1)
    assert np.all(np.diff(out) >= 0)
    assert np.all(out[x == 0] == 0)


def test_logistic_does_not_dip_near_one_float64():
    """Hypothesis found tanh(0.5 r x) falling by one ulp as x grew (XLA's tanh on CPU)."""
    rate = 3.68027925491333
    x = np.array([0.99999, 1.0]) * 30.0 / rate
    with jax.enable_x64(True):
        out = np.asarray(CURVES[Saturation.LOGISTIC][0](x, np.float64(rate)))
    assert np.diff(out)[0] >= 0 and np.all(out < 1)
    np.testing.assert_allclose(out, np.tanh(0.5 * rate * x), rtol=0, atol=4e-16)


# x up to where float64 still resolves 1 - h(x) (>= ~1e-10): K * 100 for Hill
# (slopes <= 5) and Michaelis-Menten, 30 / rate for the logistic
_reach = {
    Saturation.HILL: lambda k, s: 100.0 * k,
    Saturation.MICHAELIS_MENTEN: lambda k: 100.0 * k,
    Saturation.LOGISTIC: lambda r: 30.0 / r,
}


@pytest.mark.parametrize("kind", KINDS)
@PROP
# (XLA on CPU flushes subnormals to zero: keep u at 0 or above 1e-9)
@given(
    data=st.data(),
    u=arrays(np.float64, N, elements=st.one_of(st.just(0.0), st.floats(1e-9, 1.0))),
)
def test_strictly_below_one_and_strictly_increasing_float64(kind, data, u):
    fn, _ = CURVES[kind]
    params = tuple(np.float64(p) for p in data.draw(_param_strategy(kind)))
    x = np.sort(u) * _reach[kind](*params)
    with jax.enable_x64(True):
        out = np.asarray(fn(x, *params))
    assert out.dtype == np.float64
    assert np.all(out >= 0) and np.all(out < 1)
    assert np.all(np.diff(out) >= 0)
    distinct = np.diff(x) > 1e-3 * x[1:]  # strictly increasing where x moves
    assert np.all(np.diff(out)[distinct] > 0)


@pytest.mark.parametrize("kind", KINDS)
def test_zero_at_zero(kind):
    fn, params = CURVES[kind]
    assert float(fn(0.0, *params)) == 0.0
    assert np.all(np.asarray(fn(jnp.zeros(5), *params)) == 0.0)


# ---------------------------------------------------------------------------
# Gradients: finite at zero (the NaN trap) and at huge x; exact elsewhere
# ---------------------------------------------------------------------------
SLOPES = [0.1, 0.3, 0.5, 0.9, 1.0, 1.5, 3.0, 5.0]


def _grads(kind):
    fn, params = CURVES[kind]
    return jax.jit(jax.grad(fn, argnums=tuple(range(1 + len(params)))))


@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hill_value_and_gradient_finite_at_zero(slope, dtype):
    with jax.enable_x64(True):
        x, k, s = dtype(0.0), dtype(1.3), dtype(slope)
        value = hill(x, k, s)
        grads = _grads(Saturation.HILL)(x, k, s)
        assert value == 0.0 and value.dtype == dtype
        assert all(bool(jnp.isfinite(g)) for g in grads)
        # documented: reported 0 at exactly x = 0 (the true derivative is inf for s < 1)
        assert all(float(g) == 0.0 for g in grads)
        # vmapped over a vector containing zeros, no NaN leaks into neighbours
        xs = jnp.array([0.0, 0.0, 0.5, 2.0], dtype)
        g_vec = jax.grad(lambda x: jnp.sum(hill(x, k, s)))(xs)
        assert bool(jnp.all(jnp.isfinite(g_vec)))
        g_s = jax.grad(lambda s: jnp.sum(hill(xs, k, s)))(s)
        assert bool(jnp.isfinite(g_s))


@pytest.mark.parametrize("kind", [Saturation.MICHAELIS_MENTEN, Saturation.LOGISTIC])
def test_gradient_at_zero_is_finite_and_exact(kind):
    fn, params = CURVES[kind]
    grads = _grads(kind)(0.0, *params)
    assert all(bool(jnp.isfinite(g)) for g in grads)
    slope_at_zero = {Saturation.MICHAELIS_MENTEN: 1 / params[0], Saturation.LOGISTIC: params[0] / 2}
    assert float(grads[0]) == pytest.approx(slope_at_zero[kind], rel=1e-6)
    assert all(float(g) == 0.0 for g in grads[1:])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("big", [1e10, 1e30, 3e37])
def test_huge_input_no_overflow_float32(kind, big):
    fn, params = CURVES[kind]
    x = jnp.float32(big)
    value = fn(x, *params)
    assert value.dtype == jnp.float32 and float(value) == 1.0
    grads = _grads(kind)(x, *params)
    assert all(bool(jnp.isfinite(g)) for g in grads)
    assert all(abs(float(g)) < 1e-6 for g in grads)


@pytest.mark.parametrize("slope", [0.1, 0.5, 1.0, 2.5, 5.0])
@pytest.mark.parametrize("k", [1e-3, 1e3])
def test_hill_huge_input_slopes_and_scales(slope, k):
    x = jnp.float32(1e30)
    assert bool(jnp.isfinite(hill(x, k, slope)))
    grads = _grads(Saturation.HILL)(x, jnp.float32(k), jnp.float32(slope))
    assert all(bool(jnp.isfinite(g)) for g in grads)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_matches_finite_differences_float64(kind):
    fn, params = CURVES[kind]
    with jax.enable_x64(True):
        grad = _grads(kind)
        for x in (1e-3, 0.4, 2.0, 15.0):
            for scale in (0.5, 1.0, 2.0):
                args = [np.float64(x)] + [np.float64(p * scale) for p in params]
                grads = grad(*args)
                for i in range(len(args)):
                    up, down = list(args), list(args)
                    h = 1e-6 * max(1.0, abs(args[i]))
                    up[i] += h
                    down[i] -= h
                    fd = (float(fn(*up)) - float(fn(*down))) / (2 * h)
                    assert float(grads[i]) == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_hill_gradient_closed_form():
    with jax.enable_x64(True):
        x, k, s = np.linspace(0.01, 5.0, 30), 1.7, 0.6
        g = jax.vmap(jax.grad(hill), in_axes=(0, None, None))(x, k, s)
        # d/dx x^s/(x^s+K^s) = s x^{s-1} K^s / (x^s + K^s)^2
        ref = s * x ** (s - 1) * k**s / (x**s + k**s) ** 2
        np.testing.assert_allclose(g, ref, rtol=1e-10)


# ---------------------------------------------------------------------------
# jit / vmap over channels, dtype, dispatch
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_vmap_over_channels_matches_loop(kind):
    fn, params = CURVES[kind]
    x = np.random.default_rng(0).uniform(0, 5, (20, 3)).astype(np.float32)
    per_channel = [np.array([p, 2 * p, 0.5 * p], np.float32) for p in params]
    out = jax.jit(jax.vmap(fn, in_axes=(-1,) + (0,) * len(params), out_axes=-1))(x, *per_channel)
    for c in range(3):
        np.testing.assert_allclose(out[:, c], fn(x[:, c], *(p[c] for p in per_channel)), rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("kind", KINDS)
def test_output_keeps_input_dtype(kind, dtype):
    fn, params = CURVES[kind]
    with jax.enable_x64(True):
        assert fn(jnp.linspace(0, 3, 7, dtype=dtype), *params).dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_saturate_dispatches(kind):
    fn, params = CURVES[kind]
    x = jnp.linspace(0.0, 10.0, 11)
    named = dict(zip(SATURATION_PARAMS[kind], params))
    np.testing.assert_array_equal(saturate(kind, x, named), fn(x, *params))
    # extra, unused parameters are ignored
    np.testing.assert_array_equal(saturate(kind, x, {**named, "unused": 3.0}), fn(x, *params))


def test_saturate_errors():
    with pytest.raises(TypeError, match="kind must be a Saturation, got 'hill'"):
        saturate("hill", jnp.ones(3), {"half_saturation": 1.0, "slope": 1.0})
    with pytest.raises(
        ValueError, match=r"hill saturation needs parameters .* missing \['slope'\]"
    ):
        saturate(Saturation.HILL, jnp.ones(3), {"half_saturation": 1.0})
    with pytest.raises(ValueError, match=r"missing \['rate'\]"):
        saturate(Saturation.LOGISTIC, jnp.ones(3), {"half_saturation": 1.0})
