"""Plain-text tables of a run's results, as ``mmm-jax`` and the demo print them."""

from __future__ import annotations

from typing import Any

from mmm_jax._format import fmt_sig

__all__ = ["allocation_lines", "fmt_sig", "summary_lines"]


def _hdi(e: dict[str, Any]) -> str:
    return f"[{fmt_sig(e['hdi_low'])}, {fmt_sig(e['hdi_high'])}]"


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """``summary.json`` as printed after a fit: sampler, ROAS table, baseline, fit, review."""
    d = summary["diagnostics"]
    lines = [
        f"method {d['method']}: {d['seconds']:.1f} s, r_hat_max {d['r_hat_max']}, "
        f"ess_bulk_min {d['ess_bulk_min']}, divergences {d['divergences']}"
        + (" (baseline integrated out)" if d.get("marginalized_baseline") else ""),
        f"{'channel':<12}{'ROAS mean':>10}{'90% HDI':>22}{'mROAS':>8}{'mROAS ss':>10}  wasteful",
    ]
    for name, ch in summary["channels"].items():
        r = ch["roas"]
        steady = (ch.get("steady_state_marginal_roas") or {}).get("mean")
        lines.append(
            f"{name:<12}{fmt_sig(r['mean']):>10}{_hdi(r):>22}"
            f"{fmt_sig(ch['marginal_roas']['mean']):>8}{fmt_sig(steady, missing='-'):>10}  "
            f"{'yes' if ch['wasteful'] else 'no'}"
        )
    lines.append(
        "mROAS: return on a 1% bump of the historical spend pattern over the window; "
        "mROAS ss: at constant (steady-state) spend, the optimiser's curves"
    )
    b = summary["baseline"]["share"]
    lines.append(f"baseline share {b['mean']:.3f} [{b['hdi_low']:.3f}, {b['hdi_high']:.3f}]")
    f = summary["fit"]
    lines.append(f"fit: R2 {f['r2']:.3f}  MAPE {f['mape']:.3%}  NRMSE {f['nrmse']:.3f}")
    if "holdout" in f:
        h = f["holdout"]
        cover = "n/a (too few draws)" if h["coverage"] is None else f"{h['coverage']:.0%}"
        lines.append(
            f"hold-out ({h['n_holdout']} periods from {h['holdout_start']}): R2 {h['r2']:.3f}  "
            f"MAPE {h['mape']:.3%}  NRMSE {h['nrmse']:.3f}  90% interval coverage {cover}"
        )
    items = summary.get("review") or []
    counts = {s: sum(i["status"] == s for i in items) for s in ("pass", "warn", "fail")}
    if items:
        lines.append(f"review: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail")
    lines += [
        f"  {i['status'].upper()} {i['check']}: {i['message']}"
        for i in items
        if i["status"] != "pass"
    ]
    return lines


def allocation_lines(alloc: dict[str, Any]) -> list[str]:
    """``alloc.json`` as printed by ``mmm-jax optimize``: settings, the table, the uplift."""
    lo, hi = alloc["bounds_multiple_of_historical"]
    by_geo = alloc.get("allocation_by_geo")
    scope = "per (geo, channel)" if by_geo is not None else "per channel"
    n_geos = alloc.get("n_geos", 1)
    per = "per period" + (f" (national total over {n_geos} geos)" if n_geos > 1 else "")
    held = alloc.get("held") or {}
    lines = []
    if alloc.get("forced"):
        failed = ", ".join(i["check"] for i in alloc.get("failed_checks", []))
        lines.append(f"FORCED: the fit FAILs convergence ({failed}); these numbers are unreliable")
    lines += [
        f"budget {fmt_sig(alloc['budget'])} {per}, bounds {lo}x-{hi}x historical {scope}, "
        f"utility {alloc['utility']}",
        f"{'channel':<12}{'historical':>14}{'recommended':>14}{'shift':>9}",
    ]
    bounded = alloc["at_lower_bound"] + alloc["at_upper_bound"]
    for n, x in alloc["allocation"].items():
        h = alloc["historical_allocation"][n]
        flag = " (at bound)" if n in bounded else ""
        if by_geo is not None:
            k = sum(cell.endswith(f":{n}") for cell in bounded)
            flag = f" ({k} of {len(by_geo)} geos at a bound)" if k else ""
        if n in held:
            flag = " (held: ROAS not identified)"
        shift = f"{(x - h) / h:>+9.1%}" if h > 0 else f"{'new' if x > 0 else '-':>9}"
        lines.append(f"{n:<12}{fmt_sig(h):>14}{fmt_sig(x):>14}{shift}{flag}")
    for n, why in held.items():
        lines.append(
            f"held {n} at historical spend: {why}; a lift test would inform it "
            "(--free-unidentified lets the optimiser move it)"
        )
    u = alloc["uplift"]
    lines.append(
        f"expected uplift {fmt_sig(u['mean'])} {per} "
        f"(90% HDI {fmt_sig(u['hdi_low'])} to {fmt_sig(u['hdi_high'])}); "
        f"KKT converged: {alloc['converged']}"
    )
    return lines
