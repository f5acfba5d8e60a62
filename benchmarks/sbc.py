"""Is the posterior honest over many datasets? Simulation-based calibration and recovery.

Two families of datasets, each fitted with NUTS, with and without one go-dark
(holdout) lift test per channel:

``prior``
    Simulation-based calibration (Talts et al., 2018). Each dataset's
    parameters are one draw from the model's own prior, its revenue one draw
    of the model's likelihood given them (on spend and organic traffic from
    the shared generator), and its lift tests one draw of the lift
    likelihood. The data are put on a fixed scale, so the fit sees the very
    prior the data came from. If inference is right, the rank of each true
    value among the posterior draws is uniform and every interval covers at
    its nominal rate, whatever the prior.

``generator``
    Recovery on data the model did not make: the shared ground-truth
    generator (``../shared/benchdata/make_truth.py``, independent of this
    package: multiplicative noise, a meta x google synergy the default model
    lacks, Michaelis-Menten and geometric carry-over among the true curves),
    with its mechanics drawn from the family :data:`FAMILY` around
    beauty_daily's, including channels that are nearly worthless. The
    family was fixed before any fit was scored.

Scored per dataset, channel and quantity (ROAS, marginal ROAS, baseline
share), against the truth computed with the same counterfactual definitions
as ``summary.json``:

* coverage of the 50%, 80% and 90% HDIs (what ``summary.json`` reports);
* the SBC rank of the truth among ``--rank-draws`` thinned posterior draws,
  binned into a histogram with a chi-square test of uniformity;
* the relative error of the posterior mean ROAS: median and 90th percentile;
* for channels with true ROAS < 0.3, how often the 90% HDI excludes it;
* waste flags (``summary.json``'s ``wasteful``) against the true marginal
  ROAS: detection rate of channels with true mROAS < 0.8, false-positive
  rate among channels with true mROAS > 1.2, at the library's flag level
  (``WASTE_PROB``) and, as an operating curve, at the levels
  :data:`WASTE_CURVE` (read off each fit's recorded probability; no refit);
* the coverage again over the fits whose sampler the library's review does
  not fail (:func:`sampler_failed`), the intervals a user who heeds the
  review would report;
* the coverage of central intervals read off the ranks, and how far the
  HDIs' falls from it on the same fits (:func:`central_from_ranks`);
* per fit, quantity and channel, the posterior's skewness and bulk ESS
  (:func:`skewness`, :func:`ess_bulk`), to split coverage by the posterior's
  shape and information.

Writes ``OUT/sbc_<family>.json`` (every fit's numbers and the summary) and
``OUT/sbc_<family>.png`` (rank histograms, coverage against nominal,
estimate against truth). In the prior family every global parameter (at
most :data:`MAX_PARAM_SIZE` values: a channel's curve, adstock and effect
size, the noise) is ranked as well, with the coverage of its central
intervals read off the ranks, in the JSON and in
``OUT/sbc_prior_params.png``. Results are appended after every fit, and a
rerun with the same settings resumes where the last one stopped.

Each coverage comes with a 95% interval from resampling whole fits
(:func:`bootstrap_interval`): one dataset's channels share its data, so the
binomial error over channels is too small. ``--merge A.json B.json`` pools the
fits of runs made with the same settings on other seeds (``--first-seed``)
into one summary, fitting nothing.

Usage::

    python benchmarks/sbc.py --family prior --datasets 100
    python benchmarks/sbc.py --merge results/sbc_prior_4chains.json \
        results/sbc_prior_params.json --tag _pooled
    python benchmarks/sbc.py --family generator --datasets 30
        [--godark-se design|relative] [--lift none,godark]
        [--chains 4 --warmup 500 --draws 500] [--out DIR]

Run as a script so that it can give JAX one CPU device per core for parallel chains.
"""

# ruff: noqa: E402  (JAX's CPU device count must be set before JAX starts)

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import importlib.util
import json
import math
import re
import sys
import time
from pathlib import Path

if __name__ == "__main__":
    from mmm_jax.runtime import configure_devices

    configure_devices()

import numpy as np
import pandas as pd

from mmm_jax.diagnostics.metrics import WASTE_PROB

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "benchdata" / "make_truth.py"
LEVELS = (0.5, 0.8, 0.9)
#: Posterior probabilities at which the waste flag's operating curve is read.
WASTE_CURVE = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
QUANTITIES = ("roas", "marginal_roas", "baseline_share")

#: The generator family: how each dataset's mechanics depart from
#: beauty_daily's (make_truth.DEFAULT). "x LogU(a, b)" multiplies the default by
#: a log-uniform draw; "U(a, b)" replaces it. Fixed before any fit was scored.
FAMILY = {
    "noise_sd": "U(0.03, 0.10)",
    "spend_mean": "x LogU(0.5, 2)",
    "spend_cv": "U(0.3, 0.7)",
    "beta": "with probability 0.25 x U(0, 0.1) (a nearly worthless channel), else x LogU(0.4, 2.5)",
    "half_saturation": "x LogU(0.5, 2)",
    "hill_slope": "U(1, 2.5)",
    "geometric_alpha": "U(0.1, 0.8)",
    "weibull_shape": "x LogU(0.7, 1.4)",
    "weibull_scale": "x LogU(0.6, 1.6)",
    "synergy_meta_google": "U(0, 0.2)",
    "lift_tests": "one go-dark test per channel: 6 weeks starting at 15/35/55/75% of the "
    "window, a region of 20% of the market, the true lift plus normal noise of standard "
    "error --godark-se says",
}

#: How a go-dark test's standard error is set (``--godark-se``). ``design``:
#: 15% of the lift a ROAS of 1 would give, whatever the truth, as in the prior
#: family and as in a real experiment, whose precision the region's revenue
#: noise and the test's length fix before anyone knows the effect. ``relative``:
#: 15% of the true lift, as ``make_truth.py`` writes ``lift_tests.csv``; a
#: nearly worthless channel's test then claims a precision no experiment has
#: (a lift of 0.001 +/- 0.00015 of revenue), and the standard error itself
#: tells the fit the truth.
GODARK_SE = ("design", "relative")

