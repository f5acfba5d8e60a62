r"""NumPyro terms of the MMM.

Each term samples its own parameters under short local names and returns an
additive contribution on the scaled target, shape ``(geo, time)``. The model
composes them with ``numpyro.handlers.scope`` (see :mod:`mmm_jax.models.mmm`),
so site names read ``media/coef``, ``baseline/intercept`` and so on. Site names are public API.
"""

from typing import NamedTuple

import numpy as np

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from mmm_jax._typing import Array
from mmm_jax.models.config import (
    BaselinePriors,
    Effect,
    GeoShapes,
    ModelConfig,
    SynergyPriors,
    media_param_names,
)
from mmm_jax.transforms.adstock import adstock_weights_channels
from mmm_jax.transforms.conv import adstock_from_lags
from mmm_jax.transforms.saturation import Saturation, saturate_channels


class MediaOut(NamedTuple):
    """What the media term returns.

    Attributes:
      contribution: ``coef * saturation(adstock(media))``, shape ``(geo, time, channel)``.
      saturated: The saturation values in ``[0, 1)``, shape ``(geo, time, channel)``.
      params: Sampled parameters, name -> ``(channel,)`` (``coef`` included:
        the national coefficient), or ``(geo, channel)`` for shapes sampled per geo.
      weights: Normalised adstock lag weights, shape ``(channel, lag)``, or
        ``(geo, channel, lag)`` for shapes sampled per geo.
    """

    contribution: Array
    saturated: Array
    params: dict
    weights: Array


def media_saturation(lagged: Array, params: dict, config: ModelConfig):
    r"""Saturated adstock :math:`S_c(\sum_l w_{cl} x_{g,t-l,c})` for given parameters.

    Args:
      lagged: Lagged scaled spend from :func:`mmm_jax.transforms.conv.lag_stack`,
        shape ``(geo, time, channel, lag)``.
      params: Adstock and saturation parameters, each ``(channel,)``, or each
        ``(geo, channel)`` for shapes per geo (:attr:`GeoShapes.PER_GEO`).
      config: Model configuration (kinds per channel).

    Returns:
      ``(saturated, weights)``: shapes ``(geo, time, channel)`` and ``(channel, lag)``
      (``(geo, channel, lag)`` with per-geo shapes).
    """
    n_geo, _, n_channel, max_lag = lagged.shape
    weights = adstock_weights_channels(config.adstock_kinds(n_channel), params, max_lag)
    weights = weights.astype(lagged.dtype)
    if weights.ndim == 2:
        adstocked = adstock_from_lags(lagged, weights)
        curve = params
    else:  # one lag kernel per geo: a_gtc = sum_l w_gcl x_g,t-l,c
        adstocked = jnp.einsum(
            "gtcl,gcl->gtc", lagged, weights, precision=jax.lax.Precision.HIGHEST
        )
        curve = {k: jnp.reshape(v, (n_geo, 1, n_channel)) for k, v in params.items()}
    saturated = saturate_channels(config.saturation_kinds(n_channel), adstocked, curve)
    return saturated, weights


def media_response(lagged: Array, params: dict, config: ModelConfig):
    r"""Deterministic media response for given parameters (no sampling).

    .. math::
        c_{gtc} = \beta_c\, S_c\big(\textstyle\sum_l w_{cl}\, x_{g,t-l,c}\big)

    Args:
      lagged: Lagged scaled spend, shape ``(geo, time, channel, lag)``.
      params: ``coef`` and the adstock/saturation parameters, each ``(channel,)``.
      config: Model configuration (kinds per channel).

    Returns:
      ``(contribution, saturated, weights)`` with shapes ``(geo, time, channel)``
      twice and ``(channel, lag)``.
    """
    saturated, weights = media_saturation(lagged, params, config)
    coef = jnp.reshape(params["coef"], (1, 1, lagged.shape[-2]))
    return coef * saturated, saturated, weights


