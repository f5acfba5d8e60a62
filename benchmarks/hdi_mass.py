"""How much posterior mass do the library's HDIs hold? Judged on chains they never saw.

An HDI read off draws is the shortest window holding the nominal share of
them (:func:`mmm_jax.diagnostics.hdi`, as ArviZ's). Choosing the shortest
window favours one where the draws happen to bunch, so the window holds a
little less of the posterior than of the draws. In simulation-based
calibration (``sbc.py``) that shortfall reads as under-coverage; this script
measures it on its own.

Each dataset is drawn from the model's prior as in ``sbc.py``'s prior family
and fitted with NUTS on ``--chains`` chains (8 by default), split in two
halves of ``--chains / 2`` chains each: the half that ``sbc.py`` fits (4 x 500
draws by default). The interval read off one half is judged by the share of
the other half's draws it holds, an estimate of its posterior mass that the
choice of window did not see; both ways round, averaged. Scored per
quantity (ROAS, marginal ROAS, baseline share) and level (50/80/90%), for

* ``hdi``: the library's HDI;
* ``central``: the equal-tailed interval, whose mass the draws estimate
  without that selection: the control.

The held-out half is a posterior sample only as far as the chains mix; a
fit with chains that disagree gives both intervals too little mass, which
the control shows. An error every chain shares (a tail none of them
explores, a posterior of the wrong shape) is invisible here: what is
measured is the mass under the sampler's distribution, the estimator's
error alone.

Writes ``OUT/hdi_mass.json`` (each fit's held-out masses, the bulk ESS of
the half an interval is read off and the skewness, and the summary, with 95% intervals from resampling whole fits) and
``OUT/hdi_mass.png``. A rerun with the same settings resumes.

Usage::

    python benchmarks/hdi_mass.py [--datasets 30] [--first-seed 1] [--chains 8]
        [--warmup 500] [--draws 500] [--lift none|godark] [--out DIR]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

if __name__ == "__main__":
    from mmm_jax.runtime import configure_devices

    configure_devices(8)  # before JAX starts: one CPU device per chain

import sbc  # noqa: E402  (the prior family, its keys and the fit's quantities)

LEVELS = (0.5, 0.8, 0.9)
QUANTITIES = ("roas", "marginal_roas", "baseline_share")
TESTS = {"none": "no lift tests", "godark": "one go-dark test per channel"}


def central(x: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval over the first axis."""
    tail = (1.0 - prob) / 2
    return np.quantile(x, tail, axis=0), np.quantile(x, 1.0 - tail, axis=0)


def estimators() -> dict:
    from mmm_jax.diagnostics import hdi

    return {"hdi": hdi, "central": central}


def heldout_mass(x: np.ndarray, chains: int, levels=LEVELS) -> dict:
    """Posterior mass of each interval read off half the chains, judged on the other half.

    Args:
      x: Draws ``(sample, k)``, chains one after another.
      chains: Number of chains (even).
      levels: Nominal interval masses.

    Returns:
      ``{estimator: {level: (k,) mass}}``: the share of one half's draws inside
      the interval read off the other half, averaged over both ways round.
    """
    if chains < 2 or chains % 2:
        raise ValueError(f"held-out mass needs an even number of chains, got {chains}")
    if x.shape[0] % chains:
        raise ValueError(f"{x.shape[0]} draws do not split into {chains} chains")
    half = x.shape[0] // 2
    a, b = x[:half], x[half:]

    def inside(draws, lo, hi):
        return np.mean((draws >= lo) & (draws <= hi), axis=0)

    out = {}
    for name, interval in estimators().items():
        out[name] = {}
        for level in levels:
            mass_b = inside(b, *interval(a, level))
            mass_a = inside(a, *interval(b, level))
            out[name][level] = (mass_a + mass_b) / 2
    return out


