"""What a decision reads off the model review: refuse an unconverged fit, hold unidentified channels.

``optimize`` and ``simulate`` act on a fit's posterior; two review verdicts
make that unsafe:

- a **convergence** FAIL (``r_hat``, ``ess_bulk``, ``divergences`` or
  ``svi_converged``): the draws are not the posterior, so any allocation or
  what-if read off them is noise. `check_decidable` refuses such a fit unless
  forced, and says why in one line;
- a channel whose ROAS the data do **not identify** (``roas_identified``: its
  posterior 90% interval is nearly as wide as its prior's). An optimiser moves
  such a channel wherever the prior's tail points, usually to a bound.
  `unidentified_channels` names them, so `mmm_jax.workflow.allocate` can hold
  them at historical spend.

The verdicts come from ``summary.json``'s ``review`` when the run has one;
`decision_review` computes the two checks a decision needs when it has not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mmm_jax.diagnostics.review import DEFAULT_THRESHOLDS, check_convergence, check_roas_identified

__all__ = [
    "CONVERGENCE_CHECKS",
    "NotConvergedError",
    "check_decidable",
    "convergence_failures",
    "decision_review",
    "unidentified_channels",
]

#: Review checks of the sampler (NUTS) or optimiser (SVI, MAP) whose FAIL makes a fit unusable.
CONVERGENCE_CHECKS: tuple[str, ...] = ("r_hat", "ess_bulk", "divergences", "svi_converged")


class NotConvergedError(ValueError):
    """A decision refused because the fit's review FAILs convergence.

    Attributes:
      failed: The failed review items.
      action: What was refused (``"optimise"``, ``"simulate"``).
    """

    def __init__(self, failed: Sequence[dict[str, Any]], action: str, force_hint: str):
        self.failed = [dict(i) for i in failed]
        self.action = action
        super().__init__(refusal_message(self.failed, action, force_hint))


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def refusal_message(failed: Sequence[dict[str, Any]], action: str, force_hint: str) -> str:
    """One line: what failed, with its value, the remedy, and how to go on anyway.

    ``fit has not converged (R-hat 1.65, ESS 3): refit with more warmup or
    --target-accept 0.95; --force to optimise anyway``.
    """
    parts, nuts_remedy, svi = [], False, False
    for item in failed:
        check, v = item.get("check"), _number(item.get("value"))
        if check == "r_hat":
            parts.append(f"R-hat {v:.3g}" if v is not None else "R-hat")
            nuts_remedy = True
        elif check == "ess_bulk":
            parts.append(f"ESS {v:.0f}" if v is not None else "ESS")
            nuts_remedy = True
        elif check == "divergences":
            parts.append(f"{v:.0f} divergent transitions" if v is not None else "divergences")
            nuts_remedy = True
        elif check == "svi_converged":
            parts.append("the SVI loss was still falling")
            svi = True
        else:
            parts.append(str(check))
    remedies = []
    if nuts_remedy:
        remedies.append("more warmup or --target-accept 0.95")
    if svi:
        remedies.append("more --svi-steps")
    remedy = f"refit with {' or '.join(remedies)}" if remedies else "refit"
    return f"fit has not converged ({', '.join(parts)}): {remedy}; {force_hint} to {action} anyway"


def convergence_failures(review: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The review items of `CONVERGENCE_CHECKS` whose status is ``fail``."""
    return [
        dict(i)
        for i in review
        if i.get("check") in CONVERGENCE_CHECKS and str(i.get("status")).lower() == "fail"
    ]


def unidentified_channels(review: Sequence[dict[str, Any]]) -> dict[str, str]:
    """Channel -> reason, for each channel the ``roas_identified`` item calls not identified.

    Reads each channel's ``identified`` flag; a review written before the flag
    existed is judged by its ``width_ratio`` against the default threshold
    (`mmm_jax.diagnostics.review.ReviewThresholds.roas_width_ratio`).
    """
    held = {}
    for item in review:
        if item.get("check") != "roas_identified" or not isinstance(item.get("value"), dict):
            continue
        for name, v in item["value"].items():
            if not isinstance(v, dict):
                continue
            ratio = _number(v.get("width_ratio"))
            flag = v.get("identified")
            if flag is None:
                flag = ratio is None or ratio < DEFAULT_THRESHOLDS.roas_width_ratio
            if not flag:
                width = f"{ratio:.0%}" if ratio is not None else "nearly"
                held[str(name)] = (
                    f"ROAS not identified by the data (posterior 90% interval {width} as wide "
                    "as the prior's)"
                )
    return held


def decision_review(
    analysis, review: Sequence[dict[str, Any]] | None = None, *, identification: bool = True
) -> list[dict[str, Any]]:
    """The review items a decision reads: ``review`` completed with what it lacks.

    Args:
      analysis: The fit's `mmm_jax.diagnostics.Analysis`.
      review: ``summary.json``'s ``review``, or ``None``.
      identification: Also make sure of a ``roas_identified`` item (the
        optimiser needs it, the what-if does not).

    Returns:
      ``review`` plus, where it has none, the convergence checks
      (`mmm_jax.diagnostics.review.check_convergence`) and ``roas_identified``
      (`mmm_jax.diagnostics.review.check_roas_identified`, from the
      analysis's ROAS draws), computed from the fit.
    """
    items = [dict(i) for i in (review or [])]
    checks = {i.get("check") for i in items}
    if not checks & set(CONVERGENCE_CHECKS):
        items += check_convergence(analysis.fit)
    if identification and "roas_identified" not in checks:
        items.append(check_roas_identified(analysis.fit, roas=analysis.roas))
    return items


def check_decidable(
    review: Sequence[dict[str, Any]], *, force: bool, action: str, force_hint: str = "force=True"
) -> list[dict[str, Any]]:
    """Raises `NotConvergedError` for a fit that FAILs convergence, unless ``force``.

    Returns:
      The failed convergence items (empty for a converged fit), to record
      with a forced decision.
    """
    failed = convergence_failures(review)
    if failed and not force:
        raise NotConvergedError(failed, action, force_hint)
    return failed
