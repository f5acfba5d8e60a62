"""The Bayesian MMM: terms composed with ``scope``, and the arrays it runs on."""

from typing import NamedTuple

import numpy as np
import pandas as pd

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist
from numpyro.handlers import scope, seed, trace

from mmm_jax._typing import Array
from mmm_jax.calibration.lift import LiftTests
from mmm_jax.models.config import Likelihood, ModelConfig, check_config
from mmm_jax.models.geo import GeoInputs, geo_inputs, geo_term
from mmm_jax.models.lift import LiftInputs, lift_inputs, lift_term
from mmm_jax.models.terms import (
    BaselineDesign,
    GeoBaselineDesign,
    baseline_marginal_term,
    baseline_term,
    geo_baseline_marginal_term,
    media_term,
    synergy_term,
)
from mmm_jax.transforms.conv import lag_stack

__all__ = [
    "SiteInfo",
    "model_sites",
    "ModelInputs",
    "TimeFrame",
    "baseline_design",
    "build_inputs",
    "fourier_features",
    "geo_baseline_design",
    "marginal_baseline_blocker",
    "mmm",
    "time_frame",
]

_EPOCH = pd.Timestamp("1970-01-01")


class TimeFrame(NamedTuple):
    """Fixes trend time on the fit window so predictions on other windows agree.

    Attributes:
      origin: First date of the fit window (ISO string).
      span_days: Days from the first to the last date of the fit window.
    """

    origin: str
    span_days: float


class ModelInputs(NamedTuple):
    """What the model runs on: arrays on the scaled data, and how to treat them.

    Attributes:
      lagged: Lagged scaled spend, ``(geo, time, channel, lag)``
        (:func:`mmm_jax.transforms.conv.lag_stack`; lag 0 is the spend itself).
      controls: Scaled controls, shape ``(geo, time, control)``.
      trend_time: 0 at the start, 1 at the end of the fit window, ``(time,)``.
      fourier: Seasonality features, ``(time, feature)``.
      changepoints: Trend knots in trend time, ``(knot,)``.
      spend_ratio: ``media_scale / target_scale``, ``(channel,)``: scaled spend
        to scaled revenue units (the ROAS parametrisation needs it).
      reference: Lagged scaled spend of the fit window, ``(geo, time, channel,
        lag)``, when ``lagged`` is another window or a counterfactual; ``None``
        when fitting.
      lift: Lift tests (:class:`mmm_jax.models.lift.LiftInputs`) adding their
        likelihood, or ``None``.
      baseline: The organic baseline as a linear model
        (:func:`baseline_design`, or :func:`geo_baseline_design` for a geo
        panel) to integrate it out of the likelihood, or ``None`` to sample it. Integrated out, the posterior over every other
        parameter is the same, with no ``baseline/*`` sample sites and no
        ``mu`` or ``y`` site (:func:`mmm_jax.models.terms.baseline_marginal_term`
        adds the factor ``baseline/marginal`` instead); the baseline's draws
        come afterwards from their exact conditional (``baseline.draw``).
        Needs the observed ``y``.
      mesh: The device mesh whose ``geo`` axis the geo-indexed arrays are
        split over (:func:`mmm_jax.inference.sharding.shard_inputs` sets it),
        so the model keeps everything computed from them split too; ``None``
        leaves placement to JAX.
      geo: Geo sizes, noise scales and centring weights
        (:func:`mmm_jax.models.geo.geo_inputs`) when ``config.geo_pooling``
        is set on a panel, else ``None``.
    """

    lagged: Array
    controls: Array
    trend_time: Array
    fourier: Array
    changepoints: Array
    spend_ratio: Array
    reference: Array | None
    lift: LiftInputs | None = None
    baseline: BaselineDesign | GeoBaselineDesign | None = None
    mesh: jax.sharding.Mesh | None = None
    geo: GeoInputs | None = None


