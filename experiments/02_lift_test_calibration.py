"""Experiment 02: calibrate the MMM with geo lift tests and watch the ROAS posterior move.

"Models hallucinate; experiments calibrate." The journey:

1. fit the default model without lift tests;
2. get lift tests: either the benchmark's ``lift_tests.csv`` (``--data``,
   default ``../shared/benchdata/beauty_daily``) or, with ``--simulate``, a
   geo experiment simulated on a market of regions
   (`mmm_jax.synthetic.geo_experiment`): one channel's spend raised in one region,
   its lift estimated by difference-in-differences with a standard error;
3. refit with the lift tests as likelihood terms (the model predicts each
   test's lift through its own adstock and saturation, window plus carry-over);
4. optionally (``--wrong-prior tiktok:5``) do both fits again with a
   deliberately wrong ROAS prior on one channel, to see the test pull it back;
5. print and plot how each channel's ROAS posterior moved, against the truth.

Writes into ``--out``: ``result.json`` (every number printed), ``lift_tests.csv``
(the tests used, with the truth when simulated) and ``roas_before_after.png``
(and ``roas_wrong_prior.png``).

Run::

    .venv/bin/python experiments/02_lift_test_calibration.py --out runs/02
    .venv/bin/python experiments/02_lift_test_calibration.py --out runs/02b --wrong-prior tiktok:5
    .venv/bin/python experiments/02_lift_test_calibration.py --out runs/02s --simulate
    .venv/bin/python experiments/02_lift_test_calibration.py --out /tmp/02 --simulate --quick
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
import pandas as pd

import jax

from mmm_jax.calibration import LiftSpread, LiftTests, load_lift_csv
from mmm_jax.data import from_frame
from mmm_jax.diagnostics.metrics import estimate
from mmm_jax.diagnostics.plots import plot_roas_forest
from mmm_jax.inference import fit_nuts, fit_svi
from mmm_jax.models import MediaPriors, ModelConfig, roas_prior
from mmm_jax.synthetic import (
    GeoExperimentConfig,
    SimulationConfig,
    did_estimate,
    lift_rows,
    regression_estimate,
    simulate_geo_experiment,
)

log = logging.getLogger("experiments.02")

BENCH = Path(__file__).resolve().parents[1] / ".." / "shared" / "benchdata" / "beauty_daily"


@dataclass(frozen=True, kw_only=True)
class Config:
    """Settings of experiment 02 (logged with ``repr``)."""

    seed: int = 0
    data: str = str(BENCH)
    lift_tests: str | None = None
    market_share: float = 0.2
    spread: LiftSpread = LiftSpread.PROPORTIONAL
    simulate: bool = False
    channel: str = "social"
    regions: int = 4
    method: str = "nuts"
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    svi_steps: int = 4000
    wrong_prior: tuple[str, float] | None = None
    quick: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Config:
        """The settings of parsed arguments; ``--quick`` overrides the sizes."""
        wrong = None
        if args.wrong_prior:
            name, value = args.wrong_prior.split(":")
            wrong = (name, float(value))
        base = cls(
            seed=args.seed,
            data=args.data,
            lift_tests=args.lift_tests,
            market_share=args.market_share,
            spread=LiftSpread(args.spread),
            simulate=args.simulate,
            channel=args.channel,
            regions=args.regions,
            method=args.method,
            num_chains=args.chains,
            num_warmup=args.warmup,
            num_samples=args.samples,
            svi_steps=args.svi_steps,
            wrong_prior=wrong,
        )
        if args.quick:
            return dataclasses.replace(
                base, method="svi", svi_steps=200, num_samples=100, quick=True
            )
        return base


def build_parser() -> argparse.ArgumentParser:
    """Command-line arguments of experiment 02."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output folder (created if missing)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=str(BENCH), help="folder with data.csv (and truth.json)")
    p.add_argument("--lift-tests", default=None, help="lift-test CSV (default DATA/lift_tests.csv)")
    p.add_argument(
        "--market-share",
        type=float,
        default=0.2,
        help="test region's share of the market for rows without a market_share column "
        "(0.2: beauty_daily's generator)",
    )
    p.add_argument(
        "--spread",
        default=LiftSpread.PROPORTIONAL.value,
        choices=[s.value for s in LiftSpread],
        help="how spend_delta is spread over a window (beauty_daily's tests are +50%%: proportional)",
    )
    p.add_argument("--simulate", action="store_true", help="simulate a geo experiment instead")
    p.add_argument("--channel", default="social", help="channel of the simulated geo test")
    p.add_argument("--regions", type=int, default=4, help="regions of the simulated market")
    p.add_argument("--method", default="nuts", choices=["nuts", "svi"])
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--svi-steps", type=int, default=4000)
    p.add_argument(
        "--wrong-prior", default=None, help="CHANNEL:ROAS, a tight wrong ROAS prior (e.g. tiktok:5)"
    )
    p.add_argument("--quick", action="store_true", help="tiny settings (for tests)")
    return p


