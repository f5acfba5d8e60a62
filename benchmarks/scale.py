r"""Scale benchmark: NUTS and SVI of the geo model as the number of geos G grows.

Data: the generator of ``../shared/benchdata`` (``make_truth.generate``, numpy
only, independent of this package) with the ``geo_weekly`` config (156 weeks,
4 channels, organic traffic, a meta x google synergy) and ``n_geos = G``, seed
20231: at G = 50 these are exactly ``beauty_geo_weekly``. Each G's
``truth.json`` equivalent gives the true ROAS of every channel. Where the
benchdata folder is missing (a bare checkout on a lent GPU) the data come from
`mmm_jax.synthetic.simulate` instead (same shape, no truth), and the report
says so.

The model is ``ModelConfig(geo_pooling=GeoPooling())``: per-geo effects tied to
geo size, non-centred offsets (``--centring`` picks another form), the
baseline integrated out geo by geo.
NUTS uses ``fit_nuts``'s default structured mass matrix (dense over the global
parameters, diagonal over the per-geo offsets). SVI fits the same collapsed
model (the baseline integrated out; the guide covers the media parameters,
the per-geo offsets and the noise) with a mean-field normal guide.

Measured per G, each in its own subprocess (so peak memory is that run's):

* wall time, compile time (a 1-step fit of the same model, timed after one
  that absorbs the process's one-time costs) and ``run_s = wall - compile``;
* NUTS: max R-hat and min bulk ESS over **every** latent parameter (the global
  ones and each geo's offsets; each parameter's own in ``per_parameter``, which
  ``rhat_floor.py`` reads), min bulk ESS over the global ones apart,
  ``ESS/s = min ESS / run_s``, run seconds per effective draw, leapfrog steps
  per draw, divergences;
* ROAS recovery: posterior mean and 90% HDI of each channel's counterfactual
  ROAS over all geos, whether the true ROAS is inside, relative error of the
  mean;
* peak memory: ``resource.getrusage`` max RSS on a CPU, ``peak_bytes_in_use``
  of the device's ``memory_stats()`` on a GPU.

The summary fits the growth ``cost ~ G^k`` of NUTS run seconds per effective
draw (log-log least squares over G >= 10) and of SVI run time, and prints it.
Each G runs under ``--max-seconds``; a G that exceeds it (or fails) is recorded
and the larger G of that method are skipped. The JSON is rewritten after every
G, so a run stopped from outside keeps what it measured.

Usage (the CPU run of issue 18)::

    nice python benchmarks/scale.py --geos 1,5,10,25,50 --methods nuts \
        --chains 4 --warmup 500 --draws 500 --max-seconds 3000
    nice python benchmarks/scale.py --geos 50,200,1000 --methods svi --svi-steps 4000 \
        --out benchmarks/results/scale_cpu_svi.json

Writes ``OUT`` (JSON), ``OUT`` with ``.md`` (a markdown table) and ``.png``
(log-log plot of time against G).
"""

import argparse
import dataclasses
import importlib.util
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHDATA = ROOT.parent / "shared" / "benchdata"
SEED = 20231  # the seed of beauty_geo_weekly
#: ``--centring``: ``GeoPooling.centred`` for each form of the per-geo offsets
#: ("default": whatever ``GeoPooling()`` has, :func:`_centred`).
CENTRING = {"default": None, "auto": None, "centred": True, "noncentred": False}
CENTRING_WORDS = {None: "partially centred", True: "centred", False: "non-centred"}


def _centred(name: str) -> bool | None:
    """``GeoPooling.centred`` for a ``--centring`` choice."""
    if name == "default":
        from mmm_jax.models import GeoPooling

        return GeoPooling().centred
    return CENTRING[name]