def curve_from_saturation_at_mean(kinds: tuple[Saturation, ...], params: dict) -> dict:
    r"""Curve parameters that give saturation :math:`\bar S` at the mean spend (scaled 1).

    .. math::
        K_{hill} = \Big(\frac{1 - \bar S}{\bar S}\Big)^{1/s}, \quad
        K_{mm} = \frac{1 - \bar S}{\bar S}, \quad
        \lambda_{logistic} = 2 \operatorname{atanh}(\bar S)

    Args:
      kinds: Saturation kind per channel.
      params: Must hold ``saturation_at_mean`` ``(channel,)`` and, with Hill
        channels, ``slope``.

    Returns:
      ``half_saturation`` and/or ``rate``, each ``(channel,)`` (entries of
      channels of another kind are unused placeholders).
    """
    level = params["saturation_at_mean"]
    odds = (1.0 - level) / level
    out = {}
    if Saturation.HILL in kinds or Saturation.MICHAELIS_MENTEN in kinds:
        slope = params.get("slope", jnp.ones_like(level))
        is_hill = jnp.broadcast_to(jnp.asarray([k is Saturation.HILL for k in kinds]), level.shape)
        out["half_saturation"] = jnp.where(is_hill, odds ** (1.0 / slope), odds)
    if Saturation.LOGISTIC in kinds:
        out["rate"] = 2.0 * jnp.arctanh(level)
    return out


def media_term(
    lagged: Array,
    config: ModelConfig,
    spend_ratio: Array,
    reference: Array | None = None,
    geo_multiplier: Array | None = None,
) -> MediaOut:
    r"""Samples per-channel adstock, saturation and effect size and applies them.

    With a ROAS prior (the default) the effect size is sampled as the ROAS
    :math:`\rho_c` over the reference window and the coefficient follows:

    .. math::
        \beta_c = \rho_c\, \frac{m_c \sum_{gt} x_{gtc}}{s \sum_{gt} S_c(A_c(x_{gc}))_t}

    where :math:`m_c / s` (``spend_ratio``) converts scaled spend into scaled
    revenue units. The reference window is fixed at the fit data, so a
    counterfactual (other media) keeps the fitted coefficients. With a
    ``geo_multiplier`` :math:`m_{gc}` (:func:`mmm_jax.models.geo.geo_term`) geo
    :math:`g` gets :math:`\beta_{gc} = \beta_c m_{gc}`, :math:`\beta_c` staying
    the national coefficient (site ``coef``).

    Args:
      lagged: Lagged scaled spend (:func:`mmm_jax.transforms.conv.lag_stack`),
        shape ``(geo, time, channel, lag)``.
      config: Model configuration.
      spend_ratio: ``media_scale / target_scale``, shape ``(channel,)``.
      reference: Lagged scaled spend of the fit window when ``lagged`` is
        another one (a counterfactual or a hold-out); ``None`` when it is the
        fit data.
      geo_multiplier: Per-geo multiplier of each channel's coefficient, shape
        ``(geo, channel)``, or ``None`` for one coefficient in every geo.

    Returns:
      A :class:`MediaOut`.
    """
    n_geo, _, n_channel, _ = lagged.shape
    ad_names, sat_names = media_param_names(config, n_channel)
    pooling = config.geo_pooling
    per_geo = pooling is not None and pooling.shapes is GeoShapes.PER_GEO and n_geo > 1
    with numpyro.plate("channel", n_channel, dim=-1):
        if per_geo:
            with numpyro.plate("geo", n_geo, dim=-2):
                params = {
                    n: numpyro.sample(n, getattr(config.media, n)) for n in ad_names + sat_names
                }
        else:
            params = {n: numpyro.sample(n, getattr(config.media, n)) for n in ad_names + sat_names}
        effect = config.media.effect_kind
        if effect is Effect.COEF:
            params["coef"] = numpyro.sample("coef", config.media.coef)
        elif effect is Effect.ROAS:
            roas = numpyro.sample("roas", config.media.roas)
        else:
            relative = numpyro.sample("relative_roas", config.media.relative_roas)
    if effect is Effect.RELATIVE_ROAS:
        if config.media.roas_level is not None:
            relative = relative * numpyro.sample("roas_level", config.media.roas_level)
        # ROAS = rho * mean revenue / mean total spend = rho / sum_c (media_scale_c / target_scale)
        roas = numpyro.deterministic("roas", relative / jnp.sum(spend_ratio))
    if config.media.saturation_at_mean is not None:
        for name, value in curve_from_saturation_at_mean(
            config.saturation_kinds(n_channel), params
        ).items():
            params[name] = numpyro.deterministic(name, value)
    saturated, weights = media_saturation(lagged, params, config)
    if effect is not Effect.COEF:
        ref = lagged if reference is None else reference
        ref_saturated = saturated if reference is None else media_saturation(ref, params, config)[0]
        sat_sum = jnp.maximum(ref_saturated.sum(axis=(0, 1)), jnp.finfo(saturated.dtype).tiny)
        spend = ref[..., 0].sum(axis=(0, 1))  # lag 0 is the spend itself
        params["coef"] = numpyro.deterministic("coef", roas * spend * spend_ratio / sat_sum)
    coef = jnp.reshape(params["coef"], (1, n_channel))
    if geo_multiplier is not None:
        coef = coef * geo_multiplier
    contribution = saturated * jnp.reshape(coef, (-1, 1, n_channel))
    return MediaOut(contribution, saturated, params, weights)


