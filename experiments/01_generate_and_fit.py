"""Experiment 01: generate data with known truth, clean it, fit NUTS and SVI, compare ROAS to truth.

The journey of a data set, end to end:

1. simulate a national daily data set (`mmm_jax.synthetic.simulate`) with known ROAS;
2. export it as raw platform files with defects (bronze), clean them with a
   report of every fix (silver) and validate them into `MMMData` (gold);
3. fit the default model with NUTS and with SVI (one guide);
4. compare each method's ROAS (counterfactual, per channel, 90% HDI) and
   baseline share with the truth.

Writes into ``--out``: ``result.json`` (every number below), ``silver.csv``,
``silver_report.json``, ``truth.json``, ``fit_nuts.npz`` and ``fit_svi.npz``
(experiment 03 can reuse them with ``--fit``) and PNG figures.

Run::

    .venv/bin/python experiments/01_generate_and_fit.py --out runs/01
    .venv/bin/python experiments/01_generate_and_fit.py --out /tmp/01 --quick
"""

# ruff: noqa: E402  (JAX's CPU device count must be set before JAX starts)

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # one CPU device per NUTS chain, so chains run in parallel
    from mmm_jax.runtime import configure_devices

    configure_devices()

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import jax

from mmm_jax.diagnostics.metrics import contributions, estimate, fit_metrics
from mmm_jax.diagnostics.plots import plot_roas_forest
from mmm_jax.diagnostics.report import figures_for_fit
from mmm_jax.diagnostics.summary import convergence
from mmm_jax.inference import Fit, fit_nuts, fit_svi
from mmm_jax.inference.svi import Guide
from mmm_jax.models import ModelConfig
from mmm_jax.models.config import config_to_dict
from mmm_jax.synthetic import SimulationConfig, make_bronze, simulate, to_gold, to_silver

