r"""Budget optimisation over posterior draws: projected Optax ascent, what-if simulation.

Problem: maximise a utility of the media revenue draws,

.. math::
    \max_x\; U\big(R(x), x\big) \quad \text{s.t.}\quad \sum_i x_i = B,\; l_i \le x_i \le u_i,

over a decision ``x`` of any shape: ``(channel,)`` for a steady state,
``(period, channel)`` for a flighting plan over a horizon (the budget is then the
total over the horizon), ``(geo, channel)`` for geo allocation; the constraint is
on the sum of all entries, so the projection acts on the flattened vector.

How it is solved:

* **Normalised units.** The optimiser works on :math:`z = x / (B/n)` (:math:`n` entries,
  so :math:`z = 1` is the uniform allocation) and on the utility divided by the revenue
  per entry at the first start. Gradients are then O(1) (a marginal ROAS over an
  average ROAS) whatever the currency: no magic multiplier.
* **Tangent gradient + exact projection.** Revenue grows in every channel, so the raw
  gradient is mostly normal to the budget plane; an adaptive optimiser (Adam
  normalises each coordinate) would turn it into an equal step everywhere that the
  projection then cancels, and stall. The gradient is therefore first made tangent:
  its mean over the entries strictly inside their bounds is removed (entries at a
  bound keep theirs; the projection clips them if they push outward). A fixed point
  then satisfies KKT exactly: equal marginal utility on free entries, lower on
  entries at a lower bound, higher at an upper bound. Each step ends with the exact
  projection of `project_bounded_simplex`, so every iterate is feasible.
* **Optax** Adam with a cosine-decayed step (default), inside a jit-compiled
  ``lax.scan``, vmapped over starts (the reference, the uniform allocation and random
  sparse mixes); the best final utility wins. The compiled loop is cached on the
  identity of the response function, the utility and the optimiser: repeated calls
  with the same objects and shapes do not recompile.
* **Local optima.** S-shaped curves (Hill slopes above one) make the problem
  non-concave; the KKT check certifies a local optimum only. More starts
  (``num_starts``) search wider; the per-draw solve also starts from the pooled optimum.
* **Per draw** (``per_draw=True``): every posterior draw's own optimum, solved as one
  batched problem whose rows are independent (Adam is per coordinate, the projection
  and the tangent step are per row), i.e. the optimisation vmapped over draws. Response
  functions from `mmm_jax.transforms.response` evaluate row ``d`` under draw ``d`` only
  (``aligned``); for any other callable the fallback evaluates all draws per row
  (cost grows as draws squared).
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

import jax
import jax.numpy as jnp
import optax

from mmm_jax._stats import estimate
from mmm_jax._typing import Array, ArrayLike, PRNGKey
from mmm_jax.optimize.projection import check_feasible, project_bounded_simplex
from mmm_jax.optimize.utility import Utility, parse_utility

#: Entries closer than this (relative to the average entry B/n) to a bound are at it.
_AT_BOUND_RTOL = 1e-6


@dataclass(frozen=True)
class BudgetResult:
    """The optimiser's answer. Money is in currency, per period for a steady state.

    Attributes:
      allocation: The optimal decision, shape of the bounds, e.g. ``(channel,)``.
      utility: The utility at ``allocation``.
      history: ``(num_steps,)`` utility of the winning start at each step
        (for a diagnostic plot).
      expected_revenue: ``(draw,)`` media revenue at ``allocation`` per draw.
      per_draw_allocation: ``(draw, *shape)`` each draw's own optimum, or None.
      prob_more: Shape of ``allocation``: the share of draws whose own optimum
        spends more than ``reference`` on that entry; None unless ``per_draw``
        and ``reference`` are given.
      at_lower: Boolean mask of entries at their lower bound.
      at_upper: Boolean mask of entries at their upper bound.
      kkt: ``marginal_utility`` and ``marginal_revenue`` (d/dx per currency unit,
        shape of ``allocation``; the latter is the marginal ROAS of the mean
        revenue), ``multiplier`` (the common marginal utility of free entries),
        ``spread`` (max - min marginal utility among free entries) and
        ``max_violation`` (largest amount by which an entry at a lower bound
        beats the multiplier, or one at an upper bound falls short), both
        relative to the mean absolute marginal revenue, ``fixed`` (entries with
        lower == upper, left out of the check and of the bound masks) and
        ``tolerance``.
      converged: Spread and violation both within ``kkt["tolerance"]``.
      settings: What was run, and how long it took.
    """

    allocation: np.ndarray
    utility: float
    history: np.ndarray
    expected_revenue: np.ndarray
    per_draw_allocation: np.ndarray | None
    prob_more: np.ndarray | None
    at_lower: np.ndarray
    at_upper: np.ndarray
    kkt: dict
    converged: bool
    settings: dict = field(default_factory=dict)


# ---------------------------------------------------------------- compiled core
def _default_optimizer(learning_rate: Array, num_steps: int) -> optax.GradientTransformation:
    return optax.adam(optax.cosine_decay_schedule(learning_rate, num_steps))


def _tangent(grad: Array, z: Array, lower: Array, upper: Array) -> Array:
    """Removes the mean gradient of the free entries (last axis) from every entry."""
    eps = 1e-6 * (1.0 + jnp.abs(z))
    lower, upper = jnp.broadcast_to(lower, z.shape), jnp.broadcast_to(upper, z.shape)
    free = (z > lower + eps) & (z < upper - eps)
    n_free = jnp.sum(free, axis=-1, keepdims=True)
    mean_free = jnp.sum(jnp.where(free, grad, 0.0), axis=-1, keepdims=True) / jnp.maximum(n_free, 1)
    level = jnp.where(n_free > 0, mean_free, jnp.mean(grad, axis=-1, keepdims=True))
    return grad - level


def _aligned(response_fn: Callable) -> Callable:
    aligned = getattr(response_fn, "aligned", None)
    if aligned is not None:
        return aligned

    def fallback(spend_by_draw):  # row d under draw d, by evaluating every draw
        rows = jnp.arange(spend_by_draw.shape[0])
        return jax.vmap(lambda x, d: response_fn(x)[d])(spend_by_draw, rows)

    return fallback


def _objective(response_fn, utility, shape, per_draw, unit):
    """Returns ``J(Z (..., n)) -> (...,)`` in currency (before normalisation)."""
    if not per_draw:

        def one(z):  # (n,) -> ()
            x = unit * z.reshape(shape)
            return utility(response_fn(x), x)

        return jax.vmap(one)

    aligned = _aligned(response_fn)

    def batch(zd):  # (draw, n) -> (draw,)
        x = unit * zd.reshape((zd.shape[0],) + shape)
        revenue = aligned(x)
        return jax.vmap(lambda r, xi: utility(r[None], xi))(revenue, x)

    return jax.vmap(batch)


@partial(
    jax.jit,
    static_argnames=(
        "response_fn",
        "utility",
        "optimizer",
        "num_steps",
        "n_random",
        "shape",
        "per_draw",
        "n_draws",
    ),
)
def _solve(
    fixed_starts,
    key,
    total,
    lower,
    upper,
    unit,
    learning_rate,
    *,
    response_fn,
    utility,
    optimizer,
    num_steps,
    n_random,
    shape,
    per_draw,
    n_draws,
):
    """Projected ascent from every start; returns final Z, final values and history."""
    n = fixed_starts.shape[-1]
    # Sparse random mixes, normalised squared exponentials (more concentrated than a flat
    # Dirichlet, so starts also explore the corners where S-shaped curves' optima lie;
    # cheaper to compile than gamma draws).
    e = jax.random.exponential(key, (n_random, n), total.dtype) ** 2
    mix = e / jnp.sum(e, axis=-1, keepdims=True)
    rand = lower[None, :] + mix * (total - jnp.sum(lower))
    starts = jnp.concatenate([fixed_starts, rand.astype(fixed_starts.dtype)], axis=0)
    if per_draw:  # (start, draw, n): every draw starts from the same points
        starts = jnp.broadcast_to(starts[:, None, :], (starts.shape[0], n_draws, n))
    project = partial(project_bounded_simplex, total=total, lower=lower, upper=upper)
    flat_project = lambda z: jax.vmap(project)(z.reshape(-1, n)).reshape(z.shape)  # noqa: E731
    starts = flat_project(starts)

    raw = _objective(response_fn, utility, shape, per_draw, unit)
    # Normalise by the revenue per entry at the first start: O(1) gradients in z.
    first = starts[:1]
    revenue0 = (
        response_fn(unit * first[0].reshape(shape))
        if not per_draw
        else _aligned(response_fn)(unit * first[0].reshape((n_draws,) + shape))
    )
    scale = jnp.abs(revenue0)[None, :] / n if per_draw else jnp.mean(jnp.abs(revenue0)) / n
    scale = jax.lax.stop_gradient(jnp.where(scale > 0, scale, 1.0))

    def summed(z):  # rows are independent, so the gradient of the sum is per row
        values = raw(z) / scale
        return jnp.sum(values), values

    opt = optimizer if optimizer is not None else _default_optimizer(learning_rate, num_steps)

    def step(carry, _):
        z, opt_state = carry
        (_, values), grad = jax.value_and_grad(summed, has_aux=True)(z)
        updates, opt_state = opt.update(-_tangent(grad, z, lower, upper), opt_state, z)
        z = flat_project(optax.apply_updates(z, updates))
        record = values * scale
        return (z, opt_state), (jnp.mean(record, axis=-1) if per_draw else record)

    (z, _), history = jax.lax.scan(step, (starts, opt.init(starts)), None, length=num_steps)
    return z, raw(z), history


@partial(jax.jit, static_argnames=("response_fn", "utility"))
def _evaluate(x, *, response_fn, utility):
    """Revenue draws, utility and its gradient, and the gradient of the mean revenue."""
    revenue, revenue_vjp = jax.vjp(response_fn, x)
    (mean_grad,) = revenue_vjp(jnp.full_like(revenue, 1.0 / revenue.shape[0]))
    value, utility_grad = jax.value_and_grad(lambda xx: utility(response_fn(xx), xx))(x)
    return revenue, value, utility_grad, mean_grad


# ---------------------------------------------------------------- helpers (host side)
def _float_dtype():
    return jnp.result_type(float)


def _polish(x: np.ndarray, total: float, lower: np.ndarray, upper: np.ndarray, tol: float):
    """Snaps near-bound entries to their bounds and puts the sum exactly on ``total`` (float64).

    Works row-wise on flattened decisions ``(..., n)`` (each row one whole
    allocation); the optimiser's float32 answer becomes exactly feasible in
    currency units.
    """
    x = np.asarray(x, np.float64)
    at_lower = x <= lower + tol
    at_upper = (x >= upper - tol) & ~at_lower
    x = np.where(at_lower, lower, np.where(at_upper, upper, x))
    free = ~(at_lower | at_upper)
    n_free = free.sum(axis=-1, keepdims=True)
    shift = (total - x.sum(axis=-1, keepdims=True)) / np.maximum(n_free, 1)
    x = np.clip(np.where(free, x + shift, x), lower, upper)
    # A clip above can only bite when the shift pushed a free entry past its
    # bound; then spread the remainder once more over the still-free entries.
    free = free & (x > lower) & (x < upper)
    rest = total - x.sum(axis=-1, keepdims=True)
    x = np.where(free, x + rest / np.maximum(free.sum(axis=-1, keepdims=True), 1), x)
    return x, at_lower & (lower < upper), at_upper & (lower < upper)


def _kkt(g: np.ndarray, marginal_revenue: np.ndarray, at_lower, at_upper, fixed, tol) -> dict:
    free = ~(at_lower | at_upper | fixed)
    denom = max(float(np.mean(np.abs(marginal_revenue))), float(np.mean(np.abs(g))), 1e-300)
    if free.any():
        multiplier = float(np.mean(g[free]))
        spread = float(np.ptp(g[free])) / denom
    else:  # every entry at a bound: any level between the two groups works
        lo = float(np.max(g[at_lower])) if at_lower.any() else -np.inf
        hi = float(np.min(g[at_upper])) if at_upper.any() else np.inf
        multiplier = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else min(hi, lo)
        multiplier = multiplier if np.isfinite(multiplier) else max(lo, hi)
        spread = 0.0
    violation_lower = np.max(g[at_lower] - multiplier, initial=0.0)
    violation_upper = np.max(multiplier - g[at_upper], initial=0.0)
    return {
        "marginal_utility": g,
        "marginal_revenue": marginal_revenue,
        "multiplier": multiplier,
        "spread": spread,
        "max_violation": float(max(violation_lower, violation_upper, 0.0)) / denom,
        "fixed": fixed,
        "tolerance": tol,
    }


def _bounds(budget, lower, upper, reference):
    lower = np.asarray(lower, np.float64)
    upper = np.asarray(upper, np.float64)
    shapes = [lower.shape, upper.shape]
    if reference is not None:
        shapes.append(np.shape(reference))
    shape = tuple(np.broadcast_shapes(*shapes))
    if shape == ():
        raise ValueError(
            "cannot tell the number of channels: give lower, upper or reference as arrays"
        )
    lower, upper = np.broadcast_to(lower, shape), np.broadcast_to(upper, shape)
    budget = float(budget)
    if not budget > 0:
        raise ValueError(f"budget must be positive, got {budget}")
    if np.any(lower < 0):
        raise ValueError("lower bounds must be >= 0 (spend cannot be negative)")
    check_feasible(budget, lower, upper)
    if reference is not None:
        reference = np.broadcast_to(np.asarray(reference, np.float64), shape)
        if not np.all(np.isfinite(reference)) or np.any(reference < 0):
            raise ValueError("reference must be finite and non-negative")
    return budget, lower, upper, reference, shape


# ---------------------------------------------------------------- public API
def optimize_budget(
    response_fn: Callable[[Array], Array],
    *,
    budget: float,
    lower: ArrayLike,
    upper: ArrayLike,
    utility: Utility | str = "mean",
    num_steps: int = 400,
    learning_rate: float = 0.05,
    num_starts: int = 4,
    key: PRNGKey,
    reference: ArrayLike | None = None,
    per_draw: bool = False,
    optimizer: optax.GradientTransformation | None = None,
    tol: float = 1e-3,
) -> BudgetResult:
    """Maximises ``utility`` of the response draws under a budget and bounds.

    Args:
      response_fn: ``spend (shape) -> (draw,)`` media revenue in currency,
        differentiable; e.g. `mmm_jax.transforms.steady_response`, `horizon_response` or any
        hand-written curve. Reuse the same object across calls to reuse the
        compiled loop.
      budget: Total spend :math:`B` over all entries (per period in steady state,
        over the horizon for a ``(period, channel)`` plan).
      lower: Lower bounds, shape of the decision (e.g. ``(channel,)``,
        ``(geo, channel)``, ``(period, channel)``) or broadcastable to it.
      upper: Upper bounds, likewise.
      utility: A name, ``mean`` (default), ``profit``, ``var:Q`` or ``cvar:Q``
        (`mmm_jax.optimize.utility.parse_utility`); a factory result from
        `mmm_jax.optimize.utility`; or any ``u(revenue (draw,), spend) -> scalar``.
      num_steps: Ascent steps (static).
      learning_rate: Initial step of the default Adam in normalised units (1 is
        the average entry), cosine-decayed to 0; ignored when ``optimizer``
        is given.
      num_starts: Number of starts: ``reference`` (rescaled to the budget) if
        given, the uniform allocation, then random sparse mixes (per draw: the
        pooled optimum first).
      key: PRNG key for the random starts.
      reference: Optional current allocation (e.g. historical spend): a start,
        and what `BudgetResult.prob_more` compares against.
      per_draw: Also optimise each posterior draw on its own.
      optimizer: Any Optax transformation to use instead of the default.
      tol: Tolerance of the KKT check, relative to the mean marginal revenue.

    Returns:
      A `BudgetResult`.

    Raises:
      ValueError: Infeasible or invalid budget, bounds or settings.
    """
    if isinstance(utility, str):
        utility = parse_utility(utility)
    budget, lower, upper, reference, shape = _bounds(budget, lower, upper, reference)
    if num_steps < 1 or num_starts < 1:
        raise ValueError(f"num_steps and num_starts must be >= 1, got {num_steps}, {num_starts}")
    n = math.prod(shape)
    unit = budget / n
    dtype = _float_dtype()
    lower_z, upper_z = lower.reshape(-1) / unit, upper.reshape(-1) / unit
    fixed = []
    if reference is not None and reference.sum() > 0:
        fixed.append(reference.reshape(-1) * (n / reference.sum()))
    fixed.append(np.ones(n))
    fixed = np.stack(fixed[:num_starts])
    args = dict(
        fixed_starts=jnp.asarray(fixed, dtype),
        key=key,
        total=jnp.asarray(float(n), dtype),
        lower=jnp.asarray(lower_z, dtype),
        upper=jnp.asarray(upper_z, dtype),
        unit=jnp.asarray(unit, dtype),
        learning_rate=jnp.asarray(learning_rate, dtype),
    )
    static = dict(
        response_fn=response_fn,
        utility=utility,
        optimizer=optimizer,
        num_steps=int(num_steps),
        n_random=num_starts - fixed.shape[0],
        shape=shape,
    )
    t0 = time.perf_counter()
    z, values, history = _solve(**args, **static, per_draw=False, n_draws=0)
    values = np.asarray(values)
    best = int(np.nanargmax(values))
    tol_abs = _AT_BOUND_RTOL * unit
    x, at_lower, at_upper = _polish(
        unit * np.asarray(z[best], np.float64),
        budget,
        lower.reshape(-1),
        upper.reshape(-1),
        tol_abs,
    )
    x, at_lower, at_upper = x.reshape(shape), at_lower.reshape(shape), at_upper.reshape(shape)
    revenue, value, g, mean_grad = _evaluate(
        jnp.asarray(x, dtype), response_fn=response_fn, utility=utility
    )
    g, mean_grad = np.asarray(g, np.float64), np.asarray(mean_grad, np.float64)
    kkt = _kkt(g, mean_grad, at_lower, at_upper, lower == upper, tol)
    seconds = time.perf_counter() - t0

    per_draw_x, prob_more = None, None
    if per_draw:
        n_draws = int(jax.eval_shape(response_fn, jnp.zeros(shape, dtype)).shape[0])
        # The pooled optimum is usually near each draw's: it is one more start.
        pooled = np.asarray(z[best], np.float64)[None, :]
        fixed_d = np.concatenate([pooled, fixed])[:num_starts]
        args_d = dict(args, fixed_starts=jnp.asarray(fixed_d, dtype))
        static_d = dict(static, n_random=num_starts - fixed_d.shape[0])
        zd, values_d, _ = _solve(**args_d, **static_d, per_draw=True, n_draws=n_draws)
        values_d = np.asarray(values_d)  # (start, draw)
        best_d = np.nanargmax(values_d, axis=0)
        zd = np.asarray(zd, np.float64)[best_d, np.arange(n_draws)]  # (draw, n)
        per_draw_x, _, _ = _polish(unit * zd, budget, lower.reshape(-1), upper.reshape(-1), tol_abs)
        per_draw_x = per_draw_x.reshape((n_draws,) + shape)
        if reference is not None:
            prob_more = np.mean(per_draw_x > reference + tol_abs, axis=0)
    settings = {
        "budget": budget,
        "num_steps": int(num_steps),
        "learning_rate": float(learning_rate),
        "num_starts": int(num_starts),
        "optimizer": "adam+cosine" if optimizer is None else "custom",
        "utility": getattr(utility, "__qualname__", repr(utility)),
        "per_draw": bool(per_draw),
        "best_start": best,
        "start_utilities": values,
        "seconds": seconds,
        "seconds_total": time.perf_counter() - t0,
    }
    return BudgetResult(
        allocation=x,
        utility=float(value),
        history=np.asarray(history[:, best]),
        expected_revenue=np.asarray(revenue),
        per_draw_allocation=per_draw_x,
        prob_more=prob_more,
        at_lower=at_lower,
        at_upper=at_upper,
        kkt=kkt,
        converged=bool(kkt["spread"] <= tol and kkt["max_violation"] <= tol),
        settings=settings,
    )


def _budget_marginal_roas(result: BudgetResult) -> float:
    """dE[R]/dB at the optimum: the best marginal revenue among entries that can still grow."""
    mr = result.kkt["marginal_revenue"]
    can_grow = ~(result.at_upper | result.kkt["fixed"])
    return float(np.max(mr[can_grow])) if can_grow.any() else -np.inf


def target_roas_budget(
    response_fn: Callable[[Array], Array],
    *,
    target_marginal_roas: float,
    lower: ArrayLike,
    upper: ArrayLike,
    rtol: float = 1e-4,
    max_bisections: int = 40,
    **kwargs,
) -> BudgetResult:
    r"""The largest total budget whose marginal ROAS at the optimum stays >= a target.

    The marginal ROAS of the budget at the optimum is :math:`dE[R]/dB`: the
    marginal mean revenue of the entries that can still grow (equal across free
    entries at a KKT point). It falls as the budget grows on concave responses,
    so the budget is found by bisection on :math:`[\sum l, \sum u]`, each step an
    `optimize_budget` call (same shapes, so one compilation).

    Args:
      response_fn: As in `optimize_budget`.
      target_marginal_roas: Revenue per extra unit of spend to keep, > 0.
      lower: Lower bounds.
      upper: Upper bounds.
      rtol: Stop when the budget bracket is narrower than this, relative.
      max_bisections: At most this many bisection steps.
      **kwargs: Passed to `optimize_budget` (``key`` is required, ``utility`` etc.).

    Returns:
      The `BudgetResult` at the chosen budget; ``settings`` adds
      ``target_marginal_roas``, ``marginal_roas`` (achieved) and ``target_met``
      (False when even the smallest feasible budget falls below the target, in
      which case that budget is returned).
    """
    target = float(target_marginal_roas)
    if not target > 0:
        raise ValueError(f"target_marginal_roas must be positive, got {target}")
    lower = np.asarray(lower, np.float64)
    upper = np.asarray(upper, np.float64)
    lo_budget = float(np.broadcast_to(lower, np.broadcast_shapes(lower.shape, upper.shape)).sum())
    hi_budget = float(np.broadcast_to(upper, np.broadcast_shapes(lower.shape, upper.shape)).sum())
    if lo_budget <= 0:
        lo_budget = 1e-6 * hi_budget

    def solve(b):
        r = optimize_budget(response_fn, budget=b, lower=lower, upper=upper, **kwargs)
        return r, _budget_marginal_roas(r)

    result_hi, mroas_hi = solve(hi_budget)
    if mroas_hi >= target:
        best, met = result_hi, True
    else:
        result_lo, mroas_lo = solve(lo_budget)
        best, met = result_lo, mroas_lo >= target
        lo, hi = lo_budget, hi_budget
        for _ in range(max_bisections if met else 0):
            if hi - lo <= rtol * hi:
                break
            mid = 0.5 * (lo + hi)
            result, mroas = solve(mid)
            if mroas >= target:
                lo, best = mid, result
            else:
                hi = mid
    settings = dict(
        best.settings,
        target_marginal_roas=target,
        marginal_roas=_budget_marginal_roas(best),
        target_met=bool(met),
    )
    return BudgetResult(**{**best.__dict__, "settings": settings})


def _summary(draws: np.ndarray) -> dict:
    return estimate(np.asarray(draws, np.float64))


def simulate_allocation(
    response_fn: Callable[[Array], Array], allocation: ArrayLike, *, reference=None
) -> dict:
    """What-if: media revenue of an allocation, with its 90% HDI over the draws.

    Args:
      response_fn: ``spend -> (draw,)`` revenue in currency.
      allocation: Spend in currency, the shape ``response_fn`` takes.
      reference: Optional second allocation (e.g. historical); adds ``uplift``,
        the per-draw revenue difference ``allocation - reference``, summarised.

    Returns:
      ``{"mean", "median", "hdi_low", "hdi_high"}`` of the revenue (per period for
      a steady-state response), plus ``"uplift"`` (same keys) with ``reference``.

    Raises:
      ValueError: NaN or negative spend.
    """
    x = np.asarray(allocation, np.float64)
    if not np.all(np.isfinite(x)) or np.any(x < 0):
        raise ValueError("allocation must be finite and non-negative")
    revenue = np.asarray(response_fn(jnp.asarray(x, _float_dtype())), np.float64)
    out = _summary(revenue)
    if reference is not None:
        ref = np.asarray(reference, np.float64)
        if ref.shape != x.shape or not np.all(np.isfinite(ref)) or np.any(ref < 0):
            raise ValueError(f"reference must be finite, non-negative, of shape {x.shape}")
        base = np.asarray(response_fn(jnp.asarray(ref, _float_dtype())), np.float64)
        out["uplift"] = _summary(revenue - base)
    return out
