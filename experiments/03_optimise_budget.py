r"""Experiment 03: optimise the budget on a fit and score the recommendation against the truth.

1. rebuild experiment 01's data (same seed and length: simulate -> bronze ->
   silver -> gold) and load its fit with ``--fit``, or fit NUTS here;
2. maximise the posterior mean steady-state revenue under the historical
   budget (times ``--budget-multiple``) with each channel between
   ``--bounds`` multiples of its historical spend;
3. score the recommendation with the simulation's TRUE response curves: the
   share of the truly attainable uplift it captures,

   .. math::
       \text{share} = \frac{r(x_{rec}) - r(x_{hist})}{r(x^*) - r(x_{hist})},

   with :math:`r` the true steady-state media revenue per period and
   :math:`x^*` the true optimum under the same budget and bounds
   (`mmm_jax.demo.score_allocation`);
4. plot the reallocation (with the spread of per-draw optima as whiskers).

Writes ``result.json`` and ``figures/*.png`` into ``--out``.

Run::

    .venv/bin/python experiments/03_optimise_budget.py --out runs/03 --fit runs/01/fit_nuts.npz
    .venv/bin/python experiments/03_optimise_budget.py --out /tmp/03 --quick
"""

# ruff: noqa: E402  (JAX's CPU device count must be set before JAX starts)

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
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

from mmm_jax.demo import score_allocation
from mmm_jax.diagnostics import analyse
from mmm_jax.diagnostics.plots import plot_budget_reallocation
from mmm_jax.inference import Fit, fit_nuts
from mmm_jax.models import ModelConfig
from mmm_jax.optimize import optimize_budget, simulate_allocation
from mmm_jax.synthetic import SimulationConfig, make_bronze, simulate, to_gold, to_silver

log = logging.getLogger("experiments.03")


@dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of experiment 03 (logged with ``repr``)."""

    seed: int = 0
    n_periods: int = 730
    fit_path: str | None = None
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    budget_multiple: float = 1.0
    bounds: tuple[float, float] = (0.5, 2.0)
    per_draw: bool = True
    quick: bool = False

    def __post_init__(self):
        lo, hi = self.bounds
        if not 0 <= lo <= hi:
            raise ValueError(f"bounds must satisfy 0 <= low <= high, got {self.bounds}")
        if not self.budget_multiple > 0:
            raise ValueError(f"budget_multiple must be > 0, got {self.budget_multiple}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        """The settings of parsed arguments; ``--quick`` overrides the sizes."""
        lo, hi = (float(v) for v in args.bounds.split(","))
        sizes = (
            dict(n_periods=100, num_chains=2, num_warmup=40, num_samples=40, quick=True)
            if args.quick
            else dict(
                n_periods=args.n_periods,
                num_chains=args.chains,
                num_warmup=args.warmup,
                num_samples=args.samples,
            )
        )
        return cls(
            seed=args.seed,
            fit_path=args.fit,
            budget_multiple=args.budget_multiple,
            bounds=(lo, hi),
            per_draw=not args.no_per_draw,
            **sizes,
        )


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of experiment 03."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--fit", default=None, help="a fit_*.npz from experiment 01 (same --seed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data (and of the fit)")
    p.add_argument("--n-periods", type=int, default=730, help="daily periods simulated")
    p.add_argument("--chains", type=int, default=4, help="NUTS chains (without --fit)")
    p.add_argument("--warmup", type=int, default=500, help="NUTS warmup (without --fit)")
    p.add_argument("--samples", type=int, default=500, help="NUTS draws per chain (without --fit)")
    p.add_argument("--budget-multiple", type=float, default=1.0, help="budget / historical")
    p.add_argument("--bounds", default="0.5,2.0", help="LO,HI multiples of historical spend")
    p.add_argument("--no-per-draw", action="store_true", help="skip the per-draw optima")
    p.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    return p


def load_or_fit(config: Config):
    """The simulation and a fit on its gold data (loaded from ``fit_path`` or NUTS here)."""
    sim = simulate(
        dataclasses.replace(SimulationConfig(), n_periods=config.n_periods), seed=config.seed
    )
    silver, _ = to_silver(make_bronze(sim, seed=config.seed))
    data = to_gold(silver)
    if config.fit_path is not None:
        # Fit.load checks the saved data against these: same seed and length as the fit.
        return sim, Fit.load(config.fit_path, data=data)
    fit = fit_nuts(
        data,
        ModelConfig(),
        key=jax.random.PRNGKey(config.seed),
        num_warmup=config.num_warmup,
        num_samples=config.num_samples,
        num_chains=config.num_chains,
        progress_bar=not config.quick,
    )
    return sim, fit


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Runs experiment 03 and returns (and writes) its ``result.json`` dict."""
    config = Config.from_args(args)
    log.info("config: %r", config)
    out = Path(args.out)
    (out / "figures").mkdir(parents=True, exist_ok=True)

    sim, fit = load_or_fit(config)
    names = list(fit.data.channels)
    hist = np.asarray(fit.data.media).sum(axis=0).mean(axis=0)  # per period, summed over geos
    budget = config.budget_multiple * float(hist.sum())
    lo, hi = config.bounds
    response = analyse(fit).response_fn
    reference = hist * budget / hist.sum()
    result = optimize_budget(
        response,
        budget=budget,
        lower=lo * hist,
        upper=hi * hist,
        key=jax.random.PRNGKey(config.seed),
        reference=reference,
        per_draw=config.per_draw,
    )
    rec = np.asarray(result.allocation, dtype=float)
    what_if = simulate_allocation(response, rec, reference=reference)
    truth = score_allocation(
        sim, hist, rec, bounds=config.bounds, key=jax.random.PRNGKey(config.seed + 1)
    )
    true_opt = np.asarray(truth["true_optimum"])

    interval = None
    if result.per_draw_allocation is not None:
        interval = np.percentile(result.per_draw_allocation, [5, 95], axis=0)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.4))
    plot_budget_reallocation(
        names,
        hist,
        rec,
        interval,
        title="Recommended (whiskers: 90% of per-draw optima)",
        ax=axes[0],
    )
    plot_budget_reallocation(
        names, hist, true_opt, title="True optimum (simulation's curves)", ax=axes[1]
    )
    fig.tight_layout()
    fig.savefig(out / "figures" / "budget_reallocation.png", dpi=110)
    plt.close(fig)

    record = {
        "experiment": "03_optimise_budget",
        "config": {**dataclasses.asdict(config), "bounds": list(config.bounds)},
        "config_repr": repr(config),
        "fit": {"method": fit.method, "n_samples": int(fit.n_samples), "loaded": config.fit_path},
        "budget": budget,
        "historical": dict(zip(names, hist.tolist())),
        "recommended": dict(zip(names, rec.tolist())),
        "true_optimum": dict(zip(names, true_opt.tolist())),
        "recommended_sum": float(rec.sum()),
        "converged": bool(result.converged),
        "at_lower_bound": [n for n, b in zip(names, result.at_lower) if b],
        "at_upper_bound": [n for n, b in zip(names, result.at_upper) if b],
        "model_uplift": what_if["uplift"],
        "true_revenue": truth["revenue"],
        "true_uplift_captured": truth["uplift_captured"],
        "true_uplift_attainable": truth["uplift_attainable"],
        "share_captured": truth["share_captured"],
        "model_uplift_covers_truth": bool(
            what_if["uplift"]["hdi_low"]
            <= truth["uplift_captured"]
            <= what_if["uplift"]["hdi_high"]
        ),
        "per_draw_interval": None if interval is None else dict(zip(names, interval.T.tolist())),
        "figures": ["figures/budget_reallocation.png"],
        "backend": jax.default_backend(),
    }
    (out / "result.json").write_text(json.dumps(record, indent=2))
    share = truth["share_captured"]
    log.info(
        "budget %.0f per period; true uplift captured %.0f of %.0f attainable (%s); "
        "model's expected uplift %.0f [%.0f, %.0f]",
        budget,
        truth["uplift_captured"],
        truth["uplift_attainable"],
        "n/a" if share is None else f"{share:.1%}",
        what_if["uplift"]["mean"],
        what_if["uplift"]["hdi_low"],
        what_if["uplift"]["hdi_high"],
    )
    for n, h, r, t in zip(names, hist, rec, true_opt):
        log.info("  %-8s historical %9.0f  recommended %9.0f  true optimum %9.0f", n, h, r, t)
    log.info("wrote %s", out / "result.json")
    return record


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    main(build_parser().parse_args())
