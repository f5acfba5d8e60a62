"""Decisions: budget optimisation over posterior draws and what-if simulation.

Works on any differentiable response function of spend, typically the
posterior response surface of `mmm_jax.transforms.response` (built from a fit by
`mmm_jax.diagnostics.analysis.Analysis`); never imports the model, inference or
analysis layers.
"""

from mmm_jax.optimize.budget import (
    BudgetResult,
    optimize_budget,
    simulate_allocation,
    target_roas_budget,
)
from mmm_jax.optimize.utility import cvar, mean_profit, mean_revenue, value_at_risk

__all__ = [
    "BudgetResult",
    "cvar",
    "mean_profit",
    "mean_revenue",
    "optimize_budget",
    "simulate_allocation",
    "target_roas_budget",
    "value_at_risk",
]
