"""Decisions: budget optimisation over posterior draws and what-if simulation.

Works on any differentiable response function of spend, typically the
posterior response surface of `mmm_jax.transforms.response` (built from a fit by
`mmm_jax.diagnostics.analysis.Analysis`); never imports the model, inference or
analysis layers.

The utilities the optimiser maximises are named by string (``"mean"``,
``"profit"``, ``"var:0.05"``, ``"cvar:0.05"``) or built by the factories of
`mmm_jax.optimize.utility` (``cvar(0.05, smooth=0.01)``), where any
``u(revenue, spend)`` of one's own can also be passed.
"""

from mmm_jax.optimize.budget import (
    BudgetResult,
    optimize_budget,
    simulate_allocation,
    target_roas_budget,
)

__all__ = ["BudgetResult", "optimize_budget", "simulate_allocation", "target_roas_budget"]
