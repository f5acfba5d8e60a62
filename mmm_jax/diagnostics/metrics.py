"""Numbers a marketing analyst reads off a fit, per posterior draw, in currency.

Contribution and ROAS are **counterfactual** (DESIGN.md): a channel's
contribution is predicted revenue with all channels minus predicted revenue
with that channel's spend set to zero, over the same window, per draw. With
synergy terms this differs from an additive split, and it is what a lift test
measures.

The steady-state functions (`response_curves`, `saturation_spend`) work on the
one response surface, `mmm_jax.transforms.response`, that the optimiser and
the simulator use too; `mmm_jax.diagnostics.analysis.Analysis` holds all of
these numbers for one fit.

This module never imports the inference layer: it works on any object with the
:class:`FitLike` surface (:class:`mmm_jax.inference.Fit` has it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

import jax
import jax.numpy as jnp

from mmm_jax._stats import HDI_PROB, estimate, hdi
from mmm_jax.models import ModelConfig
from mmm_jax.transforms.response import ResponseFunction

__all__ = [
    "HDI_PROB",
    "Contributions",
    "FitLike",
    "contributions",
    "decompose",
    "estimate",
    "fit_metrics",
    "hdi",
    "marginal_roas",
    "steady_marginal_roas",
    "response_curves",
    "saturation_spend",
    "WASTE_PROB",
    "waste_flags",
]


class FitLike(Protocol):
    """What the analysis needs from a fit."""

    data: Any
    config: ModelConfig

    def flat_draws(self) -> dict[str, np.ndarray]: ...  # noqa: D102

    def predict(self, data=None, *, media=None, sites=("mu",), key=None) -> dict: ...  # noqa: D102


# ------------------------------------------------------------------ contributions
@dataclass(frozen=True, kw_only=True)
class Contributions:
    """Counterfactual decomposition of predicted revenue over a window, in currency.

    Each channel's contribution is the prediction with every channel minus
    the prediction with that channel's spend zero in every geo, per draw.
    The national numbers (``spend``, ``total``, ``by_channel``, ``baseline``)
    and the per-geo ones (``*_by_geo``) come from the same predictions: the
    national ones are the per-geo ones summed over geos (summed once over
    geo and time, so a national model's numbers are exactly its one geo's).

    Attributes:
      channels: Channel names.
      geos: Geo names (one, ``"national"``, for national data).
      spend: Spend per channel over the window, ``(channel,)``.
      total: Predicted revenue over the window, ``(sample,)``.
      by_channel: Counterfactual contribution, ``(sample, channel)``.
      baseline: Predicted revenue with every channel's spend zero, ``(sample,)``.
      spend_by_geo: Spend per geo and channel over the window, ``(geo, channel)``.
      total_by_geo: Predicted revenue per geo, ``(sample, geo)``.
      by_geo: Contribution per geo and channel, ``(sample, geo, channel)``.
      baseline_by_geo: Baseline per geo, ``(sample, geo)``.
      series: Posterior-mean contribution over time, ``(geo, time, channel)``.
      baseline_series: Posterior-mean baseline over time, ``(geo, time)``.
      predicted_series: Posterior-mean prediction over time, ``(geo, time)``.
    """

    channels: tuple[str, ...]
    geos: tuple[str, ...]
    spend: np.ndarray
    total: np.ndarray
    by_channel: np.ndarray
    baseline: np.ndarray
    spend_by_geo: np.ndarray
    total_by_geo: np.ndarray
    by_geo: np.ndarray
    baseline_by_geo: np.ndarray
    series: np.ndarray
    baseline_series: np.ndarray
    predicted_series: np.ndarray

    @property
    def roas(self) -> np.ndarray:
        """Contribution / spend, ``(sample, channel)``; NaN for a channel without spend."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.spend > 0, self.by_channel / self.spend, np.nan)

    @property
    def roas_by_geo(self) -> np.ndarray:
        """Per-geo ROAS, ``(sample, geo, channel)``; NaN where a geo has no spend."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.spend_by_geo > 0, self.by_geo / self.spend_by_geo, np.nan)

    @property
    def baseline_share(self) -> np.ndarray:
        """Baseline / total predicted revenue, ``(sample,)``."""
        return self.baseline / self.total


def _window(data, start, stop) -> slice:
    window = slice(start, stop)
    if len(range(*window.indices(data.n_time))) == 0:
        raise ValueError(f"the window [{start}, {stop}) holds no period of {data.n_time}")
    return window


def decompose(
    fit: FitLike, data, window: slice, full: np.ndarray, base: np.ndarray
) -> Contributions:
    """`Contributions` over ``window`` from the predictions already at hand.

    Args:
      fit: A fitted model (predicts the per-channel counterfactuals).
      data: The data predicted on.
      window: Periods summed (counterfactuals are predicted over all of ``data``).
      full: Prediction with every channel over the window, currency, ``(sample, geo, window)``.
      base: Prediction with no media over the window, currency, same shape.

    Returns:
      The decomposition.
    """
    scale = float(data.scaler.target_scale)
    by_channel, by_geo, series = [], [], []
    for c in range(data.n_channel):
        media = np.array(data.media)
        media[..., c] = 0.0
        delta = full - fit.predict(data, media=media)["mu"][:, :, window] * scale
        by_channel.append(delta.sum(axis=(1, 2)))
        by_geo.append(delta.sum(axis=2))
        series.append(delta.mean(axis=0))
    spend = np.asarray(data.media)[:, window]
    return Contributions(
        channels=tuple(data.channels),
        geos=tuple(data.geos),
        spend=spend.sum(axis=(0, 1)),
        total=full.sum(axis=(1, 2)),
        by_channel=np.stack(by_channel, axis=1),
        baseline=base.sum(axis=(1, 2)),
        spend_by_geo=spend.sum(axis=1),
        total_by_geo=full.sum(axis=2),
        by_geo=np.stack(by_geo, axis=-1),
        baseline_by_geo=base.sum(axis=2),
        series=np.stack(series, axis=-1),
        baseline_series=base.mean(axis=0),
        predicted_series=full.mean(axis=0),
    )


def contributions(
    fit: FitLike, data=None, *, start: int | None = None, stop: int | None = None
) -> Contributions:
    """Counterfactual contributions per channel (and geo) and the baseline, per draw.

    Predictions run over the whole of ``data`` and are summed over the window
    ``[start, stop)`` (period positions), so spend before the window carries
    over into it through adstock; a channel is zeroed over all of ``data``.

    Args:
      fit: A fitted model.
      data: Data to predict on (default: the fit data).
      start: First period of the window (default: the first).
      stop: End of the window, exclusive (default: the end).

    Returns:
      A :class:`Contributions` over the window.
    """
    data = fit.data if data is None else data
    w = _window(data, start, stop)
    scale = float(data.scaler.target_scale)
    full = fit.predict(data)["mu"][:, :, w] * scale  # (sample, geo, window)
    base = fit.predict(data, media=np.zeros_like(data.media))["mu"][:, :, w] * scale
    return decompose(fit, data, w, full, base)


def marginal_roas(
    fit: FitLike,
    data=None,
    *,
    bump: float = 0.01,
    start: int | None = None,
    stop: int | None = None,
) -> np.ndarray:
    """Marginal ROAS at historical spend: extra revenue per extra unit of spend.

    Each channel's spend is raised by ``bump`` (1%) in every period of the
    window ``[start, stop)``; the extra predicted revenue over the extra spend
    is the marginal ROAS, per draw. Revenue is counted from the window's start
    to the end of ``data``, so the bump's carry-over is included as far as the
    data reach (up to ``max_lag - 1`` periods of it are cut at the very end).

    Returns:
      Shape ``(sample, channel)``.
    """
    if bump <= 0:
        raise ValueError(f"bump must be positive, got {bump}")
    data = fit.data if data is None else data
    w = _window(data, start, stop)
    after = slice(w.indices(data.n_time)[0], None)
    scale = float(data.scaler.target_scale)
    full = fit.predict(data)["mu"][:, :, after].sum(axis=(1, 2))
    out = []
    for c in range(data.n_channel):
        media = np.array(data.media)
        media[:, w, c] *= 1.0 + bump
        extra_spend = bump * float(np.asarray(data.media)[:, w, c].sum())
        bumped = fit.predict(data, media=media)["mu"][:, :, after].sum(axis=(1, 2))
        out.append(
            (bumped - full) * scale / extra_spend if extra_spend > 0 else np.full_like(full, np.nan)
        )
    return np.stack(out, axis=1)


#: Posterior probability that the marginal ROAS is below 1 at which a channel
#: is flagged wasteful (:func:`waste_flags`, ``summary.json``'s ``wasteful``).
#: Chosen from the flag's operating curve over 397 fits of simulated data
#: (``benchmarks/sbc.py``: the prior and generator families, with and without
#: lift tests; ``benchmarks/README.md``, "Waste flags"): it detects 87-100% of
#: the channels with true marginal ROAS below 0.8 and flags 0-2.7% of those
#: above 1.2, inside #17's bars (>= 80%, <= 5%) with margin in every family.
#: At 0.9 the flag missed 21% of such channels on data without tests while
#: flagging 1% of good ones.
WASTE_PROB = 0.8


def waste_flags(
    mroas: np.ndarray, *, threshold: float = 1.0, prob: float = WASTE_PROB
) -> np.ndarray:
    """Channels whose marginal ROAS is below ``threshold`` with posterior probability >= ``prob``.

    Args:
      mroas: Marginal ROAS draws, ``(sample, channel)``.
      threshold: Break-even marginal ROAS.
      prob: Required posterior probability (default :data:`WASTE_PROB`).

    Returns:
      Boolean ``(channel,)``.
    """
    return np.mean(np.asarray(mroas) < threshold, axis=0) >= prob


# ------------------------------------------------------------------ steady state
def response_curves(
    response: ResponseFunction,
    spend: np.ndarray,
    *,
    grid_size: int = 60,
    max_multiple: float = 3.0,
) -> dict[str, np.ndarray]:
    """Steady-state response of each channel, the others held at their current spend.

    The curve of channel ``c`` is ``r(x_c, others at spend) - r(0, others at spend)``
    per period, in currency, on a grid from zero to ``max_multiple`` times its
    current spend.

    Args:
      response: A steady-state `ResponseFunction` taking spend per channel.
      spend: Current spend per period, ``(channel,)``.
      grid_size: Grid points per channel.
      max_multiple: End of the grid, a multiple of the current spend.

    Returns:
      ``{"spend": (grid, channel), "revenue": (sample, grid, channel)}``.
    """
    current = np.asarray(spend, dtype=float)
    grid = np.linspace(0.0, 1.0, grid_size)[:, None] * (max_multiple * current)[None, :]
    out = np.zeros((response.n_draws, grid_size, len(current)))
    for c in range(len(current)):
        spends = np.repeat(current[None, :], grid_size, axis=0)
        spends[:, c] = grid[:, c]
        zero = current.copy()
        zero[c] = 0.0
        values = jax.vmap(response)(jnp.asarray(spends))  # (grid, sample)
        out[:, :, c] = np.asarray(values).T - np.asarray(response(jnp.asarray(zero)))[:, None]
    return {"spend": grid, "revenue": out}


def steady_marginal_roas(response: ResponseFunction, spend: np.ndarray) -> np.ndarray:
    r"""Steady-state marginal ROAS at ``spend``: :math:`\partial r / \partial x_c` per draw.

    The slope of each draw's steady-state response (constant spend every
    period, carry-over at its limit) at the current spend, the others held
    there: the marginal return the budget optimiser equalises across channels.
    It differs from `marginal_roas` (a 1% bump of the observed, varying spend
    over the window) when spend varies over time (the curve is concave, so the
    slope at the mean spend is not the mean slope) and because the window cuts
    off the bump's last carry-over.

    Args:
      response: A steady-state `ResponseFunction` taking spend per channel.
      spend: Current spend per period, ``(channel,)``.

    Returns:
      Shape ``(sample, channel)``, revenue per unit of spend.
    """
    marginal = jax.grad(lambda x: jnp.sum(response.aligned(x)))
    current = np.asarray(spend, dtype=float)
    probe = np.broadcast_to(current, (response.n_draws, len(current)))
    return np.asarray(marginal(jnp.asarray(probe, jnp.result_type(float))))


def saturation_spend(
    response: ResponseFunction,
    spend: np.ndarray,
    *,
    threshold: float = 1.0,
    max_multiple: float = 20.0,
    grid_size: int = 400,
) -> np.ndarray:
    r"""Spend per period beyond which steady-state marginal ROAS stays below ``threshold``.

    For each draw and channel (others at their current spend), the largest
    spend at which :math:`\partial r / \partial x_c \ge` ``threshold``, found
    on a grid up to ``max_multiple`` times the current spend and refined by
    bisection. Zero when the channel never earns its marginal cost back; the
    grid's end when it still does there.

    Args:
      response: A steady-state `ResponseFunction` taking spend per channel.
      spend: Current spend per period, ``(channel,)``.
      threshold: Break-even marginal ROAS.
      max_multiple: End of the grid, a multiple of the current spend.
      grid_size: Grid points per channel.

    Returns:
      Shape ``(sample, channel)``, currency per period.
    """
    # Each draw differentiated at its own spend: one evaluation per draw per probe.
    marginal = jax.jit(jax.grad(lambda x: jnp.sum(response.aligned(x))))
    current = np.asarray(spend, dtype=float)
    n_sample, n_channel = response.n_draws, len(current)
    dtype = jnp.result_type(float)

    def at(spend_by_draw):  # (sample, channel) -> (sample, channel)
        return np.asarray(marginal(jnp.asarray(spend_by_draw, dtype)))

    result = np.zeros((n_sample, n_channel))
    base = np.broadcast_to(current, (n_sample, n_channel))
    for c in range(n_channel):
        xs = np.linspace(0.0, max_multiple * current[c], grid_size)
        marg = np.empty((grid_size, n_sample))
        for g, x in enumerate(xs):
            probe = base.copy()
            probe[:, c] = x
            marg[g] = at(probe)[:, c]
        above = marg >= threshold
        any_above = above.any(axis=0)
        last = grid_size - 1 - np.argmax(above[::-1], axis=0)  # last grid index above threshold
        lo = xs[last]
        hi = xs[np.minimum(last + 1, grid_size - 1)]
        for _ in range(30):  # bisection between the last point above and the next one
            mid = 0.5 * (lo + hi)
            probe = base.copy()
            probe[:, c] = mid
            ok = at(probe)[:, c] >= threshold
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        result[:, c] = np.where(any_above, lo, 0.0)
    return result


# ------------------------------------------------------------------ fit quality
def fit_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    r"""Point-fit quality of a prediction against the actual target.

    .. math::
        R^2 = 1 - \frac{\sum (y - \hat y)^2}{\sum (y - \bar y)^2}, \quad
        \mathrm{MAPE} = \overline{|y - \hat y| / |y|}, \quad
        \mathrm{NRMSE} = \frac{\sqrt{\overline{(y - \hat y)^2}}}{\max y - \min y}

    Args:
      actual: Shape ``(geo, time)`` (any shape, flattened).
      predicted: Same shape.

    Returns:
      ``{"r2", "mape", "nrmse"}``; MAPE skips periods whose actual is zero.
    """
    y = np.asarray(actual, dtype=float).reshape(-1)
    p = np.asarray(predicted, dtype=float).reshape(-1)
    if y.shape != p.shape:
        raise ValueError(f"actual and predicted differ in size: {y.shape} vs {p.shape}")
    resid = y - p
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    nonzero = y != 0
    span = float(y.max() - y.min())
    return {
        "r2": float(1.0 - np.sum(resid**2) / ss_tot) if ss_tot > 0 else float("nan"),
        "mape": float(np.mean(np.abs(resid[nonzero]) / np.abs(y[nonzero])))
        if nonzero.any()
        else float("nan"),
        "nrmse": float(np.sqrt(np.mean(resid**2)) / span) if span > 0 else float("nan"),
    }
