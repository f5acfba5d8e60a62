"""Render benchmarks/README.md's tables from benchmarks/results/*.json.

Every measured figure in benchmarks/README.md sits between a pair of markers

    <!-- table:NAME -->
    ...generated...
    <!-- /table -->

and is generated here from the JSON a benchmark script wrote (and, for the
other libraries' figures, from ``benchmarks/anchors.json``, transcribed from
``../shared/anchors/README.md``). The prose around the markers says what is
measured, how to reproduce it and the target; it carries no figures, so a
rerun of a benchmark followed by ``python benchmarks/render_readme.py`` keeps
the README true.

Usage::

    python benchmarks/render_readme.py          # rewrite the tables in place
    python benchmarks/render_readme.py --check  # exit 1 (with a diff) if out of date

Standard library only, so that the check runs in milliseconds.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
README = HERE / "README.md"
ANCHORS = HERE / "anchors.json"

MARKER = re.compile(
    r"(?P<open><!-- table:(?P<name>[a-z0-9_]+) -->\n)(?P<body>.*?)(?P<close><!-- /table -->)",
    re.S,
)

# --------------------------------------------------------------------------- formatting


def num(x: float | None, digits: int = 3) -> str:
    """``x`` to ``digits`` significant figures (integers whole), thousands separated."""
    if x is None:
        return ""
    if isinstance(x, int):
        return f"{x:,}"
    x = float(x)
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1:
        decimals = max(digits - len(str(int(a))), 0)
    else:
        zeros = 0  # zeros between the decimal point and the first significant digit
        while a < 0.1:
            a *= 10
            zeros += 1
        decimals = digits + zeros
    return f"{x:,.{decimals}f}"


def fixed(x: float | None, decimals: int) -> str:
    return "" if x is None else f"{float(x):,.{decimals}f}"


def pct(x: float | None, decimals: int = 0) -> str:
    return "" if x is None else f"{100 * float(x):.{decimals}f}%"


def signed_pct(x: float, decimals: int = 0) -> str:
    return f"{100 * float(x):+.{decimals}f}%"


def table(header: list[str], align: str, rows: list[list[str]]) -> str:
    """A markdown table; ``align`` holds one of 'l'/'r' per column."""
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(sep) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def missing(name: str) -> str:
    return f"*`results/{name}` is not there yet: the benchmark has not been run.*"


# --------------------------------------------------------------------------- kernels

KERNELS = (
    ("geometric_scan", "geometric adstock, `lax.scan`"),
    ("geometric_associative", "geometric adstock, `lax.associative_scan`"),
    ("conv_28", "28-lag window, `convolve_media` (shift-and-add)"),
    ("conv_28_jnp_convolve", "28-lag window, vmapped `jnp.convolve`"),
    ("hill", "Hill"),
    ("michaelis_menten", "Michaelis-Menten"),
    ("logistic", "logistic"),
)
KERNEL_SHAPES = ((1, 100_000), (100, 1_000), (100, 100_000), (1000, 10_000))


def kernels(name: str) -> str:
    d = load(name)
    if d is None:
        return missing(name)
    by = {(r["kernel"], r["G"], r["T"]): r for r in d["results"]}
    rows = []
    for key, label in KERNELS:
        cells = [label]
        for g, t in KERNEL_SHAPES:
            r = by.get((key, g, t))
            cells.append(
                f"{num(r['elements_per_s'] / 1e6)} M/s ({num(r['gb_per_s'], 2)})" if r else "-"
            )
        rows.append(cells)
    header = ["kernel"] + [f"G={g:,}, T={t:,}" for g, t in KERNEL_SHAPES]
    compile_s = [r["compile_s"] for r in d["results"]]
    load_avg = d.get("load_average_at_start") or [None]
    lines = [
        f"`results/{name}`: {d['device_kind']} ({d['backend']}, {d['cpu_count']} CPU cores), "
        f"jax {d['jax_version']}, {d['dtype']}, C = {d['channels']} channels; full grid in "
        f"{num(d['total_wall_s'])} s, load average {num(load_avg[0], 2)} at the start. "
        "Elements per second (effective GB/s):",
        "",
        table(header, "lrrrr", rows),
        "",
        f"Compile times {num(min(compile_s), 2)}-{num(max(compile_s), 2)} s.",
    ]
    peak = d.get("peak_bandwidth_bytes_per_s")
    if peak:
        best = max(d["results"], key=lambda r: r["bandwidth_share"] or 0)
        lines[-1] += (
            f" Peak bandwidth {num(peak / 1e12, 2)} TB/s; the best share of it is "
            f"{pct(best['bandwidth_share'])} ({best['kernel']}, G={best['G']:,}, T={best['T']:,})."
        )
        small = [
            r["run_s_median"] * 1e3
            for r in d["results"]
            if r["elements"] <= 100_000 and r["kernel"] != "geometric_scan"
        ]
        lines[-1] += (
            f" Up to 10^5 elements every kernel but the sequential scan takes "
            f"{num(min(small), 2)}-{num(max(small), 2)} ms (median)."
        )
    for s in d.get("skipped", []):
        lines[-1] += f" Skipped G={s['G']:,}, T={s['T']:,}: {s['reason']}."
    return "\n".join(lines)


# --------------------------------------------------------------------------- optimiser

OPT_LABELS = {
    "historical allocation": "historical allocation",
    "mmm_jax optimize_budget": "**mmm_jax `optimize_budget`**",
    "scipy slsqp_raw_scaled_target": "SLSQP, raw objective (currency spend, scaled-target revenue)",
    "scipy slsqp_raw_currency": "SLSQP, currency/currency, finite differences",
    "scipy slsqp_scaled_jax_grad": "SLSQP, budget shares + relative revenue, exact JAX gradients",
}


def optimize_cpu(name: str = "optimize_cpu.json") -> str:
    d = load(name)
    if d is None:
        return missing(name)
    m, p, ours, pd_ = d["machine"], d["problem"], d["ours"], d["per_draw"]
    rows = [
        [
            OPT_LABELS.get(r["method"], r["method"]),
            fixed(r["run_seconds"], 4) if r["run_seconds"] is not None else "",
            fixed(r["mean_media_revenue"], 0),
            fixed(r["share_of_ours"], 4),
            r["notes"].replace("|", "/"),
        ]
        for r in d["table"]
    ]
    ratio = pd_["revenue_ratio_minus_1_vs_slsqp"]
    return "\n".join(
        [
            f"`results/{name}`: {m['cpus']}-core {m['backend']}, jax {m['jax']}, load average "
            f"{num(m['load_average_1min'], 2)}; {p['draws']} draws x {p['channels']} channels, "
            f"utility {p['utility']}, bounds {p['bounds']}.",
            "",
            table(
                ["method", "run s", "mean media revenue / period", "share of our uplift", "notes"],
                "lrrrl",
                rows,
            ),
            "",
            f"Pooled optimiser: {ours['num_starts']} starts x {ours['num_steps']} steps, compile "
            f"{num(ours['compile_seconds'], 2)} s, KKT spread {ours['kkt_spread']:.1e}, converged: "
            f"{ours['converged']}. Per-draw optima (`per_draw=True`, {p['draws']} optima): "
            f"{num(pd_['run_seconds'], 2)} s against {num(pd_['slsqp_per_draw_seconds_extrapolated'], 2)} s "
            f"for SLSQP draw by draw (extrapolated from {pd_['slsqp_per_draw_checked_draws']} draws); "
            f"on those draws our revenue / SLSQP's - 1 is {ratio['min']:.1e} (min), "
            f"{ratio['median']:.1e} (median), {ratio['max']:.1e} (max).",
        ]
    )


def optimize_end_to_end(name: str = "optimize_end_to_end_cpu.json") -> str:
    d = load(name)
    if d is None:
        return missing(name)
    anchors = json.loads(ANCHORS.read_text())["runs"]
    opt = d["optimizer_s"]
    rows = [
        [
            f"**mmm_jax** (NUTS, {d['fit']['draws']} draws)",
            f"**{pct(d['share_of_true_attainable_uplift'], 1)}**",
            f"**{num(opt['run'], 2)}** ({num(opt['first_call_with_compile'], 2)} with compilation); "
            f"{num(d['per_draw']['seconds'], 2)} for all per-draw optima",
        ]
    ]
    for a in anchors:
        if a["run"].startswith(("PyMC-Marketing 1.3, numpyro NUTS", "Meridian")):
            rows.append([f"{a['run']} (anchor)", pct(a["opt_gain"], 1), num(a["optimizer_s"])])
    ch = [
        [c, fixed(d["allocation"][c], 0), fixed(d["true_optimum"][c], 0),
         fixed(d["allocation"][c] - d["true_optimum"][c], 0),
         pct(d["per_draw"]["prob_more_than_historical"][c], 1)]
        for c in d["allocation"]
    ]  # fmt: skip
    return "\n".join(
        [
            f"`results/{name}`: budget {fixed(d['budget'], 0)} per period; the fit took "
            f"{num(d['fit']['seconds'])} s.",
            "",
            table(["", "share of the true attainable uplift", "optimiser s"], "lrl", rows),
            "",
            table(
                ["channel", "recommended", "true optimum", "difference", "P(more than historical)"],
                "lrrrr",
                ch,
            ),
        ]
    )


# --------------------------------------------------------------------------- fit speed


def _nuts_row(label: str, n: dict, *, cold: bool = False) -> list[str]:
    if cold:
        return [
            label,
            num(n["cold_wall_s"]),
            num(n["cold_compile_s"]),
            "",
            "",
            num(n["ess_per_s_cold"]),
            "",
            "",
        ]
    return [
        label,
        num(n["wall_s"]),
        num(n["compile_s"], 2),
        num(n["leapfrog_steps_per_draw"]),
        fixed(n["min_bulk_ess_channel"], 0),
        f"**{num(n['ess_per_s'])}**",
        fixed(n["max_rhat_channel"], 3),
        str(n["divergences"]),
    ]  # fmt: skip


FIT_HEADER = [
    "",
    "wall s",
    "compile s",
    "steps/draw",
    "min bulk ESS",
    "ESS/s",
    "max R-hat",
    "divergences",
]


def fit_speed(name: str) -> str:
    d = load(name)
    if d is None:
        return missing(name)
    s, n = d["settings"], d["nuts"]
    warm = n.get("warm_wall_s_all")
    rows = [
        _nuts_row("mmm_jax, warm cache" + (f" (median of {len(warm)})" if warm else ""), n),
        _nuts_row("mmm_jax, cold cache", n, cold=True),
    ]
    for key in ("pymc_marketing", "pymc_marketing_anchor"):
        p = d.get(key)
        if p:
            rows.append(
                [p["library"] + (" (anchor)" if "anchor" in p.get("note", "") else ""),
                 num(p["fit_s"]), "", "", fixed(p["min_ess"], 0), num(p["ess_per_s"]),
                 fixed(p["max_rhat"], 3) if "max_rhat" in p else "",
                 str(p.get("divergences", ""))]
            )  # fmt: skip
    lines = [
        f"`results/{name}`: {d['data']}, {d['device']} ({d['backend']}, {d['cpu_count']} CPU "
        f"cores), NUTS {s['chains']} chains ({s['chain_method']}) x {s['warmup']} warmup + "
        f"{s['draws']} draws"
        + {True: ", baseline integrated out", False: ", baseline sampled"}.get(
            s.get("marginalized_baseline"),
            " (baseline integration not recorded: the run predates that setting)",
        )
        + (", synergy term" if d.get("synergy") else "")
        + ":",
        "",
        table(FIT_HEADER, "lrrrrrrr", rows),
        "",
    ]
    notes = []
    if warm:
        notes.append("warm wall times " + ", ".join(num(w) for w in warm) + " s")
    notes.append(f"{num(n['ess_per_s_excluding_compile'])} ESS/s excluding compile")
    ratios = []
    if "ratio_ess_per_s_vs_pymc" in d:
        ratios.append(f"the PyMC-Marketing row: **{num(d['ratio_ess_per_s_vs_pymc'], 2)}x**")
    if "ratio_ess_per_s_vs_anchor" in d:
        ratios.append(f"the anchor: {num(d['ratio_ess_per_s_vs_anchor'], 2)}x")
    lines.append(
        "; ".join(notes) + "." + (" ESS/s ratio to " + ", to ".join(ratios) + "." if ratios else "")
    )
    return "\n".join(lines).rstrip()


def fit_speed_target(name: str = "fit_speed_cpu.json") -> str:
    d = load(name)
    if d is None or "ratio_ess_per_s_vs_pymc" not in d:
        return "*No side-by-side PyMC-Marketing figure in `results/fit_speed_cpu.json`.*"
    r = d["ratio_ess_per_s_vs_pymc"]
    verdict = "met" if r >= 5 else "**not met**"
    return (
        f"Target (#3): at least 5x PyMC-Marketing's ESS/s on the 2-core CPU. Measured "
        f"{num(r, 2)}x side by side: {verdict}."
    )


def anchors() -> str:
    a = json.loads(ANCHORS.read_text())
    rows = [
        [r["run"], num(r["fit_s"]), fixed(r["min_bulk_ess"], 0), num(r["ess_per_s"]),
         fixed(r["max_rhat"], 3), str(r["divergences"]), pct(r["roas_mape"], 1),
         f"{r['roas_covered']}/4", fixed(r["media_share"], 3), pct(r["opt_gain"], 1),
         num(r["optimizer_s"])]
        for r in a["runs"]
    ]  # fmt: skip
    return "\n".join(
        [
            f"`anchors.json` ({a['source']}); {a['data']}, {a['machine']}, {a['settings']}:",
            "",
            table(
                [
                    "run",
                    "fit s",
                    "min bulk ESS",
                    "ESS/s",
                    "max R-hat",
                    "divergences",
                    "ROAS MAPE",
                    "90% covers",
                    "media share",
                    "opt. gain",
                    "optimiser s",
                ],
                "lrrrrrrrrrr",
                rows,
            ),  # fmt: skip
        ]
    )


def svi() -> str:
    rows = []
    for name in ("fit_speed_cpu.json", "fit_speed_gpu.json"):
        d = load(name)
        if d is None or "svi" not in d:
            continue
        v = d["svi"]
        rows.append(
            [f"`{name}`", d["device"], v["guide"], f"{v['steps']:,}",
             {True: "yes", False: "no"}.get(v.get("marginalized_baseline"), "not recorded"),
             num(v["wall_s"]), num(v["cold_wall_s"]) if "cold_wall_s" in v else ""]
        )  # fmt: skip
    if not rows:
        return "*No SVI timings in `results/fit_speed_*.json`.*"
    return table(
        ["results", "device", "guide", "steps", "baseline integrated out",
         "wall s (2nd fit in process)", "wall s (1st fit, compiling)"],
        "lllrlrr",
        rows,
    )  # fmt: skip


# --------------------------------------------------------------------------- recovery


def recovery_seeds() -> str:
    out = []
    rows = []
    notes = []
    for name in ("recovery_seeds.json", "recovery_seeds_noise0.02.json"):
        d = load(name)
        if d is None:
            notes.append(missing(name))
            continue
        s, m = d["settings"], d["summary"]
        noise = "generator default" if s["noise_sd"] is None else pct(s["noise_sd"])
        per = list(m["per_channel"].items()) + [("**pooled**", m["pooled"])]
        for ch, v in per:
            rows.append(
                [f"`{name}`", noise, ch, pct(v["coverage_90"]), pct(v["coverage_50"]),
                 signed_pct(v["bias"]), pct(v["mean_abs_error"]), num(v["rel_width_90"], 2)]
            )  # fmt: skip
        fit_s = sorted(r["fit_s"] for r in d["runs"])
        rhat = [r["r_hat_max"] for r in d["runs"]]
        notes.append(
            f"`{name}`: {m['n_datasets']} datasets (seeds {s['first_seed']}-"
            f"{s['first_seed'] + s['seeds'] - 1}), NUTS {s['chains']} x {s['warmup']} + "
            f"{s['draws']}{', synergy' if s['synergy'] else ''}; all four channels inside their "
            f"90% HDI on {pct(m['all_four_covered_90'])} of datasets, all four means within 25% "
            f"on {pct(m['all_within_25pct'])}; max R-hat {fixed(min(rhat), 3)}-"
            f"{fixed(max(rhat), 3)} ({m['n_r_hat_over_1_01']} at 1.01 or more), "
            f"{m['n_divergences_over_1pct']} with 1% divergences or more; median fit "
            f"{num(fit_s[len(fit_s) // 2])} s."
        )
    if rows:
        out.append(
            table(
                [
                    "results",
                    "noise",
                    "channel",
                    "90% HDI covers",
                    "50% HDI covers",
                    "mean error (bias)",
                    "mean abs. error",
                    "90% HDI width / truth",
                ],
                "lllrrrrr",
                rows,
            )  # fmt: skip
        )
    return "\n\n".join(out + ["\n".join(f"- {n}" for n in notes)])


# --------------------------------------------------------------------------- SBC

QUANTITY = {"roas": "ROAS", "marginal_roas": "marginal ROAS", "baseline_share": "baseline share"}
VARIANT = {"none": "no lift tests", "godark": "one go-dark test per channel"}


def _mark(ok: bool, text: str) -> str:
    return text if ok else f"**{text}** (not met)"


def _seeds(d: dict) -> str:
    """Which seeds a result holds (and which files it pools)."""
    seeds = sorted({r["seed"] for r in d.get("runs", [])})
    if not seeds:
        return f"seeds from {d['settings']['first_seed']}"
    span = (
        f"seeds {seeds[0]}-{seeds[-1]}"
        if seeds == list(range(seeds[0], seeds[-1] + 1))
        else (f"{len(seeds)} seeds from {seeds[0]}")
    )
    if d.get("merged_from"):
        span += ", pooled from " + " and ".join(f"`{m}`" for m in d["merged_from"])
    return span


def _ci(interval: list | None) -> str:
    """`` [low, high]`` in percent, or nothing when the result predates the intervals."""
    if not interval or interval[0] is None:
        return ""
    return f" [{fixed(100 * interval[0], 1)}, {fixed(100 * interval[1], 1)}]"


def sbc(name: str) -> str:
    d = load(name)
    if d is None:
        return missing(name)
    summary = d.get("summary")
    if not summary:
        return (
            f"*`results/{name}` has no summary yet ({len(d.get('runs', []))} fits recorded; "
            "`sbc.py` writes it when every dataset is fitted).*"
        )
    variants = list(summary)
    header = ["", "#17 target"] + [
        f"{VARIANT.get(v, v)} ({summary[v]['n_fits']} fits)" for v in variants
    ]
    rows = []

    def row(label, target, cell):
        rows.append([label, target] + [cell(summary[v], v) for v in variants])

    for q, qname in QUANTITY.items():
        for level in ("0.5", "0.8", "0.9"):
            nominal = float(level)

            def cov(v, _variant, q=q, level=level, nominal=nominal):
                c = v[q]["coverage"][level]
                off = round(100 * (c["coverage"] - nominal), 1)
                return (
                    _mark(abs(off) <= 5, f"{pct(c['coverage'], 1)}")
                    + _ci(c.get("ci95"))
                    + (f" (n {c['n']})")
                )

            row(f"{qname}: {pct(nominal)} interval covers", f"{pct(nominal)} +/- 5 points", cov)
    for q, qname in QUANTITY.items():

        def rank(v, _variant, q=q):
            r = v[q]["ranks"]
            return _mark(r["p_value"] >= 0.01, f"p = {num(r['p_value'], 2)}") + (
                f" (chi2 {num(r['chi2'], 3)}, {r['dof']} dof)"
            )

        row(f"{qname}: rank histogram chi-square", "p >= 0.01", rank)

    for q, qname in QUANTITY.items():

        def central(v, _variant, q=q):
            c = v[q].get("central_from_ranks")
            if c is None:
                return "not recorded (re-summarise: `sbc.py --merge`)"
            cov = "/".join(fixed(100 * c[level]["coverage"], 1) for level in ("0.5", "0.8", "0.9"))
            gap = c["0.5"]
            return (
                f"{cov}%; 50% HDI minus central: {fixed(100 * gap['hdi_minus_central'], 1)} "
                f"points{_ci(gap['ci95'])}"
            )

        row(f"{qname}: central 50/80/90% intervals from the ranks", "-", central)

    for q, qname in QUANTITY.items():

        def leaning(v, _variant, q=q):
            a = v[q].get("rank_vs_skew")
            if a is None or a["spearman"] is None:
                return "no skewness recorded"
            return (
                f"Spearman {fixed(a['spearman'], 3)} (p = {num(a['p_value'], 2)}; "
                f"{a['n_fits']} fits with the skewness recorded)"
            )

        # runs before 8bd54af recorded no skewness: no row for a result of those alone
        if any(
            (summary[v][q].get("rank_vs_skew") or {}).get("spearman") is not None for v in variants
        ):
            row(f"{qname}: rank against the posterior's skewness", "-", leaning)

    # #17 sets the error and low-ROAS targets on the generator family only.
    judged = d["settings"]["family"] == "generator"

    def med(v, variant):
        target = 0.10 if variant == "godark" else 0.25
        e = v["roas_error"]
        ok = not judged or e["median_rel_error"] <= target
        return _mark(ok, pct(e["median_rel_error"], 1)) + (
            f" ({e['n_channels_true_roas_ge_0_3']} channels with true ROAS >= 0.3)"
        )

    row(
        "median relative ROAS error",
        "<= 25% without tests, <= 10% with" if judged else "- (generator family only)",
        med,
    )
    row(
        "90th-percentile relative ROAS error",
        "-",
        lambda v, _: pct(v["roas_error"]["p90_rel_error"], 1),
    )

    def low(v, _variant):
        lr = v["low_roas"]
        ok = not judged or lr["hdi90_excludes_truth"] <= 0.10
        return _mark(ok, pct(lr["hdi90_excludes_truth"], 1)) + (
            f" of {lr['n']}; median estimate {num(lr['median_estimate'], 2)}"
        )

    row(
        "true ROAS < 0.3: 90% HDI excludes the truth",
        "<= 10%" if judged else "- (generator family only)",
        low,
    )

    def detect(v, _variant):
        w = v["waste_flags"]
        return _mark(w["detection_rate"] >= 0.80, pct(w["detection_rate"], 1)) + (
            f"{_ci(w.get('detection_ci95'))} of {w['n_true_mroas_below_0_8']}"
        )

    def fp(v, _variant):
        w = v["waste_flags"]
        return _mark(w["false_positive_rate"] <= 0.05, pct(w["false_positive_rate"], 1)) + (
            f"{_ci(w.get('false_positive_ci95'))} of {w['n_true_mroas_above_1_2']}"
        )

    level = {f"{v['waste_flags'].get('prob', 0.9):.2f}" for v in summary.values()}
    at = f" at P(mROAS < 1) >= {', '.join(sorted(level))}"
    row(f"waste flag{at} when true mROAS < 0.8 (detection)", ">= 80%", detect)
    row(f"waste flag{at} when true mROAS > 1.2 (false positive)", "<= 5%", fp)

    def conv(v, _variant):
        c = v["convergence"]
        return (
            f"max R-hat {fixed(c['r_hat_max'], 3)}; {c['n_r_hat_over_1_01']} fits at 1.01 or more, "
            f"{c['n_divergent_over_1pct']} with 1% divergences or more; median fit "
            f"{num(c['median_fit_s'])} s"
        )

    row("convergence", "-", conv)

    def passed(v, _variant):
        p = v.get("sampler_not_failed")
        if p is None:
            return "not recorded (re-summarise: `sbc.py --merge`)"
        if not p["n_fits"]:
            return "none"
        cells = [
            f"{qname} "
            + "/".join(fixed(100 * p[q][level]["coverage"], 1) for level in ("0.5", "0.8", "0.9"))
            for q, qname in QUANTITY.items()
        ]
        return f"{p['n_fits']} fits: " + "; ".join(cells) + " %"

    row("coverage 50/80/90% over the fits whose sampler the review does not fail", "-", passed)
    s = d["settings"]
    se = {
        "design": "go-dark standard errors fixed by the design",
        "relative": "go-dark standard errors relative to the true lift",
    }[s.get("godark_se", "design")]
    first = (
        f"`results/{name}`: family `{s['family']}`, {se}, NUTS {s['chains']} chains x {s['warmup']} "
        f"warmup + {s['draws']} draws, ranks among {s['rank_draws']} thinned draws, "
        f"{_seeds(d)}; {d.get('backend', '')} wall {num(d['wall_s'] / 3600, 2)} h. "
        "In brackets: 95% intervals from resampling whole fits."
        if "wall_s" in d
        else f"`results/{name}`: family `{s['family']}`."
    )
    return "\n".join([first, "", table(header, "ll" + "l" * len(variants), rows)])


#: The families the waste flag's operating curve is read on: (file, variant, label).
WASTE_FAMILIES = (
    ("sbc_prior_pooled.json", "none", "prior, no tests"),
    ("sbc_prior_godark_pooled.json", "godark", "prior, go-dark tests"),
    ("sbc_generator.json", "none", "generator, no tests"),
    ("sbc_generator.json", "godark", "generator, go-dark tests"),
)


def waste_curve() -> str:
    """Detection / false positives of the waste flag against its probability level, per family."""
    cols, curves, flag = [], [], set()
    for name, variant, label in WASTE_FAMILIES:
        d = load(name)
        v = (d or {}).get("summary", {}).get(variant)
        curve = (v or {}).get("waste_flags", {}).get("operating_curve")
        if curve is None:
            return (
                f"*`results/{name}` holds no operating curve for `{variant}` "
                "(re-summarise it: `sbc.py --merge` it).*"
            )
        cols.append(
            f"{label} ({v['n_fits']} fits; {v['waste_flags']['n_true_mroas_below_0_8']} / "
            f"{v['waste_flags']['n_true_mroas_above_1_2']} channels)"
        )
        curves.append({c["prob"]: c for c in curve})
        flag.add(v["waste_flags"]["prob"])  # the level the summary flags at
    rows = []
    for prob in sorted(curves[0]):

        def cell(c):
            det, fp = c["detection_rate"], c["false_positive_rate"]
            ok = det >= 0.80 and fp <= 0.05
            text = f"{pct(det, 1)} / {pct(fp, 1)}"
            return text if ok else f"**{text}**"

        label = f"{prob:.2f}" + (" (the flag)" if prob in flag else "")
        rows.append([label] + [cell(c[prob]) if prob in c else "" for c in curves])
    return table(["P(mROAS < 1) >="] + cols, "l" + "r" * len(cols), rows)


def sbc_params(name: str) -> str:
    """Per global parameter of a prior-family SBC run: rank uniformity and central coverage."""
    d = load(name)
    if d is None:
        return missing(name)
    summary = d.get("summary") or {}
    variants = [v for v in summary if summary[v].get("params")]
    if not variants:
        return f"*`results/{name}` holds no per-parameter ranks (run `sbc.py --family prior`).*"
    blocks = []
    for variant in variants:
        params = summary[variant]["params"]
        n_tests = len(params)
        rows = []
        for k, pc in params.items():
            r = pc["ranks"]
            cov = [pct(pc["central_coverage"][lv], 1) for lv in ("0.5", "0.8", "0.9")]
            p = r["p_value"]
            flag = _mark(p >= 0.01, f"p = {num(p, 2)}")
            rows.append([f"`{k}`", num(int(sum(r["counts"])))] + cov + [flag])
        ranked = sum(
            1
            for r in d.get("runs", [])
            if r.get("param_ranks") and r["lift"] == (variant == "godark")
        )
        blocks.append(
            f"{VARIANT.get(variant, variant)} ({ranked} fits with parameter ranks, "
            f"{n_tests} parameters; at p < 0.01 each, {num(0.01 * n_tests, 2)} false alarms "
            "expected by chance):\n\n"
            + table(
                [
                    "parameter",
                    "ranks",
                    "central 50%",
                    "central 80%",
                    "central 90%",
                    "rank chi-square",
                ],
                "lrrrrr",
                rows,
            )
        )
    s = d["settings"]
    first = (
        f"`results/{name}`: family `{s['family']}`, NUTS {s['chains']} chains x {s['warmup']} "
        f"warmup + {s['draws']} draws, ranks among {s['rank_draws']} thinned draws, "
        f"{_seeds(d)}; a vector parameter's elements (one per channel) are pooled."
    )
    return "\n\n".join([first, *blocks])


def rhat_floor(name: str = "rhat_floor.json") -> str:
    """The max R-hat of faultless chains by ESS and number of parameters, and the fits' floors."""
    d = load(name)
    if d is None:
        return missing(name)
    counts = sorted({r["params"] for r in d["grid"]})
    by = {(r["ess"], r["params"]): r for r in d["grid"]}
    rows = []
    for ess in sorted({r["ess"] for r in d["grid"]}):
        cells = []
        for k in counts:
            r = by.get((ess, k))
            cells.append(
                f"{fixed(r['median'], 4)} ({pct(r['p_below_bar'])})" if r is not None else ""
            )
        rows.append([num(ess)] + cells)
    bar = d["bar"]
    parts = [
        f"`results/{name}`: AR(1) chains stationary from the first draw, {d['chains']} x "
        f"{d['draws']} draws, each parameter at the given bulk ESS; ArviZ rank-normalised split "
        f"R-hat; {d['reps']} repetitions. Cells: median max R-hat (share of repetitions below "
        f"{bar}).",
        "",
        table(
            ["bulk ESS"] + [f"max over {k} parameter{'s' if k > 1 else ''}" for k in counts],
            "r" + "r" * len(counts),
            rows,
        ),
    ]
    if d["fits"]:
        fit_rows = [
            [
                f"`{f['source']}`",
                str(f["G"]),
                str(f["params"]),
                num(f["min_ess"]),
                num(f["median_ess"]),
                f"**{fixed(f['measured_r_hat_max'], 4)}**",
                f"{fixed(f['median'], 4)} [{fixed(f['q05'], 4)}, {fixed(f['q95'], 4)}]",
                pct(f["p_below_bar"]),
                pct(f["measured_quantile"]),
            ]
            for f in d["fits"]
        ]
        parts += [
            "",
            "The same for fitted models, each parameter at its own measured ESS:",
            "",
            table(
                [
                    "result",
                    "G",
                    "params",
                    "min ESS",
                    "median ESS",
                    "measured max R-hat",
                    "floor: median [5%, 95%]",
                    f"floor below {bar}",
                    "measured at floor quantile",
                ],
                "lrrrrrrrr",
                fit_rows,
            ),
        ]
    return "\n".join(parts)