def score(fit, chains: int) -> dict:
    """One fit's held-out masses, ESS and skewness per quantity."""
    from mmm_jax.diagnostics.metrics import contributions, marginal_roas
    from mmm_jax.diagnostics.summary import convergence

    contrib = contributions(fit)
    draws = {
        "roas": contrib.roas,
        "marginal_roas": marginal_roas(fit),
        "baseline_share": contrib.baseline_share[:, None],
    }
    out = {**convergence(fit), "n_draws": int(fit.n_samples)}
    for q, x in draws.items():
        x = np.asarray(x, dtype=float)
        mass = heldout_mass(x, chains)
        half = x.shape[0] // 2
        out[q] = {
            # the information of the draws one interval is read off
            "ess_bulk": sbc.ess_bulk(x[:half], chains // 2).tolist(),
            "skew": sbc.skewness(x).tolist(),
            "mass": {e: {str(lv): m.tolist() for lv, m in ms.items()} for e, ms in mass.items()},
        }
    return out


def summarise(runs: list[dict]) -> dict:
    """Mean held-out mass per quantity, estimator and level, with intervals over fits."""
    out = {"n_fits": len(runs)}
    for q in QUANTITIES:
        out[q] = {}
        for e in ("hdi", "central"):
            out[q][e] = {}
            for lv in LEVELS:
                per_fit = [np.asarray(r[q]["mass"][e][str(lv)]) for r in runs]
                values = np.concatenate(per_fit)
                out[q][e][str(lv)] = {
                    "mean": float(values.mean()),
                    "ci95": sbc.bootstrap_interval(per_fit),
                }
        ess = np.concatenate([r[q]["ess_bulk"] for r in runs])
        out[q]["ess_bulk_median"] = float(np.median(ess))
    return out


def plot(runs: list[dict], summary: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    ax = axes[0]
    width = 0.12
    colors = {"hdi": "tab:red", "central": "tab:blue"}
    for i, q in enumerate(QUANTITIES):
        for j, e in enumerate(("hdi", "central")):
            for k, lv in enumerate(LEVELS):
                s = summary[q][e][str(lv)]
                x = k + (i - 1) * 2.2 * width + (j - 0.5) * width
                lo, hi = s["ci95"]
                ax.errorbar(
                    x,
                    100 * (s["mean"] - lv),
                    yerr=[[100 * (s["mean"] - lo)], [100 * (hi - s["mean"])]],
                    fmt="os^"[i],
                    color=colors[e],
                    label=f"{e}, {q}" if k == 0 else None,
                )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(range(len(LEVELS)), [f"{lv:.0%}" for lv in LEVELS])
    ax.set_xlabel("nominal level")
    ax.set_ylabel("held-out mass - nominal (points)")
    ax.set_title("mass of the interval on chains it never saw")
    ax.legend(fontsize=7)
    ax = axes[1]
    for i, q in enumerate(QUANTITIES):
        ess = np.concatenate([r[q]["ess_bulk"] for r in runs])
        gap = np.concatenate([np.asarray(r[q]["mass"]["hdi"]["0.5"]) - 0.5 for r in runs])
        ax.scatter(ess, 100 * gap, s=10, marker="os^"[i], label=q, alpha=0.6)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("bulk ESS of the draws the interval is read off")
    ax.set_ylabel("50% HDI: held-out mass - 50% (points)")
    ax.set_title("each fit's 50% HDI against its ESS")
    ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def settings(args) -> dict:
    return {
        "family": "prior",
        "chains": args.chains,
        "warmup": args.warmup,
        "draws": args.draws,
        "first_seed": args.first_seed,
        "lift": args.lift,
    }


def run(args) -> dict:
    import jax

    from mmm_jax import enable_compilation_cache
    from mmm_jax.inference import fit_nuts

    enable_compilation_cache()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"hdi_mass{args.tag}.json"
    report = {"settings": settings(args), "runs": []}
    if path.is_file():
        old = json.loads(path.read_text())
        if old.get("settings") == report["settings"]:
            report["runs"] = old["runs"]
    done = {r["seed"] for r in report["runs"]}
    mt = sbc.load_generator()
    config = sbc.model_config(None)
    for seed in range(args.first_seed, args.first_seed + args.datasets):
        if seed in done:
            continue
        start = time.perf_counter()
        ds = sbc.prior_dataset(mt, seed, config)
        fit = fit_nuts(
            ds.data,
            config,
            key=sbc.fit_key(seed),
            num_warmup=args.warmup,
            num_samples=args.draws,
            num_chains=args.chains,
            lift_tests=ds.lift if args.lift == "godark" else None,
            progress_bar=False,
        )
        rec = {"seed": seed, **score(fit, args.chains)}
        rec["fit_s"] = time.perf_counter() - start
        report["runs"].append(rec)
        path.write_text(json.dumps(report, indent=1))
        m = rec["baseline_share"]["mass"]
        print(
            f"[{len(report['runs'])}] seed {seed}: {rec['fit_s']:.1f} s, r_hat "
            f"{rec['r_hat_max']:.3f}; baseline share 50% HDI holds {m['hdi']['0.5'][0]:.3f} "
            f"of the held-out draws (central {m['central']['0.5'][0]:.3f})",
            flush=True,
        )
        jax.clear_caches()  # each fit compiles its own loop; free it (see sbc.py)
        gc.collect()
    report["summary"] = summarise(report["runs"])
    report["backend"] = jax.default_backend()
    path.write_text(json.dumps(report, indent=1))
    half = args.chains // 2
    plot(
        report["runs"],
        report["summary"],
        path.with_suffix(".png"),
        f"{len(report['runs'])} prior datasets ({TESTS[args.lift]}): intervals from {half} "
        f"chains x {args.draws} draws, judged on the other {half}",
    )
    return report


def print_summary(summary: dict) -> None:
    print(f"{summary['n_fits']} fits; held-out mass, mean [95% over fits]:")
    for q in QUANTITIES:
        cells = []
        for lv in LEVELS:
            h, c = summary[q]["hdi"][str(lv)], summary[q]["central"][str(lv)]
            cells.append(
                f"{lv:.0%}: HDI {h['mean']:.3f} [{h['ci95'][0]:.3f}, {h['ci95'][1]:.3f}]"
                f" central {c['mean']:.3f}"
            )
        print(f"  {q} (median ESS {summary[q]['ess_bulk_median']:.0f}): " + "; ".join(cells))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", type=int, default=30)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--chains", type=int, default=8, help="even: half give the interval")
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--lift", choices=("none", "godark"), default="none")
    p.add_argument("--out", default=str(HERE / "results"))
    p.add_argument("--tag", default="", help="suffix of the output file names")
    args = p.parse_args(argv)
    if args.chains < 2 or args.chains % 2:
        p.error(f"--chains must be even and at least 2, got {args.chains}")
    if args.datasets < 1:
        p.error("--datasets must be at least 1")
    report = run(args)
    print_summary(report["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
