import numpy as np
import pytest

import jax
import jax.numpy as jnp

from mmm_jax.optimize.utility import (
    cvar,
    mean_profit,
    mean_revenue,
    parse_utility,
    quantile,
    value_at_risk,
)

DRAWS = np.random.default_rng(0).gamma(4.0, 250.0, size=1000)
SPEND = jnp.asarray([100.0, 250.0, 50.0])


def _tail_mean(r, alpha):
    return np.sort(r)[: int(round(alpha * r.size))].mean()


def test_mean_and_profit():
    r = jnp.asarray(DRAWS)
    assert float(mean_revenue()(r, SPEND)) == pytest.approx(DRAWS.mean(), rel=1e-6)
    assert float(mean_profit()(r, SPEND)) == pytest.approx(DRAWS.mean() - 400.0, rel=1e-6)
    # profit = revenue - total spend, so its spend gradient is -1 everywhere
    np.testing.assert_allclose(jax.grad(lambda s: mean_profit()(r, s))(SPEND), -1.0)


@pytest.mark.parametrize("q", [0.05, 0.1, 0.5, 0.9])
def test_quantile_and_var_match_numpy(q):
    r = jnp.asarray(DRAWS)
    assert float(quantile(q)(r, SPEND)) == pytest.approx(np.quantile(DRAWS, q), rel=1e-5)
    assert float(value_at_risk(q)(r, SPEND)) == pytest.approx(np.quantile(DRAWS, q), rel=1e-5)


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.25])
def test_cvar_exact_and_smooth_match_tail_mean(alpha):
    r = jnp.asarray(DRAWS)
    want = _tail_mean(DRAWS, alpha)
    assert float(cvar(alpha, smooth=0.0)(r, SPEND)) == pytest.approx(want, rel=1e-5)
    # smoothing only lowers the value, by a small fraction of the spread
    for smooth, tol in [(1e-3, 1e-3), (0.02, 0.02)]:
        got = float(cvar(alpha, smooth=smooth)(r, SPEND))
        assert got <= want + 1e-3 * DRAWS.std()
        assert want - got <= tol * DRAWS.std()


def test_cvar_gradient_is_soft_tail_average():
    r = jnp.asarray(DRAWS)
    g = np.asarray(jax.grad(lambda v: cvar(0.1, smooth=1e-3)(v, SPEND))(r))
    tail = DRAWS <= np.quantile(DRAWS, 0.1)
    assert g.sum() == pytest.approx(1.0, rel=1e-3)  # weights of a mean
    assert np.all(g >= 0) and g[tail].sum() > 0.97
    np.testing.assert_allclose(g[DRAWS < np.quantile(DRAWS, 0.08)], 1.0 / 100, rtol=1e-2)


def test_factories_validate_and_cache():
    for bad in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="in \\(0, 1\\)"):
            cvar(bad)
        with pytest.raises(ValueError):
            quantile(bad)
    with pytest.raises(ValueError, match="smooth"):
        cvar(0.1, smooth=-1.0)
    assert cvar(0.05) is cvar(0.05) and mean_revenue() is mean_revenue()


def test_utilities_by_name_are_the_factories():
    """The names the CLI and ``optimize_budget(utility=...)`` take give the cached factories."""
    assert parse_utility("mean") is mean_revenue()
    assert parse_utility("profit") is mean_profit()
    assert parse_utility("cvar:0.1") is cvar(0.1)
    assert parse_utility("var:0.05") is value_at_risk(0.05)
    for bad in ("median", "cvar", "cvar:x", "var:1.5", "CVaR:0.1"):
        with pytest.raises(ValueError, match="utility must be mean, profit, var:Q or cvar:Q"):
            parse_utility(bad)
