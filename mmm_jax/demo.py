r"""``mmm-jax demo``: the whole journey on synthetic data whose truth is known.

`run_demo` simulates a national daily data set (`mmm_jax.synthetic.simulate`),
fits the default model with NUTS, then **calibrates** it: it picks the channel
whose ROAS 90% HDI is widest relative to its mean, simulates a holdout geo
test on it in the same world (`regional_market`: the national market split
into equal regions, each spending its share of the data's own media plan;
one region cuts 90% of the channel's spend for the last weeks of the data,
`mmm_jax.synthetic.geo_experiment`), estimates the lift by
regression on the control regions and refits with that lift test
(``lift_tests=``). A holdout measures the level of the response and so narrows
ROAS; a spend increase would only measure the marginal response. The
calibrated fit writes the results contract (``summary.json``, ``fit.npz``),
the budget is optimised on it as ``mmm-jax optimize`` does
(`mmm_jax.workflow.allocate`: historical budget, 0.5x-2x historical bounds),
the recommendation is scored with the TRUE response curves, the HTML report
is written and the estimates are printed against the truth:

* per channel, the ROAS mean and 90% HDI before and after calibration
  against the true ROAS;

* per channel, the estimated ROAS with its 90% HDI against the true ROAS;
* the baseline share against the true share;
* the channels flagged wasteful (marginal ROAS below 1 with probability
  >= 0.8) against the channels whose true marginal ROAS is below 1;
* the share of the truly attainable uplift the recommendation captures:

  .. math::
      \text{captured} = \frac{r(x_{rec}) - r(x_{hist})}{r(x^*) - r(x_{hist})},

  with :math:`r` the true steady-state media response and :math:`x^*` the
  optimum of the true response under the same budget and bounds, found by
  the same optimiser (`true_response` is its differentiable JAX form).

What the demo does not do, and where its simulated test is simpler than a
real one, is printed (`LIMITATIONS`, `TEST_CAVEATS`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import jax

from mmm_jax.data import load_csv
from mmm_jax.optimize import optimize_budget
from mmm_jax.synthetic import Simulation, SimulationConfig, simulate
from mmm_jax.transforms.response import ResponseFunction, ResponseParams, steady_response
from mmm_jax.transforms.saturation import SATURATION_PARAMS

__all__ = [
    "DemoSettings",
    "LIMITATIONS",
    "TEST_CAVEATS",
    "calibration_lines",
    "regional_market",
    "run_demo",
    "score_allocation",
    "true_response",
]

#: What the demo does not do yet; printed and shown in the report.
LIMITATIONS: tuple[str, ...] = (
    "National data only (one geo); geo panels are not part of the demo.",
    "The demo fits the default model (Weibull-PDF adstock and Hill saturation for every "
    "channel) while the truth mixes adstock and saturation families per channel, as real "
    "channels would: the model is partly misspecified on purpose.",
    "Budget recommendations are steady state (constant spend per period): no flighting "
    "over a horizon.",
)

#: Where the demo's simulated geo test is simpler than a real one; printed and in the notes.
TEST_CAVEATS: tuple[str, ...] = (
    "The geo test is simulated: the national market is split into equal regions (same "
    "size, same media effectiveness), so the control regions track the test region better "
    "than real regions would.",
    "Every region spends its share of the fitted data's own media plan, so the test cuts "
    "exactly what the data spent there; real regions' plans differ from the national one.",
    "One test on one channel; real programmes repeat tests and rotate channels.",
)


@dataclass(frozen=True, kw_only=True)
class DemoSettings:
    """Sizes of the demo.

    Attributes:
      n_periods: Daily periods simulated, >= 60.
      num_chains: NUTS chains, >= 2 (run in parallel when JAX has a device each).
      num_warmup: NUTS warmup steps per chain, >= 1.
      num_samples: NUTS draws kept per chain, >= 1.
      bounds: Per-channel ``(low, high)`` multiples of historical spend.
      prior_samples: Prior draws for the model review's prior-to-posterior check.
      regions: Equal regions the national market is split into for the geo
        test, >= 2; one of them is the test region (market share ``1 / regions``).
      spend_lift: Relative spend change in the test region, in (-1, 0) for a
        holdout (-0.9: 90% of the channel's spend cut).
      test_periods: Periods of the test window, >= 1.
      cooldown_periods: Periods after the window (up to the end of the data)
        whose carry-over the test counts, >= 0.
      quick: Tiny settings whose numbers mean little (for tests).
    """

    n_periods: int = 730
    num_chains: int = 4
    num_warmup: int = 500
    num_samples: int = 500
    bounds: tuple[float, float] = (0.5, 2.0)
    prior_samples: int = 2000
    regions: int = 4
    spend_lift: float = -0.9
    test_periods: int = 28
    cooldown_periods: int = 28
    quick: bool = False

    def __post_init__(self):
        if self.n_periods < 60:
            raise ValueError(f"n_periods must be >= 60, got {self.n_periods}")
        if self.num_chains < 2:
            raise ValueError(f"num_chains must be >= 2 (R-hat needs chains), got {self.num_chains}")
        for name in ("num_warmup", "num_samples", "prior_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.regions < 2:
            raise ValueError(f"regions must be >= 2, got {self.regions}")
        if not -1 < self.spend_lift < 0:
            raise ValueError(f"spend_lift must be in (-1, 0) (a holdout), got {self.spend_lift}")
        if self.test_periods < 1 or self.cooldown_periods < 0:
            raise ValueError(
                f"test_periods must be >= 1 and cooldown_periods >= 0, got "
                f"{self.test_periods} and {self.cooldown_periods}"
            )
        if self.n_periods - self.test_periods - self.cooldown_periods < 30:
            raise ValueError(
                f"n_periods {self.n_periods} leaves fewer than 30 pre-test periods before a "
                f"{self.test_periods}+{self.cooldown_periods} period test"
            )
        lo, hi = self.bounds
        if not 0 <= lo <= 1 <= hi:
            raise ValueError(f"bounds must satisfy 0 <= low <= 1 <= high, got {self.bounds}")

    @classmethod
    def tiny(cls) -> DemoSettings:
        """Settings for ``--quick``: 120 periods, NUTS 2 chains x 50 warmup x 50 draws."""
        return cls(
            n_periods=120,
            num_chains=2,
            num_warmup=50,
            num_samples=50,
            prior_samples=200,
            test_periods=14,
            cooldown_periods=14,
            quick=True,
        )


def regional_market(config: SimulationConfig, regions: int) -> SimulationConfig:
    r"""One of ``regions`` equal regions of a national market, as a market config.

    Every amount per period is divided by :math:`G` = ``regions`` (intercept,
    organic traffic, spend means, betas, ``half_saturation``; a logistic
    ``rate`` is multiplied by :math:`G`), so a region spending :math:`x/G`
    earns :math:`f(x)/G`, :math:`f` the national response: the regions of
    `mmm_jax.synthetic.geo_experiment` then add up to the national world. Regions
    are of equal size and effectiveness (``geo_size_sd = geo_beta_sd = 0``).

    Args:
      config: The national market (one geo).
      regions: :math:`G`, >= 1.

    Returns:
      The regional config (its ``n_geos`` is replaced by the experiment).
    """
    if regions < 1:
        raise ValueError(f"regions must be >= 1, got {regions}")
    g = float(regions)

    def scaled(params: dict[str, float]) -> dict[str, float]:
        factor = {"half_saturation": 1 / g, "rate": g}
        return {k: v * factor.get(k, 1.0) for k, v in params.items()}

    channels = tuple(
        replace(
            c,
            spend_mean=c.spend_mean / g,
            beta=c.beta / g,
            saturation_params=scaled(dict(c.saturation_params)),
        )
        for c in config.channels
    )
    return replace(
        config,
        intercept=config.intercept / g,
        organic_mean=config.organic_mean / g,
        organic_sd=config.organic_sd / g,
        channels=channels,
        geo_size_sd=0.0,
        geo_beta_sd=0.0,
    )


def widest_channel(summary: dict) -> str:
    """The channel whose ROAS 90% HDI is widest relative to its mean (ties: first)."""
    widths = {
        n: (ch["roas"]["hdi_high"] - ch["roas"]["hdi_low"]) / max(abs(ch["roas"]["mean"]), 1e-12)
        for n, ch in summary["channels"].items()
    }
    return max(widths, key=widths.__getitem__)


def true_response(sim: Simulation) -> ResponseFunction:
    r"""The true steady-state media response of a simulation, as a differentiable function.

    The simulation's truth fed to the model's own response surface
    (`mmm_jax.transforms.steady_response`): one draw, each geo with its true
    betas :math:`\beta_{gc}`, the true saturation parameters in currency, and
    spend split evenly over the :math:`G` geos as in
    `Simulation.true_steady_response`, so

    .. math::
        r(x) = \sum_g \Big[\sum_c \beta_{gc} S_c(x_c / G)
          + \sum_{(i,j)} \gamma_{ij} \sqrt{\beta_{gi}\beta_{gj}}\,
            S_i(x_i / G) S_j(x_j / G)\Big].

    Args:
      sim: A simulation (its ``truth`` and ``config``).

    Returns:
      A `ResponseFunction`: spend per period ``(channel,)`` in currency ->
      media revenue per period, shape ``(1,)``.
    """
    specs = sim.config.channels
    beta = np.array([sim.truth["channels"][c.name]["beta_geo"] for c in specs]).T  # (geo, channel)
    n_geo, n_channel = beta.shape
    kinds = tuple(c.saturation for c in specs)
    names = sorted({n for k in kinds for n in SATURATION_PARAMS[k]})
    params = {
        n: np.broadcast_to(
            np.array([c.saturation_params.get(n, 1.0) for c in specs]), (1, n_geo, n_channel)
        )
        for n in names
    }
    index = {c.name: i for i, c in enumerate(specs)}
    gammas: dict[tuple[int, int], float] = {}
    for a, b, gamma in sim.config.synergy:
        pair = tuple(sorted((index[a], index[b])))
        gammas[pair] = gammas.get(pair, 0.0) + gamma
    pairs = tuple(gammas) or None
    synergy = None
    if pairs:
        synergy = np.array(
            [
                [[g * np.sqrt(beta[geo, i] * beta[geo, j]) for (i, j), g in gammas.items()]]
                for geo in range(n_geo)
            ]
        ).reshape(1, n_geo, len(pairs))
    return steady_response(
        ResponseParams(
            coef=beta[None],
            saturation=kinds,
            saturation_params=params,
            synergy=synergy,
            pairs=pairs,
            media_scale=np.ones(n_channel),
            target_scale=np.asarray(1.0),
        ),
        geo_mix=np.full((n_geo, n_channel), 1.0 / n_geo),
    )


def score_allocation(
    sim: Simulation,
    historical: np.ndarray,
    recommended: np.ndarray,
    *,
    bounds: tuple[float, float],
    key: jax.Array,
) -> dict[str, Any]:
    """Scores a recommended allocation with the true response.

    The true optimum maximises `true_response` under the recommendation's
    budget (its sum) and ``bounds`` times ``historical``; revenues are then
    evaluated in float64 by `Simulation.true_steady_response`, after checking
    that the JAX form agrees with it.

    Args:
      sim: The simulation that made the data.
      historical: Historical spend per period, ``(channel,)``.
      recommended: Recommended spend per period, ``(channel,)``.
      bounds: ``(low, high)`` multiples of ``historical``.
      key: PRNG key of the optimiser's random starts.

    Returns:
      ``true_optimum`` (allocation), ``revenue`` (true media revenue per
      period at historical, recommended and optimum), ``uplift_captured``,
      ``uplift_attainable`` and ``share_captured`` (None when nothing is
      attainable).

    Raises:
      RuntimeError: The JAX true response disagrees with the simulation's.
    """
    historical = np.asarray(historical, dtype=float)
    recommended = np.asarray(recommended, dtype=float)
    budget = float(recommended.sum())
    fn = true_response(sim)
    result = optimize_budget(
        fn,
        budget=budget,
        lower=bounds[0] * historical,
        upper=bounds[1] * historical,
        key=key,
        reference=historical * budget / historical.sum(),
        num_starts=8,
    )
    optimum = np.asarray(result.allocation, dtype=float)
    points = np.stack([historical, recommended, optimum])
    exact = sim.true_steady_response(points)
    approx = np.array([float(np.asarray(fn(p))[0]) for p in points])
    if not np.allclose(approx, exact, rtol=1e-4):
        raise RuntimeError(f"true_response {approx} disagrees with the simulation's {exact}")
    r_hist, r_rec, r_opt = (float(v) for v in exact)
    attainable = r_opt - r_hist
    return {
        "true_optimum": optimum.tolist(),
        "revenue": {"historical": r_hist, "recommended": r_rec, "optimum": r_opt},
        "uplift_captured": r_rec - r_hist,
        "uplift_attainable": attainable,
        "share_captured": (r_rec - r_hist) / attainable if attainable > 1e-9 * r_hist else None,
        "optimizer_converged": bool(result.converged),
    }


# ------------------------------------------------------------------ printing
def _inside(value: float, e: dict) -> bool:
    return bool(e["hdi_low"] <= value <= e["hdi_high"])


def comparison_lines(summary: dict, truth: dict) -> list[str]:
    """The estimates-against-truth table, as printed (one string per line).

    Args:
      summary: ``summary.json``.
      truth: ``truth.json`` (a simulation's truth).

    Returns:
      Lines: per channel ROAS (mean, 90% HDI, truth, inside), the baseline
      share likewise, and the wasteful channels estimated and true.
    """
    lines = [f"{'channel':<10}{'ROAS':>8}  {'90% HDI':<16}{'true':>7}  inside"]
    for name, ch in summary["channels"].items():
        r, true = ch["roas"], truth["channels"][name]["roas"]
        interval = f"[{r['hdi_low']:.2f}, {r['hdi_high']:.2f}]"
        lines.append(
            f"{name:<10}{r['mean']:>8.2f}  {interval:<16}"
            f"{true:>7.2f}  {'yes' if _inside(true, r) else 'no'}"
        )
    b, true_b = summary["baseline"]["share"], truth["baseline_share"]
    lines.append(
        f"baseline share {b['mean']:.3f} [{b['hdi_low']:.3f}, {b['hdi_high']:.3f}], "
        f"true {true_b:.3f}, inside: {'yes' if _inside(true_b, b) else 'no'}"
    )
    est = [n for n, ch in summary["channels"].items() if ch["wasteful"]]
    true_w = [n for n in summary["channels"] if truth["channels"][n]["marginal_roas"] < 1.0]
    lines.append(
        f"wasteful channels: estimated {', '.join(est) or 'none'}; "
        f"true (marginal ROAS < 1) {', '.join(true_w) or 'none'}; "
        f"agree: {'yes' if set(est) == set(true_w) else 'no'}"
    )
    return lines


def calibration_lines(calibration: dict) -> list[str]:
    """The ROAS before and after calibration against the truth, as printed.

    Args:
      calibration: ``demo.json``'s ``calibration`` entry.

    Returns:
      Lines: the lift test (observed, standard error, true), then per channel
      (``*`` the tested one) the ROAS mean and 90% HDI without and with the
      test, the HDI width ratio and the true ROAS.
    """
    t = calibration["test"]
    lines = [
        f"lift test on {t['channel']}: {t['start']} to {t['end']}, spend change "
        f"{t['spend_delta']:,.0f}, measured lift {t['lift']:,.0f} (se {t['lift_se']:,.0f}), "
        f"true lift {t['true_lift']:,.0f}, market share {t['market_share']:.3f}",
        f"{'channel':<10}{'before':>7}  {'90% HDI':<16}{'after':>7}  {'90% HDI':<16}"
        f"{'width':>7}{'true':>7}",
    ]
    for name, row in calibration["roas"].items():
        b, a = row["before"], row["after"]
        mark = "*" if name == t["channel"] else " "
        hdi_b = f"[{b['hdi_low']:.2f}, {b['hdi_high']:.2f}]"
        hdi_a = f"[{a['hdi_low']:.2f}, {a['hdi_high']:.2f}]"
        lines.append(
            f"{mark}{name:<9}{b['mean']:>7.2f}  {hdi_b:<16}{a['mean']:>7.2f}  {hdi_a:<16}"
            f"{row['width_ratio']:>6.2f}x{row['truth']:>7.2f}"
        )
    return lines


def _calibration_table(before: dict, after: dict, truth: dict) -> dict[str, Any]:
    out = {}
    for name in before["channels"]:
        b, a = before["channels"][name]["roas"], after["channels"][name]["roas"]
        keep = ("mean", "hdi_low", "hdi_high")
        true = truth["channels"][name]["roas"]
        out[name] = {
            "before": {k: float(b[k]) for k in keep},
            "after": {k: float(a[k]) for k in keep},
            "width_ratio": float((a["hdi_high"] - a["hdi_low"]) / (b["hdi_high"] - b["hdi_low"])),
            "truth": float(true),
            "inside_before": _inside(true, b),
            "inside_after": _inside(true, a),
        }
    return out


def allocation_lines(alloc: dict, score: dict) -> list[str]:
    """The allocation against the true optimum, as printed (one string per line)."""
    names = list(alloc["allocation"])
    lines = [f"{'channel':<10}{'historical':>12}{'recommended':>13}{'true optimum':>14}"]
    for name, opt in zip(names, score["true_optimum"]):
        lines.append(
            f"{name:<10}{alloc['historical_allocation'][name]:>12,.0f}"
            f"{alloc['allocation'][name]:>13,.0f}{opt:>14,.0f}"
        )
    share = score["share_captured"]
    lines.append(
        f"true uplift per period: recommendation {score['uplift_captured']:,.0f} of "
        f"{score['uplift_attainable']:,.0f} attainable "
        f"({'n/a' if share is None else f'{share:.1%}'} captured)"
    )
    u = alloc["uplift"]
    lines.append(
        f"model's expected uplift {u['mean']:,.0f} per period "
        f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}), "
        f"inside: {'yes' if _inside(score['uplift_captured'], u) else 'no'}"
    )
    return lines


# ------------------------------------------------------------------ pipeline
def run_demo(
    out: str | Path,
    *,
    seed: int = 0,
    quick: bool = False,
    progress: bool = True,
    settings: DemoSettings | None = None,
) -> dict[str, Any]:
    """Runs the demo and writes everything into the run folder ``out``.

    Files: ``data.csv``, ``truth.json``, ``fit_uncalibrated.npz``,
    ``lift_tests.csv`` (the simulated test, with its true lift), ``fit.npz``
    (calibrated), ``summary.json`` (with
    the model review), ``alloc.json``, ``demo.json`` (the truth scoring,
    settings, timings and notes), ``report.html`` and ``figures/*.png``.
    They are written into a stage beside ``out`` that replaces it only once
    complete (`mmm_jax.run_folder.RunFolder.replace`): an earlier demo or
    run there survives any failure.

    Args:
      out: Run folder (created if missing; an existing one must be empty or
        a run folder).
      seed: Seed of the simulated data and of the fit.
      quick: Use `DemoSettings.tiny` (ignored when ``settings`` is given).
      progress: Show the sampler's progress bars.
      settings: Explicit sizes.

    Returns:
      The ``demo.json`` dict.

    Raises:
      RunFolderError: ``out`` cannot be written (see `RunFolder.replace`).
      RunLockedError: Another process writes ``out``.
    """
    from mmm_jax.run_folder import RunFolder

    settings = settings or (DemoSettings.tiny() if quick else DemoSettings())
    out = Path(out)
    with RunFolder(out).replace(command="demo", hint=" or choose another --out") as stage:
        result, summary, alloc, sim, timings = _demo_into(
            stage, out, seed=seed, settings=settings, progress=progress
        )
    calibration, score = result["calibration"], result["truth_score"]
    report = out / "report.html"
    print(f"[8/8] wrote {report} and {out / 'figures'}", flush=True)

    print("\nROAS before and after lift-test calibration against the truth (* = tested)")
    print("\n".join(calibration_lines(calibration)))
    print("\nCalibrated estimates against the known truth (90% HDIs)")
    print("\n".join(comparison_lines(summary, sim.truth)))
    print("\nRecommended allocation per period against the true optimum")
    print("\n".join(allocation_lines(alloc, score)))
    print(
        "\ntimings: "
        + ", ".join(f"{k[:-2]} {v:.1f} s" for k, v in timings.items())
        + f" (on {jax.default_backend()})"
    )
    print("\nWhere the simulated geo test is simpler than a real one:")
    print("\n".join(f"- {text}" for text in TEST_CAVEATS))
    print("\nWhat this demo does not do yet:")
    print("\n".join(f"- {text}" for text in LIMITATIONS))
    if settings.quick:
        print("- Quick mode: tiny settings, the numbers above are not meaningful.")
    print(f"\nreport: {report}")
    return result


def _demo_into(stage, out: Path, *, seed: int, settings: DemoSettings, progress: bool):
    """Steps 1-8 of `run_demo`, writing into ``stage`` (printed paths are under ``out``).

    Returns:
      ``(demo.json dict, summary, alloc, simulation, timings)``.
    """
    from mmm_jax.calibration import LiftSpread, LiftTests
    from mmm_jax.diagnostics import analyse, summarize
    from mmm_jax.diagnostics.review import add_review, review
    from mmm_jax.inference import fit_nuts
    from mmm_jax.models import ModelConfig
    from mmm_jax.synthetic import (
        GeoExperimentConfig,
        lift_rows,
        regression_estimate,
        simulate_geo_experiment,
    )
    from mmm_jax.workflow import allocate
    from mmm_jax.workflow.reporting import report_into
    from mmm_jax.workflow.text import allocation_lines

    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    def step(n: int, text: str) -> None:
        print(f"[{n}/8] {text}", flush=True)

    # 1. Data with known truth.
    t0 = time.perf_counter()
    sim_config = replace(SimulationConfig(), n_periods=settings.n_periods)
    sim = simulate(sim_config, seed=seed)
    stage.write_text("data.csv", sim.frame.to_csv(index=False))
    stage.write_text("truth.json", json.dumps(sim.truth, indent=2))
    names = [c.name for c in sim.config.channels]
    step(
        1,
        f"simulated {settings.n_periods} daily periods, channels {', '.join(names)} plus "
        f"organic traffic (seed {seed}) -> {out / 'data.csv'}, {out / 'truth.json'}",
    )
    data = load_csv(stage.file("data.csv"), controls=("organic_traffic",))
    timings["simulate_s"] = time.perf_counter() - t0

    def nuts(key, lift_tests=None):
        return fit_nuts(
            data,
            ModelConfig(),
            key=key,
            num_warmup=settings.num_warmup,
            num_samples=settings.num_samples,
            num_chains=settings.num_chains,
            progress_bar=progress,
            lift_tests=lift_tests,
        )

    # 2. Fit without experiments.
    step(
        2,
        f"fitting NUTS without lift tests: {settings.num_chains} chains x "
        f"{settings.num_warmup} warmup x {settings.num_samples} draws "
        f"({jax.local_device_count()} JAX devices)",
    )
    t0 = time.perf_counter()
    plain = nuts(jax.random.PRNGKey(seed))
    stage.save_fit(plain, "fit_uncalibrated.npz")
    before = summarize(plain)
    timings["fit_s"] = time.perf_counter() - t0

    # 3. A holdout geo test on the least certain channel, in the same world.
    t0 = time.perf_counter()
    channel = widest_channel(before)
    n_test, n_post = settings.test_periods, settings.cooldown_periods
    regions = tuple(f"region_{g}" for g in range(settings.regions))
    experiment = simulate_geo_experiment(
        GeoExperimentConfig(
            market=regional_market(sim_config, settings.regions),
            regions=regions,
            test_regions=regions[:1],
            channel=channel,
            spend_lift=settings.spend_lift,
            n_pre=settings.n_periods - n_test - n_post,
            n_test=n_test,
            n_post=n_post,
        ),
        seed=seed + 1,
        # the regions spend the fitted data's own plan, so the test cuts what the data spent
        plan=sim.frame[[f"spend_{c.name}" for c in sim_config.channels]].to_numpy(),
    )
    share = 1.0 / settings.regions
    rows = lift_rows(experiment, regression_estimate(experiment), market_share=share)
    stage.write_text("lift_tests.csv", rows.to_csv(index=False))
    test_row = rows.iloc[0]
    tests = LiftTests.from_frame(
        rows.drop(columns=["method", "true_lift"]), data, spread=LiftSpread.PROPORTIONAL
    )
    timings["geo_test_s"] = time.perf_counter() - t0
    step(
        3,
        f"simulated a holdout geo test on {channel} (widest ROAS HDI relative to its mean): "
        f"1 of {settings.regions} equal regions cuts {-settings.spend_lift:.0%} of its "
        f"{channel} spend from {test_row['start']} to {test_row['end']} (+{n_post} periods of "
        f"carry-over); lift by regression on the control regions -> {out / 'lift_tests.csv'}",
    )

    # 4. Refit with the lift test.
    step(4, "refitting NUTS with the lift test as a likelihood term")
    t0 = time.perf_counter()
    fit = nuts(jax.random.PRNGKey(seed + 2), tests)
    stage.save_fit(fit)
    timings["calibrated_fit_s"] = time.perf_counter() - t0

    # 5. Summary and model review of the calibrated fit, from its one analysis.
    t0 = time.perf_counter()
    analysis = analyse(fit)
    summary = summarize(analysis)
    items = review(
        fit,
        summary=summary,
        analysis=analysis,
        key=jax.random.PRNGKey(seed),
        prior_samples=settings.prior_samples,
    )
    add_review(summary, items)
    stage.write_summary(summary)
    timings["summary_s"] = time.perf_counter() - t0
    d = summary["diagnostics"]
    step(
        5,
        f"summary of the calibrated fit: fit {d['seconds']:.1f} s, r_hat_max "
        f"{d['r_hat_max']:.3f}, ess_bulk_min {d['ess_bulk_min']:.0f}, divergences "
        f"{d['divergences']}; review: " + ", ".join(f"{i['check']} {i['status']}" for i in items),
    )
    calibration = {
        "test": {
            "channel": channel,
            "start": str(test_row["start"]),
            "end": str(test_row["end"]),
            "spend_delta": float(test_row["spend_delta"]),
            "lift": float(test_row["lift"]),
            "lift_se": float(test_row["lift_se"]),
            "true_lift": float(test_row["true_lift"]),
            "market_share": share,
            "method": str(test_row["method"]),
            "regions": settings.regions,
            "spend_lift": settings.spend_lift,
        },
        "roas": _calibration_table(before, summary, sim.truth),
        "divergences": {
            "before": before["diagnostics"]["divergences"],
            "after": d["divergences"],
        },
    }

    # 6. Optimise the budget from the calibrated fit, as `mmm-jax optimize` does.
    step(6, "optimising the historical budget, 0.5x-2x historical per channel")
    t0 = time.perf_counter()
    # The review decides as for `mmm-jax optimize`; quick mode's tiny chains cannot
    # converge, and it says its numbers mean nothing, so it optimises anyway (recorded).
    alloc = allocate(
        analysis, bounds=settings.bounds, seed=seed, review=items, force=settings.quick
    )
    alloc["provenance"] = {"fit_checksum": stage.verify(holdout=False, alloc=False).fit_checksum}
    print("\n".join(allocation_lines(alloc)))
    stage.write_json("alloc.json", alloc)
    print(f"wrote {out / 'alloc.json'}")
    timings["optimize_s"] = time.perf_counter() - t0

    # 7. Score against the truth.
    t0 = time.perf_counter()
    hist = np.array([alloc["historical_allocation"][n] for n in names])
    rec = np.array([alloc["allocation"][n] for n in names])
    score = score_allocation(
        sim, hist, rec, bounds=settings.bounds, key=jax.random.PRNGKey(seed + 1)
    )
    timings["truth_s"] = time.perf_counter() - t0
    step(7, "scored the recommendation with the true response curves")

    share = score["share_captured"]
    notes = []
    if settings.quick:
        notes.append(
            "Quick mode: tiny data and sampler settings; the numbers below are not meaningful."
        )
    notes += [
        f"Synthetic data with known truth: {settings.n_periods} daily periods, seed {seed}; "
        "the truth columns come from the data-generating process (truth.json).",
        f"Fitted with NUTS ({settings.num_chains} chains x {settings.num_warmup} warmup x "
        f"{settings.num_samples} draws) in {timings['fit_s']:.0f} s, then refitted with a "
        f"simulated holdout geo test on {channel} in {timings['calibrated_fit_s']:.0f} s; "
        "the summary, report and budget come from the calibrated fit "
        "(fit_uncalibrated.npz keeps the first).",
        "ROAS before -> after calibration (mean [90% HDI], true): "
        + "; ".join(
            f"{n}{' (tested)' if n == channel else ''} {r['before']['mean']:.2f} "
            f"[{r['before']['hdi_low']:.2f}, {r['before']['hdi_high']:.2f}] -> "
            f"{r['after']['mean']:.2f} [{r['after']['hdi_low']:.2f}, "
            f"{r['after']['hdi_high']:.2f}], true {r['truth']:.2f}"
            for n, r in calibration["roas"].items()
        )
        + ".",
        "Scored with the true response curves, the recommended allocation adds "
        f"{score['uplift_captured']:,.0f} revenue per period over the historical mix; the "
        f"true optimum under the same budget and bounds adds "
        f"{score['uplift_attainable']:,.0f}"
        + ("" if share is None else f", so the recommendation captures {share:.1%} of it")
        + ".",
        *(f"Simulated test: {text}" for text in TEST_CAVEATS),
        *(f"Not done yet: {text}" for text in LIMITATIONS),
    ]
    result = {
        "seed": seed,
        "settings": {
            "n_periods": settings.n_periods,
            "num_chains": settings.num_chains,
            "num_warmup": settings.num_warmup,
            "num_samples": settings.num_samples,
            "bounds": list(settings.bounds),
            "regions": settings.regions,
            "spend_lift": settings.spend_lift,
            "test_periods": settings.test_periods,
            "cooldown_periods": settings.cooldown_periods,
            "quick": settings.quick,
        },
        "channels": names,
        "calibration": calibration,
        "truth_score": score,
        "timings": timings,
        "notes": notes,
    }
    stage.write_text("demo.json", json.dumps(result, indent=2))

    # 8. Report.
    t0 = time.perf_counter()
    report_into(stage, title="mmm-jax demo: synthetic data with known truth", analysis=analysis)
    timings["report_s"] = time.perf_counter() - t0
    timings["total_s"] = time.perf_counter() - t_start
    stage.write_text("demo.json", json.dumps(result, indent=2))
    return result, summary, alloc, sim, timings
