"""Throughput of the adstock and saturation kernels over (geo, time, channel) media.

Each kernel is written for one series and batched over (geo, channel) with
``vmap``, then jitted. Compile time is measured separately from the steady
state (median of several runs, each ended by ``block_until_ready``).
Effective bandwidth counts one read of the media and one write of the output
(2 x 4 bytes per element in float32); the lag weights and per-channel
parameters are negligible.

    python benchmarks/kernels.py                 # full grid, JSON to benchmarks/results/
    python benchmarks/kernels.py --quick --out /tmp/k.json   # smoke test
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import jax
import jax.numpy as jnp

from mmm_jax.transforms.adstock import (
    Adstock,
    adstock_weights,
    geometric_adstock,
    geometric_adstock_associative,
)
from mmm_jax.transforms.conv import causal_convolve, convolve_media
from mmm_jax.transforms.saturation import hill, logistic, michaelis_menten

CHANNELS = 10
LAGS = 28
DTYPE = jnp.float32
MAX_ARRAY_BYTES = 2e9  # skip (geo, time, channel) arrays larger than this
# Peak HBM bandwidth (bytes/s) by device_kind substring: H100 SXM 3.35 TB/s, H200 4.8 TB/s.
PEAK_BANDWIDTH = {"H100": 3.35e12, "H200": 4.8e12}

FULL_T = (100, 1_000, 10_000, 100_000)
FULL_G = (1, 100, 1000)
QUICK_T = (100, 1_000)
QUICK_G = (1, 8)


def _over_geo_and_channel(kernel):
    """``kernel(x (time,), *scalars)`` -> ``f(media (geo, time, channel), *(channel,))``."""

    def batched(media, *params):
        n_params = len(params)
        per_channel = jax.vmap(kernel, in_axes=(-1,) + (0,) * n_params, out_axes=-1)
        return jax.vmap(per_channel, in_axes=(0,) + (None,) * n_params)(media, *params)

    return batched


def build_kernels():
    """Name -> (jitted function of (media, *params), per-channel params (channel,))."""
    c = CHANNELS
    retention = jnp.linspace(0.1, 0.9, c, dtype=DTYPE)
    half = jnp.linspace(0.5, 2.0, c, dtype=DTYPE)
    slope = jnp.linspace(0.5, 3.0, c, dtype=DTYPE)
    rate = jnp.linspace(0.2, 2.0, c, dtype=DTYPE)
    weights = adstock_weights(Adstock.GEOMETRIC, {"retention": retention}, LAGS).astype(DTYPE)
    return {
        "geometric_scan": (jax.jit(_over_geo_and_channel(geometric_adstock)), (retention,)),
        "geometric_associative": (
            jax.jit(_over_geo_and_channel(geometric_adstock_associative)),
            (retention,),
        ),
        # convolve_media already vmaps over (geo, channel): a fused shift-and-add
        f"conv_{LAGS}": (jax.jit(convolve_media), (weights,)),
        # the one-series reference (jnp.convolve) vmapped, for comparison
        f"conv_{LAGS}_jnp_convolve": (
            jax.jit(
                jax.vmap(jax.vmap(causal_convolve, in_axes=(-1, 0), out_axes=-1), in_axes=(0, None))
            ),
            (weights,),
        ),
        "hill": (jax.jit(_over_geo_and_channel(hill)), (half, slope)),
        "michaelis_menten": (jax.jit(_over_geo_and_channel(michaelis_menten)), (half,)),
        "logistic": (jax.jit(_over_geo_and_channel(logistic)), (rate,)),
    }


def time_kernel(fn, args, *, min_runs, max_runs, budget_s):
    """Returns (compile seconds, list of steady-state run seconds)."""
    t0 = time.perf_counter()
    compiled = fn.lower(*args).compile()
    compile_s = time.perf_counter() - t0
    compiled(*args).block_until_ready()  # warm-up (allocations, caches)
    runs = []
    start = time.perf_counter()
    while len(runs) < max_runs:
        t = time.perf_counter()
        compiled(*args).block_until_ready()
        runs.append(time.perf_counter() - t)
        if len(runs) >= min_runs and time.perf_counter() - start > budget_s:
            break
    return compile_s, runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid, for a smoke test")
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON path (default results/kernels_<backend>.json)"
    )
    parser.add_argument(
        "--budget", type=float, default=2.0, help="seconds of steady-state runs per measurement"
    )
    args = parser.parse_args(argv)

    backend = jax.default_backend()
    device_kind = jax.devices()[0].device_kind
    peak = next((v for k, v in PEAK_BANDWIDTH.items() if k in device_kind), None)
    if backend != "gpu":
        peak = None
    t_grid, g_grid = (QUICK_T, QUICK_G) if args.quick else (FULL_T, FULL_G)
    budget = 0.2 if args.quick else args.budget
    min_runs, max_runs = (2, 5) if args.quick else (3, 50)
    out = args.out or Path(__file__).parent / "results" / f"kernels_{backend}.json"

    kernels = build_kernels()
    results, skipped = [], []
    print(f"backend={backend} device={device_kind} channels={CHANNELS} dtype=float32")
    header = (
        f"{'kernel':<22}{'G':>6}{'T':>8}{'compile s':>11}{'run ms':>11}"
        f"{'Melem/s':>11}{'GB/s':>9}" + (f"{'% peak':>8}" if peak else "")
    )
    print(header)
    print("-" * len(header))
    key = jax.random.PRNGKey(0)
    wall0 = time.perf_counter()
    for n_geo in g_grid:
        for n_time in t_grid:
            elements = n_geo * n_time * CHANNELS
            nbytes = elements * jnp.dtype(DTYPE).itemsize
            if nbytes > MAX_ARRAY_BYTES:
                reason = (
                    f"G={n_geo} x T={n_time} x C={CHANNELS} x 4 B = {nbytes / 1e9:.1f} GB "
                    f"per array > {MAX_ARRAY_BYTES / 1e9:.0f} GB"
                )
                skipped.append({"G": n_geo, "T": n_time, "reason": reason})
                print(f"{'(skipped)':<22}{n_geo:>6}{n_time:>8}  {reason}")
                continue
            media = jax.random.uniform(key, (n_geo, n_time, CHANNELS), DTYPE)
            for name, (fn, params) in kernels.items():
                compile_s, runs = time_kernel(
                    fn, (media, *params), min_runs=min_runs, max_runs=max_runs, budget_s=budget
                )
                run_s = statistics.median(runs)
                moved = 2 * nbytes  # media read + output written
                row = {
                    "kernel": name,
                    "G": n_geo,
                    "T": n_time,
                    "C": CHANNELS,
                    "elements": elements,
                    "compile_s": compile_s,
                    "run_s_median": run_s,
                    "run_s_min": min(runs),
                    "runs": len(runs),
                    "elements_per_s": elements / run_s,
                    "gb_per_s": moved / run_s / 1e9,
                    "bandwidth_share": (moved / run_s / peak) if peak else None,
                }
                results.append(row)
                line = (
                    f"{name:<22}{n_geo:>6}{n_time:>8}{compile_s:>11.3f}{run_s * 1e3:>11.3f}"
                    f"{row['elements_per_s'] / 1e6:>11.1f}{row['gb_per_s']:>9.2f}"
                )
                if peak:
                    line += f"{100 * row['bandwidth_share']:>7.1f}%"
                print(line, flush=True)
            del media
    total_s = time.perf_counter() - wall0

    report = {
        "backend": backend,
        "device_kind": device_kind,
        "device_count": jax.device_count(),
        "peak_bandwidth_bytes_per_s": peak,
        "jax_version": jax.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "dtype": "float32",
        "channels": CHANNELS,
        "conv_lags": LAGS,
        "quick": args.quick,
        "grid": {"T": list(t_grid), "G": list(g_grid)},
        "bytes_counted": "2 x 4 B per element: media read + output written",
        "timing": "compile via lower().compile(); steady state = median of runs after one warm-up",
        "total_wall_s": total_s,
        "skipped": skipped,
        "results": results,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{len(results)} measurements in {total_s:.0f} s; wrote {out}")
    if not results or any(not np.isfinite(r["elements_per_s"]) for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