def benchmark_inputs(config: Config) -> tuple[Any, LiftTests, dict[str, float], pd.DataFrame]:
    """The benchmark's data, its lift tests and its true ROAS."""
    folder = Path(config.data)
    data = from_frame(pd.read_csv(folder / "data.csv"), controls=("organic_traffic",))
    path = Path(config.lift_tests) if config.lift_tests else folder / "lift_tests.csv"
    tests = load_lift_csv(path, data, market_share=config.market_share, spread=config.spread)
    truth_path = folder / "truth.json"
    truth = {}
    if truth_path.is_file():
        t = json.loads(truth_path.read_text())
        truth = {c: t["channels"][c]["roas"] for c in data.channels if c in t["channels"]}
    return data, tests, truth, tests.to_frame()


def simulated_inputs(config: Config) -> tuple[Any, LiftTests, dict[str, float], pd.DataFrame]:
    """A market of regions, a geo test on one channel, and the national MMM data.

    The MMM is fitted on the national sum of the regions' business-as-usual
    history; the test ran in one region (its share of the market is its share
    of pre-period revenue) during a window of that history.
    """
    n_pre, n_test, n_post = (60, 14, 14) if config.quick else (420, 42, 28)
    geo = GeoExperimentConfig(
        market=SimulationConfig(geo_size_sd=0.0, geo_beta_sd=0.0),
        regions=tuple(f"region_{g}" for g in range(config.regions)),
        test_regions=("region_0",),
        channel=config.channel,
        spend_lift=1.0,
        n_pre=n_pre,
        n_test=n_test,
        n_post=n_post,
    )
    experiment = simulate_geo_experiment(geo, seed=config.seed)
    estimates = [did_estimate(experiment), regression_estimate(experiment)]
    rows = lift_rows(experiment, estimates)
    log.info("geo test estimates:\n%s", rows.to_string())
    national = (
        experiment.business_as_usual.drop(columns="geo").groupby("date", as_index=False).sum()
    )
    data = from_frame(national, controls=("organic_traffic",))
    used = rows[rows["method"] == "did"].drop(columns=["method", "true_lift"])
    tests = LiftTests.from_frame(used, data, spread=LiftSpread.PROPORTIONAL)
    return data, tests, dict(experiment.truth["roas"]), rows


def fit(data, model: ModelConfig, config: Config, key, tests=None):
    """One fit with the chosen method."""
    if config.method == "nuts":
        return fit_nuts(
            data,
            model,
            key=key,
            num_warmup=config.num_warmup,
            num_samples=config.num_samples,
            num_chains=config.num_chains,
            progress_bar=False,
            lift_tests=tests,
        )
    return fit_svi(
        data,
        model,
        key=key,
        num_steps=config.svi_steps,
        num_samples=config.num_samples,
        progress_bar=False,
        lift_tests=tests,
    )


def roas_summary(f, truth: dict[str, float]) -> dict[str, Any]:
    """Each channel's ROAS posterior (mean, median, 90% HDI, width), with the truth."""
    roas = f.draws["media/roas"].reshape(-1, f.data.n_channel)
    out = {}
    for c, name in enumerate(f.data.channels):
        e = estimate(roas[:, c])
        e["hdi_width"] = e["hdi_high"] - e["hdi_low"]
        if name in truth:
            e["truth"] = truth[name]
            e["inside_hdi"] = bool(e["hdi_low"] <= truth[name] <= e["hdi_high"])
        out[name] = e
    return out


def compare(before: dict, after: dict, tested: set[str]) -> dict[str, Any]:
    """How each channel moved: width ratio and distance to the truth, before and after."""
    out = {}
    for name in before:
        b, a = before[name], after[name]
        row = {
            "tested": name in tested,
            "mean_before": b["mean"],
            "mean_after": a["mean"],
            "hdi_width_ratio": a["hdi_width"] / b["hdi_width"],
        }
        if "truth" in b:
            row["abs_error_before"] = abs(b["mean"] - b["truth"])
            row["abs_error_after"] = abs(a["mean"] - a["truth"])
        out[name] = row
    return out


