"""Analysis of a fit: counterfactual contributions, ROAS, fit quality (numbers); plots (drawing)."""

from mmm_jax.diagnostics.metrics import (
    Contributions,
    contributions,
    estimate,
    fit_metrics,
    hdi,
    marginal_roas,
    media_draws,
    response_curves,
    saturation_spend,
    waste_flags,
)
from mmm_jax.diagnostics.summary import convergence, summarize

__all__ = [
    "Contributions",
    "contributions",
    "convergence",
    "estimate",
    "fit_metrics",
    "hdi",
    "marginal_roas",
    "media_draws",
    "response_curves",
    "saturation_spend",
    "summarize",
    "waste_flags",
]
