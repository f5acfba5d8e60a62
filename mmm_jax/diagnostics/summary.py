"""The results contract: ``RUN/summary.json`` as DESIGN.md specifies it."""

from __future__ import annotations

from typing import Any

import numpy as np

from mmm_jax._stats import estimate
from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.diagnostics.metrics import FitLike

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


def summarize(fit: FitLike | Analysis, *, with_saturation: bool = True) -> dict[str, Any]:
    """Everything ``summary.json`` holds, in the data's currency, read off one `Analysis`.

    Every estimate is ``{"mean", "median", "hdi_low", "hdi_high"}`` with a 90%
    HDI. Per channel, ``spend`` is the total over the fit window,
    ``contribution`` and ``roas`` are counterfactual over that window,
    ``marginal_roas`` is the return on a 1% increase of the historical spend
    over the window (its carry-over included as far as the data reach),
    ``steady_state_marginal_roas`` the slope of the steady-state response at
    the historical spend per period (what the optimiser and saturation spend
    use; the two differ when spend varies over time, the curve being concave),
    ``saturation_spend`` is the steady-state spend per period (summed over
    geos) beyond which the marginal ROAS stays below 1, and ``wasteful`` is
    true when the marginal ROAS is below 1 with posterior probability >= 0.8
    (:data:`~mmm_jax.diagnostics.metrics.WASTE_PROB`; the probability itself is
    ``prob_marginal_roas_below_1``).

    Args:
      fit: A fitted model, or its `Analysis` (whose numbers are then reused).
      with_saturation: Compute ``saturation_spend`` (when given a fit; an
        `Analysis` carries its own choice).

    Returns:
      The ``summary.json`` dict (without ``review`` and ``provenance``).
    """
    a = fit if isinstance(fit, Analysis) else analyse(fit, with_saturation=with_saturation)
    fit, data = a.fit, a.fit.data
    contrib = a.contributions
    mroas = a.marginal_roas
    sat = a.saturation_spend
    roas = contrib.roas
    channels = {}
    for c, name in enumerate(data.channels):
        channels[name] = {
            "spend": float(contrib.spend[c]),
            "contribution": estimate(contrib.by_channel[:, c]),
            "roas": estimate(roas[:, c]),
            "marginal_roas": estimate(mroas[:, c]),
            "steady_state_marginal_roas": estimate(a.steady_marginal_roas[:, c]),
            "prob_marginal_roas_below_1": float(np.mean(mroas[:, c] < 1.0)),
            "saturation_spend": estimate(sat[:, c]) if sat is not None else None,
            "wasteful": bool(a.wasteful[c]),
        }
    return {
        "channels": channels,
        "baseline": {
            "contribution": estimate(contrib.baseline),
            "share": estimate(contrib.baseline_share),
        },
        "synergy": {pair: estimate(draws) for pair, draws in a.synergy.items()},
        "fit": dict(a.fit_quality),  # a copy: callers add the hold-out score
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
    ``data``, ``review`` (with the ``roas_identified`` item's per-channel
    ``width_ratio`` and ``identified``, which decisions read) and
    ``provenance`` are type-checked too; numbers may be null (not finite).
    Other fields pass unchecked.

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
        for key in (
            "contribution",
            "roas",
            "marginal_roas",
            "steady_state_marginal_roas",
            "saturation_spend",
        ):
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
            if item.get("check") == "roas_identified" and item.get("value") is not None:
                for name, v in c.obj(item["value"], f"review[{i}].value").items():
                    p = f"review[{i}].value.{name}"
                    c.obj(v, p)
                    c.optional(v, "width_ratio", p, c.number)
                    c.optional(v, "identified", p, c.flag)
    if "provenance" in top:
        prov = c.obj(top["provenance"], "provenance")
        for key in ("fit_checksum", "data_hash"):
            c.text(prov.get(key), f"provenance.{key}")
        c.optional(
            prov, "holdout_fit_checksum", "provenance", lambda x, p: c.text(x, p, nullable=True)
        )
    return top
