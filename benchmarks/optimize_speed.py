"""Budget optimiser speed and quality: 1000 posterior draws x 10 channels on this CPU.

Compares `mmm_jax.optimize.optimize_budget` (projected Adam, jit + vmap) with scipy's
SLSQP on the same problem:

  (a) SLSQP on the raw objective, default settings: spend in currency (tens of
      thousands), revenue in the model's scaled target units (coefficients of
      order 1e-5 per unit of currency), finite-difference gradients. This is the
      seed's "vanishing gradient" trap: the first quadratic model's step is of the
      order of the gradient (~1e-5 currency), the objective moves by ~1e-10, under
      SLSQP's absolute ftol (1e-6), so it reports success at the initial allocation.
  (a') the same in currency/currency units, for reference.
  (b) SLSQP on a scaled objective: budget shares, revenue relative to its value at
      the start, exact JAX gradients (jit-compiled), tight ftol.
  (c) per draw: SLSQP on each draw's scaled float64 objective (finite differences, one
      start from the historical mix), against per_draw=True.

Usage: python benchmarks/optimize_speed.py [--draws 1000] [--channels 10] [--out PATH]
Writes benchmarks/results/optimize_cpu.json and prints a table.
"""

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

import jax
import jax.numpy as jnp

from mmm_jax.optimize import optimize_budget
from mmm_jax.transforms import ResponseParams, steady_response
from mmm_jax.transforms.saturation import Saturation


def synthetic_posterior(n_draws: int, n_channel: int, seed: int = 0):
    """Hill/Michaelis-Menten draws of one geo in scaled units, like a national posterior."""
    rng = np.random.default_rng(seed)
    n_mm = n_channel // 3
    kinds = (Saturation.HILL,) * (n_channel - n_mm) + (Saturation.MICHAELIS_MENTEN,) * n_mm
    centre_coef = rng.uniform(0.1, 0.6, n_channel)
    centre_half = rng.uniform(0.5, 2.0, n_channel)
    centre_slope = rng.uniform(0.8, 2.5, n_channel)
    spread = lambda: rng.lognormal(0.0, 0.2, (n_draws, 1, n_channel))  # noqa: E731
    slope = centre_slope * spread()
    slope[..., n_channel - n_mm :] = np.nan  # Michaelis-Menten has no slope
    media_scale = rng.uniform(10_000.0, 60_000.0, n_channel)  # currency per scaled unit
    params = ResponseParams(
        coef=centre_coef * spread(),
        saturation=kinds,
        saturation_params={"half_saturation": centre_half * spread(), "slope": slope},
        synergy=None,
        pairs=None,
        media_scale=media_scale,
        target_scale=np.array(250_000.0),  # currency per scaled unit of revenue
    )
    historical = media_scale * rng.uniform(0.5, 1.5, n_channel)
    return params, historical


def numpy_mean_revenue(params, x, *, currency=True):
    """Mean media revenue over draws in float64 numpy (the scipy objective)."""
    a = np.asarray(x, np.float64) / params.media_scale
    half = params.saturation_params["half_saturation"]
    slope = np.nan_to_num(params.saturation_params["slope"], nan=1.0)
    mm = np.array([k is Saturation.MICHAELIS_MENTEN for k in params.saturation])
    s = np.where(mm, a / (a + half), a**slope / (a**slope + half**slope))
    rev = np.mean(np.sum(params.coef * s, axis=(1, 2)))
    return rev * float(params.target_scale) if currency else rev


def timed(fn, repeats=5):
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, float(np.median(times))


