"""Budget decisions on a fit: the allocation (``alloc.json``) and the what-if simulation.

Both read the fit's `mmm_jax.diagnostics.Analysis`: its response surface
(spend per channel split over geos in their historical mix, or spend per
``(geo, channel)``), its historical spend and its baseline per period. All
numbers are per period and steady state (constant spend); revenue includes
the mean baseline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import jax

from mmm_jax._format import fmt_sig
from mmm_jax._stats import estimate
from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.diagnostics.metrics import FitLike
from mmm_jax.optimize import optimize_budget
from mmm_jax.optimize.utility import parse_utility
from mmm_jax.run_folder import RunFolder
from mmm_jax.workflow.verdicts import check_decidable, decision_review, unidentified_channels

__all__ = [
    "allocate",
    "allocation_settings",
    "allocation_vector",
    "optimize_run",
    "read_allocation",
    "simulate",
    "simulate_run",
]


def allocation_settings(
    *,
    budget: float | None = None,
    bounds: str | Sequence[float] = (0.5, 2.0),
    utility: str = "mean",
    per_geo: bool = False,
    n_geo: int | None = None,
    names: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """`allocate`'s settings, checked before any work and with bounds read from text.

    `allocate` checks its settings with this function; a front end calls it
    first, to refuse bad settings before loading a fit and to name each
    setting as its user knows it (``names``).

    Args:
      budget: Total spend per period, or ``None`` (the historical total).
      bounds: ``(low, high)`` multiples of historical spend, or ``"LO,HI"``.
      utility: ``mean``, ``profit``, ``var:Q`` or ``cvar:Q`` (`parse_utility`).
      per_geo: Decide spend per ``(geo, channel)``.
      n_geo: The fit's number of geos, to refuse ``per_geo`` on a single geo
        (``None``: not checked).
      names: How messages name each argument, from its parameter name
        (default: the parameter name itself); ``mmm-jax`` passes its flags.

    Returns:
      ``budget``, ``bounds`` (a pair of floats), ``utility`` and ``per_geo``,
      as `allocate` takes them.

    Raises:
      ValueError: ``per_geo`` with a single geo, a budget that is not
        positive, bounds that are not two numbers with ``0 <= LO <= HI``, an
        unknown utility.
    """
    name = names if names is not None else (lambda parameter: parameter)
    if per_geo and n_geo == 1:
        raise ValueError(
            f"{name('per_geo')} needs a run fitted on a geo panel; this one has a single geo"
        )
    if budget is not None and not budget > 0:
        raise ValueError(f"{name('budget')} must be positive, got {float(budget)}")
    try:
        lo, hi = (float(v) for v in (bounds.split(",") if isinstance(bounds, str) else bounds))
    except (TypeError, ValueError):
        raise ValueError(
            f"{name('bounds')} must be LO,HI multiples of historical spend, got {bounds!r}"
        ) from None
    if not 0 <= lo <= hi:
        raise ValueError(f"{name('bounds')} needs 0 <= LO <= HI, got {lo}, {hi}")
    try:
        parse_utility(utility)
    except ValueError:
        raise ValueError(
            f"{name('utility')} must be mean, profit, var:Q or cvar:Q, got {utility!r}"
        ) from None
    return {"budget": budget, "bounds": (lo, hi), "utility": utility, "per_geo": per_geo}


def read_allocation(path: str | os.PathLike) -> Any:
    """An allocation JSON file as `simulate` takes it: ``{channel: amount}`` or an ``alloc.json``.

    Raises:
      ValueError: No file at ``path``, or not JSON.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no allocation file at {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None


def _analysis(source: FitLike | Analysis) -> Analysis:
    return source if isinstance(source, Analysis) else analyse(source)


def allocate(
    source: FitLike | Analysis,
    *,
    budget: float | None = None,
    bounds: tuple[float, float] = (0.5, 2.0),
    utility: str = "mean",
    per_geo: bool = False,
    per_draw: bool = False,
    seed: int = 0,
    review: list[dict[str, Any]] | None = None,
    force: bool = False,
    hold_unidentified: bool = True,
) -> dict[str, Any]:
    """The allocation maximising a utility of the posterior revenue: ``alloc.json``.

    Projected Optax ascent (`mmm_jax.optimize.optimize_budget`) on the
    analysis's steady-state response surface, each channel (or, with
    ``per_geo``, each ``(geo, channel)``) between ``bounds`` times its
    historical spend per period.

    The model review decides what may be optimised
    (`mmm_jax.workflow.verdicts`): a fit that FAILs convergence is refused
    unless ``force``, and a channel whose ROAS the data do not identify is
    held at its historical spend (its bounds pinned there) unless
    ``hold_unidentified`` is false: on the prior alone the optimiser would
    push it to a bound.

    Args:
      source: A fit or its `Analysis`.
      budget: Total spend per period (default: the historical total).
      bounds: ``(low, high)`` multiples of historical spend, ``0 <= low <= high``.
      utility: ``mean``, ``profit``, ``var:Q`` (lower quantile) or ``cvar:Q``.
      per_geo: Decide spend per ``(geo, channel)``, each geo on its own curves
        (geo panels only); ``allocation`` still sums over geos.
      per_draw: Also optimise each posterior draw (``prob_should_get_more``).
      seed: Seed of the optimiser's random starts.
      review: The fit's review items (``summary.json``'s ``review``); the
        convergence checks and ``roas_identified`` are computed from the fit
        when missing.
      force: Optimise a fit that FAILs convergence anyway (recorded).
      hold_unidentified: Hold channels whose ROAS is not identified at
        historical spend.

    Returns:
      The ``alloc.json`` dict (without ``provenance``): ``budget``,
      ``allocation`` and ``historical_allocation`` per channel, estimates of
      ``expected_revenue``, ``historical_revenue``, ``uplift`` and
      ``media_revenue``, the channels at a bound, the KKT check, ``held``
      (channel -> why it was held at historical spend), ``forced`` (true when
      a fit that FAILs convergence was optimised anyway, with its
      ``failed_checks``), ``n_geos``, and with ``per_geo`` the allocations
      per geo.

    Raises:
      NotConvergedError: The fit FAILs convergence and ``force`` is false
        (a `ValueError`; its message names the failed checks).
      ValueError: A single-geo fit with ``per_geo``, a budget that is not
        positive or outside what the bounds allow, bad bounds or utility.
    """
    a = _analysis(source)
    names = list(a.channels)
    settings = allocation_settings(
        budget=budget, bounds=bounds, utility=utility, per_geo=per_geo, n_geo=len(a.geos)
    )
    lo, hi = settings["bounds"]
    items = decision_review(a, review, identification=hold_unidentified)
    failed = check_decidable(items, force=force, action="optimise")
    held = unidentified_channels(items) if hold_unidentified else {}
    hist = a.historical_spend.sum(axis=0)
    hist_d = a.historical_spend if per_geo else hist  # the decision's shape
    budget = float(budget) if budget is not None else float(hist.sum())
    lower, upper = lo * hist_d, hi * hist_d
    pinned = np.array([n in held for n in names])  # broadcasts over geos with per_geo
    lower = np.where(pinned, hist_d, lower)
    upper = np.where(pinned, hist_d, upper)
    if lower.sum() > budget or upper.sum() < budget:
        holding = (
            f"; {', '.join(held)} held at historical spend (not identified; "
            "hold_unidentified=False or --free-unidentified releases them)"
            if held
            else ""
        )
        raise ValueError(
            f"budget {fmt_sig(budget)} is outside what the bounds allow: "
            f"[{fmt_sig(lower.sum())}, {fmt_sig(upper.sum())}] per period "
            f"({lo}x-{hi}x historical{holding})"
        )
    utility_fn = parse_utility(utility)
    response = a.response_fn_by_geo if per_geo else a.response_fn
    result = optimize_budget(
        response,
        budget=budget,
        lower=lower,
        upper=upper,
        utility=utility_fn,
        key=jax.random.PRNGKey(seed),
        reference=hist_d * budget / hist_d.sum(),
        per_draw=per_draw,
    )
    base = a.baseline_per_period
    revenue = base + result.expected_revenue
    historical = base + np.asarray(response(hist_d))
    decision = np.asarray(result.allocation)
    by_channel = decision.sum(axis=0) if per_geo else decision
    if per_geo:
        cells = [f"{g}:{c}" for g in a.geos for c in names]  # (geo, channel), row-major
    else:
        cells = names
    alloc = {
        "budget": budget,
        "allocation": dict(zip(names, map(float, by_channel))),
        "historical_allocation": dict(zip(names, map(float, hist))),
        "expected_revenue": estimate(revenue),
        "historical_revenue": estimate(historical),
        "uplift": estimate(revenue - historical),
        "media_revenue": estimate(result.expected_revenue),
        "shift": {n: float(x - h) for n, x, h in zip(names, by_channel, hist)},
        "at_lower_bound": [n for n, b in zip(cells, result.at_lower.ravel()) if b],
        "at_upper_bound": [n for n, b in zip(cells, result.at_upper.ravel()) if b],
        "bounds_multiple_of_historical": [lo, hi],
        "utility": utility,
        "kkt": {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in result.kkt.items()},
        "converged": bool(result.converged),
        "held": held,
        "forced": bool(failed),
        "n_geos": len(a.geos),
        "note": "per period, steady state (constant spend); revenue includes the mean baseline",
    }
    if failed:
        alloc["failed_checks"] = _failed_record(failed)
    if len(a.geos) > 1:
        alloc["note"] += f"; spend and revenue are national totals over {len(a.geos)} geos"
    if per_geo:
        alloc["allocation_by_geo"] = {
            g: dict(zip(names, map(float, row))) for g, row in zip(a.geos, decision)
        }
        alloc["historical_allocation_by_geo"] = {
            g: dict(zip(names, map(float, row))) for g, row in zip(a.geos, hist_d)
        }
        alloc["note"] += "; bounds and decisions per (geo, channel), allocation sums over geos"
    if result.prob_more is not None:
        alloc["prob_should_get_more"] = dict(zip(cells, map(float, result.prob_more.ravel())))
    return alloc


def _failed_record(failed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The failed review items a forced decision records: check, value, message."""
    keep = ("check", "status", "value", "message")
    return [{k: i.get(k) for k in keep} for i in failed]


def allocation_vector(spec: Any, names: list[str], where: str = "allocation") -> np.ndarray:
    """Spend per channel, in ``names`` order, from ``{channel: amount}`` or an ``alloc.json`` dict.

    Args:
      spec: ``{channel: amount}``, or a dict with such an ``allocation``
        (an ``alloc.json`` of any run with these channels).
      names: The fit's channels.
      where: How messages name the allocation (a file name, say).

    Raises:
      ValueError: Not such a dict, channels that differ from ``names``, or
        amounts that are not finite non-negative numbers.
    """
    alloc = spec.get("allocation", spec) if isinstance(spec, Mapping) else None
    if not isinstance(alloc, Mapping):
        raise ValueError(
            f"{where} must hold {{channel: amount}} or {{'allocation': {{channel: amount}}}}"
        )
    alloc = {k: v for k, v in alloc.items() if k != "provenance"}
    unknown = sorted(set(alloc) - set(names))
    missing = [n for n in names if n not in alloc]
    if unknown or missing:
        raise ValueError(
            f"{where}: unknown channels {unknown}, missing channels {missing}; the fit has {names}"
        )
    try:
        x = np.array([float(alloc[n]) for n in names])
    except (TypeError, ValueError):
        raise ValueError(f"{where}: every amount must be a number") from None
    bad = [n for n, v in zip(names, x) if not np.isfinite(v) or v < 0]
    if bad:
        raise ValueError(f"{where}: spend must be finite and non-negative, not for {bad}")
    return x


def simulate(
    source: FitLike | Analysis,
    allocation: Any,
    *,
    where: str = "allocation",
    review: list[dict[str, Any]] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """What-if: revenue and its 90% HDI for spending ``allocation`` every period.

    Refuses a fit whose review FAILs convergence unless ``force``, as
    `allocate` does: its revenue intervals would not be the posterior's.

    Args:
      source: A fit or its `Analysis`.
      allocation: Spend per period per channel: ``{channel: amount}``, an
        ``alloc.json`` dict, or an array in the fit's channel order.
      where: How messages name the allocation.
      review: The fit's review items (``summary.json``'s ``review``); the
        convergence checks are computed from the fit when missing.
      force: Simulate on a fit that FAILs convergence anyway (recorded).

    Returns:
      ``allocation``, ``budget``, estimates of ``expected_revenue`` (with the
      mean baseline), ``media_revenue``, ``historical_revenue``, ``uplift``
      over the historical mix and ``roas`` (media revenue over spend), and
      ``forced`` (with ``failed_checks`` when true), as in `allocate`.

    Raises:
      NotConvergedError: The fit FAILs convergence and ``force`` is false.
      ValueError: An allocation that does not fit the channels (see `allocation_vector`).
    """
    a = _analysis(source)
    items = decision_review(a, review, identification=False)
    failed = check_decidable(items, force=force, action="simulate")
    names = list(a.channels)
    if not isinstance(allocation, Mapping):
        if np.shape(allocation) != (len(names),):
            raise ValueError(f"{where} must have shape ({len(names)},), got {np.shape(allocation)}")
        allocation = dict(zip(names, np.asarray(allocation).tolist()))
    x = allocation_vector(allocation, names, where)
    hist = a.historical_spend.sum(axis=0)
    response = a.response_fn
    base = a.baseline_per_period
    media = np.asarray(response(x))
    media_hist = np.asarray(response(hist))
    out = {
        "allocation": dict(zip(names, map(float, x))),
        "budget": float(x.sum()),
        "expected_revenue": estimate(base + media),
        "media_revenue": estimate(media),
        "historical_revenue": estimate(base + media_hist),
        "uplift": estimate(media - media_hist),
        "roas": estimate(media / max(float(x.sum()), 1e-12)),
        "forced": bool(failed),
        "note": "per period, steady state (constant spend)",
    }
    if failed:
        out["failed_checks"] = _failed_record(failed)
    if len(a.geos) > 1:
        out["note"] += f"; spend and revenue are national totals over {len(a.geos)} geos"
    return out


def optimize_run(
    run: str | os.PathLike, *, out: str | os.PathLike | None = None, **options: Any
) -> tuple[dict[str, Any], Path]:
    """`allocate` on a verified run folder, written as ``alloc.json`` with its provenance.

    Args:
      run: The run folder.
      out: Where to write (default ``RUN/alloc.json``, written holding the
        run's lock; elsewhere atomically).
      **options: As `allocate` (``review`` defaults to the run's ``summary.json`` review).

    Returns:
      ``(alloc.json dict, path written)``; ``provenance.fit_checksum`` names the fit.
    """
    out = Path(run) / "alloc.json" if out is None else out

    def compute(verified):
        review = (verified.summary or {}).get("review")
        alloc = allocate(verified.fit, **{"review": review, **options})
        alloc["provenance"] = {"fit_checksum": verified.fit_checksum}
        return alloc

    return RunFolder(run).derive(out, compute, command="optimize")


def simulate_run(
    run: str | os.PathLike,
    allocation: Any,
    *,
    out: str | os.PathLike | None = None,
    where: str = "allocation",
    force: bool = False,
) -> dict[str, Any]:
    """`simulate` on a verified run folder, with ``provenance.fit_checksum``; written to ``out``.

    Args:
      run: The run folder.
      allocation: As `simulate` (an ``alloc.json`` of another run with the
        same channels is fine).
      out: Where to also write the result (atomically), or ``None``.
      where: How messages name the allocation.
      force: As `simulate`.

    Returns:
      The what-if dict.
    """

    def compute(verified):
        review = (verified.summary or {}).get("review")
        result = simulate(verified.fit, allocation, where=where, review=review, force=force)
        result["provenance"] = {"fit_checksum": verified.fit_checksum}
        return result

    return RunFolder(run).derive(out, compute, command="simulate")[0]
