r"""How large a max R-hat do chains give that have no fault but their ESS?

R-hat is a noisy statistic. Split into halves, 4 chains of 500 draws are 8
short series; their between-series variance, estimated from 8 values, scatters
around the within-series one even when every chain samples the target exactly,
and the scatter grows as the effective sample size falls. The *maximum* over
many parameters then sits above 1 by an amount fixed by the ESS and the number
of parameters alone. A bar such as "max R-hat < 1.01" is therefore partly an
ESS bar; this script measures which.

For each set of parameters it simulates chains that are stationary from the
first draw, each parameter an AR(1) series
:math:`x_t = \phi x_{t-1} + \sqrt{1 - \phi^2}\, \varepsilon_t` whose
autocorrelation gives the wanted bulk ESS,

.. math::
    \mathrm{ESS} = C N \frac{1 - \phi}{1 + \phi}
    \quad\Longleftrightarrow\quad
    \phi = \frac{r - 1}{r + 1},\; r = \frac{C N}{\mathrm{ESS}}

(:math:`C` chains of :math:`N` draws; ESS above :math:`C N`, which NUTS often
reaches, gives :math:`\phi < 0`), and takes ArviZ's rank-normalised split
R-hat (``az.rhat``, what ``scale.py`` and ``mmm_jax.diagnostics`` report) of
each, then the maximum over the set. Repeated ``--reps`` times, that gives the
distribution of the max R-hat of a sampler whose only shortfall is its ESS:
its *noise floor*.

Two modes, both in one run:

* ``--ess`` x ``--params`` grid: every parameter with the same ESS.
* ``--fit-json scale.json``: each NUTS row of a ``scale.py`` result that holds
  ``per_parameter`` ESS, with the chains, draws and every parameter's own
  measured ESS, against the max R-hat that fit reported. A measured max inside
  the floor's spread says R-hat found nothing the ESS had not; one far above it
  says the chains disagree (a mode, a stuck chain) beyond what their
  autocorrelation explains.

The AR(1) stands in for NUTS's autocorrelation, and the measured ESS are
themselves estimates; the floor is a reference, not a test.

Usage::

    python benchmarks/rhat_floor.py [--chains 4 --draws 500] [--ess 200,400,700,1000,2000]
        [--params 1,25,225] [--reps 200] [--fit-json benchmarks/results/scale_cpu.json]
        [--out benchmarks/results/rhat_floor.json]

Writes ``OUT`` (JSON) and ``OUT`` with ``.png`` (the probability that the max
R-hat is below the bar against ESS, one line per number of parameters; the
fits' floors beside their measured max).
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BAR = 1.01


def ar1_chains(ess: np.ndarray, chains: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) draws with the given bulk ESS per parameter.

    Args:
      ess: Wanted ESS per parameter, ``(param,)``, over all ``chains * draws``.
      chains: Number of chains.
      draws: Draws per chain.
      rng: Random generator.

    Returns:
      ``(chain, draw, param)``.
    """
    ess = np.asarray(ess, dtype=float)
    if np.any(ess <= 0):
        raise ValueError("every ESS must be positive")
    r = chains * draws / ess
    phi = (r - 1.0) / (r + 1.0)
    scale = np.sqrt(1.0 - phi**2)
    eps = rng.standard_normal((draws, chains, ess.size))
    x = np.empty_like(eps)
    x[0] = eps[0]  # N(0, 1): already the stationary law
    for t in range(1, draws):
        x[t] = phi * x[t - 1] + scale * eps[t]
    return np.transpose(x, (1, 0, 2))


def max_rhat(ess: np.ndarray, chains: int, draws: int, reps: int, seed: int) -> np.ndarray:
    """``reps`` draws of the max R-hat over parameters with the given ESS, ``(reps,)``."""
    import arviz as az

    rng = np.random.default_rng(seed)
    out = np.empty(reps)
    for i in range(reps):
        x = ar1_chains(ess, chains, draws, rng)
        out[i] = float(az.rhat(az.convert_to_dataset({"x": x}))["x"].max())
    return out


def summarise(sample: np.ndarray) -> dict:
    """Median, 5th and 95th percentile of the max R-hat and P(max < BAR)."""
    q05, q50, q95 = np.quantile(sample, [0.05, 0.5, 0.95])
    return {
        "median": float(q50),
        "q05": float(q05),
        "q95": float(q95),
        "p_below_bar": float(np.mean(sample < BAR)),
    }


def grid(args) -> list[dict]:
    rows = []
    for k in args.params:
        for ess in args.ess:
            sample = max_rhat(
                np.full(k, ess), args.chains, args.draws, args.reps, seed=args.seed + 7 * k
            )
            rows.append({"params": k, "ess": ess, **summarise(sample)})
            r = rows[-1]
            print(
                f"  {k:>4} parameters, ESS {ess:>5.0f}: max R-hat median {r['median']:.4f} "
                f"[{r['q05']:.4f}, {r['q95']:.4f}], P(< {BAR}) {r['p_below_bar']:.2f}"
            )
    return rows