def fourier_features(dates: pd.DatetimeIndex, period_days: float, order: int) -> np.ndarray:
    r"""Features :math:`\sin(2\pi k d / P), \cos(2\pi k d / P)`, :math:`k = 1..K`.

    ``d`` counts days since 1970-01-01, so every window of the same calendar
    gets the same features.

    Returns:
      Shape ``(time, 2 * order)``.
    """
    days = np.asarray((dates - _EPOCH) / pd.Timedelta(days=1), dtype=float)
    k = np.arange(1, order + 1, dtype=float)
    angle = 2.0 * np.pi * days[:, None] * k[None, :] / period_days
    return np.concatenate([np.sin(angle), np.cos(angle)], axis=1)


def time_frame(dates: pd.DatetimeIndex) -> TimeFrame:
    """The :class:`TimeFrame` of a fit window."""
    span = (dates[-1] - dates[0]) / pd.Timedelta(days=1)
    return TimeFrame(str(dates[0].date()), float(max(span, 1.0)))


def build_inputs(
    data,
    config: ModelConfig,
    frame: TimeFrame | None = None,
    reference=None,
    lift: LiftTests | None = None,
    geo: GeoInputs | None = None,
) -> ModelInputs:
    """Builds :class:`ModelInputs` from an :class:`~mmm_jax.data.MMMData`.

    Args:
      data: The data container (already scaled by its own scaler).
      config: Model configuration.
      frame: The fit window's time frame; ``None`` uses ``data``'s own dates,
        which is right when fitting and wrong when predicting another window.
      reference: The fit data, when ``data`` is another window or a
        counterfactual: coefficients implied by a ROAS prior stay those of the
        fit window. ``None`` (or ``data`` itself) when fitting.
      lift: Lift tests on ``data`` whose likelihood the model adds (fitting
        only); ``None`` for none.
      geo: The geo sizes and centring weights the fit used, for a geo panel
        with ``config.geo_pooling``; ``None`` computes them from the fit data
        (``reference``, else ``data``) with :func:`mmm_jax.models.geo.geo_inputs`.

    Returns:
      A :class:`ModelInputs` of float32 (or float64 under x64) arrays.
    """
    check_config(config, data.n_channel, data.n_control)
    frame = frame or time_frame(data.dates)
    days = (data.dates - pd.Timestamp(frame.origin)) / pd.Timedelta(days=1)
    trend_time = np.asarray(days, dtype=float) / frame.span_days
    parts = []
    if config.yearly_order:
        parts.append(fourier_features(data.dates, 365.25, config.yearly_order))
    if config.weekly_order and data.periods_per_year > 300:
        parts.append(fourier_features(data.dates, 7.0, config.weekly_order))
    fourier = np.concatenate(parts, axis=1) if parts else np.zeros((data.n_time, 0))
    knots = np.linspace(0.0, 1.0, config.n_changepoints + 2)[1:-1]
    dtype = jnp.result_type(float)
    max_lag = config.lag_window(data.periods_per_year)
    if max_lag > data.n_time:
        raise ValueError(
            f"the adstock window (max_lag={max_lag}) is longer than the data "
            f"({data.n_time} periods): use a shorter max_lag"
        )
    ratio = np.asarray(data.scaler.media_scale) / data.scaler.target_scale
    if reference is None or reference is data:
        ref = None
    else:
        ref = lag_stack(jnp.asarray(reference.media_scaled, dtype), max_lag)
    if config.geo_pooling is not None and data.n_geo > 1:
        if geo is None:
            geo = _fit_geo_inputs(data if reference is None else reference, config, frame)
        geo = GeoInputs(*(jnp.asarray(np.asarray(a), dtype) for a in geo))
    else:
        geo = None
    return ModelInputs(
        lagged=lag_stack(jnp.asarray(data.media_scaled, dtype), max_lag),
        controls=jnp.asarray(data.controls_scaled, dtype),
        trend_time=jnp.asarray(trend_time, dtype),
        fourier=jnp.asarray(fourier, dtype),
        changepoints=jnp.asarray(knots, dtype),
        spend_ratio=jnp.asarray(ratio, dtype),
        reference=ref,
        lift=None if lift is None else lift_inputs(lift, data, max_lag),
        geo=geo,
    )