#: Go-dark test design shared by both families: start (fraction of the window),
#: length in days, the test region's market share.
GODARK_STARTS = (0.15, 0.35, 0.55, 0.75)
GODARK_DAYS = 42
GODARK_SHARE = 0.2
GODARK_REL_SE = 0.15

#: Prior family: every parameter of at most this many values (the global
#: ones: a channel's curve, effect size and adstock, the noise) is ranked too,
#: so a miscalibrated summary can be traced to the parameter behind it.
MAX_PARAM_SIZE = 16


#: Sampled sites that are only NUTS's coordinates for a parameter ranked
#: under its own name (a monotone map: the same ranks twice).
COORDINATE_SITES = frozenset({"media/slope_normal", "media/slope_probit"})


def design_se(spend_delta) -> np.ndarray:
    """A go-dark test's standard error by its design: 15% of the lift a ROAS of 1 would give."""
    return GODARK_REL_SE * np.abs(np.asarray(spend_delta, dtype=float))


def load_generator():
    """The shared generator as a module (numpy, pandas and scipy only)."""
    if not GENERATOR.is_file():
        sys.exit(f"the shared generator is missing: {GENERATOR}")
    spec = importlib.util.spec_from_file_location("make_truth", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- datasets
def generator_config(mt, rng: np.random.Generator) -> dict:
    """One draw of the generator family's mechanics (:data:`FAMILY`)."""
    cfg = copy.deepcopy(mt.DEFAULT)

    def logu(a, b):
        return float(np.exp(rng.uniform(np.log(a), np.log(b))))

    cfg["noise_sd"] = float(rng.uniform(0.03, 0.10))
    for ch in cfg["channels"].values():
        ch["spend_mean"] *= logu(0.5, 2.0)
        ch["spend_cv"] = float(rng.uniform(0.3, 0.7))
        worthless = rng.random() < 0.25
        ch["beta"] *= float(rng.uniform(0.0, 0.1)) if worthless else logu(0.4, 2.5)
        kind, p = ch["adstock"]
        if kind == "geometric":
            p["alpha"] = float(rng.uniform(0.1, 0.8))
        elif kind.startswith("weibull"):
            p["shape"] *= logu(0.7, 1.4)
            p["scale"] *= logu(0.6, 1.6)
        kind, p = ch["saturation"]
        p["half"] *= logu(0.5, 2.0)
        if kind == "hill":
            p["slope"] = float(rng.uniform(1.0, 2.5))
    cfg["synergy"] = [["meta", "google", float(rng.uniform(0.0, 0.2))]]
    cfg["lift_tests"] = [
        {
            "channel": c,
            "start_frac": s,
            "weeks": GODARK_DAYS // 7,
            "spend_lift": -1.0,
            "geo_share": GODARK_SHARE,
            "rel_se": GODARK_REL_SE,
        }
        for c, s in zip(cfg["channels"], GODARK_STARTS)
    ]
    return cfg


@dataclasses.dataclass
class Dataset:
    """One dataset with its truth: ``truth[q]`` is ``(channel,)`` or a scalar."""

    data: object  # MMMData
    lift: object  # LiftTests (one go-dark test per channel)
    truth: dict[str, np.ndarray | float]
    info: dict


def generator_dataset(mt, seed: int, godark_se: str = "design") -> Dataset:
    """A dataset of the generator family, its truth from ``truth.json``'s definitions.

    The go-dark tests are the generator's (its true lifts); their standard
    errors and noise are as ``godark_se`` says (:data:`GODARK_SE`).
    """
    from mmm_jax.calibration import LiftTests
    from mmm_jax.data import from_frame

    if godark_se not in GODARK_SE:
        raise ValueError(f"godark_se must be one of {GODARK_SE}, got {godark_se!r}")
    rng = np.random.default_rng([seed, 17])
    cfg = generator_config(mt, rng)
    frame, lifts, truth = mt.generate(cfg, seed)
    data = from_frame(frame, controls=("organic_traffic",))
    if godark_se == "design":
        lifts = lifts.copy()
        lifts["lift_se"] = design_se(lifts["spend_delta"])
        noise = np.random.default_rng([seed, 23]).normal(size=len(lifts))
        lifts["lift"] = lifts["true_lift"] + lifts["lift_se"] * noise
    lift = LiftTests.from_frame(lifts.drop(columns=["true_lift"]), data)
    ch = truth["channels"]
    return Dataset(
        data=data,
        lift=lift,
        truth={
            "roas": np.array([ch[c]["roas"] for c in data.channels]),
            "marginal_roas": np.array([ch[c]["marginal_roas"] for c in data.channels]),
            "baseline_share": float(truth["baseline_share"]),
        },
        info={
            "seed": seed,
            "noise_sd": cfg["noise_sd"],
            "beta": {c: v["beta"] for c, v in cfg["channels"].items()},
        },
    )


def _truth_fit(params: dict, data, config):
    """A one-draw `Fit` holding the true parameters, to score them like a posterior."""
    from mmm_jax.inference import Fit
    from mmm_jax.models.mmm import time_frame

    draws = {k: np.asarray(v)[None, None] for k, v in params.items()}
    return Fit(method="truth", draws=draws, data=data, config=config, frame=time_frame(data.dates))


def prior_dataset(mt, seed: int, config) -> Dataset:
    """A dataset drawn from the model's own prior on the generator's spend and traffic.

    The revenue scale is fixed (the generator's mean revenue), so the model
    fitted to these data has exactly the prior the data were drawn from.
    """
    import jax
    from numpyro.infer import Predictive

    from mmm_jax.calibration import LiftTests
    from mmm_jax.data import from_frame
    from mmm_jax.data.dataset import Scaler
    from mmm_jax.diagnostics.metrics import contributions, marginal_roas
    from mmm_jax.models import build_inputs, mmm

    cfg = copy.deepcopy(mt.DEFAULT)
    cfg["lift_tests"] = []
    frame, _, _ = mt.generate(cfg, seed)
    design = from_frame(frame, controls=("organic_traffic",))
    scaler = Scaler(
        media_scale=design.scaler.media_scale,
        target_scale=float(design.target.mean()),
        control_scale=design.scaler.control_scale,
    )
    design = design.with_scaler(scaler)
    lift = _godark_tests(design, observed=None)
    inputs = build_inputs(design, config, lift=lift)
    key_prior, key_lift = jax.random.split(jax.random.PRNGKey(seed))
    prior = Predictive(mmm, num_samples=1)(key_prior, inputs, config)
    y = np.asarray(prior["y"][0], dtype=np.float64)
    data = dataclasses.replace(design, target=y * scaler.target_scale)
    # The latent sites (and coef), without the time series.
    params = {
        k: np.asarray(v[0])
        for k, v in prior.items()
        if k not in ("y", "mu", "lift/delta_y", "lift/predicted")
    }
    truth_fit = _truth_fit(params, data, config)
    contrib = contributions(truth_fit)
    predicted = np.asarray(prior["lift/predicted"][0]) * scaler.target_scale
    se = np.asarray(lift.lift_se)
    observed = predicted + se * np.asarray(jax.random.normal(key_lift, predicted.shape))
    return Dataset(
        data=data,
        lift=LiftTests(
            channel=lift.channel,
            start=lift.start,
            end=lift.end,
            spend_delta=lift.spend_delta,
            lift=observed,
            lift_se=se,
            market_share=lift.market_share,
        ),
        truth={
            "roas": contrib.roas[0],
            "marginal_roas": marginal_roas(truth_fit)[0],
            "baseline_share": float(contrib.baseline_share[0]),
            "params": {
                k: np.atleast_1d(v).astype(float)
                for k, v in params.items()
                if np.ndim(v) <= 1 and np.size(v) <= MAX_PARAM_SIZE and k not in COORDINATE_SITES
            },
        },
        info={"seed": seed, "sigma": float(params["sigma"])},
    )


def _godark_tests(data, observed):
    """One go-dark test per channel (the design of :data:`GODARK_STARTS`).

    The standard error is fixed by design, independent of the truth: 15% of
    the lift a ROAS of 1 would give.
    """
    from mmm_jax.calibration import LiftTests

    rows = []
    for c, start in zip(range(data.n_channel), GODARK_STARTS):
        s = int(start * data.n_time)
        e = min(data.n_time, s + GODARK_DAYS) - 1
        cut = -GODARK_SHARE * float(np.asarray(data.media)[0, s : e + 1, c].sum())
        rows.append((data.channels[c], data.dates[s], data.dates[e], cut))
    delta = np.array([r[3] for r in rows])
    return LiftTests(
        channel=tuple(r[0] for r in rows),
        start=pd.DatetimeIndex([r[1] for r in rows]),
        end=pd.DatetimeIndex([r[2] for r in rows]),
        spend_delta=delta,
        lift=delta if observed is None else observed,
        lift_se=design_se(delta),
        market_share=np.full(len(rows), GODARK_SHARE),
    )


# --------------------------------------------------------------------------- fit and score
#: The stream of :func:`fit_key` (0 and 1 are the truth's and the tests').
FIT_STREAM = 2


def fit_key(seed: int):
    """The PRNG key of dataset ``seed``'s fit, a stream of its own.

    :func:`prior_dataset` draws the truth and the tests with
    ``jax.random.split(PRNGKey(seed))``. Fitted with ``PRNGKey(seed)`` itself,
    the chains' keys (``split(key, chains)``) would be those very keys: with
    JAX's partitionable Threefry, ``split(key, n)[i]`` is ``fold_in(key, i)``
    whatever ``n``, so chain 0 ran on the truth's key and chain 1 (and the
    baseline's conditional draws, ``fold_in(key, 1)``) on the tests' noise
    key. The fit's randomness must be independent of the truth; ``fold_in(key,
    FIT_STREAM)`` starts a tree of keys that neither of those reaches.
    """
    import jax

    return jax.random.fold_in(jax.random.PRNGKey(seed), FIT_STREAM)


def fit_and_score(ds: Dataset, config, *, with_lift: bool, args, key) -> dict:
    """Fits one dataset with NUTS and scores every quantity against its truth."""
    from mmm_jax.diagnostics import hdi
    from mmm_jax.diagnostics.metrics import contributions, marginal_roas, waste_flags
    from mmm_jax.diagnostics.summary import convergence
    from mmm_jax.inference import fit_nuts

    fit = fit_nuts(
        ds.data,
        config,
        key=key,
        num_warmup=args.warmup,
        num_samples=args.draws,
        num_chains=args.chains,
        lift_tests=ds.lift if with_lift else None,
        progress_bar=False,
    )
    contrib = contributions(fit)
    mroas = marginal_roas(fit)
    draws = {
        "roas": contrib.roas,
        "marginal_roas": mroas,
        "baseline_share": contrib.baseline_share[:, None],
    }
    out = {
        "channels": list(ds.data.channels),
        "lift": with_lift,
        "fit_s": float(fit.timings["total_s"]),
        **{k: v for k, v in convergence(fit).items()},
        "n_draws": int(fit.n_samples),
        "wasteful": waste_flags(mroas).tolist(),
        "prob_mroas_below_1": np.mean(mroas < 1.0, axis=0).tolist(),
    }
    for q, x in draws.items():
        true = np.atleast_1d(np.asarray(ds.truth[q], dtype=float))
        rec = {
            "true": true.tolist(),
            "mean": x.mean(0).tolist(),
            "sd": x.std(0).tolist(),
            "skew": skewness(x).tolist(),
            "ess_bulk": ess_bulk(x, args.chains).tolist(),
        }
        for level in LEVELS:
            lo, hi = hdi(x, level)
            rec[f"hdi{round(level * 100)}"] = [lo.tolist(), hi.tolist()]
        rec["rank"] = sbc_rank(x, true, args.rank_draws).tolist()
        out[q] = rec
    if "params" in ds.truth:
        flat = fit.flat_draws()
        out["param_ranks"] = {
            k: sbc_rank(flat[k].reshape(flat[k].shape[0], -1), v, args.rank_draws).tolist()
            for k, v in ds.truth["params"].items()
            if k in flat and flat[k][0].size == v.size
        }
    return out


def skewness(x: np.ndarray) -> np.ndarray:
    """Sample skewness of ``(sample, k)`` draws, per column (0 where they are constant)."""
    d = x - x.mean(0)
    sd = np.sqrt(np.mean(d**2, 0))
    return np.where(sd > 0, np.mean(d**3, 0) / np.where(sd > 0, sd, 1.0) ** 3, 0.0)


def ess_bulk(x: np.ndarray, chains: int) -> np.ndarray:
    """Bulk ESS per column of ``(sample, k)`` draws whose chains follow one another."""
    import arviz as az

    per_chain = x.reshape(chains, -1, x.shape[1])
    return np.array([az.ess(per_chain[..., j], method="bulk") for j in range(x.shape[1])])


def sbc_rank(draws: np.ndarray, true: np.ndarray, n: int) -> np.ndarray:
    """Rank of each true value among ``n`` evenly thinned draws, in ``0..n``.

    Thinning the ``(sample, k)`` draws (chains one after another) to ``n``
    keeps them close to independent, which the uniformity of ranks assumes.
    Ties (a truth equal to draws, e.g. zero) are broken at random.
    """
    idx = np.linspace(0, draws.shape[0] - 1, n).round().astype(int)
    thin = draws[idx]
    below = np.sum(thin < true, axis=0)
    ties = np.sum(thin == true, axis=0)
    rng = np.random.default_rng(0)
    return below + rng.integers(0, ties + 1)


# --------------------------------------------------------------------------- summary
def chi2_uniform(ranks: np.ndarray, n_ranks: int, bins: int) -> dict:
    """Chi-square test that ranks in ``0..n_ranks`` are uniform, over ``bins`` equal bins."""
    from scipy.stats import chi2

    edges = np.linspace(0, n_ranks + 1, bins + 1)
    counts, _ = np.histogram(ranks, bins=edges)
    expected = len(ranks) / bins
    stat = float(np.sum((counts - expected) ** 2 / expected))
    return {
        "counts": counts.tolist(),
        "chi2": stat,
        "dof": bins - 1,
        "p_value": float(chi2.sf(stat, bins - 1)),
    }


BOOTSTRAP = 2000  # resamples of the fits for the coverage intervals


def bootstrap_interval(hits: list[np.ndarray], level: float = 0.95, seed: int = 0) -> list:
    """Interval of a rate over fits, resampling whole fits (datasets) with replacement.

    A fit's channels share its data, so their hits are not independent; the
    binomial standard error over channels understates the spread. Resampling
    the fits keeps each fit's channels together.

    Args:
      hits: One array per fit: its channels' hits (booleans), or any per-channel
        values whose pooled mean is wanted.
      level: Interval probability.
      seed: Seed of the resampling.

    Returns:
      ``[low, high]`` (equal-tailed percentiles of the resampled rate).
    """
    hits = [np.asarray(h, dtype=float) for h in hits if np.size(h)]
    if not hits:
        return [None, None]
    sums = np.array([h.sum() for h in hits])
    sizes = np.array([h.size for h in hits])
    idx = np.random.default_rng(seed).integers(0, len(hits), size=(BOOTSTRAP, len(hits)))
    rates = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    tail = (1.0 - level) / 2
    return [float(np.quantile(rates, tail)), float(np.quantile(rates, 1.0 - tail))]


def waste_rates(runs: list[dict], prob: float) -> dict:
    """Detection and false-positive rates of the waste flag at posterior probability ``prob``.

    A channel is flagged when its posterior probability of a marginal ROAS
    below 1 (``prob_mroas_below_1``, recorded per fit) is at least ``prob``,
    the rule of :func:`mmm_jax.diagnostics.metrics.waste_flags`; a fit
    recorded without those probabilities keeps the flags it was scored with.
    Detection is over channels with true marginal ROAS below 0.8, false
    positives over those above 1.2 (#17's bars), each with a 95% interval from
    resampling whole fits.
    """
    per_fit = []
    for r in runs:
        if "prob_mroas_below_1" in r:
            flag = np.asarray(r["prob_mroas_below_1"], dtype=float) >= prob
        else:
            flag = np.asarray(r["wasteful"], dtype=bool)
        per_fit.append((flag, np.asarray(r["marginal_roas"]["true"], dtype=float)))
    flag = np.concatenate([f for f, _ in per_fit])
    mtrue = np.concatenate([t for _, t in per_fit])
    waste, good = mtrue < 0.8, mtrue > 1.2
    return {
        "prob": prob,
        "n_true_mroas_below_0_8": int(waste.sum()),
        "detection_rate": float(flag[waste].mean()) if waste.any() else None,
        "detection_ci95": bootstrap_interval([f[t < 0.8] for f, t in per_fit]),
        "n_true_mroas_above_1_2": int(good.sum()),
        "false_positive_rate": float(flag[good].mean()) if good.any() else None,
        "false_positive_ci95": bootstrap_interval([f[t > 1.2] for f, t in per_fit]),
    }


def sampler_failed(run: dict) -> bool:
    """Whether the library's review fails this fit's sampler (R-hat, bulk ESS or divergences).

    The verdict is :func:`mmm_jax.diagnostics.review.check_convergence`'s on
    the fit's recorded diagnostics. Which fits fail depends on the data and
    the sampler only, never on the truth, so the coverage over the others is
    still a calibration check: of the intervals a user who heeds the review
    would report.
    """
    from types import SimpleNamespace

    from mmm_jax.diagnostics.review import FAIL, check_convergence

    fit = SimpleNamespace(method="nuts", n_samples=run["n_draws"])
    diagnostics = {k: run.get(k) for k in ("r_hat_max", "ess_bulk_min", "divergences")}
    items = check_convergence(fit, diagnostics=diagnostics)
    return any(item["status"] == FAIL for item in items)


def coverage(runs: list[dict], q: str) -> dict:
    """Coverage of ``q``'s 50/80/90% HDIs over ``runs``, each with its resampled interval."""
    cov = {}
    for level in LEVELS:
        name = f"hdi{round(level * 100)}"
        per_fit = [
            (np.asarray(r[q][name][0]) <= np.asarray(r[q]["true"]))
            & (np.asarray(r[q]["true"]) <= np.asarray(r[q][name][1]))
            for r in runs
        ]
        hit = np.concatenate(per_fit)
        cov[str(level)] = {
            "coverage": float(hit.mean()),
            "n": int(hit.size),
            # binomial standard error at the nominal rate
            "se_at_nominal": float(math.sqrt(level * (1 - level) / hit.size)),
            "ci95": bootstrap_interval(per_fit),
        }
    return cov


def inside_central(ranks, rank_draws: int, level: float) -> np.ndarray:
    """Whether each truth of rank ``r`` among ``n`` draws lies in the central ``level`` interval.

    ``|(r + 1/2) / (n + 1) - 1/2| <= level / 2``: with exact posterior draws
    that happens at exactly the nominal rate.
    """
    u = (np.asarray(ranks, dtype=float) + 0.5) / (rank_draws + 1)
    return np.abs(u - 0.5) <= level / 2


def central_from_ranks(runs: list[dict], q: str, rank_draws: int) -> dict:
    """Coverage of ``q``'s central intervals read off the ranks, and its gap to the HDIs'.

    The central intervals come from the thinned draws' ranks
    (:func:`inside_central`); the HDI is estimated from all the draws. Both
    hold ``level`` of the posterior, so a calibrated posterior covers at that
    rate with either, and a gap between their coverages on the same fits
    (``hdi_minus_central``, with a 95% interval from resampling whole fits)
    comes from estimating the HDI from the draws, or from a miscalibration
    that depends on the posterior's shape (its skew, say), which ranks pooled
    over fits do not see.
    """
    out = {}
    for level in LEVELS:
        name = f"hdi{round(level * 100)}"
        central, gap = [], []
        for r in runs:
            true = np.asarray(r[q]["true"], dtype=float)
            hit = (np.asarray(r[q][name][0]) <= true) & (true <= np.asarray(r[q][name][1]))
            inside = inside_central(r[q]["rank"], rank_draws, level)
            central.append(inside)
            gap.append(hit.astype(float) - inside)
        out[str(level)] = {
            "coverage": float(np.concatenate(central).mean()),
            "hdi_minus_central": float(np.concatenate(gap).mean()),
            "ci95": bootstrap_interval(gap),
        }
    return out


def rank_vs_skew(runs: list[dict], q: str, rank_draws: int) -> dict:
    """Whether the truth's rank depends on which way ``q``'s posterior leans.

    Uniform ranks pooled over fits can hide a posterior whose skew is wrong:
    right-skewed posteriors with the truth too often in their long tail and
    left-skewed ones likewise, which makes HDIs (which sit toward the mode)
    under-cover while the central intervals do not. Under calibration the
    rank is uniform given anything the data determine, the posterior's shape
    included, so it is uncorrelated with the posterior's skewness (recorded
    per fit, :func:`skewness`; fits recorded without it are left out).
    Spearman's correlation, with its p-value; positive when the truth sits in
    the long tail more often than the posterior says.
    """
    from scipy.stats import spearmanr

    recorded = [r for r in runs if "skew" in r[q]]
    skew = np.concatenate([r[q]["skew"] for r in recorded]) if recorded else np.zeros(0)
    ranks = np.concatenate([r[q]["rank"] for r in recorded]) if recorded else np.zeros(0)
    out = {"n": int(skew.size), "n_fits": len(recorded), "spearman": None, "p_value": None}
    if skew.size >= 3 and np.ptp(skew) > 0:
        res = spearmanr(skew, ranks)
        out.update(spearman=float(res.statistic), p_value=float(res.pvalue))
    return out


def summarise(runs: list[dict], rank_draws: int, bins: int = 10) -> dict:
    """Coverage, rank uniformity, ROAS error and waste-flag rates, per lift variant.

    ``sampler_not_failed`` repeats the coverage over the fits whose sampler the
    library's review does not fail (:func:`sampler_failed`).
    """
    out = {}
    for variant in sorted({r["lift"] for r in runs}):
        rs = [r for r in runs if r["lift"] == variant]
        v = {"n_fits": len(rs)}
        for q in QUANTITIES:
            ranks = np.concatenate([r[q]["rank"] for r in rs])
            v[q] = {
                "coverage": coverage(rs, q),
                "ranks": chi2_uniform(ranks, rank_draws, bins),
                "central_from_ranks": central_from_ranks(rs, q, rank_draws),
                "rank_vs_skew": rank_vs_skew(rs, q, rank_draws),
            }
        passed = [r for r in rs if not sampler_failed(r)]
        v["sampler_not_failed"] = {
            "n_fits": len(passed),
            **({q: coverage(passed, q) for q in QUANTITIES} if passed else {}),
        }
        true = np.concatenate([r["roas"]["true"] for r in rs])
        mean = np.concatenate([r["roas"]["mean"] for r in rs])
        lo90 = np.concatenate([r["roas"]["hdi90"][0] for r in rs])
        hi90 = np.concatenate([r["roas"]["hdi90"][1] for r in rs])
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.abs(mean / true - 1.0)
        big = true >= 0.3  # relative error means little for a nearly worthless channel
        v["roas_error"] = {
            "median_rel_error": float(np.median(rel[big])),
            "p90_rel_error": float(np.quantile(rel[big], 0.9)),
            "median_abs_error": float(np.median(np.abs(mean - true))),
            "n_channels_true_roas_ge_0_3": int(big.sum()),
        }
        low = true < 0.3
        v["low_roas"] = {
            "n": int(low.sum()),
            "hdi90_excludes_truth": float(np.mean(~((lo90 <= true) & (true <= hi90))[low]))
            if low.any()
            else None,
            # the median: one fit whose chains disagree by orders of magnitude (the review
            # fails it) would otherwise set the figure for all
            "median_estimate": float(np.median(mean[low])) if low.any() else None,
        }
        v["waste_flags"] = waste_rates(rs, WASTE_PROB)
        if all("prob_mroas_below_1" in r for r in rs):
            v["waste_flags"]["operating_curve"] = [waste_rates(rs, p) for p in WASTE_CURVE]
        v["convergence"] = {
            "r_hat_max": float(max(r["r_hat_max"] for r in rs)),
            "n_r_hat_over_1_01": int(sum(r["r_hat_max"] >= 1.01 for r in rs)),
            "n_divergent_over_1pct": int(sum(r["divergences"] >= 0.01 * r["n_draws"] for r in rs)),
            "median_fit_s": float(np.median([r["fit_s"] for r in rs])),
        }
        v["params"] = param_calibration(rs, rank_draws, bins)
        out["godark" if variant else "none"] = v
    return out


def param_calibration(runs: list[dict], rank_draws: int, bins: int = 10) -> dict:
    """Per parameter (prior family): rank uniformity and central coverage (:func:`inside_central`)."""
    names = sorted({k for r in runs for k in r.get("param_ranks", {}) if k not in COORDINATE_SITES})
    out = {}
    for k in names:
        ranks = np.concatenate([r["param_ranks"][k] for r in runs if k in r.get("param_ranks", {})])
        out[k] = {
            "ranks": chi2_uniform(ranks, rank_draws, bins),
            "central_coverage": {
                str(level): float(np.mean(inside_central(ranks, rank_draws, level)))
                for level in LEVELS
            },
        }
    return out


def plot(runs: list[dict], summary: dict, path: Path, title: str, rank_draws: int) -> None:
    """Rank histograms, coverage against nominal and ROAS estimate against truth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(summary)
    fig, axes = plt.subplots(
        len(variants),
        len(QUANTITIES) + 2,
        figsize=(4.0 * (len(QUANTITIES) + 2), 3.3 * len(variants)),
    )
    axes = np.atleast_2d(axes)
    for row, variant in zip(axes, variants):
        v = summary[variant]
        rs = [r for r in runs if r["lift"] == (variant == "godark")]
        for ax, q in zip(row, QUANTITIES):
            ranks = v[q]["ranks"]
            counts = np.asarray(ranks["counts"])
            n = counts.sum()
            ax.bar(np.arange(len(counts)), counts, color="#4c72b0", width=0.9)
            # 99% band of a bin count under uniform ranks (binomial)
            p = 1.0 / len(counts)
            half = 2.576 * math.sqrt(n * p * (1 - p))
            ax.axhspan(n * p - half, n * p + half, color="grey", alpha=0.25, lw=0)
            ax.set_title(f"{variant}: {q} ranks (p = {ranks['p_value']:.2f})", fontsize=9)
            ax.set_xticks([])
        ax = row[len(QUANTITIES)]
        passed = v.get("sampler_not_failed", {})
        for q in QUANTITIES:
            cov = [v[q]["coverage"][str(level)]["coverage"] for level in LEVELS]
            (line,) = ax.plot(LEVELS, cov, "o-", label=q)
            if q in passed and passed["n_fits"] < v["n_fits"]:
                cov = [passed[q][str(level)]["coverage"] for level in LEVELS]
                ax.plot(LEVELS, cov, "x--", color=line.get_color(), lw=0.8)
        if passed.get("n_fits", v["n_fits"]) < v["n_fits"]:
            ax.plot([], [], "kx--", lw=0.8, label=f"{passed['n_fits']} fits, sampler not failed")
        ax.plot([0.4, 1.0], [0.4, 1.0], color="grey", lw=1)
        ax.fill_between([0.4, 1.0], [0.35, 0.95], [0.45, 1.05], color="grey", alpha=0.15, lw=0)
        ax.set_xlim(0.4, 1.0)
        ax.set_ylim(0.3, 1.02)
        ax.set_xlabel("nominal HDI mass")
        ax.set_ylabel("coverage")
        ax.set_title(f"{variant}: coverage (band: +/-5 points)", fontsize=9)
        ax.legend(fontsize=7)
        ax = row[len(QUANTITIES) + 1]
        true = np.concatenate([r["roas"]["true"] for r in rs])
        mean = np.concatenate([r["roas"]["mean"] for r in rs])
        lo = np.concatenate([r["roas"]["hdi90"][0] for r in rs])
        hi = np.concatenate([r["roas"]["hdi90"][1] for r in rs])
        hit = (lo <= true) & (true <= hi)
        # Log axes: prior draws span ROAS 0.001-1000s; what lies below the floor is drawn on it.
        floor = 0.01
        true, mean, lo, hi = (np.maximum(x, floor) for x in (true, mean, lo, hi))
        ax.errorbar(
            true[hit],
            mean[hit],
            yerr=[mean[hit] - lo[hit], hi[hit] - mean[hit]],
            fmt="o",
            ms=3,
            lw=0.6,
            color="#4c72b0",
            label="90% HDI covers",
        )
        ax.errorbar(
            true[~hit],
            mean[~hit],
            yerr=[mean[~hit] - lo[~hit], hi[~hit] - mean[~hit]],
            fmt="o",
            ms=3,
            lw=0.6,
            color="#c44e52",
            label="misses",
        )
        top = float(max(true.max(), hi.max())) * 1.5
        ax.plot([floor, top], [floor, top], color="grey", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"true ROAS (log; below {floor} drawn at {floor})")
        ax.set_ylabel("posterior mean and 90% HDI")
        ax.set_title(f"{variant}: ROAS", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, facecolor="white")
    plt.close(fig)


def plot_params(summary: dict, path: Path, title: str) -> bool:
    """Per global parameter: central-interval coverage at each level, red where ranks fail.

    Returns False (and draws nothing) when no parameter was ranked (the generator family).
    """
    variants = [k for k, v in summary.items() if v.get("params")]
    if not variants:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({k for v in variants for k in summary[v]["params"]})
    fig, axes = plt.subplots(
        1, len(variants), figsize=(6.0 * len(variants), 0.32 * len(names) + 1.6), squeeze=False
    )
    for ax, variant in zip(axes[0], variants):
        params = summary[variant]["params"]
        y = np.arange(len(names))
        for level, marker in zip(LEVELS, ("o", "s", "D")):
            cov = [
                params[k]["central_coverage"][str(level)] if k in params else np.nan for k in names
            ]
            ax.axvspan(level - 0.05, level + 0.05, color="grey", alpha=0.12, lw=0)
            bad = [k in params and params[k]["ranks"]["p_value"] < 0.01 for k in names]
            ax.scatter(
                cov,
                y,
                marker=marker,
                s=18,
                c=["#c44e52" if b else "#4c72b0" for b in bad],
                label=f"{level:.0%}",
            )
        ax.set_yticks(y)
        ax.set_yticklabels(names, fontsize=7)
        ax.set_xlim(0.3, 1.0)
        ax.set_xlabel("coverage of central intervals (bands: nominal +/-5 points)")
        ax.set_title(f"{variant}: per parameter (red: rank chi-square p < 0.01)", fontsize=9)
        ax.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110, facecolor="white")
    plt.close(fig)
    return True


# --------------------------------------------------------------------------- main
def settings(args) -> dict:
    """What makes two runs comparable (a rerun resumes only on equal settings)."""
    out = {
        "family": args.family,
        "chains": args.chains,
        "warmup": args.warmup,
        "draws": args.draws,
        "rank_draws": args.rank_draws,
        "first_seed": args.first_seed,
        "lift": args.lift,
        "media_priors": args.media_priors,
        "family_spec": FAMILY if args.family == "generator" else "the model's own prior",
    }
    if args.family == "generator":  # the prior family's tests always have the design's
        out["godark_se"] = args.godark_se
    return out


def model_config(media_priors: str | None):
    """The default model, with media priors overridden by a JSON object, if given.

    The JSON maps fields of :class:`mmm_jax.models.MediaPriors` to
    distributions in the format of :func:`mmm_jax.models.config.distribution_to_dict`
    (``null`` for none), and ``effect`` to an :class:`mmm_jax.models.config.Effect` value.
    """
    from mmm_jax.models import MediaPriors, ModelConfig
    from mmm_jax.models.config import Effect, distribution_from_dict

    if not media_priors:
        return ModelConfig()
    spec = json.loads(media_priors)
    fields = {}
    for k, v in spec.items():
        if k == "effect":
            fields[k] = None if v is None else Effect(v)
        else:
            fields[k] = None if v is None else distribution_from_dict(v)
    return ModelConfig(media=MediaPriors(**fields))


def run(args) -> dict:
    """Fits every dataset and variant not already in the results file; returns the report."""
    import jax

    from mmm_jax import enable_compilation_cache

    enable_compilation_cache()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"sbc_{args.family}{args.tag}"
    path = out_dir / f"{name}.json"
    config = model_config(args.media_priors)
    report = {"settings": settings(args), "config": repr(config), "runs": []}
    if path.is_file() and not args.restart:
        old = json.loads(path.read_text())
        if old.get("settings") == report["settings"]:
            report["runs"] = old["runs"]
            # the wall time of earlier sessions of this run, kept across resumes
            report["wall_s"] = old.get("wall_s", 0.0)
    done = {(r["seed"], r["lift"]) for r in report["runs"]}
    mt = load_generator()
    variants = [v == "godark" for v in args.lift.split(",")]
    start, earlier = time.perf_counter(), report.get("wall_s", 0.0)
    for i in range(args.datasets):
        seed = args.first_seed + i
        todo = [v for v in variants if (seed, v) not in done]
        if not todo:
            continue
        if args.family == "prior":
            ds = prior_dataset(mt, seed, config)
        else:
            ds = generator_dataset(mt, seed, args.godark_se)
        for with_lift in todo:
            rec = fit_and_score(ds, config, with_lift=with_lift, args=args, key=fit_key(seed))
            rec.update(seed=seed, info=ds.info, fit_key=f"fold_in(PRNGKey(seed), {FIT_STREAM})")
            report["runs"].append(rec)
            report["wall_s"] = earlier + time.perf_counter() - start
            path.write_text(json.dumps(report, indent=1))
            r = rec["roas"]
            print(
                f"[{len(report['runs'])}] seed {seed} lift={'godark' if with_lift else 'none'}: "
                f"{rec['fit_s']:.1f} s, r_hat {rec['r_hat_max']:.3f}, div {rec['divergences']}; "
                "ROAS "
                + ", ".join(
                    f"{c} {m:.2f} [{lo:.2f}, {hi:.2f}] ({t:.2f})"
                    for c, m, lo, hi, t in zip(
                        rec["channels"], r["mean"], r["hdi90"][0], r["hdi90"][1], r["true"]
                    )
                ),
                flush=True,
            )
        # Every fit compiles its own sampling loop (a cache read, but loaded into
        # memory again); without this a long run runs out of mappable memory.
        jax.clear_caches()
        gc.collect()
    report["wall_s"] = earlier + time.perf_counter() - start
    report["backend"] = jax.default_backend()
    return finish(report, path)


def finish(report: dict, path: Path) -> dict:
    """Summarises ``report``'s fits and writes the JSON, the figures and the printed table."""
    s = report["settings"]
    report["summary"] = summarise(report["runs"], s["rank_draws"])
    path.write_text(json.dumps(report, indent=1))
    plot(
        report["runs"],
        report["summary"],
        path.with_suffix(".png"),
        f"{s['family']} family: {len({r['seed'] for r in report['runs']})} datasets, NUTS "
        f"{s['chains']} x ({s['warmup']} + {s['draws']})",
        s["rank_draws"],
    )
    params_png = path.with_name(f"{path.stem}_params.png")
    drew = plot_params(report["summary"], params_png, f"{s['family']} family: global parameters")
    print_summary(report["summary"])
    print(f"wrote {path} and {path.with_suffix('.png')}" + (f" and {params_png}" if drew else ""))
    return report


def _comparable(report: dict) -> tuple:
    """What must agree for two result files to be pooled: settings but the seeds, the model."""
    settings = {k: v for k, v in report["settings"].items() if k not in ("first_seed", "lift")}
    # the config's repr names distributions by their memory address
    config = re.sub(r" at 0x[0-9a-f]+", "", report.get("config", ""))
    return json.dumps(settings, sort_keys=True), config


def merge(paths: list[Path], out: Path) -> dict:
    """Pools the fits of several result files made with the same settings on other seeds.

    Raises:
      ValueError: a file is unfinished, the files differ in settings or model,
        two files fitted the same seed and variant, or ``out`` is one of
        several files to pool.
    """
    if len(paths) > 1 and Path(out).resolve() in {Path(p).resolve() for p in paths}:
        raise ValueError(f"{out} is one of the files to pool: pick another --tag")
    reports = []
    for path in paths:
        report = json.loads(Path(path).read_text())
        if "summary" not in report:
            raise ValueError(f"{path}: unfinished (no summary): let its run end first")
        reports.append(report)
    keys = {_comparable(r) for r in reports}
    if len(keys) > 1:
        raise ValueError(
            "the files differ in settings or model (only the seeds and the lift variants may "
            "differ): " + ", ".join(str(p) for p in paths)
        )
    runs, seen = [], set()
    for path, report in zip(paths, reports):
        for r in report["runs"]:
            key = (r["seed"], r["lift"])
            if key in seen:
                raise ValueError(f"{path}: seed {r['seed']} (lift={r['lift']}) is in two files")
            seen.add(key)
            runs.append(r)
    settings = dict(reports[0]["settings"])
    settings["first_seed"] = min(r["seed"] for r in runs)
    lifts = [x for r in reports for x in r["settings"]["lift"].split(",")]
    settings["lift"] = ",".join(dict.fromkeys(lifts))  # first-seen order, no repeats
    pooled = {
        "settings": settings,
        "config": reports[0].get("config"),
        "runs": runs,
        "wall_s": sum(r.get("wall_s", 0.0) for r in reports),
        "backend": reports[0].get("backend", ""),
    }
    if len(paths) > 1:
        pooled["merged_from"] = [Path(p).name for p in paths]
    out.parent.mkdir(parents=True, exist_ok=True)
    return finish(pooled, out)


def print_summary(summary: dict) -> None:
    """One table per lift variant."""
    for variant, v in summary.items():
        print(f"\n== lift tests: {variant} ({v['n_fits']} fits)")
        for q in QUANTITIES:
            cov = "  ".join(
                f"{float(k):.0%}: {c['coverage']:.1%}" for k, c in v[q]["coverage"].items()
            )
            print(f"  {q:<15} coverage {cov}   rank chi2 p = {v[q]['ranks']['p_value']:.3f}")
        e, lo, w, c = v["roas_error"], v["low_roas"], v["waste_flags"], v["convergence"]
        print(
            f"  ROAS error (true ROAS >= 0.3): median {e['median_rel_error']:.1%}, "
            f"90th percentile {e['p90_rel_error']:.1%}"
        )
        if lo["n"]:
            print(
                f"  true ROAS < 0.3 ({lo['n']}): 90% HDI excludes the truth in "
                f"{lo['hdi90_excludes_truth']:.1%}, median estimate {lo['median_estimate']:.2f}"
            )
        det = "n/a" if w["detection_rate"] is None else f"{w['detection_rate']:.1%}"
        fp = "n/a" if w["false_positive_rate"] is None else f"{w['false_positive_rate']:.1%}"
        print(
            f"  waste flags at P(mROAS < 1) >= {w.get('prob', 0.9):.2f}: {det} of "
            f"{w['n_true_mroas_below_0_8']} with true mROAS < 0.8, "
            f"false positives {fp} of {w['n_true_mroas_above_1_2']} with true mROAS > 1.2"
        )
        if w.get("operating_curve"):
            print(
                "    operating curve (probability: detection / false positives): "
                + ", ".join(
                    f"{c['prob']:.2f}: {c['detection_rate'] or 0:.1%} / "
                    f"{c['false_positive_rate'] or 0:.1%}"
                    for c in w["operating_curve"]
                )
            )
        for k, pc in v.get("params", {}).items():
            cov = "  ".join(f"{float(q):.0%}: {cv:.1%}" for q, cv in pc["central_coverage"].items())
            p_value = pc["ranks"]["p_value"]
            print(f"  param {k:<22} central {cov}   rank chi2 p = {p_value:.3f}")
        print(
            f"  convergence: max R-hat {c['r_hat_max']:.3f}, {c['n_r_hat_over_1_01']} fits "
            f">= 1.01, {c['n_divergent_over_1pct']} with >= 1% divergences, "
            f"median fit {c['median_fit_s']:.1f} s"
        )
        passed = v.get("sampler_not_failed", {})
        if passed.get("n_fits"):
            cov = "; ".join(
                f"{q} " + "/".join(f"{x['coverage']:.1%}" for x in passed[q].values())
                for q in QUANTITIES
            )
            print(f"  over the {passed['n_fits']} fits the review does not fail: {cov}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=("prior", "generator"), default="generator")
    p.add_argument("--datasets", type=int, default=30)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--lift", default="none,godark", help="comma-separated: none, godark")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--rank-draws", type=int, default=99, help="thinned draws ranks are taken among")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--tag", default="", help="suffix of the output file names")
    p.add_argument(
        "--media-priors",
        help='JSON overriding MediaPriors fields, e.g. \'{"relative_roas": {"dist": "Gamma", '
        '"params": {"concentration": 1.0, "rate": 2.5}}}\' (default: the default model)',
    )
    p.add_argument(
        "--godark-se",
        choices=GODARK_SE,
        default="design",
        help="generator family: a go-dark test's standard error fixed by design (15%% of the "
        "lift of a ROAS of 1) or relative to the true lift, as make_truth.py writes it",
    )
    p.add_argument("--restart", action="store_true", help="ignore earlier results in OUT")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="fit nothing: pool finished result files (same settings, other seeds) into "
        "OUT/sbc_<family><tag>.json, or re-summarise one file with this version's summary",
    )
    args = p.parse_args(argv)
    if args.merge:
        missing = [str(m) for m in args.merge if not m.is_file()]
        if missing:
            p.error(f"--merge: no such file: {', '.join(missing)}")
        try:
            family = json.loads(args.merge[0].read_text())["settings"]["family"]
            merge(args.merge, Path(args.out) / f"sbc_{family}{args.tag}.json")
        except (KeyError, TypeError, json.JSONDecodeError) as e:
            p.error(f"--merge: not an sbc.py result file ({type(e).__name__}: {e})")
        except ValueError as e:
            p.error(str(e))
        return 0
    bad = set(args.lift.split(",")) - {"none", "godark"}
    if bad:
        p.error(f"--lift takes none and/or godark, got {sorted(bad)}")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
