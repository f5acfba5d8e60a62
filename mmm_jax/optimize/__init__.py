"""Decisions: budget optimisation over posterior draws and what-if simulation.

Works on posterior arrays and on any differentiable response function; never
imports the model or inference layers.
"""

from mmm_jax.optimize.budget import (
    BudgetResult,
    optimize_budget,
    simulate_allocation,
    target_roas_budget,
)
from mmm_jax.optimize.projection import check_feasible, project_bounded_simplex
from mmm_jax.optimize.response import (
    ResponseFunction,
    ResponseParams,
    horizon_response,
    steady_response,
)
from mmm_jax.optimize.utility import (
    cvar,
    mean_profit,
    mean_revenue,
    quantile,
    value_at_risk,
)

__all__ = [
    "BudgetResult",
    "ResponseFunction",
    "ResponseParams",
    "check_feasible",
    "cvar",
    "horizon_response",
    "mean_profit",
    "mean_revenue",
    "optimize_budget",
    "project_bounded_simplex",
    "quantile",
    "simulate_allocation",
    "steady_response",
    "target_roas_budget",
    "value_at_risk",
]