def _fit_geo_inputs(fit_data, config: ModelConfig, frame: TimeFrame) -> GeoInputs:
    """:func:`geo_inputs` on the fit data, gauging each geo's information with its baseline columns."""
    days = (fit_data.dates - pd.Timestamp(frame.origin)) / pd.Timedelta(days=1)
    parts = [
        np.ones((fit_data.n_time, 1)),
        np.asarray(days, dtype=float)[:, None] / frame.span_days,
    ]
    if config.yearly_order:
        parts.append(fourier_features(fit_data.dates, 365.25, config.yearly_order))
    if config.weekly_order and fit_data.periods_per_year > 300:
        parts.append(fourier_features(fit_data.dates, 7.0, config.weekly_order))
    per_time = np.concatenate(parts, axis=1)
    columns = np.concatenate(
        [
            np.broadcast_to(per_time[None], (fit_data.n_geo, *per_time.shape)),
            np.asarray(fit_data.controls_scaled),
        ],
        axis=-1,
    )
    return geo_inputs(fit_data, config, baseline=columns)


def _normal_params(prior) -> tuple[Array, Array] | None:
    """``(loc, scale)`` of a Normal prior (possibly ``.expand()``-ed), else ``None``."""
    if isinstance(prior, dist.ExpandedDistribution):
        prior = prior.base_dist
    if type(prior) is dist.Normal:
        return prior.loc, prior.scale
    return None


def marginal_baseline_blocker(
    inputs: ModelInputs, config: ModelConfig, max_coefficients: int | None = None
) -> str | None:
    """Why the baseline cannot be integrated out of this model, or ``None`` if it can.

    It can when the likelihood is Normal, every baseline coefficient present
    has a Normal prior, and the baseline is linear in them (no per-geo
    seasonality scale, which ``GeoPooling(seasonality_spread=...)`` adds on a
    panel). With ``max_coefficients``, also when there are at most that many
    coefficients in the dense design of :func:`baseline_design` (a panel's
    :func:`geo_baseline_design` has no such limit).
    """
    if config.likelihood is not Likelihood.NORMAL:
        return f"the likelihood is {config.likelihood.value}, not normal"
    n_geo = inputs.lagged.shape[0]
    pooling = config.geo_pooling
    if (
        pooling is not None
        and n_geo > 1
        and pooling.seasonality_spread is not None
        and inputs.fourier.shape[-1] > 0
    ):
        return (
            "GeoPooling(seasonality_spread=...) scales the seasonality per geo, "
            "so the baseline is not linear"
        )
    priors = config.baseline
    present = {
        "intercept": True,
        "trend": True,
        "changepoint": inputs.changepoints.shape[0] > 0,
        "seasonality": inputs.fourier.shape[-1] > 0,
        "controls": inputs.controls.shape[-1] > 0,
    }
    for name, used in present.items():
        if used and _normal_params(getattr(priors, name)) is None:
            kind = type(getattr(priors, name)).__name__
            return f"the baseline prior {name} is {kind}, not Normal"
    n_coef = (
        n_geo
        + 1
        + inputs.changepoints.shape[0]
        + inputs.fourier.shape[-1]
        + inputs.controls.shape[-1]
    )
    if max_coefficients is not None and n_coef > max_coefficients:
        return f"{n_coef} baseline coefficients (more than {max_coefficients})"
    return None


