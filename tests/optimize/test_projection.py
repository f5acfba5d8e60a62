import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

import jax
import jax.numpy as jnp

from mmm_jax.optimize.projection import check_feasible, project_bounded_simplex

project = jax.jit(project_bounded_simplex)


def _problem(seed, n=6):
    rng = np.random.default_rng(seed)
    lower = rng.uniform(0.0, 1.0, n)
    upper = lower + rng.uniform(0.1, 2.0, n)
    total = rng.uniform(lower.sum(), upper.sum())
    x = rng.normal(0.0, 2.0, n)
    return x, total, lower, upper


def _slsqp(x, total, lower, upper):
    res = minimize(
        lambda y: 0.5 * np.sum((y - x) ** 2),
        np.clip(x, lower, upper),
        jac=lambda y: y - x,
        method="SLSQP",
        bounds=list(zip(lower, upper)),
        constraints=[
            {"type": "eq", "fun": lambda y: y.sum() - total, "jac": lambda y: np.ones_like(y)}
        ],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    return res.x


@pytest.mark.parametrize("seed", range(8))
def test_matches_quadratic_programming_reference(seed):
    x, total, lower, upper = _problem(seed)
    got = np.asarray(project(x, total, lower, upper), np.float64)
    want = _slsqp(x, total, lower, upper)
    np.testing.assert_allclose(got, want, atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_feasible_idempotent_and_kkt(seed):
    x, total, lower, upper = _problem(seed)
    y = project(x, total, lower, upper)
    # bounds hold exactly in the compute dtype (float32, or float64 under JAX_ENABLE_X64)
    lo32, hi32 = lower.astype(y.dtype), upper.astype(y.dtype)
    y = np.asarray(y, np.float64)
    # feasible: bounds exactly (clip), the sum to 1e-6 relative
    assert np.all(y >= lo32) and np.all(y <= hi32)
    assert abs(y.sum() - total) <= 1e-6 * total
    # idempotent
    np.testing.assert_allclose(np.asarray(project(y, total, lower, upper)), y, atol=1e-6)
    # KKT of min ||y - x||^2: y = clip(x - tau), one tau for the free coordinates,
    # x - y <= tau at lower bounds and >= tau at upper bounds
    r = x - y
    free = (y > lo32 + 1e-6) & (y < hi32 - 1e-6)
    if free.any():
        tau = r[free].mean()
        np.testing.assert_allclose(r[free], tau, atol=1e-5)
        assert np.all(r[y <= lo32 + 1e-6] <= tau + 1e-5)
        assert np.all(r[y >= hi32 - 1e-6] >= tau - 1e-5)


def test_vmap_and_any_shape():
    xs = jnp.asarray(np.random.default_rng(0).normal(size=(5, 2, 3)))
    lower, upper = jnp.zeros((2, 3)), jnp.full((2, 3), 2.0)
    ys = jax.vmap(lambda v: project_bounded_simplex(v, 3.0, lower, upper))(xs)
    assert ys.shape == (5, 2, 3)
    np.testing.assert_allclose(ys.sum(axis=(1, 2)), 3.0, rtol=1e-6)
    flat = project_bounded_simplex(xs[0].reshape(-1), 3.0, lower.reshape(-1), upper.reshape(-1))
    np.testing.assert_allclose(ys[0].reshape(-1), flat, atol=1e-7)


def test_plain_simplex_matches_optax():
    x = jnp.asarray([0.3, -1.0, 2.0, 0.5])
    got = project_bounded_simplex(x, 1.0, 0.0, 1.0)
    np.testing.assert_allclose(got, jax.nn.relu(x - 1.25).at[2].set(1.0), atol=1e-6)
    import optax

    np.testing.assert_allclose(got, optax.projections.projection_simplex(x, 1.0), atol=1e-6)


def test_all_at_bounds_when_budget_equals_bound_sum():
    lower, upper = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 5.0])
    np.testing.assert_allclose(project([9.0, -9.0, 0.0], 11.0, lower, upper), upper, rtol=1e-7)
    np.testing.assert_allclose(project([9.0, -9.0, 0.0], 6.0, lower, upper), lower, rtol=1e-7)


@pytest.mark.parametrize(
    "total, lower, upper, match",
    [
        (1.0, [0.6, 0.6], [1.0, 1.0], "lower bounds sum"),
        (3.0, [0.0, 0.0], [1.0, 1.0], "upper bounds sum"),
        (1.0, [0.5, 0.0], [0.4, 1.0], "lower bound exceeds"),
        (float("nan"), [0.0, 0.0], [1.0, 1.0], "finite"),
    ],
)
def test_infeasible_raises(total, lower, upper, match):
    with pytest.raises(ValueError, match=match):
        check_feasible(total, np.asarray(lower), np.asarray(upper))