def main(args):
    params, hist = synthetic_posterior(args.draws, args.channels)
    budget = float(hist.sum())
    lower, upper = 0.5 * hist, 2.0 * hist
    response = steady_response(params, geo_mix=np.ones((1, args.channels)))
    key = jax.random.PRNGKey(0)
    kw = dict(budget=budget, lower=lower, upper=upper, key=key, reference=hist)

    # ---- this optimiser: first call compiles, later calls reuse the executable
    jax.jit(lambda v: v + 1)(jnp.zeros(1)).block_until_ready()  # backend start-up, not ours
    t = time.perf_counter()
    ours = optimize_budget(response, **kw)
    first = time.perf_counter() - t
    ours, run = timed(lambda: optimize_budget(response, **kw))
    t = time.perf_counter()
    pd = optimize_budget(response, per_draw=True, **kw)
    pd_first = time.perf_counter() - t
    pd, pd_run = timed(lambda: optimize_budget(response, per_draw=True, **kw), repeats=3)
    pd_only = pd_run - run  # the per-draw solve on top of the pooled one

    bounds = list(zip(lower, upper))
    results = {}

    # ---- (a) raw: currency spend, scaled-target revenue, default SLSQP
    def raw(x):
        return -numpy_mean_revenue(params, x, currency=False)

    cons = [{"type": "eq", "fun": lambda x: x.sum() - budget}]
    r, sec = timed(lambda: minimize(raw, hist, method="SLSQP", bounds=bounds, constraints=cons))
    results["slsqp_raw_scaled_target"] = (r, sec, r.x)

    # ---- (a') currency / currency, default SLSQP
    def cur(x):
        return -numpy_mean_revenue(params, x)

    r, sec = timed(lambda: minimize(cur, hist, method="SLSQP", bounds=bounds, constraints=cons))
    results["slsqp_raw_currency"] = (r, sec, r.x)

    # ---- (b) scaled: shares, relative revenue, exact JAX gradients
    rev0 = numpy_mean_revenue(params, hist)

    @jax.jit
    def value_and_grad(u):
        return jax.value_and_grad(lambda v: -jnp.mean(response(v * budget)) / rev0)(u)

    def scaled(u):
        v, g = value_and_grad(jnp.asarray(u, jnp.float32))
        return float(v), np.asarray(g, np.float64)

    scaled(hist / budget)  # compile outside the timing
    cons_u = [{"type": "eq", "fun": lambda u: u.sum() - 1.0, "jac": lambda u: np.ones_like(u)}]
    r, sec = timed(
        lambda: minimize(
            scaled,
            hist / budget,
            jac=True,
            method="SLSQP",
            constraints=cons_u,
            bounds=[(lo / budget, hi / budget) for lo, hi in bounds],
            options={"ftol": 1e-12, "maxiter": 1000},
        )
    )
    results["slsqp_scaled_jax_grad"] = (r, sec, r.x * budget)

    # ---- (c) per draw: SLSQP one draw at a time (float64 numpy, scaled units as in make_truth)
    def draw_revenue(d, x):
        one = params._replace(
            coef=params.coef[d : d + 1],
            saturation_params={k: v[d : d + 1] for k, v in params.saturation_params.items()},
        )
        return numpy_mean_revenue(one, x)

    def solve_draw(d):
        rev0_d = draw_revenue(d, hist)
        r = minimize(
            lambda u: -draw_revenue(d, u * budget) / rev0_d,
            hist / budget,
            method="SLSQP",
            constraints=cons_u,
            bounds=[(lo / budget, hi / budget) for lo, hi in bounds],
            options={"ftol": 1e-12, "maxiter": 1000},
        )
        return r.x * budget

    n_check = min(args.per_draw_check, args.draws)
    t = time.perf_counter()
    slsqp_draws = np.stack([solve_draw(d) for d in range(n_check)])
    slsqp_pd_sec = (time.perf_counter() - t) * args.draws / n_check
    rows_ours = np.asarray(response.aligned(jnp.asarray(pd.per_draw_allocation)))[:n_check]
    rows_slsqp = np.asarray(
        response.aligned(
            jnp.asarray(np.concatenate([slsqp_draws, pd.per_draw_allocation[n_check:]]))
        )
    )[:n_check]
    pd_rel = rows_ours / rows_slsqp - 1.0  # per draw, ours vs SLSQP

    hist_rev = numpy_mean_revenue(params, hist)
    ours_rev = numpy_mean_revenue(params, ours.allocation)
    rows = [
        ("historical allocation", None, hist_rev, hist, ""),
        (
            "mmm_jax optimize_budget",
            run,
            ours_rev,
            ours.allocation,
            f"compile {first - run:.2f} s; KKT spread {ours.kkt['spread']:.1e}",
        ),
    ]
    for name, (r, sec, x) in results.items():
        moved = float(np.max(np.abs(x - hist) / hist))
        rows.append(
            (
                f"scipy {name}",
                sec,
                numpy_mean_revenue(params, x),
                x,
                f"nit {r.nit}, '{r.message}', max move {moved:.1e}",
            )
        )

    print(
        f"\n{args.draws} draws x {args.channels} channels, budget {budget:,.0f}/period, "
        f"bounds 0.5x-2x historical; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, jax {jax.__version__} ({jax.default_backend()})\n"
    )
    print("| method | run s | mean media revenue | uplift vs historical | share of ours | notes |")
    print("|---|---|---|---|---|---|")
    table = []
    for name, sec, rev, x, note in rows:
        uplift = rev - hist_rev
        share = uplift / (ours_rev - hist_rev)
        s = "" if sec is None else f"{sec:.3f}"
        print(f"| {name} | {s} | {rev:,.1f} | {uplift:,.1f} | {share:.4f} | {note} |")
        table.append(
            {
                "method": name,
                "run_seconds": sec,
                "mean_media_revenue": rev,
                "uplift": uplift,
                "share_of_ours": share,
                "notes": note,
                "allocation": np.asarray(x).tolist(),
            }
        )
    print(
        f"\nper_draw=True ({args.draws} separate optima): {pd_run:.3f} s per call "
        f"(pooled + per-draw; per-draw part {pd_only:.3f} s), compile {pd_first - pd_run:.2f} s"
    )
    print(
        f"scipy SLSQP per draw (scaled, float64, finite differences): "
        f"{slsqp_pd_sec:.2f} s for {args.draws} "
        f"draws (extrapolated from {n_check}, one start each); on those draws, revenue "
        f"ours / SLSQP - 1: min {pd_rel.min():+.1e}, median {np.median(pd_rel):+.1e}, "
        f"max {pd_rel.max():+.1e} (S-shaped draws have local optima)"
    )
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"pooled optimiser: {first - run:.2f} s compile, {run:.3f} s run, "
        f"converged={ours.converged}"
    )

    out = {
        "machine": {
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "jax": jax.__version__,
            "backend": jax.default_backend(),
            "load_average_1min": os.getloadavg()[0],
        },
        "problem": {
            "draws": args.draws,
            "channels": args.channels,
            "budget": budget,
            "bounds": "0.5x-2x historical",
            "utility": "mean_revenue",
        },
        "ours": {
            "compile_seconds": first - run,
            "run_seconds": run,
            "num_steps": ours.settings["num_steps"],
            "num_starts": ours.settings["num_starts"],
            "kkt_spread": ours.kkt["spread"],
            "kkt_max_violation": ours.kkt["max_violation"],
            "converged": ours.converged,
        },
        "per_draw": {
            "compile_seconds": pd_first - pd_run,
            "run_seconds": pd_run,
            "per_draw_part_seconds": pd_only,
            "prob_more": np.asarray(pd.prob_more).tolist(),
            "slsqp_per_draw_seconds_extrapolated": slsqp_pd_sec,
            "slsqp_per_draw_checked_draws": n_check,
            "revenue_ratio_minus_1_vs_slsqp": {
                "min": float(pd_rel.min()),
                "median": float(np.median(pd_rel)),
                "max": float(pd_rel.max()),
            },
        },
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument(
        "--per-draw-check",
        type=int,
        default=50,
        help="draws solved one by one with SLSQP to compare per-draw answers and time",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results" / "optimize_cpu.json",
    )
    main(ap.parse_args())