def baseline_design(inputs: ModelInputs, config: ModelConfig) -> BaselineDesign:
    r"""The organic baseline of :func:`baseline_term` as :math:`X\beta`, for integrating it out.

    Columns, in order: one intercept per geo, the trend, one hinge
    :math:`(\tau_t - s_k)_+` per changepoint, the Fourier features, the
    controls; the same arrays :func:`baseline_term` combines.

    Raises:
      ValueError: The baseline cannot be integrated out
        (:func:`marginal_baseline_blocker` says why).
    """
    reason = marginal_baseline_blocker(inputs, config)
    if reason is not None:
        raise ValueError(f"cannot integrate the baseline out: {reason}")
    if inputs.geo is not None:
        raise ValueError(
            "a geo-pooled panel's baseline scales with geo size: use geo_baseline_design"
        )
    n_geo, n_time = inputs.controls.shape[:2]
    tt = inputs.trend_time
    per_time = [tt[:, None]]
    if inputs.changepoints.shape[0]:
        per_time.append(jnp.maximum(tt[:, None] - inputs.changepoints[None, :], 0.0))
    per_time.append(inputs.fourier)
    per_time = jnp.concatenate(per_time, axis=-1)  # (time, k)
    columns = jnp.concatenate(
        [
            jnp.broadcast_to(jnp.eye(n_geo, dtype=tt.dtype)[:, None, :], (n_geo, n_time, n_geo)),
            jnp.broadcast_to(per_time[None], (n_geo, *per_time.shape)),
            inputs.controls,
        ],
        axis=-1,
    )
    x = columns.reshape(n_geo * n_time, -1)
    priors = config.baseline
    blocks = [
        ("intercept", (n_geo,)),
        ("trend", ()),
        ("changepoint", (inputs.changepoints.shape[0],)),
        ("seasonality", (inputs.fourier.shape[-1],)),
        ("controls", (inputs.controls.shape[-1],)),
    ]
    loc, scale, sites, start = [], [], [], 0
    for name, shape in blocks:
        size = int(np.prod(shape, dtype=int))
        if name != "trend" and size == 0:
            continue
        m, s = _normal_params(getattr(priors, name))
        loc.append(jnp.broadcast_to(jnp.asarray(m, tt.dtype), shape).reshape(-1))
        scale.append(jnp.broadcast_to(jnp.asarray(s, tt.dtype), shape).reshape(-1))
        sites.append((name, start, shape))
        start += size
    loc, scale = jnp.concatenate(loc), jnp.concatenate(scale)
    # The eigenbasis of BaselineDesign, in float64 on the host: the
    # eigenvalues of S^1/2 X'X S^1/2 span many orders of magnitude.
    x64 = np.asarray(x, np.float64)
    s_half = np.asarray(scale, np.float64)
    eigenvalues, q = np.linalg.eigh(s_half[:, None] * (x64.T @ x64) * s_half[None, :])
    root = s_half[:, None] * q
    dtype = x.dtype
    return BaselineDesign(
        design=x,
        loc=loc,
        scale=scale,
        prior_mean=jnp.asarray(x64 @ np.asarray(loc, np.float64), dtype),
        root=jnp.asarray(root, dtype),
        rotated=jnp.asarray(x64 @ root, dtype),
        eigenvalues=jnp.asarray(np.maximum(eigenvalues, 0.0), dtype),
        sites=tuple(sites),
    )


