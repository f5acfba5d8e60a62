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
from numpyro.distributions import constraints
from numpyro.distributions.transforms import Transform

from mmm_jax._typing import Array
from mmm_jax.models.config import (
    BaselinePriors,
    Effect,
    GeoShapes,
    ModelConfig,
    SynergyPriors,
    media_param_names,
)
from mmm_jax.transforms._util import align
from mmm_jax.transforms.adstock import (
    Adstock,
    adstock_weights_channels,
    weibull_decay_offset,
)
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


class _ScaleToDecay(Transform):
    r"""Weibull scale to decay, :math:`\lambda \mapsto d = c - k\log\lambda`, elementwise.

    :math:`c` is :func:`mmm_jax.transforms.adstock.weibull_decay_offset` of each
    channel's kind, so :math:`d` is
    :func:`~mmm_jax.transforms.adstock.weibull_decay`. Maps the positive reals
    onto the reals; :math:`\log|\partial d / \partial\lambda| = \log k - \log\lambda`.

    ``k`` and ``c`` have the site's batch shape; values with leading sample
    axes (``init_to_median`` draws 15 at once) are aligned with them
    explicitly, never by implicit rank promotion.
    """

    def __init__(self, k: Array, c: Array):
        self.k = k
        self.c = c

    @property
    def domain(self):
        return constraints.positive

    @property
    def codomain(self):
        return constraints.real

    def __call__(self, x):
        x, k, c = align(x, self.k, self.c)
        return c - k * jnp.log(x)

    def _inverse(self, y):
        y, k, c = align(y, self.k, self.c)
        return jnp.exp((c - y) / k)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        x, k = align(x, self.k)
        return jnp.log(k) - jnp.log(x)

    def forward_shape(self, shape):
        return jax.lax.broadcast_shapes(shape, jnp.shape(self.k), jnp.shape(self.c))

    def inverse_shape(self, shape):
        return jax.lax.broadcast_shapes(shape, jnp.shape(self.k), jnp.shape(self.c))

    def tree_flatten(self):
        return (self.k, self.c), (("k", "c"), {})


