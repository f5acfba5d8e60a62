"""The results contract: ``RUN/summary.json`` as DESIGN.md specifies it."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmm_jax.diagnostics.metrics import (
    FitLike,
    contributions,
    estimate,
    fit_metrics,
    marginal_roas,
    saturation_spend,
    waste_flags,
)
from mmm_jax.models import synergy_pairs

__all__ = ["convergence", "summarize"]


def convergence(fit: FitLike) -> dict[str, Any]:
    """R-hat (rank-normalised split), minimum bulk ESS and divergences.

    R-hat and ESS are ``None`` for a single-chain or single-draw fit (SVI,
    MAP), where they mean nothing.
    """
    draws = {k: np.asarray(v) for k, v in fit.draws.items()}
    n_chain, n_draw = next(iter(draws.values())).shape[:2]
    out: dict[str, Any] = {"r_hat_max": None, "ess_bulk_min": None, "divergences": None}
    stats = getattr(fit, "stats", {}) or {}
    if "diverging" in stats:
        out["divergences"] = int(np.asarray(stats["diverging"]).sum())
    if n_chain >= 2 and n_draw >= 4:
        import arviz as az

        dataset = az.convert_to_dataset(draws)
        rhat = az.rhat(dataset)
        ess = az.ess(dataset, method="bulk")
        out["r_hat_max"] = float(max(np.nanmax(rhat[v].values) for v in rhat.data_vars))
        out["ess_bulk_min"] = float(min(np.nanmin(ess[v].values) for v in ess.data_vars))
    return out


def summarize(fit: FitLike, *, with_saturation: bool = True) -> dict[str, Any]:
    """Everything ``summary.json`` holds, in the data's currency.

    Every estimate is ``{"mean", "median", "hdi_low", "hdi_high"}`` with a 90%
    HDI. Per channel, ``spend`` is the total over the fit window,
    ``contribution`` and ``roas`` are counterfactual over that window,
    ``marginal_roas`` is the return on a 1% increase of the historical spend,
    ``saturation_spend`` is the steady-state spend per period beyond which the
    marginal ROAS stays below 1, and ``wasteful`` is true when the marginal ROAS
    is below 1 with posterior probability >= 0.9.
    """
    data = fit.data
    contrib = contributions(fit)
    mroas = marginal_roas(fit)
    sat = saturation_spend(fit) if with_saturation else None
    wasteful = waste_flags(mroas)
    roas = contrib.roas
    channels = {}
    for c, name in enumerate(data.channels):
        channels[name] = {
            "spend": float(contrib.spend[c]),
            "contribution": estimate(contrib.by_channel[:, c]),
            "roas": estimate(roas[:, c]),
            "marginal_roas": estimate(mroas[:, c]),
            "prob_marginal_roas_below_1": float(np.mean(mroas[:, c] < 1.0)),
            "saturation_spend": estimate(sat[:, c]) if sat is not None else None,
            "wasteful": bool(wasteful[c]),
        }
    synergy = {}
    draws = fit.flat_draws()
    if "synergy/gamma" in draws:
        gamma = np.asarray(draws["synergy/gamma"]) * float(data.scaler.target_scale)
        for p, (i, j) in enumerate(synergy_pairs(data.n_channel)):
            synergy[f"{data.channels[i]}:{data.channels[j]}"] = estimate(gamma[:, p])
    target = np.asarray(data.target)
    return {
        "channels": channels,
        "baseline": {
            "contribution": estimate(contrib.baseline),
            "share": estimate(contrib.baseline_share),
        },
        "synergy": synergy,
        "fit": fit_metrics(target, contrib.predicted_series),
        "diagnostics": {
            "method": getattr(fit, "method", "unknown"),
            "seconds": float(getattr(fit, "timings", {}).get("total_s", float("nan"))),
            # NUTS or SVI handled the rest with the baseline integrated out
            "marginalized_baseline": bool(
                (getattr(fit, "info", None) or {}).get("marginalized_baseline", False)
            ),
            **convergence(fit),
        },
        "data": {
            "target": data.target_name,
            "note": "money in the data's currency; spend and contributions over the fit window",
            "start": str(data.dates[0].date()),
            "end": str(data.dates[-1].date()),
            "n_periods": int(data.n_time),
            "n_geos": int(data.n_geo),
            "channels": list(data.channels),
            "controls": list(data.control_names),
        },
    }