def hdi_mass(name: str = "hdi_mass.json") -> str:
    """Held-out posterior mass of the library's HDIs and of central intervals."""
    d = load(name)
    if d is None:
        return missing(name)
    if "summary" not in d:
        return f"*`results/{name}` has no summary yet ({len(d.get('runs', []))} fits recorded).*"
    s, st = d["summary"], d["settings"]
    half = st["chains"] // 2
    seeds = sorted(r["seed"] for r in d["runs"])
    labels = {"roas": "ROAS", "marginal_roas": "marginal ROAS", "baseline_share": "baseline share"}
    rows = []
    for q, label in labels.items():
        for lv in ("0.5", "0.8", "0.9"):
            h, c = s[q]["hdi"][lv], s[q]["central"][lv]
            rows.append(
                [
                    label,
                    pct(float(lv)),
                    f"{pct(h['mean'], 1)} [{fixed(100 * h['ci95'][0], 1)}, "
                    f"{fixed(100 * h['ci95'][1], 1)}]",
                    f"{fixed(100 * (h['mean'] - float(lv)), 1)}",
                    f"{pct(c['mean'], 1)} [{fixed(100 * c['ci95'][0], 1)}, "
                    f"{fixed(100 * c['ci95'][1], 1)}]",
                    num(s[q]["ess_bulk_median"]),
                ]
            )
    return "\n".join(
        [
            f"`results/{name}`: {s['n_fits']} prior datasets (seeds {seeds[0]}-{seeds[-1]}, "
            f"{'one go-dark test per channel' if st['lift'] == 'godark' else 'no lift tests'}), NUTS {st['chains']} chains x {st['warmup']} warmup + "
            f"{st['draws']} draws; each interval read off {half} chains ({half * st['draws']:,} "
            f"draws) and judged on the other {half}, both ways round. In brackets: 95% "
            "intervals from resampling whole fits.",
            "",
            table(
                [
                    "quantity",
                    "level",
                    "HDI: held-out mass",
                    "HDI minus nominal (points)",
                    "central: held-out mass",
                    f"median bulk ESS of {half} chains",
                ],
                "lrrrrr",
                rows,
            ),
        ]
    )