def baseline_term(
    n_geo: int,
    trend_time: Array,
    fourier: Array,
    changepoints: Array,
    controls: Array,
    priors: BaselinePriors,
    seasonality_scale: Array | None = None,
) -> Array:
    r"""Organic baseline: intercept, (piecewise-)linear trend, Fourier seasonality, controls.

    .. math::
        b_{gt} = \mu_g + \delta\, \tau_t + \sum_k \kappa_k (\tau_t - s_k)_+
                 + s_g \sum_f \phi_f F_{tf} + \sum_j \eta_j z_{gtj}

    with :math:`s_g = 1` unless a per-geo ``seasonality_scale`` is given.

    Args:
      n_geo: Number of geos (one intercept each).
      trend_time: :math:`\tau_t`, 0 at the start and 1 at the end of the fit
        window, shape ``(time,)``.
      fourier: Seasonality features, shape ``(time, feature)`` (feature may be 0).
      changepoints: Knot positions :math:`s_k` in trend time, shape ``(knot,)``.
      controls: Scaled controls, shape ``(geo, time, control)`` (control may be 0).
      priors: Baseline priors.
      seasonality_scale: Per-geo amplitude :math:`s_g` of the seasonal part,
        shape ``(geo,)`` (:func:`mmm_jax.models.geo.geo_term`), or ``None``
        for one amplitude everywhere.

    Returns:
      Baseline on the scaled target, shape ``(geo, time)``.
    """
    with numpyro.plate("geo", n_geo):
        intercept = numpyro.sample("intercept", priors.intercept)
    trend = numpyro.sample("trend", priors.trend) * trend_time
    if changepoints.shape[0]:
        with numpyro.plate("knot", changepoints.shape[0]):
            kappa = numpyro.sample("changepoint", priors.changepoint)
        hinge = jnp.maximum(trend_time[:, None] - changepoints[None, :], 0.0)
        trend = trend + jnp.einsum("tk,k->t", hinge, kappa)
    time_part = trend
    season = None
    if fourier.shape[-1]:
        with numpyro.plate("fourier", fourier.shape[-1]):
            phi = numpyro.sample("seasonality", priors.seasonality)
        season = jnp.einsum("tf,f->t", fourier, phi)
        if seasonality_scale is None:
            time_part = time_part + season
    base = intercept[:, None] + time_part[None, :]
    if season is not None and seasonality_scale is not None:
        base = base + seasonality_scale[:, None] * season[None, :]
    if controls.shape[-1]:
        with numpyro.plate("control", controls.shape[-1]):
            eta = numpyro.sample("controls", priors.controls)
        base = base + jnp.einsum("gtj,j->gt", controls, eta)
    return base


