"""Is the posterior calibrated? ROAS recovery over many datasets with known truth.

One dataset says little about a 90% interval: even a perfectly calibrated model
covers all four channels' true ROAS on only 0.9**4 = 66% of datasets. This script
draws ``--seeds`` datasets from the ground-truth generator
(``../shared/benchdata/make_truth.py``, the beauty_daily mechanics with another
seed each; ``--noise-sd`` overrides its 6% revenue noise), fits each with NUTS
and reports, per channel and over all channels:

* coverage of the true ROAS by the 50% and 90% HDIs (a calibrated model covers
  ~50% and ~90%; much less is overconfidence, much more is waste);
* the posterior mean's relative error: mean (bias) and mean absolute;
* the posterior's relative width (90% HDI width / truth);
* how many fits fail the convergence bars (max R-hat >= 1.01, divergences >= 1%).

Prints a table, writes ``OUT/recovery_seeds.json`` (every fit's numbers and the
summary) and a figure ``OUT/recovery_seeds.png`` (posterior mean and 90% HDI
against the truth, one panel per channel); ``_synergy`` and ``_noise<sd>`` are
added to the names when those options are given. OUT defaults to
``benchmarks/results``.

Usage::

    python benchmarks/recovery_seeds.py [--seeds 10] [--first-seed 1] [--noise-sd 0.06]
        [--synergy] [--chains 4 --warmup 500 --draws 500] [--out DIR]

Run as a script so that it can give JAX one CPU device per core for parallel chains.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "benchdata" / "make_truth.py"


def make_dataset(seed: int, noise_sd: float | None, out: Path) -> None:
    """Runs the shared generator into ``out`` (data.csv, truth.json)."""
    cmd = [sys.executable, str(GENERATOR), str(out), "--seed", str(seed)]
    if noise_sd is not None:
        cfg = out.parent / f"noise_{seed}.json"
        cfg.write_text(json.dumps({"noise_sd": noise_sd}))
        cmd += ["--config", str(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"the generator failed for seed {seed}:\n{proc.stderr.strip()[-2000:]}")


def fit_one(data_dir: Path, args, key_seed: int) -> dict:
    """Fits one dataset and returns the per-channel ROAS summary against its truth."""
    import numpy as np

    import jax

    from mmm_jax.data import load_csv
    from mmm_jax.diagnostics import hdi
    from mmm_jax.diagnostics.metrics import contributions
    from mmm_jax.diagnostics.summary import convergence
    from mmm_jax.inference import fit_nuts
    from mmm_jax.models import ModelConfig, SynergyPriors

    truth = json.loads((data_dir / "truth.json").read_text())
    data = load_csv(data_dir / "data.csv", controls=("organic_traffic",))
    config = ModelConfig(synergy=SynergyPriors() if args.synergy else None)
    fit = fit_nuts(
        data,
        config,
        key=jax.random.PRNGKey(key_seed),
        num_warmup=args.warmup,
        num_samples=args.draws,
        num_chains=args.chains,
        progress_bar=False,
    )
    roas = contributions(fit).roas
    true = np.array([truth["channels"][c]["roas"] for c in data.channels])
    lo90, hi90 = hdi(roas, 0.9)
    lo50, hi50 = hdi(roas, 0.5)
    conv = convergence(fit)
    return {
        "channels": list(data.channels),
        "true": true.tolist(),
        "mean": roas.mean(0).tolist(),
        "hdi90": [lo90.tolist(), hi90.tolist()],
        "hdi50": [lo50.tolist(), hi50.tolist()],
        "r_hat_max": float(conv["r_hat_max"]),
        "divergences": int(conv["divergences"]),
        "n_draws": args.chains * args.draws,
        "fit_s": float(fit.timings["total_s"]),
    }


def summarise(runs: list[dict]) -> dict:
    """Coverage, bias, absolute error and width per channel and pooled."""
    import numpy as np

    true = np.array([r["true"] for r in runs])  # (seed, channel)
    mean = np.array([r["mean"] for r in runs])
    lo90, hi90 = (np.array([r["hdi90"][i] for r in runs]) for i in (0, 1))
    lo50, hi50 = (np.array([r["hdi50"][i] for r in runs]) for i in (0, 1))
    in90 = (lo90 <= true) & (true <= hi90)
    in50 = (lo50 <= true) & (true <= hi50)
    err = mean / true - 1.0
    width = (hi90 - lo90) / true

    def stats(axis):
        return {
            "coverage_90": np.mean(in90, axis=axis).tolist(),
            "coverage_50": np.mean(in50, axis=axis).tolist(),
            "bias": np.mean(err, axis=axis).tolist(),
            "mean_abs_error": np.mean(np.abs(err), axis=axis).tolist(),
            "rel_width_90": np.mean(width, axis=axis).tolist(),
        }

    return {
        "per_channel": dict(zip(runs[0]["channels"], _rows(stats(0)))),
        "pooled": stats(None),
        "all_four_covered_90": float(np.mean(np.all(in90, axis=1))),
        "all_within_25pct": float(np.mean(np.all(np.abs(err) < 0.25, axis=1))),
        "n_datasets": len(runs),
        # fits that fail the convergence bars: max R-hat >= 1.01, divergences >= 1%
        "n_r_hat_over_1_01": int(sum(r["r_hat_max"] >= 1.01 for r in runs)),
        "n_divergences_over_1pct": int(sum(r["divergences"] >= 0.01 * r["n_draws"] for r in runs)),
    }


def _rows(columns: dict) -> list[dict]:
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())]


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    channels = runs[0]["channels"]
    fig, axes = plt.subplots(1, len(channels), figsize=(3.2 * len(channels), 3.4), sharey=False)
    for c, ax in enumerate(np.atleast_1d(axes)):
        true = np.array([r["true"][c] for r in runs])
        mean = np.array([r["mean"][c] for r in runs])
        lo = np.array([r["hdi90"][0][c] for r in runs])
        hi = np.array([r["hdi90"][1][c] for r in runs])
        hit = (lo <= true) & (true <= hi)
        seeds = np.array([r.get("seed", i) for i, r in enumerate(runs)])
        ax.vlines(seeds, lo / true, hi / true, color=np.where(hit, "#4c72b0", "#c44e52"), lw=2)
        ax.plot(seeds, mean / true, "o", color="black", ms=4)
        ax.axhline(1.0, color="grey", ls="--", lw=1)
        ax.set_title(f"{channels[c]}: {hit.mean():.0%} covered")
        ax.set_xlabel("generator seed")
        if c == 0:
            ax.set_ylabel("ROAS / true ROAS (mean, 90% HDI)")
    fig.suptitle("ROAS recovery over datasets from the ground-truth generator (red: missed)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10, help="number of datasets")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--noise-sd", type=float, default=None, help="revenue noise (default 0.06)")
    ap.add_argument("--synergy", action="store_true", help="fit with the synergy term")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")
    if args.noise_sd is not None and not args.noise_sd > 0:
        ap.error(f"--noise-sd must be positive, got {args.noise_sd}")
    if not GENERATOR.exists():
        sys.exit(f"the generator is not at {GENERATOR}: ../shared must be beside the checkout")
    from mmm_jax.runtime import configure_devices

    configure_devices(args.chains)  # one CPU device per chain: chains as parallel threads
    import mmm_jax

    mmm_jax.enable_compilation_cache()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.seeds):
            seed = args.first_seed + i
            folder = Path(tmp) / f"seed_{seed}"
            t0 = time.perf_counter()
            make_dataset(seed, args.noise_sd, folder)
            run = fit_one(folder, args, key_seed=seed)
            run["seed"] = seed
            runs.append(run)
            hits = [
                "ok" if lo <= t <= hi else "MISS"
                for lo, t, hi in zip(run["hdi90"][0], run["true"], run["hdi90"][1])
            ]
            errs = " ".join(
                f"{c} {m / t - 1:+.0%} {h}"
                for c, m, t, h in zip(run["channels"], run["mean"], run["true"], hits)
            )
            print(
                f"[{i + 1}/{args.seeds}] seed {seed}: {errs}  (R-hat {run['r_hat_max']:.3f}, "
                f"{run['divergences']} div, {time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    summary = summarise(runs)
    print(f"\n{'channel':8s} {'cov90':>6s} {'cov50':>6s} {'bias':>7s} {'|err|':>6s} {'width':>6s}")
    for name, row in list(summary["per_channel"].items()) + [("pooled", summary["pooled"])]:
        print(
            f"{name:8s} {row['coverage_90']:6.0%} {row['coverage_50']:6.0%} {row['bias']:+7.0%} "
            f"{row['mean_abs_error']:6.0%} {row['rel_width_90']:6.2f}"
        )
    print(
        f"fits with max R-hat >= 1.01: {summary['n_r_hat_over_1_01']}, with divergences >= 1%: "
        f"{summary['n_divergences_over_1pct']} (of {summary['n_datasets']})"
    )
    print(
        f"datasets with all four channels inside the 90% HDI: {summary['all_four_covered_90']:.0%}"
        f" (a calibrated model: ~66%); all four means within 25%: {summary['all_within_25pct']:.0%}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"recovery_seeds{'_synergy' if args.synergy else ''}"
    if args.noise_sd is not None:
        tag += f"_noise{args.noise_sd:g}"
    settings = {k: v for k, v in vars(args).items() if k != "out"}
    (args.out / f"{tag}.json").write_text(
        json.dumps({"settings": settings, "summary": summary, "runs": runs}, indent=2)
    )
    plot(runs, args.out / f"{tag}.png")
    print(f"wrote {args.out / tag}.json and .png")


if __name__ == "__main__":
    main()
