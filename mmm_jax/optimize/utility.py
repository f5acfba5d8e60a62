r"""Utilities over posterior draws: what the budget optimiser maximises.

Each factory checks its arguments when called and returns a pure function
``u(revenue, spend) -> scalar`` with ``revenue`` the media revenue per posterior
draw, shape ``(draw,)``, and ``spend`` the decision in currency (any shape; its
total is the money spent). Factories are cached, so ``cvar(0.05)`` called twice
returns the same function and the optimiser's compiled loop is reused.

The optimiser also takes a utility by name (`parse_utility`): ``mean``,
``profit``, ``var:Q`` or ``cvar:Q``, as the command line does.

Tails are LOWER tails of revenue (the bad outcomes) with the tail probability
:math:`\alpha` as argument: ``quantile(0.05)``, ``value_at_risk(0.05)`` and
``cvar(0.05)`` all look at the worst 5% of draws. (pymc-marketing's
``value_at_risk(confidence_level=0.95)`` is ``value_at_risk(0.05)`` here.)
"""

import functools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

from mmm_jax._typing import Array

Utility = Callable[[Array, Array], Array]


def _check_probability(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


@functools.cache
def mean_revenue() -> Utility:
    r"""Expected media revenue :math:`\mathbb{E}[R]` over the draws."""

    def utility(revenue, spend):
        del spend
        return jnp.mean(revenue)

    return utility


@functools.cache
def mean_profit() -> Utility:
    r"""Expected media profit :math:`\mathbb{E}[R] - \sum x` (revenue minus total spend)."""

    def utility(revenue, spend):
        return jnp.mean(revenue) - jnp.sum(spend)

    return utility


@functools.cache
def quantile(q: float) -> Utility:
    """The ``q`` quantile of revenue over the draws (linear interpolation, as numpy).

    Differentiable almost everywhere (through the sort); the gradient flows to the
    one or two draws that define the quantile, so it is noisier to optimise than
    `cvar`.

    Args:
      q: Probability in (0, 1).

    Raises:
      ValueError: ``q`` outside (0, 1).
    """
    q = _check_probability("q", q)

    def utility(revenue, spend):
        del spend
        return jnp.quantile(revenue, q)

    return utility


def value_at_risk(alpha: float) -> Utility:
    r"""Value at risk: the lower :math:`\alpha` quantile of revenue, ``quantile(alpha)``.

    Args:
      alpha: Tail probability in (0, 1), e.g. 0.05 for the revenue exceeded with
        95% posterior probability.
    """
    return quantile(_check_probability("alpha", alpha))


def _solve_tail_level(revenue: Array, alpha: float, temperature: Array) -> Array:
    """The ``t`` with ``mean(sigmoid((t - r) / T)) = alpha``, by bisection (monotone in t)."""
    span = 60.0 * temperature

    def halve(_, bracket):
        lo, hi = bracket
        mid = 0.5 * (lo + hi)
        below = jnp.mean(jax.nn.sigmoid((mid - revenue) / temperature)) < alpha
        return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

    lo, hi = jax.lax.fori_loop(0, 64, halve, (jnp.min(revenue) - span, jnp.max(revenue) + span))
    return 0.5 * (lo + hi)


@functools.cache
def cvar(alpha: float, *, smooth: float = 0.02) -> Utility:
    r"""Conditional value at risk: mean revenue over the worst :math:`\alpha` of draws.

    Rockafellar-Uryasev form, for the lower tail of revenue :math:`R`:

    .. math::
        \mathrm{CVaR}_\alpha(R) = \max_t\; t - \frac{1}{\alpha}\,\mathbb{E}\big[(t - R)_+\big],

    whose maximiser :math:`t^*` is the value at risk. Smoothed by replacing the
    hinge with :math:`T\,\mathrm{softplus}(z / T)`, with temperature
    :math:`T = \text{smooth} \cdot \mathrm{sd}(R)`. Instead of adding :math:`t`
    to the optimiser's variables, the inner maximum is solved inside the utility:
    the smooth objective is concave in :math:`t` with optimality condition
    :math:`\mathbb{E}[\sigma((t - R)/T)] = \alpha`, a monotone equation solved by
    a fixed 64-step bisection. By the envelope theorem the gradient with respect
    to the draws is the partial derivative at :math:`t^*`, so :math:`t^*` is held
    constant (``stop_gradient``) and the result is exact and smooth: each draw's
    weight is :math:`\sigma((t^* - R_d)/T) / (\alpha n)`, a soft tail indicator.

    Smoothing only lowers the value (softplus >= hinge); the bias is about
    :math:`T^2 f(t^*) \pi^2 / (6\alpha)` for a tail density :math:`f`, i.e. a
    tiny fraction of sd(R) at the default. ``smooth=0`` gives the exact
    empirical form (``t`` = the empirical quantile; gradient defined almost
    everywhere).

    Args:
      alpha: Tail probability in (0, 1), e.g. 0.05 for the worst 5% of draws.
      smooth: Temperature relative to the draws' standard deviation, >= 0.

    Raises:
      ValueError: ``alpha`` outside (0, 1) or negative ``smooth``.
    """
    alpha = _check_probability("alpha", alpha)
    smooth = float(smooth)
    if not smooth >= 0.0:
        raise ValueError(f"smooth must be >= 0, got {smooth}")

    def utility(revenue, spend):
        del spend
        revenue = jnp.asarray(revenue)
        if smooth == 0.0:
            t = jax.lax.stop_gradient(_lower_quantile(revenue, alpha))
            return t - jnp.mean(jnp.maximum(t - revenue, 0.0)) / alpha
        scale = jax.lax.stop_gradient(jnp.std(revenue))
        tiny = jnp.finfo(revenue.dtype).tiny ** 0.5 * (1.0 + jnp.abs(jnp.mean(revenue)))
        temperature = jax.lax.stop_gradient(smooth * scale + tiny)
        t = jax.lax.stop_gradient(_solve_tail_level(revenue, alpha, temperature))
        return t - temperature * jnp.mean(jax.nn.softplus((t - revenue) / temperature)) / alpha

    return utility


def _lower_quantile(revenue: Array, alpha: float) -> Array:
    """The empirical VaR: the ``ceil(alpha n)``-th smallest draw (maximiser of the exact R-U)."""
    n = revenue.shape[0]
    k = max(math.ceil(alpha * n - 1e-9), 1)  # ceil (robust to 0.1 * 30 = 3.0000000000000004)
    return jnp.sort(revenue)[k - 1]


def parse_utility(name: str) -> Utility:
    """A utility of the revenue draws from its name: ``mean``, ``profit``, ``var:Q`` or ``cvar:Q``.

    Raises:
      ValueError: Any other name, or a level Q the utility refuses.
    """
    simple = {"mean": mean_revenue, "profit": mean_profit}
    if name in simple:
        return simple[name]()
    kind, _, level = name.partition(":")
    try:
        return {"var": value_at_risk, "cvar": cvar}[kind](float(level))
    except (KeyError, ValueError):
        raise ValueError(f"utility must be mean, profit, var:Q or cvar:Q, got {name!r}") from None