# --------------------------------------------------------------------------- scale


def scale(name: str) -> str:
    d = load(name)
    if d is None:
        return missing(name)
    s = d["settings"]
    rows = []
    for r in d["results"]:
        base = [str(r["G"]), r["method"]]
        if "skipped" in r or "error" in r:
            why = r.get("skipped") or "error: " + r["error"].strip().splitlines()[-1][:80]
            rows.append(base + [f"not run: {why}".replace("|", "/")] + [""] * 10)
            continue
        roas = r.get("roas") or {}
        inside = sum(bool(v.get("in_hdi")) for v in roas.values())
        div = ""
        if "divergences" in r:
            rate = r.get("divergence_rate")
            div = f"{r['divergences']}" + (f" ({100 * rate:.1f}%)" if rate else "")
        rows.append(
            base
            + [
                num(r["run_s"]),
                num(r["compile_s"]),
                fixed(r["r_hat_max"], 3) if r.get("r_hat_max") is not None else "",
                fixed(r["min_ess_bulk"], 0) if "min_ess_bulk" in r else "",
                num(r["ess_per_s"]) if "ess_per_s" in r else "",
                fixed(r["steps_per_draw"], 0) if "steps_per_draw" in r else "",
                div,
                f"{inside}/{len(roas)}" if roas else "",
                f"{r['final_loss']:,.0f}" if "final_loss" in r else "",
                str(r.get("n_params") or ""),
                fixed(r["peak_memory_mb"], 0),
            ]
        )
    growth = [
        f"{k} ~ G^{v['exponent']:.2f} over G = {v['G'][0]}-{v['G'][-1]}"
        for k, v in (d.get("growth") or {}).items()
        if v
    ]
    data = d.get("data") or f"{s.get('weeks', '?')} weeks x {s.get('channels', '?')} channels"
    return "\n".join(
        [
            f"`results/{name}`: {d['device']} ({d['backend']}, {d['cpu_count']} CPU cores); "
            f"{s['model']}; data: {data}; NUTS {s['chains']} chains x {s['warmup']} warmup + "
            f"{s['draws']} draws; SVI {s['svi_steps']:,} steps; limit {num(s['max_seconds'])} s "
            "per G and method. R-hat and ESS over every latent parameter; true ROAS in the 90% "
            "HDI (for SVI the guide's interval)."
            + (f" Cost growth: {'; '.join(growth)}." if growth else ""),
            "",
            table(
                [
                    "G",
                    "method",
                    "run s",
                    "compile s",
                    "max R-hat",
                    "min ESS",
                    "ESS/s",
                    "steps/draw",
                    "divergences",
                    "true ROAS in HDI",
                    "final loss",
                    "params",
                    "peak MB",
                ],
                "rlrrrrrrrrrrr",
                rows,
            ),  # fmt: skip
        ]
    )