def plot_before_after(names, fits: dict, truth: dict, path: Path, title: str) -> None:
    """Two ROAS forest plots side by side: without and with the lift tests."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), sharex=True)
    for ax, (label, f) in zip(axes, fits.items()):
        roas = f.draws["media/roas"].reshape(-1, len(names))
        plot_roas_forest(
            names, roas, truth={c: {"roas": v} for c, v in truth.items()}, title=label, ax=ax
        )
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_pair(data, tests, truth, model, config, key, out: Path, name: str, title: str) -> dict:
    """Uncalibrated and calibrated fits of one model; summary, comparison and figure."""
    k0, k1 = jax.random.split(key)
    plain = fit(data, model, config, k0)
    calibrated = fit(data, model, config, k1, tests)
    before, after = roas_summary(plain, truth), roas_summary(calibrated, truth)
    predicted = calibrated.draws["lift/predicted"].reshape(-1, len(tests))
    predicted = predicted * data.scaler.target_scale
    result = {
        "uncalibrated": before,
        "calibrated": after,
        "moved": compare(before, after, set(tests.channel)),
        "lift_fit": [
            {
                "channel": tests.channel[k],
                "observed": float(tests.lift[k]),
                "se": float(tests.lift_se[k]),
                "predicted_mean": float(predicted[:, k].mean()),
            }
            for k in range(len(tests))
        ],
        "divergences": [plain.info.get("divergences"), calibrated.info.get("divergences")],
    }
    plot_before_after(
        data.channels,
        {"without lift tests": plain, "with lift tests": calibrated},
        truth,
        out / f"{name}.png",
        title,
    )
    return result


def print_moves(label: str, result: dict) -> None:
    """One line per channel: mean and HDI before -> after, truth."""
    print(f"\n{label}")
    for name, b in result["uncalibrated"].items():
        a = result["calibrated"][name]
        mark = "*" if result["moved"][name]["tested"] else " "
        truth = f"truth {b['truth']:.2f}" if "truth" in b else ""
        print(
            f" {mark}{name:>8}: {b['mean']:.2f} [{b['hdi_low']:.2f}, {b['hdi_high']:.2f}] -> "
            f"{a['mean']:.2f} [{a['hdi_low']:.2f}, {a['hdi_high']:.2f}]  "
            f"width x{result['moved'][name]['hdi_width_ratio']:.2f}  {truth}"
        )


def main(args: argparse.Namespace) -> dict[str, Any]:
    """Runs experiment 02 and returns (and writes) its ``result.json`` dict."""
    config = Config.from_args(args)
    log.info("config: %r", config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    inputs = simulated_inputs if config.simulate else benchmark_inputs
    data, tests, truth, rows = inputs(config)
    rows.to_csv(out / "lift_tests.csv", index=False)
    log.info("lift tests: %r", tests)
    key = jax.random.PRNGKey(config.seed)
    k_default, k_wrong = jax.random.split(key)
    model = ModelConfig()
    log.info("model: %r", model)
    result: dict[str, Any] = {"config": repr(config), "lift_tests": rows.to_dict(orient="list")}
    result["default_prior"] = run_pair(
        data,
        tests,
        truth,
        model,
        config,
        k_default,
        out,
        "roas_before_after",
        "ROAS posterior without and with lift tests",
    )
    print_moves("default prior (* = tested channel):", result["default_prior"])
    if config.wrong_prior is not None:
        channel, value = config.wrong_prior
        wrong = roas_prior(data, known={channel: (value, 0.1)})
        model_wrong = dataclasses.replace(model, media=MediaPriors(roas=wrong))
        log.info("wrong prior: %s ROAS ~ %.2f (10%% sd)", channel, value)
        result["wrong_prior"] = run_pair(
            data,
            tests,
            truth,
            model_wrong,
            config,
            k_wrong,
            out,
            "roas_wrong_prior",
            f"A wrong prior ({channel} ROAS {value:g}) without and with lift tests",
        )
        print_moves(f"wrong prior on {channel}:", result["wrong_prior"])
    (out / "result.json").write_text(json.dumps(result, indent=2, default=_json))
    return result


def _json(x):
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    main(build_parser().parse_args())
