r"""Exact Euclidean projection onto the bounded simplex (budget and per-channel bounds).

The feasible set of a budget problem is

.. math::
    \mathcal{C} = \{y : \textstyle\sum_i y_i = B,\; l_i \le y_i \le u_i\}.

Its Euclidean projection has the form :math:`y_i = \operatorname{clip}(x_i - \tau, l_i, u_i)`
for the one shift :math:`\tau` at which the sum is :math:`B` (KKT conditions of
:math:`\min \tfrac12\|y - x\|^2` on :math:`\mathcal{C}`). The sum is continuous and
non-increasing in :math:`\tau`, so :math:`\tau` is found by bisection with a fixed
number of halvings (jit- and vmap-safe, no data-dependent loop), then polished:
with the active set read off the bisection's :math:`\tau`, the free coordinates'
shift is solved for exactly, so the sum is :math:`B` to rounding, not to the
bisection's tolerance.
"""

import numpy as np

import jax
import jax.numpy as jnp

from mmm_jax._typing import Array, ArrayLike


def check_feasible(total: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> None:
    """Raises if the bounded simplex is empty; call eagerly, outside ``jit``.

    Args:
      total: The budget :math:`B`, a scalar.
      lower: Lower bounds, any shape.
      upper: Upper bounds, broadcastable against ``lower``.

    Raises:
      ValueError: NaN or infinite entries, ``lower > upper`` somewhere,
        ``sum(lower) > total`` or ``sum(upper) < total``.
    """
    total = float(np.asarray(total))
    lower, upper = np.broadcast_arrays(np.asarray(lower, float), np.asarray(upper, float))
    if not np.isfinite(total) or not np.all(np.isfinite(lower)) or not np.all(np.isfinite(upper)):
        raise ValueError("budget and bounds must be finite numbers (no NaN or inf)")
    if np.any(lower > upper):
        bad = np.flatnonzero((lower > upper).reshape(-1)).tolist()
        raise ValueError(f"lower bound exceeds upper bound at flat index {bad}")
    lo_sum, hi_sum = lower.sum(), upper.sum()
    slack = 1e-9 * max(abs(total), 1.0)
    if lo_sum > total + slack:
        raise ValueError(
            f"infeasible: the lower bounds sum to {lo_sum:.6g}, more than the budget {total:.6g}"
        )
    if hi_sum < total - slack:
        raise ValueError(
            f"infeasible: the upper bounds sum to {hi_sum:.6g}, less than the budget {total:.6g}"
        )


def _num_halvings(dtype) -> int:
    # Each halving gains one bit; float32 values have 24, float64 53, plus room
    # for a bracket wider than the values themselves.
    return 40 if jnp.finfo(dtype).bits <= 32 else 80


def project_bounded_simplex(
    x: Array, total: ArrayLike, lower: ArrayLike, upper: ArrayLike, *, num_halvings: int = 0
) -> Array:
    r"""Euclidean projection of ``x`` onto :math:`\{\sum y = B,\ l \le y \le u\}`.

    .. math::
        y_i = \operatorname{clip}(x_i - \tau, l_i, u_i), \qquad
        \sum_i y_i = B.

    Bisection on :math:`\tau` over :math:`[\min(x - u), \max(x - l)]` (where the
    sum is :math:`\sum u \ge B` and :math:`\sum l \le B`), then an exact solve of
    :math:`\tau` on the free coordinates of that active set. Bounds hold exactly
    (``clip``); the sum holds to rounding. Pure and jit/vmap-safe; it does not
    check feasibility (traced values cannot raise), so callers check once with
    `check_feasible` before tracing. On an infeasible problem it returns all
    lower (or all upper) bounds.

    Works on any shape: the constraint is on the sum of all entries (flatten
    ``(geo, channel)`` or ``(period, channel)`` decisions, or pass them as is).

    Args:
      x: The point to project, any shape.
      total: The budget :math:`B`, scalar.
      lower: Lower bounds :math:`l`, broadcastable to ``x``.
      upper: Upper bounds :math:`u \ge l`, broadcastable to ``x``.
      num_halvings: Bisection steps (static); 0 picks 40 for float32 and 80
        for float64.

    Returns:
      The projection, shape and dtype of ``x``.
    """
    x = jnp.asarray(x)
    x = x.astype(jnp.result_type(x, float))
    dtype = x.dtype
    total = jnp.asarray(total, dtype)
    lower = jnp.broadcast_to(jnp.asarray(lower, dtype), x.shape).reshape(-1)
    upper = jnp.broadcast_to(jnp.asarray(upper, dtype), x.shape).reshape(-1)
    flat = x.reshape(-1)
    n = num_halvings or _num_halvings(dtype)

    def excess(tau):
        return jnp.sum(jnp.clip(flat - tau, lower, upper)) - total

    def halve(_, bracket):
        lo, hi = bracket  # excess(lo) >= 0 >= excess(hi)
        mid = 0.5 * (lo + hi)
        above = excess(mid) >= 0
        return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

    lo, hi = jax.lax.fori_loop(0, n, halve, (jnp.min(flat - upper), jnp.max(flat - lower)))
    tau = 0.5 * (lo + hi)
    # Polish: on the active set at tau, sum_free (x_i - tau) + sum_bound b_i = B.
    at_lower = flat - tau <= lower
    at_upper = flat - tau >= upper
    free = ~(at_lower | at_upper)
    n_free = jnp.sum(free)
    fixed = jnp.sum(jnp.where(at_lower, lower, 0.0)) + jnp.sum(jnp.where(at_upper, upper, 0.0))
    tau_exact = (jnp.sum(jnp.where(free, flat, 0.0)) + fixed - total) / jnp.maximum(n_free, 1)
    tau = jnp.where(n_free > 0, tau_exact, tau)
    return jnp.clip(flat - tau, lower, upper).reshape(x.shape)