class BaselineDesign(NamedTuple):
    r"""The organic baseline as a linear model, for integrating it out.

    :math:`b = X \beta` with independent priors
    :math:`\beta_k \sim \mathcal{N}(m_k, s_k)`; built by
    :func:`mmm_jax.models.baseline_design`.

    The likelihood needs :math:`(S^{-1} + X^\top X / \sigma^2)^{-1}` for every
    :math:`\sigma`, :math:`S = \mathrm{diag}(s^2)`. With the eigendecomposition
    :math:`S^{1/2} X^\top X S^{1/2} = Q \Lambda Q^\top`, computed once (float64,
    on the host), it is :math:`R (I + \Lambda/\sigma^2)^{-1} R^\top` with
    :math:`R = S^{1/2} Q`: a diagonal, so no factorisation per gradient.

    Attributes:
      design: :math:`X`, shape ``(geo * time, coef)``: one intercept column per
        geo, then trend, changepoint hinges, Fourier features and controls.
      loc: Prior means :math:`m`, shape ``(coef,)``.
      scale: Prior standard deviations :math:`s`, shape ``(coef,)``.
      prior_mean: :math:`X m`, shape ``(geo * time,)``.
      root: :math:`R = S^{1/2} Q`, shape ``(coef, coef)``.
      rotated: :math:`X R`, shape ``(geo * time, coef)``.
      eigenvalues: :math:`\Lambda` (non-negative), shape ``(coef,)``.
      sites: ``(site, first column, shape)`` of each baseline site of
        :func:`baseline_term` in column order (static).
      draw: Also sample the coefficients from their conditional posterior and
        record them as the sites of :func:`baseline_term` (static).
    """

    design: Array
    loc: Array
    scale: Array
    prior_mean: Array
    root: Array
    rotated: Array
    eigenvalues: Array
    sites: tuple[tuple[str, int, tuple[int, ...]], ...]
    draw: bool = False