def geo_baseline_design(inputs: ModelInputs, config: ModelConfig) -> GeoBaselineDesign:
    r"""The organic baseline of a geo panel in the structured form that integrates it out per geo.

    The same baseline as :func:`baseline_term`: geo :math:`g`'s rows are
    divided by its noise scale :math:`v_g` (:class:`GeoInputs`; 1 without
    geo pooling); the intercept column has height :math:`n_g / v_g`; the
    shared columns, in order, are the trend, one hinge per changepoint and
    the Fourier features, each times :math:`n_g / v_g`, then the controls
    (times :math:`n_g^{e_j} / v_g`). Column means, the within-geo scatter and
    the prior mean are computed in float64 on the host.

    Raises:
      ValueError: The baseline cannot be integrated out
        (:func:`marginal_baseline_blocker` says why).
    """
    reason = marginal_baseline_blocker(inputs, config)
    if reason is not None:
        raise ValueError(f"cannot integrate the baseline out: {reason}")
    n_geo, n_time = inputs.controls.shape[:2]
    dtype = inputs.trend_time.dtype
    tt = np.asarray(inputs.trend_time, np.float64)
    per_time = [tt[:, None]]
    if inputs.changepoints.shape[0]:
        knots = np.asarray(inputs.changepoints, np.float64)
        per_time.append(np.maximum(tt[:, None] - knots[None, :], 0.0))
    per_time.append(np.asarray(inputs.fourier, np.float64))
    per_time = np.concatenate(per_time, axis=-1)  # (time, k_time)
    controls = np.asarray(inputs.controls, np.float64)
    if inputs.geo is None:
        size = np.ones(n_geo)
        noise = np.ones(n_geo)
        factor = np.ones((n_geo, controls.shape[-1]))
    else:
        size = np.asarray(inputs.geo.size, np.float64)
        noise = np.asarray(inputs.geo.noise_scale, np.float64)
        flags = np.asarray(inputs.geo.control_size, np.float64)
        factor = np.where(flags[None, :] > 0, size[:, None], 1.0)
    shared = (
        np.concatenate(
            [size[:, None, None] * per_time[None], controls * factor[:, None, :]], axis=-1
        )
        / noise[:, None, None]
    )  # (geo, time, k)
    mean = shared.mean(axis=1)
    centred = shared - mean[:, None, :]
    priors = config.baseline
    blocks = [
        ("trend", ()),
        ("changepoint", (inputs.changepoints.shape[0],)),
        ("seasonality", (inputs.fourier.shape[-1],)),
        ("controls", (controls.shape[-1],)),
    ]
    loc, scale, sites, start = [], [], [], 0
    for name, shape in blocks:
        size_k = int(np.prod(shape, dtype=int))
        if name != "trend" and size_k == 0:
            continue
        m, sd = _normal_params(getattr(priors, name))
        loc.append(np.broadcast_to(np.asarray(m, np.float64), shape).reshape(-1))
        scale.append(np.broadcast_to(np.asarray(sd, np.float64), shape).reshape(-1))
        sites.append((name, start, shape))
        start += size_k
    loc, scale = np.concatenate(loc), np.concatenate(scale)
    m_a, s_a = (float(np.asarray(v)) for v in _normal_params(priors.intercept))
    height = size / noise
    prior_mean = height[:, None] * m_a + shared @ loc
    return GeoBaselineDesign(
        height=jnp.asarray(height, dtype),
        noise_scale=jnp.asarray(noise, dtype),
        centred=jnp.asarray(centred, dtype),
        mean=jnp.asarray(mean, dtype),
        within=jnp.asarray(np.einsum("gtk,gtl->kl", centred, centred), dtype),
        prior_mean=jnp.asarray(prior_mean, dtype),
        intercept_loc=jnp.asarray(m_a, dtype),
        intercept_scale=jnp.asarray(s_a, dtype),
        loc=jnp.asarray(loc, dtype),
        scale=jnp.asarray(scale, dtype),
        sites=tuple(sites),
    )


def _geo_sharded(x: Array | None, mesh) -> Array | None:
    """Constrains the leading (geo) axis of ``x`` to be split over the mesh axis ``geo``."""
    if x is None or mesh is None:
        return x
    spec = jax.sharding.PartitionSpec("geo", *([None] * (x.ndim - 1)))
    return jax.lax.with_sharding_constraint(x, jax.sharding.NamedSharding(mesh, spec))


