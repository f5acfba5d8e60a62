"""End to end on beauty_daily: NUTS fit -> budget recommendation -> scored with the TRUE response.

Measured the way ../shared/anchors scored PyMC-Marketing and Meridian: the
share of the true attainable uplift (true optimum minus historical, both
scored with the true steady-state media response of make_truth.py) that the
recommended allocation wins, for truth.json's daily budget and 0.5x-2x bounds.

Usage::

    python benchmarks/optimize_end_to_end.py [--fit RUN/fit.npz] [--chains 4 --warmup 1000 --draws 1000]
        [--per-draw] [--out FILE]
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED / "benchdata" / "beauty_daily")
    ap.add_argument("--fit", type=Path, help="reuse a saved fit instead of fitting")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--synergy", action="store_true")
    ap.add_argument(
        "--per-draw", action="store_true", help="also optimise every draw (distribution)"
    )
    ap.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "optimize_end_to_end_cpu.json"
    )
    args = ap.parse_args(argv)

    from mmm_jax.runtime import configure_devices

    configure_devices(args.chains)
    import numpy as np

    import jax

    from mmm_jax.data import load_csv
    from mmm_jax.diagnostics import analyse
    from mmm_jax.inference import Fit, fit_nuts
    from mmm_jax.models import ModelConfig, SynergyPriors
    from mmm_jax.optimize import optimize_budget

    sys.path.insert(0, str(SHARED / "anchors"))
    import truthlib  # the anchors' own scorer, so the numbers compare

    truth = json.loads((args.data / "truth.json").read_text())
    oa = truth["optimal_allocation"]
    if args.fit:
        fit = Fit.load(args.fit)
    else:
        data = load_csv(args.data / "data.csv", controls=("organic_traffic",))
        config = ModelConfig(synergy=SynergyPriors() if args.synergy else None)
        fit = fit_nuts(
            data,
            config,
            key=jax.random.PRNGKey(0),
            num_warmup=args.warmup,
            num_samples=args.draws,
            num_chains=args.chains,
            progress_bar=False,
        )
    names = list(fit.data.channels)
    hist = np.array([oa["historical"][c] for c in names])
    budget = float(oa["daily_budget"])
    lo, hi = oa["bounds_multiple_of_mean"]
    response = analyse(fit).response_fn
    kw = dict(
        budget=budget, lower=lo * hist, upper=hi * hist, reference=hist, key=jax.random.PRNGKey(0)
    )
    t0 = time.perf_counter()
    result = optimize_budget(response, **kw)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = optimize_budget(response, **kw)
    run_s = time.perf_counter() - t0
    alloc = dict(zip(names, map(float, result.allocation)))
    score = truthlib.score_allocation_full(str(args.data), alloc)
    out = {
        "fit": {
            "method": fit.method,
            "draws": fit.n_samples,
            "seconds": fit.timings.get("total_s"),
        },
        "budget": budget,
        "allocation": alloc,
        "true_optimum": oa["optimal"],
        "share_of_true_attainable_uplift": score["share_of_optimal_gain"],
        "share_of_rechecked_optimal_uplift": score["share_of_rechecked_optimal_gain"],
        "optimizer_s": {"first_call_with_compile": first_s, "run": run_s},
        "kkt_converged": bool(result.converged),
    }
    if args.per_draw:
        t0 = time.perf_counter()
        per = optimize_budget(response, per_draw=True, **kw)
        out["per_draw"] = {
            "seconds": time.perf_counter() - t0,
            "prob_more_than_historical": dict(zip(names, map(float, per.prob_more))),
        }
    print(f"{'channel':<10}{'historical':>12}{'recommended':>13}{'true optimum':>14}")
    for n, h in zip(names, hist):
        print(f"{n:<10}{h:>12,.0f}{alloc[n]:>13,.0f}{oa['optimal'][n]:>14,.0f}")
    print(
        f"share of the true attainable uplift: {score['share_of_optimal_gain']:.1%} "
        f"(anchors: PyMC-Marketing 99.7%, Meridian 99.0%)"
    )
    print(f"optimiser: {first_s:.2f} s first call (compile included), {run_s:.3f} s after")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
