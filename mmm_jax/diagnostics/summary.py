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

__all__ = ["convergence", "summarize", "validate_summary"]


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
            # geo panels with geo pooling: what set each geo's size, and why
            **(
                {"geo_size": (getattr(fit, "info", None) or {})["geo"]}
                if "geo" in (getattr(fit, "info", None) or {})
                else {}
            ),
        },
    }


# ------------------------------------------------------------------ reading it back
_ESTIMATE_KEYS = ("mean", "median", "hdi_low", "hdi_high")


class _Check:
    """Type checks of a parsed ``summary.json``, raising one message naming the field."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, path: str, expected: str, got: Any) -> None:
        shown = repr(got)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"{self.where}: field {path} must be {expected}, got {shown}")

    def obj(self, x: Any, path: str) -> dict:
        if not isinstance(x, dict):
            self.fail(path, "an object", x)
        return x

    def number(self, x: Any, path: str) -> None:
        # null stands for a value that is not finite (strict JSON has no NaN)
        if x is not None and (isinstance(x, bool) or not isinstance(x, int | float)):
            self.fail(path, "a number or null", x)

    def integer(self, x: Any, path: str, *, nullable: bool = True) -> None:
        if (x is None and nullable) or (isinstance(x, int) and not isinstance(x, bool)):
            return
        self.fail(path, "an integer" + (" or null" if nullable else ""), x)

    def text(self, x: Any, path: str, *, nullable: bool = False) -> None:
        if not (isinstance(x, str) or (x is None and nullable)):
            self.fail(path, "a string" + (" or null" if nullable else ""), x)

    def flag(self, x: Any, path: str) -> None:
        if not isinstance(x, bool):
            self.fail(path, "true or false", x)

    def estimate(self, x: Any, path: str, *, nullable: bool = True) -> None:
        if x is None and nullable:
            return
        if not isinstance(x, dict):
            self.fail(path, "an estimate {mean, median, hdi_low, hdi_high}", x)
        e = x
        for k in _ESTIMATE_KEYS:
            if k not in e:
                self.fail(path, f"an estimate with {', '.join(_ESTIMATE_KEYS)}", x)
            self.number(e[k], f"{path}.{k}")

    def optional(self, d: dict, key: str, path: str, check) -> None:
        if key in d:
            check(d[key], f"{path}.{key}" if path else key)


def validate_summary(summary: Any, *, where: str = "summary.json") -> dict[str, Any]:
    """Checks that a parsed ``summary.json`` has the results contract's shape and types.

    Required: ``channels`` (name -> ``spend`` number, ``contribution``,
    ``roas``, ``marginal_roas``, ``saturation_spend`` estimates or null,
    ``wasteful`` bool), ``baseline`` (``contribution``, ``share``), ``fit``
    (``r2``, ``mape``, ``nrmse``) and ``diagnostics`` (``method``). Where
    present, ``synergy``, ``fit.holdout``, the rest of ``diagnostics``,
    ``data``, ``review`` and ``provenance`` are type-checked too; numbers may
    be null (not finite). Other fields pass unchecked.

    Args:
      summary: The parsed JSON.
      where: Name of the file, for the message.

    Returns:
      ``summary`` itself.

    Raises:
      ValueError: The first field of the wrong type or missing, named by
        its path (``channels.search.roas.mean``).
    """
    c = _Check(where)
    top = c.obj(summary, "(top level)")
    for key in ("channels", "baseline", "fit", "diagnostics"):
        if key not in top:
            c.fail(key, "present (the results contract)", None)
    channels = c.obj(top["channels"], "channels")
    if not channels:
        c.fail("channels", "a non-empty object", channels)
    for name, ch in channels.items():
        p = f"channels.{name}"
        c.obj(ch, p)
        for key in ("spend", "contribution", "roas", "marginal_roas", "wasteful"):
            if key not in ch:
                c.fail(f"{p}.{key}", "present", None)
        c.number(ch["spend"], f"{p}.spend")
        for key in ("contribution", "roas", "marginal_roas", "saturation_spend"):
            c.optional(ch, key, p, c.estimate)
        c.flag(ch["wasteful"], f"{p}.wasteful")
        c.optional(ch, "prob_marginal_roas_below_1", p, c.number)
    base = c.obj(top["baseline"], "baseline")
    for key in ("contribution", "share"):
        c.optional(base, key, "baseline", c.estimate)
    for pair, e in c.obj(top.get("synergy", {}), "synergy").items():
        c.estimate(e, f"synergy.{pair}")
    fit = c.obj(top["fit"], "fit")
    for key in ("r2", "mape", "nrmse"):
        c.optional(fit, key, "fit", c.number)
    if "holdout" in fit:
        hold = c.obj(fit["holdout"], "fit.holdout")
        for key in ("n_train", "n_holdout", "holdout_start"):
            if key not in hold:
                c.fail(f"fit.holdout.{key}", "present", None)
        c.integer(hold["n_train"], "fit.holdout.n_train", nullable=False)
        c.integer(hold["n_holdout"], "fit.holdout.n_holdout", nullable=False)
        c.text(hold["holdout_start"], "fit.holdout.holdout_start")
        for key in ("r2", "mape", "nrmse", "coverage"):
            c.optional(hold, key, "fit.holdout", c.number)
    diag = c.obj(top["diagnostics"], "diagnostics")
    c.text(diag.get("method"), "diagnostics.method")
    for key in ("seconds", "r_hat_max", "ess_bulk_min"):
        c.optional(diag, key, "diagnostics", c.number)
    c.optional(diag, "divergences", "diagnostics", c.integer)
    c.optional(diag, "marginalized_baseline", "diagnostics", c.flag)
    if "data" in top:
        data = c.obj(top["data"], "data")
        for key in ("target", "start", "end", "note"):
            c.optional(data, key, "data", c.text)
        for key in ("n_periods", "n_geos"):
            c.optional(data, key, "data", c.integer)
    if "review" in top:
        items = top["review"]
        if not isinstance(items, list):
            c.fail("review", "a list", items)
        for i, item in enumerate(items):
            c.obj(item, f"review[{i}]")
            c.text(item.get("check"), f"review[{i}].check")
            if item.get("status") not in ("pass", "warn", "fail"):
                c.fail(f"review[{i}].status", '"pass", "warn" or "fail"', item.get("status"))
            c.text(item.get("message"), f"review[{i}].message")
    if "provenance" in top:
        prov = c.obj(top["provenance"], "provenance")
        for key in ("fit_checksum", "data_hash"):
            c.text(prov.get(key), f"provenance.{key}")
        c.optional(
            prov, "holdout_fit_checksum", "provenance", lambda x, p: c.text(x, p, nullable=True)
        )
    return top
