"""Analysis of a fit: counterfactual contributions, ROAS, fit quality, model review (numbers).

Drawing lives in :mod:`mmm_jax.diagnostics.plots` and the HTML report in
:mod:`mmm_jax.diagnostics.report`; import them explicitly (they load matplotlib).
"""

from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.diagnostics.metrics import (
    Contributions,
    contributions,
    estimate,
    fit_metrics,
    hdi,
    marginal_roas,
    response_curves,
    saturation_spend,
    waste_flags,
)
from mmm_jax.diagnostics.review import ReviewThresholds, add_review, review, review_table
from mmm_jax.diagnostics.summary import convergence, summarize
from mmm_jax.diagnostics.validation import (
    compare_models,
    holdout_metrics,
    holdout_periods,
    rolling_origin,
    window_metrics,
)

__all__ = [
    "Analysis",
    "Contributions",
    "analyse",
    "ReviewThresholds",
    "add_review",
    "compare_models",
    "holdout_metrics",
    "holdout_periods",
    "review",
    "review_table",
    "rolling_origin",
    "window_metrics",
    "contributions",
    "convergence",
    "estimate",
    "fit_metrics",
    "hdi",
    "marginal_roas",
    "response_curves",
    "saturation_spend",
    "summarize",
    "waste_flags",
]
