r"""Scale benchmark: NUTS and SVI of the geo model for G geos x 156 weeks x 10 channels.

For each G in ``--geos`` the synthetic data come from `mmm_jax.synthetic.simulate`
(``SimulationConfig(n_geos=G, freq="W-MON", n_periods=156)``, 10 channels: the
four default channel kinds cycled, renamed). The model is
``ModelConfig(geo_pooling=GeoPooling())`` (per-geo media effects, non-centred;
shared curves). NUTS uses a structured mass matrix: dense over the global
parameters, diagonal over the per-geo ones (a dense matrix over 10 G per-geo
offsets would cost O(G^2) memory and time per leapfrog step).

Measured per G, each in its own subprocess (so peak memory is that run's):

* NUTS wall time, compile time apart (a 1-warmup/1-draw run of the same model is
  almost all compilation; it is timed on a second such run, after one that
  absorbs the process's one-time costs; ``run_s = wall_s - compile_s``), min bulk ESS over
  ``media/roas`` and ``geo/media_spread``, ESS per second of run time, leapfrog
  steps per draw, divergences;
* SVI (AutoNormal, ``--svi-steps``) wall time, compile time apart likewise;
* peak memory: ``resource.getrusage`` max RSS on a CPU, ``peak_bytes_in_use``
  of the device's ``memory_stats()`` on a GPU.

Each G runs under a limit of ``--max-seconds`` (wall time of its subprocess); a G
that exceeds it (or fails) is recorded as such and the larger G of that method as
skipped. The JSON is rewritten after every G, so a run stopped from outside
keeps what it measured.

Usage (the full GPU run is one command)::

    python benchmarks/scale.py --chains 4 --warmup 1000 --draws 1000 --svi-steps 10000 \\
        --geos 1,10,50,200,1000 --max-seconds 600 --out benchmarks/results/scale_gpu.json

Writes ``OUT`` (JSON), ``OUT`` with ``.md`` (a markdown table with the device
name) and ``.png`` (log-log plot of time against G).
"""

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _data(n_geo: int, n_weeks: int, n_channels: int, seed: int):
    from mmm_jax.data import from_frame
    from mmm_jax.synthetic import DEFAULT_CHANNELS, SimulationConfig, simulate

    channels = tuple(
        dataclasses.replace(DEFAULT_CHANNELS[i % len(DEFAULT_CHANNELS)], name=f"ch{i:02d}")
        for i in range(n_channels)
    )
    sim = simulate(
        SimulationConfig(
            n_geos=n_geo,
            freq="W-MON",
            n_periods=n_weeks,
            max_lag=8,
            channels=channels,
        ),
        seed=seed,
    )
    return from_frame(sim.frame, geo="geo" if n_geo > 1 else None, controls=("organic_traffic",))


def _peak_memory_mb() -> float:
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _mass_blocks(data, config):
    """Dense block over global sites, diagonal over per-geo ones."""
    from numpyro.handlers import seed, trace

    from mmm_jax.models import build_inputs, mmm

    tr = trace(seed(mmm, 0)).get_trace(build_inputs(data, config), config, data.target_scaled)
    per_geo = {"geo/media_z", "geo/seasonality_z", "baseline/intercept"}
    sites = [
        k
        for k, v in tr.items()
        if v["type"] == "sample" and not v["is_observed"] and k not in per_geo
    ]
    return [tuple(sites)]


def _min_ess(fit) -> float:
    import arviz as az
    import numpy as np

    names = [k for k in ("media/roas", "geo/media_spread") if k in fit.draws]
    ess = az.ess(az.convert_to_dataset({k: fit.draws[k] for k in names}), method="bulk")
    return float(min(np.min(ess[v].values) for v in ess.data_vars))


