"""Analysis of a fit: counterfactual contributions, ROAS, fit quality, model review (numbers).

`analyse` gives a fit's `Analysis`, the one set of numbers that
``summary.json`` (`summarize`), the review, the report and the budget
decisions read. The functions behind it are in `mmm_jax.diagnostics.metrics`
(windowed contributions, marginal ROAS, saturation spend, fit metrics),
`mmm_jax.diagnostics.validation` (hold-out and rolling-origin scores) and
`mmm_jax.diagnostics.review`. Drawing lives in :mod:`mmm_jax.diagnostics.plots`
and the HTML report in :mod:`mmm_jax.diagnostics.report`; import them
explicitly (they load matplotlib).
"""

from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.diagnostics.metrics import hdi
from mmm_jax.diagnostics.review import review
from mmm_jax.diagnostics.summary import summarize

__all__ = ["Analysis", "analyse", "hdi", "review", "summarize"]