def fits(path: Path, args) -> list[dict]:
    """The floor of every NUTS row of a ``scale.py`` JSON that has per-parameter ESS."""
    result = json.loads(path.read_text())
    settings = result["settings"]
    chains, draws = int(settings["chains"]), int(settings["draws"])
    rows = []
    for row in result["results"]:
        per = row.get("per_parameter")
        if row.get("method") != "nuts" or not per:
            continue
        ess = np.concatenate([np.asarray(v["ess_bulk"], dtype=float) for v in per.values()])
        ess = np.clip(ess, 1.0, None)
        sample = max_rhat(ess, chains, draws, args.reps, seed=args.seed + int(row["G"]))
        rows.append(
            {
                "source": str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path),
                "G": row["G"],
                "chains": chains,
                "draws": draws,
                "params": int(ess.size),
                "min_ess": float(ess.min()),
                "median_ess": float(np.median(ess)),
                "measured_r_hat_max": row["r_hat_max"],
                "measured_quantile": float(np.mean(sample < row["r_hat_max"])),
                **summarise(sample),
            }
        )
        r = rows[-1]
        print(
            f"  G = {r['G']:>3}: {r['params']} parameters, min ESS {r['min_ess']:.0f}; "
            f"measured max R-hat {r['measured_r_hat_max']:.4f}, floor median {r['median']:.4f} "
            f"[{r['q05']:.4f}, {r['q95']:.4f}], P(floor < {BAR}) {r['p_below_bar']:.2f}; "
            f"the measured max is the floor's {r['measured_quantile']:.0%} quantile"
        )
    if not rows:
        raise SystemExit(f"{path}: no NUTS row holds per_parameter ESS (rerun scale.py)")
    return rows


def figure(out: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if out["fits"] else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    for k in sorted({r["params"] for r in out["grid"]}):
        rows = [r for r in out["grid"] if r["params"] == k]
        ax.plot([r["ess"] for r in rows], [r["p_below_bar"] for r in rows], "o-", label=f"{k}")
    ax.set_xscale("log")
    esses = sorted({r["ess"] for r in out["grid"]})
    ax.set_xticks(esses, [str(e) for e in esses])
    ax.minorticks_off()
    ax.set_xlabel("bulk ESS of every parameter")
    ax.set_ylabel(f"P(max R-hat < {BAR})")
    ax.set_title(f"{out['chains']} x {out['draws']} draws, no fault but the ESS", fontsize=10)
    ax.legend(title="parameters", fontsize=8)
    ax.grid(alpha=0.3)
    if out["fits"]:
        ax = axes[0, 1]
        for i, r in enumerate(out["fits"]):
            ax.plot([i, i], [r["q05"], r["q95"]], color="C0", lw=6, alpha=0.4)
            ax.plot(i, r["median"], "_", color="C0", ms=14)
            ax.plot(i, r["measured_r_hat_max"], "o", color="C3")
        ax.axhline(BAR, color="k", ls="--", lw=1)
        ax.set_xticks(range(len(out["fits"])), [f"G={r['G']}" for r in out["fits"]])
        ax.set_ylabel("max R-hat")
        ax.set_title("fits: floor 5-95% (bar) and measured (dot)", fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--ess", type=_ints, default=[200, 400, 700, 1000, 2000])
    p.add_argument("--params", type=_ints, default=[1, 25, 225])
    p.add_argument("--reps", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit-json", type=Path, action="append", default=[])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rhat_floor.json")
    args = p.parse_args(argv)
    if args.chains < 2 or args.draws < 4 or args.reps < 20:
        p.error("need at least 2 chains, 4 draws and 20 repetitions")
    for path in args.fit_json:  # checked before the grid's minutes of work
        if not path.is_file():
            p.error(f"--fit-json {path}: no such file")
        try:
            head = json.loads(path.read_text())
            head["settings"]["chains"], head["settings"]["draws"], head["results"]
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            p.error(f"--fit-json {path}: not a scale.py result ({type(e).__name__}: {e})")
    t = time.perf_counter()
    print(f"noise floor of the max R-hat, {args.chains} chains x {args.draws} draws:")
    out = {
        "benchmark": "rhat_floor",
        "machine": platform.processor() or platform.machine(),
        "chains": args.chains,
        "draws": args.draws,
        "reps": args.reps,
        "bar": BAR,
        "grid": grid(args),
        "fits": [],
    }
    for path in args.fit_json:
        print(f"fits in {path}:")
        out["fits"] += fits(path.resolve(), args)
    out["wall_s"] = time.perf_counter() - t
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    figure(out, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')} ({out['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