def _observe(
    total: Array,
    y: Array | None,
    config: ModelConfig,
    n_geo: int,
    n_time: int,
    noise_scale: Array | None = None,
) -> None:
    """Sites ``mu``, ``sigma`` (and ``nu``) and the observed ``y``.

    ``noise_scale`` ``(geo,)`` multiplies the additive noise's ``sigma`` per
    geo (geo sizes); log-normal noise is relative already and ignores it.
    """
    mu = numpyro.deterministic("mu", total)
    sigma = numpyro.sample("sigma", config.noise)
    additive = sigma if noise_scale is None else sigma * noise_scale[:, None]
    if config.likelihood is Likelihood.STUDENT_T:
        nu = numpyro.sample("nu", config.nu)
        noise = dist.StudentT(nu, mu, additive)
    elif config.likelihood is Likelihood.LOGNORMAL:
        # A mean below 1e-3 of the average revenue is not a revenue model any
        # more; the floor keeps the log finite while NUTS explores such corners.
        noise = dist.LogNormal(jnp.log(jnp.maximum(mu, 1e-3)) - 0.5 * sigma**2, sigma)
    else:
        noise = dist.Normal(mu, additive)
    with numpyro.plate("geo", n_geo, dim=-2), numpyro.plate("time", n_time, dim=-1):
        numpyro.sample("y", noise, obs=y)