def _generator(benchdata: Path):
    spec = importlib.util.spec_from_file_location("make_truth", benchdata / "make_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _data(n_geo: int, benchdata: Path, seed: int = SEED):
    """``(MMMData, {channel: true ROAS} or None, source)`` for ``n_geo`` geos."""
    from mmm_jax.data import from_frame

    if (benchdata / "make_truth.py").is_file():
        gen = _generator(benchdata)
        cfg = json.loads(json.dumps(gen.DEFAULT))
        cfg.update(json.loads((benchdata / "configs" / "geo_weekly.json").read_text()))
        cfg["n_geos"] = n_geo
        frame, _, truth = gen.generate(cfg, seed)
        data = from_frame(frame, geo="geo" if n_geo > 1 else None, controls=("organic_traffic",))
        roas = {c: v["roas"] for c, v in truth["channels"].items()}
        return data, roas, "benchdata make_truth.generate(geo_weekly, n_geos=G)"
    from mmm_jax.synthetic import DEFAULT_CHANNELS, SimulationConfig, simulate

    channels = tuple(dataclasses.replace(DEFAULT_CHANNELS[i], name=f"ch{i:02d}") for i in range(4))
    sim = simulate(
        SimulationConfig(n_geos=n_geo, freq="W-MON", n_periods=156, max_lag=8, channels=channels),
        seed=seed,
    )
    data = from_frame(sim.frame, geo="geo" if n_geo > 1 else None, controls=("organic_traffic",))
    return data, None, "mmm_jax.synthetic.simulate (benchdata not found)"


def _peak_memory_mb() -> float:
    import jax

    device = jax.devices()[0]
    if device.platform != "cpu":
        stats = device.memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _convergence(fit, sites) -> dict:
    """Max R-hat and min bulk ESS over every latent site, and min ESS over the global ones."""
    import arviz as az
    import numpy as np

    n_geo = fit.data.n_geo
    latent = {k: fit.draws[k] for k in sites if k in fit.draws}
    ds = az.convert_to_dataset(latent)
    ess, rhat = az.ess(ds, method="bulk"), az.rhat(ds)
    per_site = {k: float(np.min(ess[k].values)) for k in latent}
    global_sites = [
        k for k, v in latent.items() if not (n_geo > 1 and v.ndim > 2 and v.shape[2] == n_geo)
    ]
    worst = min(per_site, key=per_site.get)
    return {
        "r_hat_max": float(max(np.nanmax(rhat[k].values) for k in latent)),
        "min_ess_bulk": per_site[worst],
        "min_ess_site": worst,
        "min_ess_bulk_global": min(per_site[k] for k in global_sites),
        # Every scalar parameter's bulk ESS and R-hat, for rhat_floor.py: the
        # max R-hat that chains mixing this well would give with no other fault.
        "per_parameter": {
            k: {
                "ess_bulk": np.round(np.ravel(ess[k].values), 1).tolist(),
                "r_hat": np.round(np.ravel(rhat[k].values), 5).tolist(),
            }
            for k in latent
        },
    }


def _recovery(fit, true_roas) -> dict:
    import numpy as np

    from mmm_jax._stats import hdi
    from mmm_jax.diagnostics.metrics import contributions

    roas = contributions(fit).roas  # (draw, channel)
    low, high = hdi(roas)
    out = {}
    for i, name in enumerate(fit.data.channels):
        row = {
            "mean": float(np.mean(roas[:, i])),
            "hdi_low": float(low[i]),
            "hdi_high": float(high[i]),
        }
        if true_roas is not None:
            true = true_roas[name.removeprefix("spend_")]
            row.update(
                true=true,
                in_hdi=bool(low[i] <= true <= high[i]),
                rel_error=float(np.mean(roas[:, i]) / true - 1.0),
            )
        out[name] = row
    return out


def _latent_sites(data, config):
    """Names of the sampled sites of the model NUTS and SVI see."""
    from numpyro.handlers import seed, trace

    from mmm_jax.inference._baseline import pick_baseline_design
    from mmm_jax.models import build_inputs, mmm

    inputs = build_inputs(data, config)
    inputs = inputs._replace(baseline=pick_baseline_design(inputs, config, None))
    tr = trace(seed(mmm, 0)).get_trace(inputs, config, data.target_scaled)
    return [k for k, v in tr.items() if v["type"] == "sample" and not v["is_observed"]]


def _compile_seconds(tiny_fit) -> float:
    """Seconds of a 1-step fit of the same model: almost all compilation.

    Timed on a second such fit, after one that absorbs the process's one-time
    costs (JAX's own compile events double count nested traces, so they are
    not used). It includes one step and the fit's post-processing, so
    ``run_s = wall_s - compile_s`` slightly undercounts the run.
    """
    tiny_fit()
    t = time.perf_counter()
    tiny_fit()
    return time.perf_counter() - t


def run_one(args) -> dict:
    """One G, one method, in this process."""
    import numpy as np

    import jax

    from mmm_jax.inference import fit_nuts, fit_svi
    from mmm_jax.models import GeoPooling, ModelConfig

    data, true_roas, source = _data(args.one, Path(args.benchdata), args.seed)
    config = ModelConfig(geo_pooling=GeoPooling(centred=_centred(args.centring)))
    key = jax.random.PRNGKey(args.seed)
    shard = bool(args.shard)
    out = {"G": args.one, "method": args.method, "data": source}
    latent = _latent_sites(data, config)
    if args.method == "nuts":
        common = dict(
            key=key,
            num_chains=args.chains,
            chain_method=args.chain_method,
            progress_bar=False,
            geo_sharding=shard,
        )
        compile_s = _compile_seconds(
            lambda: fit_nuts(data, config, num_warmup=1, num_samples=1, **common)
        )
        t = time.perf_counter()
        fit = fit_nuts(data, config, num_warmup=args.warmup, num_samples=args.draws, **common)
        wall = time.perf_counter() - t
        run_s = max(wall - compile_s, 1e-9)
        conv = _convergence(fit, latent)
        n_draws = args.chains * args.draws
        out.update(
            wall_s=wall,
            compile_s=compile_s,
            run_s=run_s,
            **conv,
            ess_per_s=conv["min_ess_bulk"] / run_s,
            ess_per_s_global=conv["min_ess_bulk_global"] / run_s,
            seconds_per_effective_draw=run_s / conv["min_ess_bulk"],
            steps_per_draw=float(np.mean(fit.stats["num_steps"])),
            divergences=fit.info["divergences"],
            divergence_rate=fit.info["divergences"] / n_draws,
            chain_method=fit.info["chain_method"],
            n_params=int(sum(np.prod(fit.draws[k].shape[2:]) for k in latent if k in fit.draws)),
        )
    else:
        common = dict(key=key, guide=args.guide, progress_bar=False, geo_sharding=shard)
        compile_s = _compile_seconds(
            lambda: fit_svi(data, config, num_steps=1, num_samples=500, **common)
        )
        t = time.perf_counter()
        fit = fit_svi(data, config, num_steps=args.svi_steps, num_samples=500, **common)
        wall = time.perf_counter() - t
        out.update(
            wall_s=wall,
            compile_s=compile_s,
            run_s=max(wall - compile_s, 1e-9),
            final_loss=fit.info["final_loss"],
            converged=fit.info["converged"],
            guide=args.guide,
            n_params=int(sum(np.prod(fit.draws[k].shape[2:]) for k in latent if k in fit.draws)),
        )
    out["roas"] = _recovery(fit, true_roas)
    if true_roas is not None:
        out["all_true_roas_in_hdi"] = all(r["in_hdi"] for r in out["roas"].values())
    out["peak_memory_mb"] = _peak_memory_mb()
    return out


def _child(args, g: int, method: str, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--one", str(g), "--method", method]
    for name in (
        "chains",
        "warmup",
        "draws",
        "svi_steps",
        "seed",
        "guide",
        "benchdata",
        "centring",
    ):
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


def growth(rows: list[dict], key: str, min_g: int = 10) -> dict | None:
    r"""Least-squares fit of :math:`\log y = a + k \log G` over the rows with ``G >= min_g``.

    Returns ``{"exponent": k, "G": [...], "values": [...]}``, or ``None`` with
    fewer than two such rows.
    """
    import numpy as np

    pts = [(r["G"], r[key]) for r in rows if key in r and r["G"] >= min_g and r[key] > 0]
    if len(pts) < 2:
        return None
    g, y = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    k, _ = np.polyfit(g, y, 1)
    return {"exponent": float(k), "G": [p[0] for p in pts], "values": [p[1] for p in pts]}


def _markdown(report: dict) -> str:
    s = report["settings"]
    lines = [
        f"# Scale benchmark on {report['device']} ({report['backend']}, {report['cpu_count']} cores)",
        "",
        f"Data: {report.get('data')}. Model: {s['model']}. "
        f"NUTS {s['chains']} chains x {s['warmup']} warmup + {s['draws']} draws "
        f"({s['chain_method'] or 'default'} chains); SVI {s['guide']} {s['svi_steps']} steps; "
        f"limit {s['max_seconds']:.0f} s per G and method. Times in seconds; run = wall - compile. "
        "ESS and R-hat over every latent parameter (per-geo offsets included); "
        "'ESS/s glob.' over the global parameters only.",
        "",
        "| G | method | params | wall | compile | run | R-hat max | min ESS | ESS/s | ESS/s glob. "
        "| s / eff. draw | steps/draw | div % | true ROAS in 90% HDI | max abs ROAS err | peak MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]

    def f(row, key, fmt="{:.1f}"):
        return fmt.format(row[key]) if key in row and row[key] is not None else "-"

    for r in sorted(report["results"], key=lambda r: (r["method"], r["G"])):
        if "wall_s" not in r:
            why = r.get("skipped") or "error"
            lines.append(f"| {r['G']} | {r['method']} | {why} |" + " |" * 13)
            continue
        roas = r.get("roas", {})
        inside = [v["in_hdi"] for v in roas.values() if "in_hdi" in v]
        errs = [abs(v["rel_error"]) for v in roas.values() if "rel_error" in v]
        div = f"{100 * r['divergence_rate']:.2f}" if "divergence_rate" in r else "-"
        lines.append(
            f"| {r['G']} | {r['method']} | {r.get('n_params', '')} | {f(r, 'wall_s')} "
            f"| {f(r, 'compile_s')} | {f(r, 'run_s')} | {f(r, 'r_hat_max', '{:.3f}')} "
            f"| {f(r, 'min_ess_bulk', '{:.0f}')} | {f(r, 'ess_per_s', '{:.2f}')} "
            f"| {f(r, 'ess_per_s_global', '{:.2f}')} | {f(r, 'seconds_per_effective_draw', '{:.3f}')} "
            f"| {f(r, 'steps_per_draw', '{:.0f}')} "
            f"| {div} "
            f"| {f'{sum(inside)}/{len(inside)}' if inside else '-'} "
            f"| {f'{max(errs):.1%}' if errs else '-'} | {f(r, 'peak_memory_mb', '{:.0f}')} |"
        )
    lines.append("")
    for name, fit in report.get("growth", {}).items():
        if fit is not None:
            lines.append(f"* {name}: cost ~ G^{fit['exponent']:.2f} over G = {fit['G']}")
    return "\n".join(lines) + "\n"


def _plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    for method, key, style in (
        ("nuts", "run_s", "o-"),
        ("nuts", "compile_s", "o:"),
        ("svi", "run_s", "s-"),
    ):
        rows = [r for r in report["results"] if r["method"] == method and key in r]
        if rows:
            ax.plot([r["G"] for r in rows], [r[key] for r in rows], style, label=f"{method} {key}")
    ax.set_ylabel("seconds")
    ax2 = axes[1]
    rows = [r for r in report["results"] if "seconds_per_effective_draw" in r]
    if rows:
        g = [r["G"] for r in rows]
        ax2.plot(
            g, [r["seconds_per_effective_draw"] for r in rows], "o-", label="NUTS s / eff. draw"
        )
        ref = rows[0]
        ax2.plot(
            g,
            [ref["seconds_per_effective_draw"] * x / ref["G"] for x in g],
            "k:",
            label="linear in G",
        )
    ax2.set_ylabel("run seconds per effective draw")
    for a in axes:
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("geos G")
        a.grid(True, which="both", alpha=0.3)
        if a.get_lines():
            a.legend()
        else:  # nothing finished: say so rather than show empty axes
            a.text(0.5, 0.5, "no G finished", transform=a.transAxes, ha="center")
    fig.suptitle(f"geo model against G ({report['device']})")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--geos", default="1,5,10,25,50")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--svi-steps", type=int, default=4000)
    p.add_argument("--guide", default="auto_normal", help="SVI guide (mmm_jax.inference.Guide)")
    p.add_argument("--seed", type=int, default=SEED)
    p.add_argument("--benchdata", default=str(BENCHDATA), help="folder with make_truth.py")
    p.add_argument("--chain-method", default=None, help="parallel, vectorized or sequential")
    p.add_argument("--shard", action="store_true", help="shard geos over all devices")
    p.add_argument("--methods", default="nuts,svi")
    p.add_argument(
        "--centring",
        choices=tuple(CENTRING),
        default="default",
        help="the per-geo offsets' form: GeoPooling's default, 'auto' (partially centred by "
        "each geo's information), centred or non-centred",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=3000.0,
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
    centred = _centred(args.centring)
    methods = [m for m in args.methods.split(",") if m]
    # Each G runs under a limit of --max-seconds. Cost does not fall with G, so
    # once a G exceeds the limit the larger ones are skipped.
    results, over = [], {}
    # The device is asked for after the children ran: JAX in this process would
    # otherwise take most of a GPU's memory away from them. Until then it is None.
    report = {
        "benchmark": "scale",
        "device": None,
        "backend": None,
        "cpu_count": os.cpu_count(),
        "data": None,
        "settings": {
            "geos": geos,
            "chains": args.chains,
            "warmup": args.warmup,
            "draws": args.draws,
            "svi_steps": args.svi_steps,
            "guide": args.guide,
            "seed": args.seed,
            "chain_method": args.chain_method,
            "shard": args.shard,
            "max_seconds": args.max_seconds,
            "methods": methods,
            "centring": args.centring,
            "model": f"ModelConfig(geo_pooling=GeoPooling(centred={centred})): "
            f"sized geos, {CENTRING_WORDS[centred]} offsets, baseline integrated out",
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
                report["data"] = r.get("data", report["data"])
            results.append(r)
            print(json.dumps(r), flush=True)
            # Written after every G, so a run stopped from outside keeps what it measured.
            out.write_text(json.dumps(report, indent=2))
    nuts = [r for r in results if r["method"] == "nuts"]
    svi = [r for r in results if r["method"] == "svi"]
    report["growth"] = {
        "NUTS run seconds per effective draw": growth(nuts, "seconds_per_effective_draw"),
        "NUTS run seconds": growth(nuts, "run_s"),
        "SVI run seconds": growth(svi, "run_s"),
    }
    for name, fit in report["growth"].items():
        if fit is not None:
            print(f"{name}: cost ~ G^{fit['exponent']:.2f} over G = {fit['G']}")
    device = jax.devices()[0]
    report["device"], report["backend"] = device.device_kind, device.platform
    out.write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(_markdown(report))
    _plot(report, out.with_suffix(".png"))
    print(_markdown(report))
    return report


if __name__ == "__main__":
    main()