class _IntervalToProbit(Transform):
    r"""A bounded value to probit coordinates, :math:`s \mapsto z = \Phi^{-1}\big((s - a) / (b - a)\big)`.

    Maps the interval :math:`(a, b)` onto the reals;
    :math:`\log|\partial z / \partial s| = -\log(b - a) - \log\varphi(z)`.
    """

    def __init__(self, low: Array, high: Array):
        self.low = low
        self.high = high

    @property
    def domain(self):
        return constraints.interval(self.low, self.high)

    @property
    def codomain(self):
        return constraints.real

    def __call__(self, x):
        u = (x - self.low) / (self.high - self.low)
        info = jnp.finfo(jnp.result_type(u))
        # a value on the bound itself (a float32 prior draw can land there) stays finite
        return jax.scipy.special.ndtri(jnp.clip(u, info.tiny, 1.0 - info.epsneg))

    def _inverse(self, y):
        return self.low + (self.high - self.low) * jax.scipy.special.ndtr(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return 0.5 * y**2 + 0.5 * jnp.log(2.0 * jnp.pi) - jnp.log(self.high - self.low)

    def tree_flatten(self):
        return (self.low, self.high), (("low", "high"), {})


def _bounded(prior: dist.Distribution) -> bool:
    """Whether ``prior`` lives on an interval with two finite bounds."""
    support = prior.support
    if not isinstance(support, constraints._Interval) or isinstance(
        support, constraints._IntegerInterval
    ):
        return False
    bounds = np.asarray(support.lower_bound), np.asarray(support.upper_bound)
    return bool(np.all(np.isfinite(bounds[0])) and np.all(np.isfinite(bounds[1])))


#: Distributions whose CDF and quantile function NumPyro computes in closed form
#: (a truncation of one as well). Decided by type, not by calling them: a call
#: would compile a handful of eager programs inside the first model trace.
_QUANTILE_FAMILIES = (
    dist.Normal,
    dist.Cauchy,
    dist.Laplace,
    dist.SoftLaplace,
    dist.Logistic,
    dist.Uniform,
)


def _has_quantiles(prior: dist.Distribution) -> bool:
    """Whether ``prior`` is of a family with a closed-form CDF and quantile function."""
    if isinstance(
        prior,
        (
            dist.truncated.TwoSidedTruncatedDistribution,
            dist.truncated.LeftTruncatedDistribution,
            dist.truncated.RightTruncatedDistribution,
        ),
    ):
        prior = prior.base_dist
    return type(prior) in _QUANTILE_FAMILIES


#: Quantiles are clipped to ``[_U_EDGE, 1 - _U_EDGE]`` (float32 resolves 1 - 1e-7):
#: a slope on a bound (a float32 draw can land there) gets a finite coordinate.
#: At the top the prior's own float32 CDF saturates first: for the default
#: TruncatedNormal(1, 1.5, [1, 10]) the largest slope reached is about 8.7, which
#: leaves out 1e-7 of the prior's mass.
_U_EDGE = 1e-7


def samples_slope_normal(config: ModelConfig) -> bool:
    r"""Whether :func:`media_term` samples the Hill slope as its prior's normal score (site ``slope_normal``).

    It does when the slope's prior lives on an interval with two finite bounds
    and has a CDF and a quantile function, as the default
    ``TruncatedNormal(1, 1.5, low=1, high=10)`` does
    (:func:`sample_slope_normal`). A bounded prior without them is sampled in
    probit coordinates (:func:`samples_slope_probit`); a one-sided or
    unbounded prior keeps NumPyro's own coordinates.
    """
    prior = config.media.slope
    return _bounded(prior) and _has_quantiles(prior)


def samples_slope_probit(config: ModelConfig) -> bool:
    r"""Whether :func:`media_term` samples the Hill slope in probit coordinates (site ``slope_probit``).

    It does when the slope's prior lives on an interval with two finite
    bounds but has no quantile function (otherwise :func:`samples_slope_normal`);
    a one-sided or unbounded prior keeps NumPyro's own coordinates.
    """
    return _bounded(config.media.slope) and not samples_slope_normal(config)


def slope_to_normal(prior: dist.Distribution, slope: Array) -> Array:
    r"""The normal score of a slope under its prior, :math:`z = \Phi^{-1}(F(s))`."""
    u = jnp.clip(prior.cdf(slope), _U_EDGE, 1.0 - _U_EDGE)
    return jax.scipy.special.ndtri(u)


def slope_from_normal(prior: dist.Distribution, z: Array) -> Array:
    r"""The slope of a normal score, :math:`s = F^{-1}(\Phi(z))` (inverse of :func:`slope_to_normal`)."""
    u = jnp.clip(jax.scipy.special.ndtr(z), _U_EDGE, 1.0 - _U_EDGE)
    return prior.icdf(u)


def sample_slope_normal(prior: dist.Distribution) -> Array:
    r"""Samples the Hill slope as its prior's normal score, :math:`z = \Phi^{-1}(F(s))`.

    The sampled site is ``slope_normal`` with prior :math:`\mathcal N(0, 1)`;
    :math:`s = F^{-1}(\Phi(z))` is recorded as the deterministic site
    ``slope``. Under the prior :math:`s` has exactly the configured
    distribution :math:`F`: only the coordinates NUTS moves in change.

    Why: a slope the data cannot tell from Michaelis-Menten leaves a
    posterior piled against the lower bound :math:`s = 1`, whose tail is the
    prior's. In NumPyro's logit coordinates that tail is exponential; in the
    probit of the interval (:func:`sample_slope_probit`) it is Gaussian but
    on another scale than the prior's bulk; in the prior's own normal score
    the tail is the standard normal's, on the scale of the whole prior. On
    four pooled panels of 50 geos (``benchmarks/README.md``) NUTS took 0-30%
    fewer leapfrog steps per draw than in the interval's probit.

    The posterior is the same, but a mode is not: a MAP fit
    (:func:`mmm_jax.inference.fit_map`) finds the mode in :math:`z`. To
    condition on or initialise the slope, use the site ``slope_normal``;
    ``substitute`` on ``slope`` still sets the value.
    """
    z = numpyro.sample("slope_normal", dist.Normal(0.0, 1.0))
    return numpyro.deterministic("slope", slope_from_normal(prior, z))


def slope_probit_transform(prior: dist.Distribution) -> Transform:
    """The map from a bounded slope prior's support to its probit coordinate."""
    support = prior.support
    return _IntervalToProbit(support.lower_bound, support.upper_bound)


def sample_slope_probit(prior: dist.Distribution) -> Array:
    r"""Samples the Hill slope :math:`s \in (a, b)` as :math:`z = \Phi^{-1}((s - a)/(b - a))`.

    The sampled site is ``slope_probit``, whose density is the configured
    prior pushed through exactly; :math:`s` is recorded as the deterministic
    site ``slope``. NumPyro's default coordinates for an interval are the
    logit, in which a posterior that piles against the lower bound
    :math:`s = 1` (a curve the data cannot tell from Michaelis-Menten) has an
    exponential tail, :math:`p(u) \propto e^{u}`: NUTS crawls down it. In
    probit coordinates that tail is Gaussian.

    The posterior is the same, but a mode is not: a MAP fit
    (:func:`mmm_jax.inference.fit_map`) finds the mode in :math:`z`, where the
    logit's was the mode in :math:`s`, which for a slope the data do not pin
    sat on the bound 1. To condition on or initialise the slope, use the site
    ``slope_probit``; ``substitute`` on ``slope`` still sets the value.
    """
    transform = slope_probit_transform(prior)
    z = numpyro.sample("slope_probit", dist.TransformedDistribution(prior, transform))
    return numpyro.deterministic("slope", transform.inv(z))


def samples_decay(config: ModelConfig, n_geo: int, n_channel: int) -> bool:
    r"""Whether :func:`media_term` samples the Weibull scale as a decay (site ``decay``).

    It does on a pooled geo panel (``config.geo_pooling`` set, more than one
    geo) whose channels have a Weibull scale, when the scale's prior lives on
    the positive reals (the default ``LogNormal``, any ``Gamma``,
    ``HalfNormal``...). A prior bounded otherwise keeps ``scale`` sampled
    directly, as does every national model.
    """
    if config.geo_pooling is None or n_geo < 2:
        return False
    if "scale" not in media_param_names(config, n_channel)[0]:
        return False
    support = config.media.scale.support
    return isinstance(support, constraints.greater_than) and bool(
        np.all(np.asarray(support.lower_bound) == 0)
    )


def scale_to_decay(shape: Array, kinds: tuple) -> Transform:
    r"""The map :math:`\lambda \mapsto d` of the ``decay`` site for Weibull shapes ``shape``.

    ``shape`` is :math:`k`, ``(..., channel)``; ``kinds`` the adstock kind of
    every channel (the PDF form's offset :math:`\log(2^k - 1)`, 0 otherwise).
    """
    batch = jnp.shape(shape)
    is_pdf = jnp.broadcast_to(jnp.asarray([k is Adstock.WEIBULL_PDF for k in kinds]), batch)
    c = jnp.where(is_pdf, weibull_decay_offset(shape, Adstock.WEIBULL_PDF), 0.0)
    return _ScaleToDecay(shape, c)


def sample_scale_as_decay(prior: dist.Distribution, shape: Array, kinds: tuple) -> Array:
    r"""Samples the Weibull scale :math:`\lambda` in decay coordinates; returns :math:`\lambda`.

    The sampled site is ``decay``,
    :math:`d = c(k) - k\log\lambda` (:func:`~mmm_jax.transforms.adstock.weibull_decay`:
    :math:`c = \log(2^k - 1)` for the PDF form, 0 for the CDF form and for
    channels whose kind has no scale), with density

    .. math::
        p(d \mid k) = p_\lambda\big(\lambda(d)\big)\,
            \Big|\frac{\partial\lambda}{\partial d}\Big| = p_\lambda(\lambda)\,\frac{\lambda}{k},

    the configured prior of :math:`\lambda` pushed through exactly: only
    the coordinates NUTS moves in change, not the model. On a geo panel the
    data pin the decay down and leave :math:`k` and :math:`\lambda` on a
    curved ridge; in :math:`(k, d)` the ridge is nearly straight.
    :math:`\lambda` is recorded as the deterministic site ``scale``, which
    everything downstream reads.

    Args:
      prior: Prior of :math:`\lambda` (positive support), batch shape ``()``
        or broadcastable to ``shape``'s.
      shape: The sampled Weibull shapes :math:`k`, ``(channel,)`` or
        ``(geo, channel)``.
      kinds: Adstock kind of every channel (static).

    Returns:
      :math:`\lambda`, the shape of ``shape``.
    """
    batch = jnp.shape(shape)
    transform = scale_to_decay(shape, kinds)
    base = prior if tuple(prior.batch_shape) == batch else prior.expand(batch)
    decay = numpyro.sample("decay", dist.TransformedDistribution(base, transform))
    return numpyro.deterministic("scale", transform.inv(decay))


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
    the coefficient of a geo of multiplier one (site ``coef``), and the
    normaliser weights each geo by it,

    .. math::
        \beta_c = \rho_c\, \frac{m_c \sum_{gt} x_{gtc}}{s \sum_{gt} m_{gc} S_c(A_c(x_{gc}))_t},

    so :math:`\rho_c` stays the national ROAS over every geo.

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
    decay = samples_decay(config, n_geo, n_channel)

    def curve_params() -> dict:
        params = {}
        for n in ad_names + sat_names:
            if n == "scale" and decay:  # after "shape": the decay's Jacobian needs k
                kinds = config.adstock_kinds(n_channel)
                params[n] = sample_scale_as_decay(config.media.scale, params["shape"], kinds)
            elif n == "slope" and samples_slope_normal(config):
                params[n] = sample_slope_normal(config.media.slope)
            elif n == "slope" and samples_slope_probit(config):
                params[n] = sample_slope_probit(config.media.slope)
            else:
                params[n] = numpyro.sample(n, getattr(config.media, n))
        return params

    with numpyro.plate("channel", n_channel, dim=-1):
        if per_geo:
            with numpyro.plate("geo", n_geo, dim=-2):
                params = curve_params()
        else:
            params = curve_params()
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
        per_geo_sum = ref_saturated.sum(axis=1)  # (geo, channel)
        if geo_multiplier is not None:
            per_geo_sum = per_geo_sum * geo_multiplier
        sat_sum = jnp.maximum(per_geo_sum.sum(axis=0), jnp.finfo(saturated.dtype).tiny)
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
    size: Array | None = None,
    control_size: Array | None = None,
) -> Array:
    r"""Organic baseline: intercept, (piecewise-)linear trend, Fourier seasonality, controls.

    .. math::
        b_{gt} = n_g \Big(\mu_g + \delta\, \tau_t + \sum_k \kappa_k (\tau_t - s_k)_+
                 + s_g \sum_f \phi_f F_{tf}\Big) + \sum_j \eta_j\, n_g^{e_j} z_{gtj}

    with :math:`n_g = 1` (and :math:`e_j = 0`) unless geo sizes are given
    (:func:`mmm_jax.models.geo.geo_inputs`), and :math:`s_g = 1` unless a
    per-geo ``seasonality_scale`` is given. With sizes, :math:`\mu_g` is the
    geo's intercept per unit of size, so one prior fits every geo.

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
      size: Geo sizes :math:`n_g`, ``(geo,)``, or ``None`` for all one.
      control_size: :math:`e_j \in \{0, 1\}` per control, ``(control,)``:
        1 where the control's effect scales with geo size. Needs ``size``.

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
    if size is not None:
        base = size[:, None] * base
    if controls.shape[-1]:
        with numpyro.plate("control", controls.shape[-1]):
            eta = numpyro.sample("controls", priors.controls)
        if size is not None and control_size is not None:
            controls = controls * _control_factor(size, control_size)[:, None, :]
        base = base + jnp.einsum("gtj,j->gt", controls, eta)
    return base


def _control_factor(size: Array, control_size: Array) -> Array:
    """:math:`n_g^{e_j}`, ``(geo, control)``: size for controls scaled by it, else 1."""
    return jnp.where(control_size[None, :] > 0, size[:, None], 1.0)


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


class GeoBaselineDesign(NamedTuple):
    r"""The organic baseline of a geo panel as a linear model, integrated out geo by geo.

    Geo :math:`g`'s rows, divided by its noise scale :math:`v_g` so every row
    has noise :math:`\sigma`, are :math:`\tilde b_{gt} = e_g \alpha_g +
    \tilde x_{gt}^\top \beta`: one intercept per geo with column height
    :math:`e_g = n_g / v_g` and prior :math:`\alpha_g \sim N(m_\alpha,
    s_\alpha)`, and :math:`k` shared coefficients :math:`\beta \sim N(m, S)`
    (trend, changepoints and seasonality times :math:`n_g`, and the controls;
    :func:`mmm_jax.models.geo_baseline_design`). The intercepts touch one
    geo each, so they are integrated out in closed form per geo and only a
    :math:`k \times k` system remains, whatever the number of geos: no dense
    ``(geo * time, geo + k)`` design, no limit on the number of geos, and
    every geo-indexed array can be split over devices.

    Attributes:
      height: :math:`e_g`, ``(geo,)``.
      noise_scale: :math:`v_g`, ``(geo,)``.
      centred: :math:`\tilde x_{gt} - \bar x_g`, ``(geo, time, k)``.
      mean: :math:`\bar x_g`, each geo's column means, ``(geo, k)``.
      within: :math:`W = \sum_{gt} (\tilde x_{gt} - \bar x_g)(\tilde x_{gt}
        - \bar x_g)^\top`, ``(k, k)`` (computed in float64).
      prior_mean: :math:`e_g m_\alpha + \tilde x_{gt}^\top m`, ``(geo, time)``.
      intercept_loc: :math:`m_\alpha`, ``()``.
      intercept_scale: :math:`s_\alpha`, ``()``.
      loc: :math:`m`, ``(k,)``.
      scale: Prior sds of :math:`\beta`, ``(k,)``.
      sites: ``(site, first column, shape)`` of each shared baseline site of
        :func:`baseline_term` in the column order of ``centred`` (static).
      draw: Also sample the coefficients from their conditional posterior and
        record them as the sites of :func:`baseline_term` (static).
    """

    height: Array
    noise_scale: Array
    centred: Array
    mean: Array
    within: Array
    prior_mean: Array
    intercept_loc: Array
    intercept_scale: Array
    loc: Array
    scale: Array
    sites: tuple[tuple[str, int, tuple[int, ...]], ...]
    draw: bool = False


def geo_baseline_marginal_term(residual: Array, sigma: Array, design: GeoBaselineDesign) -> None:
    r"""The Normal likelihood of a geo panel with the organic baseline integrated out.

    In weighted rows (:class:`GeoBaselineDesign`), with
    :math:`u_{gt} = r_{gt} / v_g - e_g m_\alpha - \tilde x_{gt}^\top m` and
    :math:`\bar u_g` its mean over the :math:`T` periods of geo :math:`g`,
    the intercepts integrate out geo by geo (their precision is
    :math:`1/s_\alpha^2 + T e_g^2/\sigma^2`), leaving for :math:`\beta` the
    Schur complement and right-hand side

    .. math::
        B = S^{-1} + \frac{W}{\sigma^2} + \sum_g c_g \bar x_g \bar x_g^\top, \quad
        h = \frac{1}{\sigma^2}\sum_{gt} (\tilde x_{gt} - \bar x_g) u_{gt}
            + \sum_g c_g \bar u_g \bar x_g, \quad
        c_g = \frac{T}{\sigma^2 + T e_g^2 s_\alpha^2}.

    With :math:`\hat\delta = B^{-1} h` and
    :math:`\hat\alpha_g - m_\alpha = e_g s_\alpha^2 c_g (\bar u_g - \bar x_g^\top \hat\delta)`,

    .. math::
        \log p(r) = -\tfrac12\Big[\frac{\lVert u - \hat b\rVert^2}{\sigma^2}
            + \sum_g \frac{(\hat\alpha_g - m_\alpha)^2}{s_\alpha^2}
            + \hat\delta^\top S^{-1} \hat\delta + n \log \sigma^2
            + \sum_g \log\Big(1 + \frac{T e_g^2 s_\alpha^2}{\sigma^2}\Big)
            + \log |S B| + n \log 2\pi\Big] - T \sum_g \log v_g,

    :math:`\hat b` the fitted baseline: the same multivariate normal as
    :func:`baseline_marginal_term` on the dense design, evaluated with one
    :math:`k \times k` Cholesky factor (of :math:`B` scaled to unit
    diagonal) per gradient and work linear in the number of geos. The last
    term is the Jacobian of dividing geo :math:`g`'s rows by :math:`v_g`.
    With ``design.draw``, :math:`\beta` is drawn from
    :math:`N(m + \hat\delta, B^{-1})` and then each :math:`\alpha_g` from its
    normal conditional given :math:`\beta` (sites ``coefficients_z`` and
    ``intercept_z``, standard normal), recorded under the names of
    :func:`baseline_term`.

    Args:
      residual: :math:`r = y - (\text{media} + \text{synergy})`, ``(geo, time)``.
      sigma: Noise scale :math:`\sigma`, ``()``.
      design: The baseline's structured design and priors.
    """
    n_geo, n_time = residual.shape
    v, e, xbar = design.noise_scale, design.height, design.mean
    u = residual / v[:, None] - design.prior_mean
    ubar = jnp.mean(u, axis=1)
    s2 = sigma**2
    sa2 = design.intercept_scale**2
    c = n_time / (s2 + n_time * e**2 * sa2)  # (geo,)
    prec = jnp.diag(1.0 / design.scale**2)
    b = prec + design.within / s2 + jnp.einsum("gk,g,gl->kl", xbar, c, xbar)
    h = jnp.einsum("gtk,gt->k", design.centred, u) / s2 + jnp.einsum("gk,g->k", xbar, c * ubar)
    d = jnp.sqrt(jnp.diagonal(b))
    chol = jnp.linalg.cholesky(b / (d[:, None] * d[None, :]))
    delta = jax.scipy.linalg.cho_solve((chol, True), h / d) / d  # (k,)
    gap = ubar - xbar @ delta  # (geo,)
    alpha = e * sa2 * c * gap  # alpha-hat minus its prior mean
    fitted = (u - ubar[:, None]) - jnp.einsum("gtk,k->gt", design.centred, delta)
    fitted = fitted + (gap * s2 * c / n_time)[:, None]
    quad = jnp.sum(fitted**2) / s2 + jnp.sum(alpha**2) / sa2 + jnp.sum(delta**2 / design.scale**2)
    n = n_geo * n_time
    logdet = (
        n * jnp.log(s2)
        + jnp.sum(jnp.log1p(n_time * e**2 * sa2 / s2))
        + jnp.sum(jnp.log(design.scale**2))
        + 2.0 * jnp.sum(jnp.log(d))
        + 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    )
    jacobian = n_time * jnp.sum(jnp.log(v))
    numpyro.factor("marginal", -0.5 * (quad + logdet + n * jnp.log(2.0 * jnp.pi)) - jacobian)
    if design.draw:
        k = design.loc.shape[0]
        z = numpyro.sample("coefficients_z", dist.Normal(0.0, 1.0).expand([k]).to_event(1))
        noise = jax.scipy.linalg.solve_triangular(chol.T, z, lower=False) / d
        beta = design.loc + delta + noise
        z_a = numpyro.sample("intercept_z", dist.Normal(0.0, 1.0).expand([n_geo]).to_event(1))
        cond = e * sa2 * c * (ubar - xbar @ (beta - design.loc))
        intercept = design.intercept_loc + cond + z_a * jnp.sqrt(sa2 * s2 * c / n_time)
        numpyro.deterministic("intercept", intercept)
        for name, start, shape in design.sites:
            size = int(np.prod(shape, dtype=int))
            numpyro.deterministic(name, beta[start : start + size].reshape(shape))


def synergy_pairs(n_channel: int) -> tuple[tuple[int, int], ...]:
    """Channel index pairs ``(i, j)``, ``i < j``, in the order of the ``pair`` plate."""
    return tuple((i, j) for i in range(n_channel) for j in range(i + 1, n_channel))


def synergy_term(
    saturated: Array,
    priors: SynergyPriors,
    coef: Array | None = None,
    geo_multiplier: Array | None = None,
) -> Array:
    r"""Pairwise interactions :math:`\sum_{i<j} \gamma_{ij}\, s_{gti}\, s_{gtj}`.

    :math:`\gamma_{ij} = \tau z_{ij} \sqrt{\beta_i \beta_j}` when
    ``priors.relative`` (default), :math:`\tau z_{ij}` otherwise; the site
    ``gamma`` is :math:`\gamma` in scaled-revenue units either way. With
    per-geo multipliers :math:`m_{gc}` of the coefficients, geo :math:`g`'s
    interaction is :math:`\gamma_{ij} \sqrt{m_{gi} m_{gj}}`, the same
    fraction of its own two effects (:func:`geo_synergy`).

    Args:
      saturated: Saturation values, shape ``(geo, time, channel)``.
      priors: Synergy priors (shared shrinkage scale, relative or absolute).
      coef: The channels' (national) coefficients :math:`\beta`, shape
        ``(channel,)``; required when ``priors.relative``.
      geo_multiplier: Per-geo multipliers :math:`m_{gc}`, ``(geo, channel)``,
        or ``None``.

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
    if geo_multiplier is not None:
        return jnp.einsum("gtp,gp->gt", products, geo_synergy(gamma, geo_multiplier))
    return jnp.einsum("gtp,p->gt", products, gamma)


def geo_synergy(gamma: Array, geo_multiplier: Array) -> Array:
    r"""Each geo's interactions :math:`\gamma_{ij} \sqrt{m_{gi} m_{gj}}`.

    Args:
      gamma: National interactions, ``(..., pair)``.
      geo_multiplier: :math:`m_{gc}`, ``(..., geo, channel)``.

    Returns:
      ``(..., geo, pair)``.
    """
    pairs = synergy_pairs(geo_multiplier.shape[-1])
    i = np.asarray([p[0] for p in pairs], dtype=np.int32)
    j = np.asarray([p[1] for p in pairs], dtype=np.int32)
    root = jnp.sqrt(geo_multiplier[..., i] * geo_multiplier[..., j])
    return jnp.expand_dims(gamma, -2) * root