def mmm(inputs: ModelInputs, config: ModelConfig, y: Array | None = None) -> None:
    r"""The marketing mix model on the scaled target.

    .. math::
        y_{gt} \sim \mathcal{N}\Big(b_{gt} + \sum_c \beta_{gc} S_c(A_c(x_{gc})_t)
            + \sum_{i<j} \gamma_{gij} S_{gti} S_{gtj},\; \sigma v_g\Big)

    with :math:`\beta_{gc} = \beta_c`, :math:`\gamma_{gij} = \gamma_{ij}` and
    :math:`v_g = 1` unless ``config.geo_pooling`` is set and there are several
    geos: then geo :math:`g` of size :math:`n_g` has
    :math:`\beta_{gc} = \beta_c m_{gc}`, :math:`m_{gc} = n_g e^{u_{gc} - \bar u_c}`,
    :math:`\gamma_{gij} = \gamma_{ij}\sqrt{m_{gi} m_{gj}}`, a baseline
    proportional to :math:`n_g` and (``noise_by_size``) :math:`v_g = n_g`
    (:func:`mmm_jax.models.geo.geo_term`, sites ``geo/*``). By default a
    synergy :math:`\gamma_{ij}` is a shrunk fraction of
    :math:`\sqrt{\beta_i \beta_j}` (:class:`mmm_jax.models.SynergyPriors`).

    Sites (public API): ``media/*`` (``roas`` or ``coef``, adstock and
    saturation parameters, each ``(channel,)``; ``coef`` is always there; on
    a pooled panel a Weibull ``scale`` is deterministic, sampled as
    ``decay``: :mod:`mmm_jax.models.geo`),
    ``baseline/*``, ``synergy/gamma`` ``(pair,)``, ``sigma``, ``mu``
    ``(geo, time)`` and the observed ``y``; with lift tests ``lift/predicted``
    ``(test,)`` and the observed ``lift/delta_y`` (:func:`mmm_jax.models.lift.lift_term`).

    Args:
      inputs: Arrays from :func:`build_inputs`; with ``inputs.baseline`` the
        baseline is integrated out, with ``inputs.mesh`` the geos are split
        over devices (the parameters are replicated and XLA sums the
        likelihood across shards).
      config: Model configuration.
      y: Scaled target ``(geo, time)``; ``None`` samples the prior predictive.

    Raises:
      ValueError: ``inputs.baseline`` without ``y``, or the dense
        :class:`BaselineDesign` with ``inputs.mesh`` (a panel's
        :class:`GeoBaselineDesign` can be split over geos).
    """
    baseline, geo_mesh = inputs.baseline, inputs.mesh
    if baseline is not None and y is None:
        raise ValueError("the baseline can be integrated out only given y")
    if isinstance(baseline, BaselineDesign) and geo_mesh is not None:
        raise ValueError(
            "the dense baseline design flattens geo and time: integrate the baseline out "
            "with geo_baseline_design to split geos over devices"
        )
    n_geo, n_time, n_channel, _ = inputs.lagged.shape
    lagged = _geo_sharded(inputs.lagged, geo_mesh)
    controls = _geo_sharded(inputs.controls, geo_mesh)
    reference = _geo_sharded(inputs.reference, geo_mesh)
    y = _geo_sharded(y, geo_mesh)
    effects, geo = None, inputs.geo
    if config.geo_pooling is not None and n_geo > 1:
        if geo is None:
            raise ValueError("geo_pooling on a panel needs inputs.geo (build_inputs sets it)")
        geo = geo._replace(
            size=_geo_sharded(geo.size, geo_mesh),
            noise_scale=_geo_sharded(geo.noise_scale, geo_mesh),
            centring=_geo_sharded(geo.centring, geo_mesh),
        )
        effects = scope(geo_term, "geo", divider="/")(
            geo, config.geo_pooling, inputs.fourier.shape[-1] > 0
        )
    multiplier = None if effects is None else effects.media_multiplier
    media = scope(media_term, "media", divider="/")(
        lagged, config, inputs.spend_ratio, reference, multiplier
    )
    total = media.contribution.sum(-1)
    if baseline is None:
        total = total + scope(baseline_term, "baseline", divider="/")(
            n_geo,
            inputs.trend_time,
            inputs.fourier,
            inputs.changepoints,
            controls,
            config.baseline,
            None if effects is None else effects.seasonality_scale,
            None if effects is None else geo.size,
            None if effects is None else geo.control_size,
        )
    gamma = None
    if config.synergy is not None and n_channel > 1:
        with numpyro.handlers.trace() as synergy_sites:
            synergy = scope(synergy_term, "synergy", divider="/")(
                media.saturated, config.synergy, media.params["coef"], multiplier
            )
        total = total + synergy
        gamma = synergy_sites["synergy/gamma"]["value"]
    noise_scale = None if effects is None else geo.noise_scale
    if isinstance(baseline, GeoBaselineDesign):
        sigma = numpyro.sample("sigma", config.noise)
        design = baseline._replace(
            **{
                name: _geo_sharded(getattr(baseline, name), geo_mesh)
                for name in ("height", "noise_scale", "centred", "mean", "prior_mean")
            }
        )
        scope(geo_baseline_marginal_term, "baseline", divider="/")(y - total, sigma, design)
    elif baseline is not None:
        sigma = numpyro.sample("sigma", config.noise)
        scope(baseline_marginal_term, "baseline", divider="/")(y - total, sigma, baseline)
    else:
        _observe(total, y, config, n_geo, n_time, noise_scale)
    if inputs.lift is not None:
        scope(lift_term, "lift", divider="/")(
            inputs.lift,
            lagged,
            media.params,
            media.weights,
            media.saturated,
            config,
            gamma,
            multiplier,
        )


class SiteInfo(NamedTuple):
    """What a trace of the model says about one site, without its value."""

    type: str
    is_observed: bool
    shape: tuple[int, ...]


def model_sites(
    inputs: ModelInputs, config: ModelConfig, y: Array | None = None
) -> dict[str, SiteInfo]:
    """The sites of one (seeded) run of :func:`mmm`, in order, with their shapes.

    The model is traced abstractly (``jax.make_jaxpr`` compiles nothing): run
    eagerly, each of its operations would compile a program of its own in a
    fresh process, hundreds of them, seconds before a fit or a review starts.
    """
    sites: dict[str, SiteInfo] = {}

    def record():  # every operation staged, none executed
        for name, site in trace(seed(mmm, 0)).get_trace(inputs, config, y).items():
            observed = bool(site.get("is_observed", False))
            sites[name] = SiteInfo(site["type"], observed, tuple(np.shape(site["value"])))
        return 0

    jax.make_jaxpr(record)()
    return sites
