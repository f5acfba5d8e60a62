r"""The model review a careful analyst runs before trusting a fit.

Each check returns ``{"check", "status", "value", "message"}`` with ``status``
one of ``"pass"``, ``"warn"``, ``"fail"`` and a plain-language verdict:

- **sampler**: max R-hat, min bulk ESS and divergences (NUTS), or the SVI
  convergence flag (SVI, MAP);
- **posterior predictive check**: the share of observed periods inside the
  90% posterior predictive interval, and the lag-1 autocorrelation of the
  residuals (strong autocorrelation: the baseline misses something);
- **negative baseline**: the posterior probability that the all-media-zero
  prediction is negative in some period;
- **implausible ROAS**: a posterior-mean ROAS above 20, or more than 5%
  posterior mass above 50;
- **hold-out forecast** (when the summary holds ``fit.holdout``, from
  ``mmm-jax fit --holdout``): the share of held-out periods inside the
  forecast's 90% interval, and its MAPE against the in-sample MAPE;
- **ROAS identified** per channel: the width of the posterior's 90% HDI of
  the ROAS over the prior's. A channel whose posterior is nearly as wide as
  its prior is not identified by the data: its numbers repeat the prior, and
  a lift test (a go-dark test measures the ROAS) is what would inform it;
- **prior-to-posterior shift** per sampled parameter element: contraction and
  z-shift,

  .. math::
      c = 1 - \frac{\mathrm{Var}_{post}}{\mathrm{Var}_{prior}}, \qquad
      z = \frac{|\bar\theta_{post} - \bar\theta_{prior}|}{\mathrm{sd}_{prior}},

  with prior moments from prior draws of the model (``Predictive``).

The module never imports the inference layer: ``fit`` is anything with the
:class:`~mmm_jax.diagnostics.metrics.FitLike` surface plus ``draws``,
``method``, ``info``, ``stats`` and ``inputs()`` (as ``Fit`` has).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

import jax
from numpyro.infer import Predictive

from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.diagnostics.metrics import FitLike, contributions, hdi
from mmm_jax.diagnostics.summary import convergence
from mmm_jax.models import mmm
from mmm_jax.models.mmm import model_sites

__all__ = [
    "ReviewThresholds",
    "add_review",
    "check_convergence",
    "check_holdout",
    "check_media_share",
    "check_negative_baseline",
    "check_ppc",
    "check_prior_shift",
    "check_r2",
    "check_roas",
    "check_roas_identified",
    "check_units",
    "prior_posterior_shift",
    "review",
    "review_table",
]

PASS, WARN, FAIL = "pass", "warn", "fail"


@dataclass(frozen=True, kw_only=True)
class ReviewThresholds:
    r"""Where each check turns from pass to warn to fail.

    Attributes:
      r_hat_pass: Max R-hat below this passes.
      r_hat_warn: Max R-hat below this warns; at or above fails.
      ess_pass: Min bulk ESS at or above this passes.
      ess_warn: Min bulk ESS at or above this warns; below fails.
      divergence_warn: Divergent share below this warns (zero passes).
      interval_prob: Mass of the posterior predictive interval.
      coverage_pass: ``(low, high)`` coverage band that passes.
      coverage_fail: Coverage below this fails (above ``high`` only warns).
      autocorr_width_warn: Residual lag-1 autocorrelation :math:`\rho`
        (significant at 1%) that makes the model's intervals this many times
        too narrow, :math:`\sqrt{(1+\rho)/(1-\rho)}`, warns (1.2: 20% too
        narrow, :math:`\rho \ge 0.18`).
      autocorr_width_fail: ... and this many times fails (1.5:
        :math:`\rho \ge 0.38`).
      r2_warn: In-sample R^2 below this warns: the model explains little.
      media_share_range: ``(low, high)``: a posterior-mean media share of
        revenue outside it warns.
      revenue_per_spend_range: ``(low, high)``: mean revenue over mean total
        spend outside it warns that spend and revenue may be in different
        units.
      negative_baseline_warn: P(baseline negative in some period) above this warns.
      negative_baseline_fail: ... and above this fails.
      roas_mean_max: Posterior-mean ROAS above this warns.
      roas_tail: ROAS value for the tail probability.
      roas_tail_prob: P(ROAS > ``roas_tail``) above this warns.
      contraction_low: Contraction below this means the data taught little.
      roas_width_ratio: A channel's posterior 90% HDI of the ROAS at least
        this share of the prior's means the data do not identify its ROAS.
      holdout_mape_ratio: Hold-out MAPE above this multiple of the in-sample
        MAPE warns.
    """

    r_hat_pass: float = 1.01
    r_hat_warn: float = 1.05
    ess_pass: float = 400.0
    ess_warn: float = 100.0
    divergence_warn: float = 0.01
    interval_prob: float = 0.9
    coverage_pass: tuple[float, float] = (0.85, 0.95)
    coverage_fail: float = 0.7
    autocorr_width_warn: float = 1.2
    autocorr_width_fail: float = 1.5
    r2_warn: float = 0.5
    media_share_range: tuple[float, float] = (0.01, 0.9)
    revenue_per_spend_range: tuple[float, float] = (0.1, 1000.0)
    negative_baseline_warn: float = 0.05
    negative_baseline_fail: float = 0.5
    roas_mean_max: float = 20.0
    roas_tail: float = 50.0
    roas_tail_prob: float = 0.05
    contraction_low: float = 0.1
    roas_width_ratio: float = 0.5
    holdout_mape_ratio: float = 2.0

    def __post_init__(self):
        if not 1.0 <= self.r_hat_pass <= self.r_hat_warn:
            raise ValueError(
                f"need 1 <= r_hat_pass <= r_hat_warn, got {self.r_hat_pass}, {self.r_hat_warn}"
            )
        if not 0.0 < self.interval_prob < 1.0:
            raise ValueError(f"interval_prob must be in (0, 1), got {self.interval_prob}")
        if not 1.0 <= self.autocorr_width_warn <= self.autocorr_width_fail:
            raise ValueError(
                "need 1 <= autocorr_width_warn <= autocorr_width_fail, got "
                f"{self.autocorr_width_warn}, {self.autocorr_width_fail}"
            )
        for name in ("media_share_range", "revenue_per_spend_range"):
            low, high = getattr(self, name)
            if not 0.0 <= low < high:
                raise ValueError(f"{name} needs 0 <= low < high, got {(low, high)}")
        lo, hi = self.coverage_pass
        if not 0.0 <= self.coverage_fail <= lo <= hi <= 1.0:
            raise ValueError(
                f"need 0 <= coverage_fail <= low <= high <= 1, got {self.coverage_fail}, {lo}, {hi}"
            )


DEFAULT_THRESHOLDS = ReviewThresholds()


def _item(check: str, status: str, value: Any, message: str) -> dict[str, Any]:
    return {"check": check, "status": status, "value": value, "message": message}


# ------------------------------------------------------------------ sampler
def check_convergence(
    fit: FitLike,
    *,
    diagnostics: dict | None = None,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> list[dict[str, Any]]:
    """R-hat, bulk ESS and divergences (multi-chain), or the SVI flag (SVI, MAP).

    Args:
      fit: A fitted model.
      diagnostics: ``summary["diagnostics"]`` when already computed (keys
        ``r_hat_max``, ``ess_bulk_min``, ``divergences``); else computed.
      thresholds: Check thresholds.

    Returns:
      Review items: ``r_hat``, ``ess_bulk`` and ``divergences`` where they
      apply, ``svi_converged`` for SVI and MAP fits.
    """
    t = thresholds
    method = str(getattr(fit, "method", "unknown"))
    d = convergence(fit) if diagnostics is None else diagnostics
    items = []
    if method in ("svi", "map"):
        converged = (getattr(fit, "info", {}) or {}).get("converged")
        if converged is None:
            items.append(
                _item(
                    "svi_converged",
                    WARN,
                    None,
                    "The fit records no convergence flag; check the loss trace.",
                )
            )
        elif converged:
            items.append(
                _item(
                    "svi_converged",
                    PASS,
                    True,
                    "The optimisation loss levelled off over its last 10% of steps.",
                )
            )
        else:
            items.append(
                _item(
                    "svi_converged",
                    FAIL,
                    False,
                    "The optimisation loss was still falling at the end: run more steps or raise "
                    "the "
                    "learning rate before reading any number off this fit.",
                )
            )
    r_hat = d.get("r_hat_max")
    if r_hat is not None:
        if r_hat < t.r_hat_pass:
            items.append(
                _item(
                    "r_hat", PASS, r_hat, f"Chains agree (max R-hat {r_hat:.3f} < {t.r_hat_pass})."
                )
            )
        elif r_hat < t.r_hat_warn:
            items.append(
                _item(
                    "r_hat",
                    WARN,
                    r_hat,
                    f"Chains roughly agree (max R-hat {r_hat:.3f}); draw more samples before "
                    "reporting tight intervals.",
                )
            )
        else:
            items.append(
                _item(
                    "r_hat",
                    FAIL,
                    r_hat,
                    f"Chains disagree (max R-hat {r_hat:.3f} >= {t.r_hat_warn}): they explored "
                    "different "
                    "answers, so the posterior is not trustworthy. Run longer or reparametrise.",
                )
            )
    ess = d.get("ess_bulk_min")
    if ess is not None:
        if ess >= t.ess_pass:
            status, text = (
                PASS,
                f"Enough independent draws (min bulk ESS {ess:.0f} >= {t.ess_pass:.0f}).",
            )
        elif ess >= t.ess_warn:
            status = WARN
            text = (
                f"Few independent draws (min bulk ESS {ess:.0f}); tail quantiles and HDIs are "
                "noisy."
            )
        else:
            status = FAIL
            text = (
                f"Too few independent draws (min bulk ESS {ess:.0f} < {t.ess_warn:.0f}); draw "
                "many more samples."
            )
        items.append(_item("ess_bulk", status, ess, text))
    div = d.get("divergences")
    if div is not None and method not in ("svi", "map"):
        n = max(int(getattr(fit, "n_samples", 0)) or _n_samples(fit), 1)
        share = div / n
        if div == 0:
            status, text = PASS, "No divergent transitions."
        elif share < t.divergence_warn:
            status = WARN
            text = (
                f"{div} divergent transitions ({share:.2%}); raise target_accept and check "
                "where they sit."
            )
        else:
            status = FAIL
            text = (
                f"{div} divergent transitions ({share:.1%}): the sampler missed parts of the "
                "posterior, "
                "so estimates may be biased. Raise target_accept or reparametrise."
            )
        items.append(_item("divergences", status, int(div), text))
    return items


def _n_samples(fit: FitLike) -> int:
    return int(next(iter(fit.flat_draws().values())).shape[0])


# ------------------------------------------------------------------ posterior predictive check
def _lag1(resid: np.ndarray) -> float:
    """Mean over geos of the lag-1 autocorrelation of ``(geo, time)`` residuals."""
    r = resid - resid.mean(axis=-1, keepdims=True)
    den = np.sum(r * r, axis=-1)
    num = np.sum(r[:, 1:] * r[:, :-1], axis=-1)
    ok = den > 0
    return float(np.mean(num[ok] / den[ok])) if ok.any() else float("nan")


def check_ppc(
    fit: FitLike, *, key: jax.Array | None = None, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS
) -> list[dict[str, Any]]:
    """Posterior predictive coverage and residual autocorrelation on the fit data.

    Coverage is the share of observed (geo, period) values inside the
    equal-tailed ``interval_prob`` interval of posterior predictive draws of
    ``y``; residuals are observed minus posterior-mean ``mu``.

    Returns:
      Items ``ppc_coverage`` and ``residual_autocorrelation``.
    """
    t = thresholds
    data = fit.data
    scale = float(data.scaler.target_scale)
    key = jax.random.PRNGKey(1) if key is None else key
    pred = fit.predict(sites=("mu", "y"), key=key)
    y_rep = np.asarray(pred["y"]) * scale
    actual = np.asarray(data.target, dtype=float)
    p = t.interval_prob
    low, high = np.quantile(y_rep, [(1.0 - p) / 2.0, (1.0 + p) / 2.0], axis=0)
    cov = float(np.mean((actual >= low) & (actual <= high)))
    lo, hi = t.coverage_pass
    if lo <= cov <= hi:
        status = PASS
        text = (
            f"{cov:.0%} of observed periods fall inside the {p:.0%} predictive interval, as "
            "they should."
        )
    elif cov < t.coverage_fail:
        status = FAIL
        text = (
            f"Only {cov:.0%} of observed periods fall inside the {p:.0%} predictive interval: the "
            "model "
            "is overconfident or misses structure; do not trust its intervals."
        )
    elif cov < lo:
        status = WARN
        text = (
            f"{cov:.0%} of observed periods fall inside the {p:.0%} predictive interval: "
            "somewhat overconfident."
        )
    else:
        status = WARN
        text = (
            f"{cov:.0%} of observed periods fall inside the {p:.0%} predictive interval: the "
            "intervals are "
            "wider than the data need (noise overestimated)."
        )
    items = [_item("ppc_coverage", status, cov, text)]
    resid = actual - np.asarray(pred["mu"]).mean(axis=0) * scale
    items.append(_autocorrelation_item(_lag1(resid), resid.size, t))
    return items


def _autocorrelation_item(rho: float, n: int, t: ReviewThresholds) -> dict[str, Any]:
    r"""Judges lag-1 residual autocorrelation by what it does to the intervals.

    The likelihood treats periods as independent. With AR(1) residuals of
    coefficient :math:`\rho` a series of ``n`` periods holds the information of
    :math:`n (1 - \rho) / (1 + \rho)` independent ones, so every posterior
    interval is :math:`\sqrt{(1 + \rho) / (1 - \rho)}` times too narrow. An
    autocorrelation that noise alone could give (:math:`|\rho| < 2.58 / \sqrt n`,
    1% two-sided) passes whatever its size.
    """
    check = "residual_autocorrelation"
    if not np.isfinite(rho):
        return _item(check, WARN, None, "Too few periods to measure autocorrelation.")
    noise = 2.576 / np.sqrt(max(n, 1))
    factor = float(np.sqrt((1.0 + rho) / (1.0 - rho))) if rho < 1.0 else float("inf")
    if abs(rho) < noise or (rho > 0 and factor < t.autocorr_width_warn):
        extra = "" if abs(rho) < noise else f"; the intervals are at most {factor:.2f}x too narrow"
        return _item(
            check,
            PASS,
            rho,
            f"Residuals look like noise (lag-1 autocorrelation {rho:.2f}, "
            f"{'within' if abs(rho) < noise else 'beyond'} the {noise:.2f} noise gives over "
            f"{n} periods{extra}).",
        )
    if rho < 0:
        return _item(
            check,
            WARN if rho > -0.5 else FAIL,
            rho,
            f"Residuals alternate (lag-1 autocorrelation {rho:.2f}): the model over-reacts "
            "from one period to the next (a control or a spend series out of step with revenue?).",
        )
    status = WARN if factor < t.autocorr_width_fail else FAIL
    return _item(
        check,
        status,
        rho,
        f"Residuals are autocorrelated (lag-1 {rho:.2f}, beyond the {noise:.2f} noise gives over "
        f"{n} periods): the model treats periods as independent, so its intervals are about "
        f"{factor:.2f}x too narrow, and the baseline misses something (seasonality, trend "
        "changes, holidays, a missing control) that can leak into media effects.",
    )


def check_r2(r2: float | None, *, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS):
    """Flags a fit that explains little of the revenue's variation (in-sample R^2).

    Returns:
      Item ``r2``.
    """
    if r2 is None or not np.isfinite(r2):
        return _item("r2", WARN, None, "No R^2: the fit's predictions could not be scored.")
    if r2 >= thresholds.r2_warn:
        return _item("r2", PASS, r2, f"The model explains {r2:.0%} of the revenue's variation.")
    return _item(
        "r2",
        WARN,
        r2,
        f"The model explains only {r2:.0%} of the revenue's variation: its split of revenue into "
        "baseline and media rests on little. Look for what drives the rest (promotions, "
        "events, prices, distribution: add them as controls) before reading the channels.",
    )


# ------------------------------------------------------------------ baseline and ROAS
def revenue_per_spend(data) -> float:
    """Mean revenue per period over mean total spend per period (the relative ROAS's unit)."""
    return float(data.scaler.target_scale / np.sum(data.scaler.media_scale))


def check_units(fit: FitLike, *, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS):
    """Warns when revenue and spend differ by orders of magnitude: different units?

    Returns:
      Item ``units`` whose value is the mean revenue over the mean total spend.
    """
    ratio = revenue_per_spend(fit.data)
    low, high = thresholds.revenue_per_spend_range
    if low <= ratio <= high:
        return _item(
            "units",
            PASS,
            ratio,
            f"Revenue is {ratio:.3g} times spend, plausible for spend and revenue in one currency.",
        )
    return _item(
        "units",
        WARN,
        ratio,
        f"Revenue is {ratio:.3g} times spend: are spend and revenue in the same currency (or "
        "spend scaled, e.g. to 0-1)? The default priors are unit-free, so the fit is unaffected, "
        "but ROAS, marginal ROAS and budgets are in the data's units (revenue per unit of spend), "
        "and a ROAS prior (--roas-prior) or a judgement of plausible ROAS in currency would not be.",
    )


def check_media_share(
    fit: FitLike, *, baseline_share: np.ndarray, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS
) -> dict[str, Any]:
    """Flags a media share of revenue implausibly near 0 or 1.

    Args:
      fit: A fitted model.
      baseline_share: Posterior draws of the baseline's share of predicted revenue.
      thresholds: Check thresholds (``media_share_range``).

    Returns:
      Item ``media_share`` whose value is the posterior-mean media share.
    """
    share = float(1.0 - np.mean(baseline_share))
    low, high = thresholds.media_share_range
    spend = 1.0 / revenue_per_spend(fit.data)
    if low <= share <= high:
        return _item(
            "media_share",
            PASS,
            share,
            f"Media are credited with {share:.1%} of revenue (spend is {spend:.3g} of revenue).",
        )
    if share < low:
        text = (
            f"Media are credited with only {share:.2%} of revenue although spend is "
            f"{spend:.3g} of revenue: the fit found almost no media effect. Check the units of "
            "spend against revenue, the priors, and whether spend moves at all."
        )
    else:
        text = (
            f"Media are credited with {share:.0%} of revenue, leaving almost no organic "
            "baseline: media stand in for what drives revenue. Add controls (trend, "
            "seasonality, events) or tighten the priors."
        )
    return _item("media_share", WARN, share, text)


def check_negative_baseline(
    fit: FitLike,
    *,
    baseline: np.ndarray | None = None,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Posterior probability that the all-media-zero prediction is negative in some period.

    Args:
      fit: A fitted model.
      baseline: The all-media-zero prediction ``(sample, geo, time)`` (any
        positive scale), if at hand; default predicted here.
      thresholds: Check thresholds.

    Returns:
      Item ``negative_baseline`` whose value is that probability.
    """
    t = thresholds
    data = fit.data
    if baseline is None:
        baseline = fit.predict(data, media=np.zeros_like(np.asarray(data.media)))["mu"]
    base = np.asarray(baseline)  # (sample, geo, time)
    prob = float(np.mean(np.any(base < 0.0, axis=(1, 2))))
    share = float(np.mean(base < 0.0))
    if prob <= t.negative_baseline_warn:
        return _item(
            "negative_baseline",
            PASS,
            prob,
            f"The baseline stays positive (P(negative somewhere) = {prob:.1%}).",
        )
    status = WARN if prob <= t.negative_baseline_fail else FAIL
    return _item(
        "negative_baseline",
        status,
        prob,
        "With all media off the model predicts negative revenue in some period with probability "
        f"{prob:.0%} "
        f"({share:.1%} of period-draws): media are credited with more than the data can hold. "
        "Tighten the ROAS priors or add controls.",
    )


def check_roas(
    fit: FitLike,
    *,
    roas: np.ndarray | None = None,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Flags channels with an implausible counterfactual ROAS.

    Args:
      fit: A fitted model.
      roas: ROAS draws ``(sample, channel)``; default computed with
        :func:`~mmm_jax.diagnostics.metrics.contributions`.
      thresholds: Check thresholds.

    Returns:
      Item ``roas_plausible`` whose value maps channel -> ``{"mean", "prob_above"}``.
    """
    t = thresholds
    roas = contributions(fit).roas if roas is None else np.asarray(roas)
    names = list(fit.data.channels)
    value, bad = {}, []
    for c, name in enumerate(names):
        r = roas[:, c]
        if not np.all(np.isfinite(r)):
            value[name] = {"mean": None, "prob_above": None}
            continue
        mean, tail = float(np.mean(r)), float(np.mean(r > t.roas_tail))
        value[name] = {"mean": mean, "prob_above": tail}
        if mean > t.roas_mean_max or tail > t.roas_tail_prob:
            bad.append(f"{name} (mean {mean:.1f}, P(>{t.roas_tail:g}) = {tail:.0%})")
    if not bad:
        return _item("roas_plausible", PASS, value, "Every channel's ROAS is in a plausible range.")
    return _item(
        "roas_plausible",
        WARN,
        value,
        "Implausibly high ROAS for " + ", ".join(bad) + ": few channels return more than "
        f"{t.roas_mean_max:g} per unit spent. Suspect confounding (spend following demand) or too "
        "little spend "
        "variation; check against a lift test.",
    )


def prior_roas(fit: FitLike, *, key: jax.Array | None = None, num_samples: int = 1000):
    """Counterfactual ROAS draws under the prior, ``(sample, channel)``.

    Parameters are drawn from the model's prior on the fit's inputs and scored
    with :func:`~mmm_jax.diagnostics.metrics.contributions`, exactly as the
    posterior draws are, so the two are comparable whatever the effect
    parametrisation (ROAS, relative ROAS or coefficient) and with synergy.
    """
    key = jax.random.PRNGKey(3) if key is None else key
    prior = Predictive(mmm, num_samples=num_samples)(key, fit.inputs(), fit.config)
    draws = {k: np.asarray(v)[None] for k, v in prior.items() if k not in ("y", "mu")}
    return contributions(dataclasses.replace(fit, draws=draws)).roas


def check_roas_identified(
    fit: FitLike,
    *,
    roas: np.ndarray | None = None,
    key: jax.Array | None = None,
    num_samples: int = 1000,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """Channels whose ROAS the data do not identify: the posterior is about as wide as the prior.

    Args:
      fit: A fitted model.
      roas: Posterior ROAS draws ``(sample, channel)``; default computed with
        :func:`~mmm_jax.diagnostics.metrics.contributions`.
      key: PRNG key for the prior draws.
      num_samples: Prior draws.
      thresholds: Check thresholds (``roas_width_ratio``).

    Returns:
      Item ``roas_identified`` whose value maps channel -> ``{"width_ratio",
      "prior_hdi", "posterior_hdi", "identified"}`` (90% HDIs; ``identified``
      false when the width ratio is at least ``roas_width_ratio``: a channel
      a budget decision should not move); ``warn`` naming every channel not
      identified.
    """
    roas = contributions(fit).roas if roas is None else np.asarray(roas)
    before = prior_roas(fit, key=key, num_samples=num_samples)
    p_lo, p_hi = hdi(before, 0.9)
    lo, hi = hdi(roas, 0.9)
    value, weak = {}, []
    for c, name in enumerate(fit.data.channels):
        prior_width = float(p_hi[c] - p_lo[c])
        ratio = float(hi[c] - lo[c]) / prior_width if prior_width > 0 else float("nan")
        identified = not (np.isfinite(ratio) and ratio >= thresholds.roas_width_ratio)
        value[name] = {
            "width_ratio": ratio,
            "prior_hdi": [float(p_lo[c]), float(p_hi[c])],
            "posterior_hdi": [float(lo[c]), float(hi[c])],
            "identified": identified,
        }
        if not identified:
            weak.append((name, ratio))
    if not weak:
        return _item(
            "roas_identified",
            PASS,
            value,
            "The data identify every channel's ROAS (each posterior 90% interval is less than "
            f"{thresholds.roas_width_ratio:.0%} as wide as the prior's).",
        )
    names = ", ".join(n for n, _ in weak)
    widths = ", ".join(f"{r:.0%}" for _, r in weak)
    verb = "is" if len(weak) == 1 else "are"
    return _item(
        "roas_identified",
        WARN,
        value,
        f"ROAS of {names} {verb} not identified by the data: the posterior 90% interval is "
        f"{widths} as wide as the prior's, so the estimate repeats the prior. Run a test: a "
        "go-dark (holdout) test measures the ROAS, and --lift-tests calibrates the model with it.",
    )


# ------------------------------------------------------------------ hold-out forecast
def check_holdout(
    fit_quality: dict[str, Any], *, thresholds: ReviewThresholds = DEFAULT_THRESHOLDS
) -> dict[str, Any]:
    """Judges the forecast of held-out periods by a refit on the earlier ones.

    Coverage is judged with the same bands as the posterior predictive check
    (a forecast band holding fewer of the held-out periods than it should is
    overconfident out of sample); a hold-out MAPE above ``holdout_mape_ratio``
    times the in-sample MAPE warns on its own.

    Args:
      fit_quality: ``summary["fit"]`` holding ``mape`` and ``holdout`` (``r2``,
        ``mape``, ``nrmse``, ``coverage`` or ``None``, ``n_holdout``).
      thresholds: Check thresholds.

    Returns:
      Item ``holdout_forecast`` whose value is the hold-out coverage (``None``
      for a fit of too few draws for an interval).
    """
    t = thresholds
    hold = fit_quality["holdout"]
    cov, ratio = hold["coverage"], hold["mape"] / max(fit_quality["mape"], 1e-12)
    n, p = hold["n_holdout"], t.interval_prob
    errors = (
        f"its MAPE is {hold['mape']:.1%} against {fit_quality['mape']:.1%} in sample ({ratio:.1f}x)"
    )
    lo, hi = t.coverage_pass
    if cov is None:
        status, text = PASS, f"Forecasting the last {n} periods, {errors}."
    elif cov < t.coverage_fail:
        status = FAIL
        text = (
            f"Forecasting the last {n} periods, only {cov:.0%} fall inside the {p:.0%} "
            f"interval and {errors}: the model is overconfident out of sample; do not trust "
            "its projections."
        )
    elif cov < lo:
        status = WARN
        text = (
            f"Forecasting the last {n} periods, {cov:.0%} fall inside the {p:.0%} interval "
            f"and {errors}: somewhat overconfident out of sample."
        )
    else:
        status = PASS
        text = (
            f"Forecasting the last {n} periods, {cov:.0%} fall inside the {p:.0%} interval "
            f"and {errors}."
        )
    if status == PASS and ratio > t.holdout_mape_ratio:
        status = WARN
        text += (
            " The forecast errs much more than the fit: the model may be overfitted, or the "
            "last periods changed (a new channel, a price change, a shock)."
        )
    return _item("holdout_forecast", status, cov, text)


# ------------------------------------------------------------------ prior to posterior
#: Sampled sites that only change NUTS's coordinates, read as the parameter they stand for.
_READ_AS = {"media/slope_normal": "media/slope", "media/slope_probit": "media/slope"}


def _sampled_sites(fit: FitLike) -> list[str]:
    sites = model_sites(fit.inputs(), fit.config)
    names = [
        _READ_AS.get(k, k)
        for k, s in sites.items()
        if s.type == "sample" and not s.is_observed and k in fit.draws
    ]
    return [k for k in names if k in fit.draws]


def prior_posterior_shift(
    fit: FitLike, *, key: jax.Array | None = None, num_samples: int = 4000
) -> dict[str, Any]:
    """Contraction and z-shift of every sampled parameter element.

    Prior moments come from ``num_samples`` draws of the model's prior
    (``numpyro.infer.Predictive`` on ``fit.inputs()``).

    Returns:
      Site -> ``{"contraction", "z_shift", "labels"}``: arrays of the site's
      element shape and one label per element (``"media/roas[search]"``).
    """
    key = jax.random.PRNGKey(2) if key is None else key
    sites = _sampled_sites(fit)
    prior = Predictive(mmm, num_samples=num_samples, return_sites=sites)(
        key, fit.inputs(), fit.config
    )
    post = fit.flat_draws()
    out = {}
    for s in sites:
        pr = np.asarray(prior[s], dtype=float)
        po = np.asarray(post[s], dtype=float)
        var_pr = pr.var(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            contraction = 1.0 - po.var(axis=0) / var_pr
            z = np.abs(po.mean(axis=0) - pr.mean(axis=0)) / np.sqrt(var_pr)
        out[s] = {
            "contraction": contraction,
            "z_shift": z,
            "labels": _labels(s, contraction.shape, fit.data),
        }
    return out


def _labels(site: str, shape: tuple[int, ...], data) -> list[str]:
    if not shape:
        return [site]
    names = None
    if site.startswith("media/") and shape == (data.n_channel,):
        names = list(data.channels)
    elif site == "baseline/controls" and shape == (data.n_control,):
        names = list(data.control_names)
    elif site == "baseline/intercept" and shape == (data.n_geo,):
        names = list(data.geos)
    flat = int(np.prod(shape))
    if names is not None:
        return [f"{site}[{n}]" for n in names]
    return [f"{site}[{','.join(map(str, np.unravel_index(i, shape)))}]" for i in range(flat)]


def check_prior_shift(
    fit: FitLike,
    *,
    key: jax.Array | None = None,
    num_samples: int = 4000,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> dict[str, Any]:
    """What the data taught: parameters whose posterior is mostly their prior.

    Returns:
      Item ``prior_shift`` whose value maps each element label to
      ``{"contraction", "z_shift"}``; ``warn`` when a media parameter (which
      drives ROAS) has contraction below ``contraction_low``, else ``pass``
      with the weakly informed baseline parameters named in the message.
    """
    t = thresholds
    shift = prior_posterior_shift(fit, key=key, num_samples=num_samples)
    value, weak = {}, []
    for d in shift.values():
        for label, c, z in zip(
            d["labels"], d["contraction"].reshape(-1), d["z_shift"].reshape(-1), strict=True
        ):
            value[label] = {"contraction": float(c), "z_shift": float(z)}
            if np.isfinite(c) and c < t.contraction_low:
                weak.append(label)
    if not weak:
        return _item(
            "prior_shift",
            PASS,
            value,
            "The data informed every parameter (posterior narrower than prior).",
        )
    media_weak = [w for w in weak if w.startswith("media/")]
    text = (
        "The data said little about "
        + _weak_by_group(weak, fit.data.channels, len(value))
        + "; their posteriors are mostly the prior, so any number resting on them repeats "
        "the prior."
    )
    if media_weak:
        text += " Consider lift tests or more spend variation for those channels."
    return _item("prior_shift", WARN if media_weak else PASS, value, text)


def _weak_by_group(labels: list[str], channels, n_total: int) -> str:
    """Weakly informed parameters in a line: media ones by channel, the rest by site.

    ``media/slope[tiktok]`` and ``media/scale[tiktok]`` read ``tiktok (slope,
    scale)``; the rest ``baseline/seasonality (4 of 6)`` or a site name.
    """
    by_channel: dict[str, list[str]] = {}
    other: dict[str, int] = {}
    for label in labels:
        site, _, index = label.partition("[")
        name = index.rstrip("]")
        if site.startswith("media/") and name in channels:
            by_channel.setdefault(name, []).append(site.removeprefix("media/"))
        else:
            other[site] = other.get(site, 0) + 1
    parts = [f"{c} ({', '.join(p)})" for c, p in by_channel.items()]
    parts += [s if k == 1 else f"{s} ({k} elements)" for s, k in other.items()]
    return f"{', '.join(parts)} ({len(labels)} of {n_total} parameters)"


# ------------------------------------------------------------------ all together
def review(
    fit: FitLike,
    *,
    summary: dict | None = None,
    analysis: Analysis | None = None,
    key: jax.Array | None = None,
    prior_samples: int = 4000,
    thresholds: ReviewThresholds = DEFAULT_THRESHOLDS,
) -> list[dict[str, Any]]:
    """Runs every check on a fit.

    Args:
      fit: A fitted model (``Fit``).
      summary: The output of :func:`~mmm_jax.diagnostics.summary.summarize`
        for this fit, if at hand: its convergence diagnostics are reused, and
        a ``fit.holdout`` in it (``mmm-jax fit --holdout``) is judged.
      analysis: The fit's `Analysis`, if at hand: its ROAS draws and baseline
        prediction are reused.
      key: PRNG key for predictive and prior draws (default ``PRNGKey(0)``).
      prior_samples: Prior draws for the prior-to-posterior shift.
      thresholds: Where checks turn to warn and fail.

    Returns:
      Review items ``{"check", "status", "value", "message"}`` in reading
      order: sampler, predictive check and residual autocorrelation, R^2,
      hold-out forecast (with one), units, media share, negative baseline,
      ROAS, ROAS identified, prior shift.
    """
    key = jax.random.PRNGKey(0) if key is None else key
    k_ppc, k_prior = jax.random.split(key)
    k_roas = jax.random.fold_in(key, 3)
    diagnostics = None if summary is None else summary.get("diagnostics")
    items = check_convergence(fit, diagnostics=diagnostics, thresholds=thresholds)
    items += check_ppc(fit, key=k_ppc, thresholds=thresholds)
    quality = {} if summary is None else summary.get("fit") or {}
    a = analyse(fit) if analysis is None else analysis
    r2 = quality.get("r2")
    if r2 is None:
        r2 = a.fit_quality["r2"]
    items.append(check_r2(r2, thresholds=thresholds))
    if quality.get("holdout"):
        items.append(check_holdout(quality, thresholds=thresholds))
    items.append(check_units(fit, thresholds=thresholds))
    items.append(
        check_media_share(fit, baseline_share=a.contributions.baseline_share, thresholds=thresholds)
    )
    items.append(check_negative_baseline(fit, baseline=a.predicted_baseline, thresholds=thresholds))
    roas = a.roas
    items.append(check_roas(fit, roas=roas, thresholds=thresholds))
    items.append(check_roas_identified(fit, roas=roas, key=k_roas, thresholds=thresholds))
    items.append(
        check_prior_shift(fit, key=k_prior, num_samples=prior_samples, thresholds=thresholds)
    )
    return items


def _short(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return f"{len(value)} entries"
    return str(value)


def review_table(items: list[dict[str, Any]]) -> str:
    """Plain-text table of review items: status, check, value, verdict."""
    rows = [(i["status"].upper(), i["check"], _short(i["value"]), i["message"]) for i in items]
    w0 = max([6, *(len(r[0]) for r in rows)])
    w1 = max([5, *(len(r[1]) for r in rows)])
    w2 = max([5, *(len(r[2]) for r in rows)])
    lines = [f"{'status':<{w0}}  {'check':<{w1}}  {'value':<{w2}}  verdict"]
    lines.append("-" * len(lines[0]))
    lines += [f"{a:<{w0}}  {b:<{w1}}  {c:<{w2}}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def add_review(summary: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    """Sets ``summary["review"] = items`` (JSON-safe copies) and returns ``summary``."""
    summary["review"] = [_json_safe(dict(i)) for i in items]
    return summary


def _json_safe(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