def baseline_marginal_term(residual: Array, sigma: Array, design: BaselineDesign) -> None:
    r"""The Normal likelihood with the organic baseline integrated out.

    With :math:`r = y - (\text{media} + \text{synergy})`, flattened over geo
    and time (:math:`n` values), :math:`r = X\beta + \varepsilon`,
    :math:`\beta \sim \mathcal{N}(m, S)`, :math:`S = \mathrm{diag}(s^2)`,
    :math:`\varepsilon \sim \mathcal{N}(0, \sigma^2 I)`, so

    .. math::
        r \sim \mathcal{N}(X m,\; \sigma^2 I + X S X^\top).

    With :math:`u = r - X m`, :math:`A = S^{-1} + X^\top X / \sigma^2` and
    :math:`\hat\delta = A^{-1} X^\top u / \sigma^2` (Woodbury),

    .. math::
        \log p(r) = -\tfrac12 \Big[\tfrac{\lVert u - X\hat\delta\rVert^2}{\sigma^2}
            + \hat\delta^\top S^{-1} \hat\delta + n \log \sigma^2 + \log|S|
            + \log|A| + n \log 2\pi\Big],

    added as the factor ``marginal``. In the eigenbasis of
    :class:`BaselineDesign` (:math:`\hat\delta = R\tilde\delta`,
    :math:`d = 1 + \Lambda/\sigma^2`) this is
    :math:`\tilde\delta = (XR)^\top u / (\sigma^2 d)`,
    :math:`\hat\delta^\top S^{-1}\hat\delta = \lVert\tilde\delta\rVert^2` and
    :math:`\log|S| + \log|A| = \sum \log d`: two matrix-vector products and
    elementwise work per gradient, where a Cholesky factor of :math:`A` cost
    more than the media term. The quadratic form is written as a sum of
    non-negative terms rather than :math:`u^\top u/\sigma^2 - b^\top A^{-1} b`,
    which loses float32 precision to cancellation on long series. Given the
    other parameters, :math:`\beta \sim \mathcal{N}(m + \hat\delta, A^{-1})`,
    :math:`A^{-1} = R\, \mathrm{diag}(1/d)\, R^\top`, exactly; with
    ``design.draw`` one draw of it is sampled (site ``coefficients_z``,
    standard normal) and recorded under the names of :func:`baseline_term`
    (``intercept``, ``trend``, ...).

    Args:
      residual: :math:`r`, shape ``(geo, time)``.
      sigma: Noise scale :math:`\sigma`, shape ``()``.
      design: The baseline's design and priors.
    """
    u = residual.reshape(-1) - design.prior_mean
    n = u.shape[0]
    s2 = sigma**2
    d = 1.0 + design.eigenvalues / s2
    delta = (design.rotated.T @ u) / (s2 * d)  # tilde-delta, in the eigenbasis
    fitted = u - design.rotated @ delta
    quad = fitted @ fitted / s2 + jnp.sum(delta**2)
    logdet = n * jnp.log(s2) + jnp.sum(jnp.log(d))
    numpyro.factor("marginal", -0.5 * (quad + logdet + n * jnp.log(2.0 * jnp.pi)))
    if design.draw:
        k = design.loc.shape[0]
        z = numpyro.sample("coefficients_z", dist.Normal(0.0, 1.0).expand([k]).to_event(1))
        beta = design.loc + design.root @ (delta + z / jnp.sqrt(d))
        for name, start, shape in design.sites:
            size = int(np.prod(shape, dtype=int))
            numpyro.deterministic(name, beta[start : start + size].reshape(shape))


def synergy_pairs(n_channel: int) -> tuple[tuple[int, int], ...]:
    """Channel index pairs ``(i, j)``, ``i < j``, in the order of the ``pair`` plate."""
    return tuple((i, j) for i in range(n_channel) for j in range(i + 1, n_channel))


def synergy_term(saturated: Array, priors: SynergyPriors, coef: Array | None = None) -> Array:
    r"""Pairwise interactions :math:`\sum_{i<j} \gamma_{ij}\, s_{gti}\, s_{gtj}`.

    :math:`\gamma_{ij} = \tau z_{ij} \sqrt{\beta_i \beta_j}` when
    ``priors.relative`` (default), :math:`\tau z_{ij}` otherwise; the site
    ``gamma`` is :math:`\gamma` in scaled-revenue units either way.

    Args:
      saturated: Saturation values, shape ``(geo, time, channel)``.
      priors: Synergy priors (shared shrinkage scale, relative or absolute).
      coef: The channels' (national) coefficients :math:`\beta`, shape
        ``(channel,)``; required when ``priors.relative``.

    Returns:
      Shape ``(geo, time)``.

    Raises:
      ValueError: ``priors.relative`` without ``coef``.
    """
    pairs = synergy_pairs(saturated.shape[-1])
    i = jnp.asarray([p[0] for p in pairs], dtype=jnp.int32)
    j = jnp.asarray([p[1] for p in pairs], dtype=jnp.int32)
    tau = numpyro.sample("scale", priors.scale)
    with numpyro.plate("pair", len(pairs)):
        z = numpyro.sample("z", dist.Normal(0.0, 1.0))
    if priors.relative:
        if coef is None:
            raise ValueError("relative synergy priors need the channels' coefficients (coef)")
        gamma = numpyro.deterministic("gamma", tau * z * jnp.sqrt(coef[i] * coef[j]))
    else:
        gamma = numpyro.deterministic("gamma", tau * z)
    products = saturated[..., i] * saturated[..., j]
    return jnp.einsum("gtp,p->gt", products, gamma)