log = logging.getLogger("experiments.01")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of experiment 01 (logged with ``repr``)."""

    seed: int = 0
    n_periods: int = 730
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    svi_guide: Guide = Guide.AUTO_MVN
    svi_steps: int = 5000
    svi_samples: int = 1000
    quick: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        """The settings of parsed arguments; ``--quick`` overrides the sizes."""
        if args.quick:
            return cls(
                seed=args.seed,
                n_periods=100,
                num_chains=2,
                num_warmup=40,
                num_samples=40,
                svi_guide=Guide(args.svi_guide),
                svi_steps=300,
                svi_samples=200,
                quick=True,
            )
        return cls(
            seed=args.seed,
            n_periods=args.n_periods,
            num_chains=args.chains,
            num_warmup=args.warmup,
            num_samples=args.samples,
            svi_guide=Guide(args.svi_guide),
            svi_steps=args.svi_steps,
            svi_samples=args.svi_samples,
        )


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of experiment 01."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, defects and fits")
    p.add_argument("--n-periods", type=int, default=730, help="daily periods simulated")
    p.add_argument("--chains", type=int, default=4, help="NUTS chains")
    p.add_argument("--warmup", type=int, default=500, help="NUTS warmup steps per chain")
    p.add_argument("--samples", type=int, default=500, help="NUTS draws kept per chain")
    p.add_argument("--svi-guide", default=Guide.AUTO_MVN.value, choices=[g.value for g in Guide])
    p.add_argument("--svi-steps", type=int, default=5000, help="SVI optimisation steps")
    p.add_argument("--svi-samples", type=int, default=1000, help="draws from the fitted guide")
    p.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    return p


def gold_data(config: Config, out: Path) -> tuple[Any, Any, dict]:
    """Simulation -> bronze -> silver -> gold; writes the silver frame, report and truth."""
    sim = simulate(
        dataclasses.replace(SimulationConfig(), n_periods=config.n_periods), seed=config.seed
    )
    bronze = make_bronze(sim, seed=config.seed)
    silver, report = to_silver(bronze)
    silver.to_csv(out / "silver.csv", index=False)
    (out / "silver_report.json").write_text(json.dumps(report.to_dict(), indent=2))
    (out / "truth.json").write_text(json.dumps(sim.truth, indent=2))
    log.info("silver: %d fixes\n%s", len(report.fixes), report)
    data = to_gold(silver)
    facts = {
        "n_periods": int(data.n_time),
        "channels": list(data.channels),
        "bronze_rows": {k: len(v) for k, v in bronze.items()},
        "silver_fixes": [
            {"source": f.source, "kind": f.kind.value, "column": f.column, "count": f.count}
            for f in report.fixes
        ],
        "max_abs_gold_error": {
            "spend": float(
                np.max(
                    np.abs(
                        silver.filter(like="spend_").to_numpy()
                        - sim.frame.filter(like="spend_").to_numpy()
                    )
                )
            ),
            "revenue": float(np.max(np.abs(silver["revenue"] - sim.frame["revenue"]))),
        },
    }
    return sim, data, facts


def score(fit: Fit, truth: dict) -> dict[str, Any]:
    """ROAS and baseline share of a fit against the truth, plus convergence and fit quality."""
    contrib = contributions(fit)
    roas = contrib.roas
    channels = {}
    for c, name in enumerate(fit.data.channels):
        e = estimate(roas[:, c])
        true = truth["channels"][name]["roas"]
        channels[name] = {
            **e,
            "truth": true,
            "ratio": e["mean"] / true,
            "inside_hdi": bool(e["hdi_low"] <= true <= e["hdi_high"]),
        }
    share = estimate(contrib.baseline_share)
    ratios = np.array([ch["ratio"] for ch in channels.values()])
    return {
        "seconds": float(fit.timings.get("total_s", np.nan)),
        **convergence(fit),
        "roas": channels,
        "roas_coverage": float(np.mean([ch["inside_hdi"] for ch in channels.values()])),
        "roas_mean_abs_log_ratio": float(np.mean(np.abs(np.log(ratios)))),
        "baseline_share": {**share, "truth": truth["baseline_share"]},
        "fit": fit_metrics(np.asarray(fit.data.target), contrib.predicted_series),
        "_roas_draws": roas,
    }


def plot_comparison(names, results: dict[str, dict], truth: dict, path: Path) -> None:
    """ROAS forest plots side by side, one per method, with the true ROAS marked."""
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 3.8), sharex=True)
    for ax, (method, r) in zip(np.atleast_1d(axes), results.items()):
        plot_roas_forest(names, r["_roas_draws"], truth=truth, title=f"ROAS: {method}", ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Runs experiment 01 and returns (and writes) its ``result.json`` dict."""
    config = Config.from_args(args)
    log.info("config: %r", config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)

    sim, data, facts = gold_data(config, out)
    key_nuts, key_svi = jax.random.split(jax.random.PRNGKey(config.seed))
    model = ModelConfig()
    log.info("model: %s", json.dumps(config_to_dict(model)))

    t0 = time.perf_counter()
    nuts = fit_nuts(
        data,
        model,
        key=key_nuts,
        num_warmup=config.num_warmup,
        num_samples=config.num_samples,
        num_chains=config.num_chains,
        progress_bar=not config.quick,
    )
    log.info("NUTS done in %.1f s", time.perf_counter() - t0)
    nuts.save(out / "fit_nuts.npz")
    t0 = time.perf_counter()
    svi = fit_svi(
        data,
        model,
        key=key_svi,
        guide=config.svi_guide,
        num_steps=config.svi_steps,
        num_samples=config.svi_samples,
        progress_bar=not config.quick,
    )
    log.info("SVI (%s) done in %.1f s", config.svi_guide.value, time.perf_counter() - t0)
    svi.save(out / "fit_svi.npz")

    results = {
        "nuts": score(nuts, sim.truth),
        f"svi_{config.svi_guide.value}": score(svi, sim.truth),
    }
    names = list(data.channels)
    figures = ["roas_nuts_vs_svi.png"]
    plot_comparison(names, results, sim.truth, out / "figures" / figures[0])
    for name, fig in figures_for_fit(nuts, truth=sim.truth).items():
        fig.savefig(out / "figures" / f"nuts_{name}.png", dpi=110)
        plt.close(fig)
        figures.append(f"nuts_{name}.png")

    result = {
        "experiment": "01_generate_and_fit",
        "config": {**dataclasses.asdict(config), "svi_guide": config.svi_guide.value},
        "config_repr": repr(config),
        "data": facts,
        "truth": {
            "roas": {n: sim.truth["channels"][n]["roas"] for n in names},
            "baseline_share": sim.truth["baseline_share"],
        },
        "methods": {
            m: {k: v for k, v in r.items() if not k.startswith("_")} for m, r in results.items()
        },
        "figures": [f"figures/{f}" for f in figures],
        "backend": jax.default_backend(),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    for method, r in result["methods"].items():
        log.info(
            "%s: %.1f s, ROAS coverage %.2f, mean |log ratio| %.3f, r_hat_max %s, ess_bulk_min %s",
            method,
            r["seconds"],
            r["roas_coverage"],
            r["roas_mean_abs_log_ratio"],
            r["r_hat_max"],
            r["ess_bulk_min"],
        )
        for n, ch in r["roas"].items():
            log.info(
                "  %-8s ROAS %.2f [%.2f, %.2f] true %.2f",
                n,
                ch["mean"],
                ch["hdi_low"],
                ch["hdi_high"],
                ch["truth"],
            )
    log.info("wrote %s", out / "result.json")
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    main(build_parser().parse_args())