def meridian_geo(name: str = "meridian_geo_cpu.json") -> str:
    d = load(name)
    if d is None:
        return missing(name)
    s = d["settings"]
    header = [
        "",
        "wall s",
        "sampling s",
        "min bulk ESS (all)",
        "min bulk ESS (national)",
        "ESS/s (wall)",
        "max R-hat",
        "divergences",
        "true ROAS in 90% interval",
        "max abs ROAS error",
    ]
    rows = []
    for key, label in (
        ("mmm_jax", "**mmm_jax** geo model"),
        ("mmm_jax_partially_centred", "mmm_jax, offsets partially centred (`auto`)"),
    ):
        o = d.get(key)
        if not o:
            continue
        rows.append(
            [
                label,
                num(o["wall_s"]),
                num(o["run_s"]),
                f"{fixed(o['min_ess_bulk'], 0)} (`{o['min_ess_site']}`)"
                if o.get("min_ess_site")
                else fixed(o["min_ess_bulk"], 0),
                fixed(o["min_ess_bulk_global"], 0) if o.get("min_ess_bulk_global") else "",
                num(o["ess_per_s_wall"]),
                fixed(o["r_hat_max"], 3),
                str(o.get("divergences", "")),
                "4/4" if o["all_true_roas_in_hdi"] else "no",
                pct(o["max_abs_roas_rel_error"], 1),
            ]
        )
    inside = sum(v["in_ci"] for v in d["roas"].values())
    rows.append(
        [
            f"Meridian {d['versions']['google-meridian']}, defaults",
            num(d["build_s"] + d["fit_s"]),
            num(d["fit_s"]),
            f"{fixed(d['min_ess_bulk'], 0)} (`{d['min_ess_site']}`)",
            fixed(d["min_ess_bulk_channel"], 0),
            num(d["min_ess_bulk"] / (d["build_s"] + d["fit_s"])),
            f"{fixed(d['r_hat_max'], 3)} (national {fixed(d['r_hat_max_channel'], 3)})",
            str(d["divergences"]),
            f"{inside}/{len(d['roas'])}",
            pct(d["max_abs_roas_rel_error"], 1),
        ]
    )
    lines = [
        f"`results/{name}`: {d.get('processor', 'CPU')}; {d['n_geo']} geos; {s['chains']} chains x {s['n_adapt']} warm-up + "
        f"{s['n_keep']} draws each; Meridian population: {s['population']}; "
        f"TensorFlow {d['versions']['tensorflow']}. Meridian's sampling time includes its "
        "tracing; mmm_jax's wall time includes its compile, its sampling time does not. "
        "National: Meridian's `roi_m`, `alpha_m`, `ec_m`, `slope_m`; mmm_jax's global parameters.",
        "",
        table(header, "lrrrrrrrrr", rows),
    ]
    if "ratio_ess_per_s" in d:
        r = d["ratio_ess_per_s"]
        lines += [
            "",
            f"ESS/s ratio, mmm_jax to Meridian, over every parameter: "
            f"**{r['mmm_jax_wall_over_meridian']:.0f}x** on wall time, "
            f"{r['mmm_jax_run_over_meridian']:.0f}x on sampling time.",
        ]
    if "ratio_ess_per_s_national" in d:
        r = d["ratio_ess_per_s_national"]
        lines[-1] += (
            f" Over the national parameters only: **{r['mmm_jax_wall_over_meridian']:.1f}x** "
            f"on wall time, {r['mmm_jax_run_over_meridian']:.1f}x on sampling time."
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- driver

TABLES: dict[str, Callable[[], str]] = {
    "kernels_cpu": lambda: kernels("kernels_cpu.json"),
    "kernels_gpu": lambda: kernels("kernels_gpu.json"),
    "optimize_cpu": optimize_cpu,
    "optimize_end_to_end_cpu": optimize_end_to_end,
    "fit_speed_cpu": lambda: fit_speed("fit_speed_cpu.json"),
    "fit_speed_target": fit_speed_target,
    "fit_speed_gpu": lambda: fit_speed("fit_speed_gpu.json"),
    "anchors": anchors,
    "svi": svi,
    "recovery_seeds": recovery_seeds,
    "sbc_generator": lambda: sbc("sbc_generator.json"),
    "sbc_generator_relative_se": lambda: sbc("sbc_generator_relative_se.json"),
    "sbc_prior": lambda: sbc("sbc_prior.json"),
    "sbc_prior_4chains": lambda: sbc("sbc_prior_4chains.json"),
    "sbc_prior_4chains_f": lambda: sbc("sbc_prior_4chains_f.json"),
    "sbc_prior_pooled": lambda: sbc("sbc_prior_pooled.json"),
    "sbc_prior_godark_pooled": lambda: sbc("sbc_prior_godark_pooled.json"),
    "sbc_prior_pooled_params": lambda: sbc_params("sbc_prior_pooled.json"),
    "waste_curve": waste_curve,
    "scale_cpu": lambda: scale("scale_cpu.json"),
    "scale_cpu_svi": lambda: scale("scale_cpu_svi.json"),
    "scale_cpu_auto": lambda: scale("scale_cpu_auto.json"),
    "rhat_floor": rhat_floor,
    "hdi_mass": hdi_mass,
    "scale_gpu": lambda: scale("scale_gpu.json"),
    "meridian_geo_cpu": meridian_geo,
}


def render(text: str) -> str:
    """``text`` with every marked table regenerated."""
    unknown = sorted({m["name"] for m in MARKER.finditer(text)} - TABLES.keys())
    if unknown:
        raise ValueError(f"unknown table markers {unknown}; known: {sorted(TABLES)}")
    return MARKER.sub(lambda m: m["open"] + TABLES[m["name"]]() + "\n" + m["close"], text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 if the README is out of date")
    p.add_argument("--readme", type=Path, default=README)
    args = p.parse_args(argv)
    old = args.readme.read_text()
    new = render(old)
    if args.check:
        if new == old:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                old.splitlines(True), new.splitlines(True), str(args.readme), "rendered"
            )
        )
        print(
            f"{args.readme} is out of date: run python benchmarks/render_readme.py", file=sys.stderr
        )
        return 1
    if new != old:
        args.readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
