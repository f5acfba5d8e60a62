"""Plain-text tables of a run's results, as ``mmm-jax`` and the demo print them."""

from __future__ import annotations

from typing import Any

__all__ = ["allocation_lines", "summary_lines"]


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """``summary.json`` as printed after a fit: sampler, ROAS table, baseline, fit, review."""
    d = summary["diagnostics"]
    lines = [
        f"method {d['method']}: {d['seconds']:.1f} s, r_hat_max {d['r_hat_max']}, "
        f"ess_bulk_min {d['ess_bulk_min']}, divergences {d['divergences']}"
        + (" (baseline integrated out)" if d.get("marginalized_baseline") else ""),
        f"{'channel':<12}{'ROAS mean':>10}{'90% HDI':>22}{'mROAS':>8}  wasteful",
    ]
    for name, ch in summary["channels"].items():
        r = ch["roas"]
        lines.append(
            f"{name:<12}{r['mean']:>10.2f}   [{r['hdi_low']:>7.2f}, {r['hdi_high']:>7.2f}]"
            f"{ch['marginal_roas']['mean']:>8.2f}  {'yes' if ch['wasteful'] else 'no'}"
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
    lines = [
        f"budget {alloc['budget']:,.0f} per period, bounds {lo}x-{hi}x historical {scope}, "
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
        lines.append(f"{n:<12}{h:>14,.0f}{x:>14,.0f}{(x - h) / h:>+9.1%}{flag}")
    u = alloc["uplift"]
    lines.append(
        f"expected uplift {u['mean']:,.0f} per period "
        f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}); "
        f"KKT converged: {alloc['converged']}"
    )
    return lines
