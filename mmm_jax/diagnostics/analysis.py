"""One analysis per fit: every number the summary, report, optimiser and simulator read.

`analyse` wraps a fit in an `Analysis`. Each of its fields is computed from
the fit on first use and then kept, so ``summary.json``, the report's figures,
the budget optimiser and the what-if simulator of one run share one set of
numbers instead of recomputing them, and a command that needs only the
response surface (``optimize``, ``simulate``) never pays for the rest.

The response parameters are laid out ``(draw, geo, channel)``, a national fit
being one geo: the per-channel surface splits a channel's spend over geos in
its historical geo mix (`Analysis.geo_mix`) and sums each geo's own curve, so
steady-state numbers (response curves, saturation spend, the optimiser's
revenue) are per period in the same units as ``alloc.json``: spend summed over
geos.

Like the rest of the analysis layer it never imports the inference layer; a
fit is anything with the `mmm_jax.diagnostics.metrics.FitLike` surface.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

import jax.numpy as jnp

from mmm_jax.diagnostics.metrics import (
    Contributions,
    FitLike,
    decompose,
    fit_metrics,
    marginal_roas,
    response_curves,
    saturation_spend,
    steady_marginal_roas,
    waste_flags,
)
from mmm_jax.models.terms import synergy_pairs
from mmm_jax.transforms.adstock import ADSTOCK_PARAMS, adstock_weights_channels
from mmm_jax.transforms.response import ResponseFunction, ResponseParams, steady_response
from mmm_jax.transforms.saturation import SATURATION_PARAMS

__all__ = ["Analysis", "analyse", "response_params"]


def response_params(fit: FitLike) -> ResponseParams:
    """The posterior draws of a fit's media response, ``(draw, geo, channel)``, scaled units.

    Each geo's coefficient is the national one, times ``geo/media_multiplier``
    when the model pools geos; curve parameters sampled per geo keep theirs,
    shared ones are the same in every geo, and so is the synergy.

    Args:
      fit: A fitted model.

    Returns:
      `ResponseParams` with ``adstock_weights`` ``(draw, geo, channel, lag)``.
    """
    draws = fit.flat_draws()
    data = fit.data
    n_geo, n_channel = data.n_geo, data.n_channel
    coef = np.asarray(draws["media/coef"])
    shape = (coef.shape[0], n_geo, n_channel)
    coef = np.broadcast_to(coef[:, None, :], shape)
    if "geo/media_multiplier" in draws:
        coef = coef * np.asarray(draws["geo/media_multiplier"])

    def per_geo(v, full=shape):  # (draw, channel) or (draw, geo, channel) -> full
        v = np.asarray(v)
        return np.array(np.broadcast_to(v if v.ndim == len(full) else v[:, None, ...], full))

    kinds = fit.config.saturation_kinds(n_channel)
    names = {n for k in kinds for n in SATURATION_PARAMS[k]}
    ad_kinds = fit.config.adstock_kinds(n_channel)
    ad_names = {n for k in ad_kinds for n in ADSTOCK_PARAMS[k]}
    max_lag = fit.config.lag_window(data.periods_per_year)
    weights = np.asarray(
        adstock_weights_channels(
            ad_kinds, {n: jnp.asarray(draws[f"media/{n}"]) for n in ad_names}, max_lag
        )
    )  # (draw, [geo,] channel, lag)
    synergy = draws.get("synergy/gamma")
    pairs = synergy_pairs(n_channel) if synergy is not None else None
    return ResponseParams(
        coef=np.array(coef),
        saturation=kinds,
        saturation_params={n: per_geo(draws[f"media/{n}"]) for n in names},
        synergy=None if synergy is None else per_geo(synergy, shape[:2] + (len(pairs),)),
        pairs=pairs,
        media_scale=np.asarray(data.scaler.media_scale, dtype=float),
        target_scale=np.asarray(float(data.scaler.target_scale)),
        adstock_weights=per_geo(weights, shape + weights.shape[-1:]),
    )


@dataclass(frozen=True, eq=False)
class Analysis:
    """Everything read off one fit, each field computed once, when first needed.

    Money is in the data's currency; "per period" numbers are steady state
    (constant spend) and summed over geos; window numbers cover the fit data.

    Attributes:
      fit: The fitted model (any `mmm_jax.diagnostics.metrics.FitLike`).
      with_saturation: Whether `saturation_spend` is computed (else ``None``).
      channels: Channel names.
      geos: Geo names (``("national",)`` for national data).
      response: Draws of the media response surface, ``(draw, geo, channel)``.
      historical_spend: Mean spend per period, ``(geo, channel)``.
      geo_mix: Each channel's historical share of spend per geo, ``(geo, channel)``
        (an even split for a channel that never spent).
      response_fn: Steady-state revenue per draw for spend per channel (split
        in `geo_mix`), the surface the optimiser and simulator use.
      response_fn_by_geo: The same surface for spend per ``(geo, channel)``.
      predicted: Predicted revenue with every channel, ``(draw, geo, time)``.
      predicted_baseline: Predicted revenue with no media, ``(draw, geo, time)``.
      contributions: Counterfactual `Contributions` over the fit window.
      roas: Counterfactual ROAS draws, ``(draw, channel)``.
      marginal_roas: Return on a 1% increase of the observed spend over the
        window, carry-over included as far as the data reach, ``(draw, channel)``.
      steady_marginal_roas: Slope of the steady-state response at historical
        spend per period, the marginal return the optimiser sees, ``(draw, channel)``.
      wasteful: Marginal ROAS below 1 with probability >= :data:`~mmm_jax.diagnostics.metrics.WASTE_PROB`
        (0.8), ``(channel,)``.
      saturation_spend: Steady-state spend per period beyond which the marginal
        ROAS stays below 1, ``(draw, channel)``, or ``None``.
      curves: Steady-state response curves, ``{"spend": (grid, channel),
        "revenue": (draw, grid, channel)}``, others at historical spend.
      baseline_per_period: Mean baseline revenue per period (all media off),
        summed over geos, ``(draw,)``.
      synergy: Pair name ``"a:b"`` -> synergy draws in currency, ``(draw,)``.
      fit_quality: ``r2``, ``mape``, ``nrmse`` of the posterior-mean prediction.
    """

    fit: FitLike
    with_saturation: bool = True

    @property
    def channels(self) -> tuple[str, ...]:  # noqa: D102
        return tuple(self.fit.data.channels)

    @property
    def geos(self) -> tuple[str, ...]:  # noqa: D102
        return tuple(self.fit.data.geos)

    # ------------------------------------------------------------ the surface
    @cached_property
    def response(self) -> ResponseParams:  # noqa: D102
        return response_params(self.fit)

    @cached_property
    def historical_spend(self) -> np.ndarray:  # noqa: D102
        return np.asarray(self.fit.data.media).mean(axis=1)

    @cached_property
    def geo_mix(self) -> np.ndarray:  # noqa: D102
        hist = self.historical_spend
        totals = hist.sum(axis=0)
        safe = np.where(totals > 0, totals, 1.0)
        return np.where(totals > 0, hist / safe, 1.0 / hist.shape[0])

    @cached_property
    def response_fn(self) -> ResponseFunction:  # noqa: D102
        return steady_response(self.response, geo_mix=self.geo_mix)

    @cached_property
    def response_fn_by_geo(self) -> ResponseFunction:  # noqa: D102
        return steady_response(self.response)

    # ------------------------------------------------------------ the window
    @cached_property
    def predicted(self) -> np.ndarray:  # noqa: D102
        data = self.fit.data
        return self.fit.predict(data)["mu"] * float(data.scaler.target_scale)

    @cached_property
    def predicted_baseline(self) -> np.ndarray:  # noqa: D102
        data = self.fit.data
        mu = self.fit.predict(data, media=np.zeros_like(data.media))["mu"]
        return mu * float(data.scaler.target_scale)

    @cached_property
    def contributions(self) -> Contributions:  # noqa: D102
        window = slice(None, None)
        return decompose(self.fit, self.fit.data, window, self.predicted, self.predicted_baseline)

    @property
    def roas(self) -> np.ndarray:  # noqa: D102
        return self.contributions.roas

    @cached_property
    def marginal_roas(self) -> np.ndarray:  # noqa: D102
        return marginal_roas(self.fit)

    @cached_property
    def steady_marginal_roas(self) -> np.ndarray:  # noqa: D102
        return steady_marginal_roas(self.response_fn, self.historical_spend.sum(axis=0))

    @cached_property
    def wasteful(self) -> np.ndarray:  # noqa: D102
        return waste_flags(self.marginal_roas)

    @cached_property
    def saturation_spend(self) -> np.ndarray | None:  # noqa: D102
        if not self.with_saturation:
            return None
        return saturation_spend(self.response_fn, self.historical_spend.sum(axis=0))

    @cached_property
    def curves(self) -> dict[str, np.ndarray]:  # noqa: D102
        return response_curves(self.response_fn, self.historical_spend.sum(axis=0))

    @cached_property
    def baseline_per_period(self) -> np.ndarray:  # noqa: D102
        return self.predicted_baseline.sum(axis=1).mean(axis=1)

    @cached_property
    def synergy(self) -> dict[str, np.ndarray]:  # noqa: D102
        gamma = self.fit.flat_draws().get("synergy/gamma")
        if gamma is None:
            return {}
        data = self.fit.data
        gamma = np.asarray(gamma) * float(data.scaler.target_scale)
        names = data.channels
        return {
            f"{names[i]}:{names[j]}": gamma[:, p]
            for p, (i, j) in enumerate(synergy_pairs(data.n_channel))
        }

    @cached_property
    def fit_quality(self) -> dict[str, float]:  # noqa: D102
        return fit_metrics(np.asarray(self.fit.data.target), self.contributions.predicted_series)


def analyse(fit: FitLike, *, with_saturation: bool = True) -> Analysis:
    """The `Analysis` of a fit; its numbers are computed as they are first read.

    Args:
      fit: A fitted model (:class:`mmm_jax.inference.Fit`).
      with_saturation: Compute `Analysis.saturation_spend` (the slowest
        number: a bisection per draw and channel); ``False`` leaves it ``None``.

    Returns:
      The analysis.
    """
    return Analysis(fit, with_saturation)