def run_one(args) -> dict:
    """One G, one method, in this process."""
    import numpy as np

    import jax

    from mmm_jax.inference import fit_nuts, fit_svi
    from mmm_jax.models import GeoPooling, ModelConfig

    data = _data(args.one, args.weeks, args.channels, args.seed)
    config = ModelConfig(geo_pooling=GeoPooling())
    key = jax.random.PRNGKey(args.seed)
    shard = bool(args.shard)
    out = {"G": args.one, "method": args.method, "n_params": None}
    if args.method == "nuts":
        blocks = _mass_blocks(data, config)
        common = dict(
            key=key,
            num_chains=args.chains,
            dense_mass=blocks,
            chain_method=args.chain_method,
            progress_bar=False,
            geo_sharding=shard,
        )
        fit_nuts(data, config, num_warmup=1, num_samples=1, **common)  # one-time process costs
        t = time.perf_counter()
        fit_nuts(data, config, num_warmup=1, num_samples=1, **common)
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        fit = fit_nuts(data, config, num_warmup=args.warmup, num_samples=args.draws, **common)
        wall = time.perf_counter() - t
        ess = _min_ess(fit)
        run_s = max(wall - compile_s, 1e-9)
        out.update(
            wall_s=wall,
            compile_s=compile_s,
            run_s=run_s,
            min_ess_bulk=ess,
            ess_per_s=ess / run_s,
            steps_per_draw=float(np.mean(fit.stats["num_steps"])),
            divergences=fit.info["divergences"],
            chain_method=fit.info["chain_method"],
            n_params=int(sum(np.prod(v.shape[2:]) for v in fit.draws.values())),
        )
    else:
        common = dict(key=key, guide="auto_normal", progress_bar=False, geo_sharding=shard)
        fit_svi(data, config, num_steps=1, num_samples=10, **common)  # one-time process costs
        t = time.perf_counter()
        fit_svi(data, config, num_steps=1, num_samples=10, **common)
        compile_s = time.perf_counter() - t
        t = time.perf_counter()
        fit = fit_svi(data, config, num_steps=args.svi_steps, num_samples=200, **common)
        wall = time.perf_counter() - t
        out.update(
            wall_s=wall,
            compile_s=compile_s,
            run_s=max(wall - compile_s, 1e-9),
            final_loss=fit.info["final_loss"],
            converged=fit.info["converged"],
        )
    out["peak_memory_mb"] = _peak_memory_mb()
    return out


def _child(args, g: int, method: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--one", str(g), "--method", method]
    for name in ("chains", "warmup", "draws", "svi_steps", "weeks", "channels", "seed"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.chain_method:
        cmd += ["--chain-method", args.chain_method]
    if args.shard:
        cmd += ["--shard"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"G": g, "method": method, "skipped": f"timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        return {"G": g, "method": method, "error": proc.stderr[-1500:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"# Scale benchmark on {report['device']} ({report['backend']}, {report['cpu_count']} cores)",
        "",
        f"{s['weeks']} weeks x {s['channels']} channels; "
        + "; ".join(
            {
                "nuts": f"NUTS {s['chains']} chains x {s['warmup']} warmup + {s['draws']} draws "
                f"({s['chain_method'] or 'default'} chains, "
                f"geo sharding {'on' if s['shard'] else 'off'})",
                "svi": f"SVI AutoNormal {s['svi_steps']} steps",
            }[m]
            for m in s.get("methods", ["nuts", "svi"])
        )
        + f"; limit {s['max_seconds']:.0f} s per G and method. Times in seconds; "
        "run = wall - compile.",
        "",
        "| G | params | NUTS wall | compile | run | min ESS | ESS/s | steps/draw | div "
        "| SVI wall | SVI compile | peak MB (NUTS/SVI) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_g: dict[int, dict] = {}
    for r in report["results"]:
        by_g.setdefault(r["G"], {})[r["method"]] = r
    for g in sorted(by_g):
        n, v = by_g[g].get("nuts", {}), by_g[g].get("svi", {})

        def f(row, key, fmt="{:.1f}"):
            if key in row:
                return fmt.format(row[key])
            if key != "wall_s":
                return "-"
            return "skipped: " + row["skipped"] if "skipped" in row else "error" * ("error" in row)

        lines.append(
            f"| {g} | {n.get('n_params', '')} | {f(n, 'wall_s')} | {f(n, 'compile_s')} "
            f"| {f(n, 'run_s')} | {f(n, 'min_ess_bulk', '{:.0f}')} | {f(n, 'ess_per_s', '{:.2f}')} "
            f"| {f(n, 'steps_per_draw', '{:.0f}')} | {n.get('divergences', '')} "
            f"| {f(v, 'wall_s')} | {f(v, 'compile_s')} "
            f"| {f(n, 'peak_memory_mb', '{:.0f}')} / {f(v, 'peak_memory_mb', '{:.0f}')} |"
        )
    return "\n".join(lines) + "\n"


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, key, style in (
        ("nuts", "run_s", "o-"),
        ("nuts", "compile_s", "o:"),
        ("svi", "run_s", "s-"),
    ):
        rows = [r for r in report["results"] if r["method"] == method and key in r]
        if rows:
            ax.plot([r["G"] for r in rows], [r[key] for r in rows], style, label=f"{method} {key}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("geos G")
    ax.set_ylabel("seconds")
    ax.set_title(f"time against G ({report['device']})")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_lines():
        ax.legend()
    else:  # every G timed out or failed: say so rather than show empty axes
        ax.text(0.5, 0.5, "no G finished", transform=ax.transAxes, ha="center")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--geos", default="1,10,50,200,1000")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--svi-steps", type=int, default=10_000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chain-method", default=None, help="parallel, vectorized or sequential")
    p.add_argument("--shard", action="store_true", help="shard geos over all devices")
    p.add_argument("--methods", default="nuts,svi")
    p.add_argument(
        "--max-seconds",
        type=float,
        default=180.0,
        help="time limit per G and method; larger G are skipped once one exceeds it",
    )
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale_cpu.json"))
    p.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default="nuts", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.one is not None:  # child: one G, one method
        from mmm_jax.runtime import configure_devices

        configure_devices(args.chains)
        print(json.dumps(run_one(args)))
        return None

    import jax

    geos = sorted(int(g) for g in args.geos.split(","))
    methods = [m for m in args.methods.split(",") if m]
    # Each G runs under a limit of --max-seconds. Cost does not fall with G, so
    # once a G exceeds the limit the larger ones are skipped. (An earlier
    # version skipped a G whose time, extrapolated linearly from the last one,
    # exceeded the limit: on a GPU, where time grows far more slowly than G,
    # that skipped every G after the first.)
    results, over = [], {}
    # The device is asked for after the children ran: JAX in this process would
    # otherwise take most of a GPU's memory away from them. Until then it is None.
    report = {
        "benchmark": "scale",
        "device": None,
        "backend": None,
        "cpu_count": os.cpu_count(),
        "settings": {
            "geos": geos,
            "chains": args.chains,
            "warmup": args.warmup,
            "draws": args.draws,
            "svi_steps": args.svi_steps,
            "weeks": args.weeks,
            "channels": args.channels,
            "chain_method": args.chain_method,
            "shard": args.shard,
            "max_seconds": args.max_seconds,
            "methods": methods,
            "model": "ModelConfig(geo_pooling=GeoPooling()), Weibull-PDF adstock + Hill",
        },
        "results": results,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for g in geos:
        for method in methods:
            if method in over:
                r = {"G": g, "method": method, "skipped": over[method]}
            else:
                r = _child(args, g, method, timeout=args.max_seconds)
                if "skipped" in r:
                    over[method] = f"G = {g} took over {args.max_seconds:.0f} s"
                elif "error" in r:  # out of memory, say: a larger G fares no better
                    over[method] = f"G = {g} failed"
            results.append(r)
            print(json.dumps(r), flush=True)
            # Written after every G, so a run stopped from outside keeps what it measured.
            out.write_text(json.dumps(report, indent=2))
    device = jax.devices()[0]
    report["device"], report["backend"] = device.device_kind, device.platform
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(_markdown(report))
    _plot(report, out.with_suffix(".png"))
    print(_markdown(report))
    return report


if __name__ == "__main__":
    main()
