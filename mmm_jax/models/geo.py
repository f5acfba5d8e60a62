r"""Geo panels: each geo's size, how its offsets are centred, and the pooled geo term.

:func:`geo_inputs` computes, once and on the host, what the geo model needs
from the data (:class:`GeoInputs`): each geo's size :math:`n_g`, its noise
scale, how each control relates to size, and the partial-centring weight of
each (geo, channel) offset. :func:`geo_term` samples, under the ``geo`` scope
(site names ``geo/*`` are public API):

============================  ==================  ======================================
site                          shape               meaning
============================  ==================  ======================================
``geo/media_spread``          ``(channel,)``      :math:`\tau_c`, log-scale sd across geos
``geo/media_offset``          ``(geo, channel)``  :math:`v_{gc} \sim N(0, \tau_c^{w_{gc}})`
``geo/media_multiplier``      ``(geo, channel)``  :math:`n_g e^{u_{gc} - \bar u_c}`, :math:`u = \tau^{1-w} v`
``geo/seasonality_spread``    ``()``              :math:`\omega` (only with ``seasonality_spread``)
``geo/seasonality_z``         ``(geo,)``          standard-normal offsets (non-centred)
``geo/seasonality_log_scale`` ``(geo,)``          :math:`\log s_g` (centred, instead)
``geo/seasonality_scale``     ``(geo,)``          :math:`\exp(\omega z_g - \omega^2/2)`
============================  ==================  ======================================

Geo :math:`g`'s coefficient of channel :math:`c` is ``media/coef`` times
``geo/media_multiplier``: the national coefficient (that of a geo of size
one), the geo's size, and its own deviation.

On a pooled panel the media term also changes one coordinate
(:func:`mmm_jax.models.terms.sample_scale_as_decay`): a Weibull adstock's
scale is sampled as its decay, not as :math:`\lambda` itself,

============================  ==================  ======================================
site                          shape               meaning
============================  ==================  ======================================
``media/decay``               ``(channel,)``      :math:`d = c(k) - k\log\lambda`, sampled, the scale prior pushed through
``media/scale``               ``(channel,)``      :math:`\lambda`, now deterministic (what every consumer reads)
============================  ==================  ======================================

(``(geo, channel)`` with :attr:`~mmm_jax.models.config.GeoShapes.PER_GEO`;
:math:`c(k) = \log(2^k - 1)` for the PDF form, 0 for the CDF form). The
prior of :math:`\lambda` is unchanged; the data pin :math:`d` and leave
:math:`(k, \lambda)` on a curved ridge, which NUTS crossed in many small
steps. National models keep ``media/scale`` as the sampled site.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from mmm_jax._typing import Array
from mmm_jax.models.config import GeoPooling, GeoSize, ModelConfig

__all__ = ["GeoEffects", "GeoInputs", "describe_geo_inputs", "geo_inputs", "geo_term"]

#: Retention of the normalised geometric adstock used to gauge, before
#: fitting, how much each geo's data say about each channel (a prior guess:
#: the default Weibull prior's median is close to it).
_GAUGE_RETENTION = 0.5


class GeoInputs(NamedTuple):
    r"""What the geo model takes from the data, computed once by :func:`geo_inputs`.

    Attributes:
      size: :math:`n_g`, mean one over geos, ``(geo,)``.
      noise_scale: :math:`v_g`, the geo's noise scale relative to ``sigma``:
        :math:`n_g` with ``noise_by_size``, else one; ``(geo,)``.
      control_size: Per control, 1 where its effect scales with geo size
        (an intensive control: a price, a temperature, a holiday flag; its
        column is multiplied by :math:`n_g`), 0 where the control carries
        size itself (an extensive one: traffic, visits), ``(control,)``.
      centring: Partial-centring weight :math:`w_{gc} \in [0, 1]` of each
        offset, ``(geo, channel)``.
    """

    size: Array
    noise_scale: Array
    control_size: Array
    centring: Array


class GeoEffects(NamedTuple):
    r"""What the geo term returns.

    Attributes:
      media_multiplier: Per-geo multiplier of each channel's coefficient,
        :math:`n_g e^{u_{gc} - \bar u_c}`, shape ``(geo, channel)``.
      seasonality_scale: Per-geo amplitude of the seasonal pattern, shape
        ``(geo,)``, or ``None`` when every geo shares one relative amplitude.
    """

    media_multiplier: Array
    seasonality_scale: Array | None


# --------------------------------------------------------------------------- host side


def _size(data, pooling: GeoPooling) -> tuple[np.ndarray, str]:
    """Geo sizes (mean one) and which quantity set them."""
    kind = pooling.size
    if kind is GeoSize.AUTO:
        kind = GeoSize.POPULATION if data.population is not None else GeoSize.REVENUE
    if kind is GeoSize.EQUAL:
        return np.ones(data.n_geo), "equal"
    if kind is GeoSize.POPULATION:
        if data.population is None:
            raise ValueError(
                "GeoPooling(size=GeoSize.POPULATION) needs data with a population "
                "(from_frame(..., population=COLUMN), mmm-jax fit --population COLUMN)"
            )
        raw = np.asarray(data.population, dtype=float)
        return raw / raw.mean(), "population"
    raw = np.asarray(data.target, dtype=float).mean(axis=1)
    if not np.all(raw > 0):
        bad = [data.geos[g] for g in np.flatnonzero(~(raw > 0))][:5]
        raise ValueError(
            f"geo sizes from mean revenue need every geo's mean revenue > 0; it is not for {bad}: "
            "give a population (size=GeoSize.POPULATION) or GeoSize.EQUAL"
        )
    return raw / raw.mean(), "revenue"


def _control_size(controls: np.ndarray, size: np.ndarray) -> np.ndarray:
    """1 for controls whose geo means do not follow geo size (their effect must), else 0."""
    n_control = controls.shape[-1]
    out = np.ones(n_control)
    if controls.shape[0] < 2 or np.ptp(np.log(size)) == 0:
        return out
    level = np.abs(controls).mean(axis=1)  # (geo, control)
    for j in range(n_control):
        if np.all(level[:, j] > 0):
            log_level = np.log(level[:, j])
            # Extensive when dividing by size makes the geos more alike.
            if np.std(log_level - np.log(size)) < np.std(log_level):
                out[j] = 0.0
    return out


def _gauge_adstock(x: np.ndarray, n_lag: int) -> np.ndarray:
    """Normalised geometric adstock of ``(geo, time, channel)`` spend, along time."""
    w = _GAUGE_RETENTION ** np.arange(n_lag)
    w = w / w.sum()
    out = np.zeros_like(x)
    for lag, wl in enumerate(w):
        out[:, lag:] += wl * x[:, : x.shape[1] - lag]
    return out


def offset_precision(
    y: np.ndarray,
    media: np.ndarray,
    baseline: np.ndarray,
    size: np.ndarray,
    n_lag: int,
) -> np.ndarray:
    r"""Relative standard error :math:`s_{gc}` of each geo's own estimate of each channel's effect.

    Per geo, least squares of the revenue on its baseline columns and the
    channels' adstocked spend (normalised geometric adstock, retention 0.5:
    a guess, the fit learns the real one) gives an estimate :math:`b_{gc}`
    and its standard error :math:`\mathrm{se}_{gc}`; the reference effect of
    channel :math:`c` is :math:`n_g` times the median over geos of
    :math:`b_{gc} / n_g`. :math:`s_{gc} = \mathrm{se}_{gc} / \text{reference}`
    approximates the posterior sd of the geo's log-deviation from its own
    data; it is infinite where the data cannot tell (fewer periods than
    columns, or a channel whose median effect is not positive).

    Args:
      y: Scaled revenue, ``(geo, time)``.
      media: Scaled spend, ``(geo, time, channel)``.
      baseline: Baseline columns per geo (intercept included),
        ``(geo, time, k)``.
      size: Geo sizes, ``(geo,)``.
      n_lag: Adstock window in periods.

    Returns:
      ``(geo, channel)``, positive or ``inf``.
    """
    n_geo, n_time, n_channel = media.shape
    x = np.concatenate([baseline, _gauge_adstock(media, n_lag)], axis=-1)
    n_col = x.shape[-1]
    if n_time <= n_col + 1:
        return np.full((n_geo, n_channel), np.inf)
    se = np.full((n_geo, n_channel), np.inf)
    b = np.zeros((n_geo, n_channel))
    for g in range(n_geo):
        coef, _, rank, sv = np.linalg.lstsq(x[g], y[g], rcond=None)
        if rank < n_col:
            continue
        resid = y[g] - x[g] @ coef
        s2 = resid @ resid / (n_time - n_col)
        inv = np.linalg.pinv(x[g].T @ x[g])
        se[g] = np.sqrt(np.maximum(np.diag(inv)[-n_channel:], 0.0) * s2)
        b[g] = coef[-n_channel:]
    finite = np.isfinite(se).all(axis=1)
    if not finite.any():
        return se
    ref = np.median(b[finite] / size[finite, None], axis=0)  # (channel,)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(ref[None, :] > 0, se / (size[:, None] * ref[None, :]), np.inf)
    return np.where(np.isfinite(out) & (out > 0), out, np.inf)


def _spread_guess(prior: dist.Distribution, n_channel: int) -> np.ndarray:
    """The prior mean of each channel's spread (0.3 where it is not finite)."""
    try:
        mean = np.broadcast_to(np.asarray(prior.mean, dtype=float), (n_channel,))
    except (NotImplementedError, ValueError):
        mean = np.full(n_channel, np.nan)
    return np.where(np.isfinite(mean) & (mean > 0), mean, 0.3)


def geo_inputs(data, config: ModelConfig, baseline: np.ndarray | None = None) -> GeoInputs:
    r"""Computes :class:`GeoInputs` for a geo panel fitted with ``config.geo_pooling``.

    * **size** :math:`n_g` (:class:`~mmm_jax.models.config.GeoSize`): population or
      mean revenue, divided by its mean over geos;
    * **noise scale** :math:`n_g` with ``noise_by_size``, else 1;
    * **controls**: a control whose geo means, divided by size, vary less
      across geos than the geo means themselves (traffic, visits) carries
      size already and keeps its column; any other (prices, weather,
      holidays) has its column multiplied by :math:`n_g`, so its effect
      scales with the geo as everything else does;
    * **centring** :math:`w_{gc} = \hat\tau_c^2 / (\hat\tau_c^2 + s_{gc}^2)`
      with :math:`s_{gc}` from :func:`offset_precision` and :math:`\hat\tau_c`
      the mean of ``media_spread`` (1 or 0 everywhere when ``centred`` says
      so).

    Args:
      data: The fit data (:class:`~mmm_jax.data.MMMData`).
      config: Model configuration with ``geo_pooling`` set.
      baseline: The baseline columns per geo for the centring weights,
        ``(geo, time, k)``; ``None`` uses an intercept and a trend.

    Returns:
      Float64 numpy arrays (the model casts them).
    """
    pooling = config.geo_pooling
    if pooling is None:
        raise ValueError("geo_inputs needs config.geo_pooling")
    size, _ = _size(data, pooling)
    noise = size if pooling.noise_by_size else np.ones_like(size)
    control_size = _control_size(np.asarray(data.controls), size)
    n_geo, n_time, n_channel = data.media.shape
    if pooling.centred is not None:
        centring = np.full((n_geo, n_channel), 1.0 if pooling.centred else 0.0)
    else:
        if baseline is None:
            t = np.linspace(0.0, 1.0, n_time)
            baseline = np.broadcast_to(np.stack([np.ones(n_time), t], -1), (n_geo, n_time, 2))
        s = offset_precision(
            np.asarray(data.target_scaled),
            np.asarray(data.media_scaled),
            np.asarray(baseline, dtype=float),
            size,
            config.lag_window(data.periods_per_year),
        )
        tau = _spread_guess(pooling.media_spread, n_channel)[None, :]
        centring = np.where(
            np.isfinite(s), tau**2 / (tau**2 + np.where(np.isfinite(s), s, 1) ** 2), 0
        )
    return GeoInputs(size=size, noise_scale=noise, control_size=control_size, centring=centring)


def describe_geo_inputs(data, config: ModelConfig, geo: GeoInputs) -> dict:
    """A JSON-safe account of the geo scaling a fit used (for ``summary.json`` and ``Fit.info``).

    Returns:
      ``{"size_from", "why", "size", "noise_by_size", "controls_scaled_by_size",
      "centring": {"mean", "min", "max", "share_centred"},
      "log_size_vs_log_revenue_corr"}``; ``size`` per geo name.
    """
    _, source = _size(data, config.geo_pooling)
    why = {
        "population": "the data give each geo's population",
        "revenue": "no population column: each geo's mean revenue over the fit window",
        "equal": "GeoPooling(size=GeoSize.EQUAL): every geo size one",
    }[source]
    size = np.asarray(geo.size, dtype=float)
    revenue = np.asarray(data.target, dtype=float).mean(axis=1)
    corr = None
    if data.n_geo > 2 and np.ptp(np.log(size)) > 0 and np.all(revenue > 0):
        corr = float(np.corrcoef(np.log(size), np.log(revenue))[0, 1])
    w = np.asarray(geo.centring, dtype=float)
    return {
        "size_from": source,
        "why": why,
        "size": dict(zip(data.geos, map(float, size))),
        "noise_by_size": bool(config.geo_pooling.noise_by_size),
        "controls_scaled_by_size": [
            n for n, f in zip(data.control_names, np.asarray(geo.control_size)) if f > 0
        ],
        "centring": {
            "mean": float(w.mean()),
            "min": float(w.min()),
            "max": float(w.max()),
            "share_centred": float(np.mean(w >= 0.5)),
        },
        "log_size_vs_log_revenue_corr": corr,
    }


# --------------------------------------------------------------------------- the term


def _sample_multiplier(name: str, spread: Array, shape: tuple, centred: bool) -> Array:
    """Samples ``exp(spread * z - spread**2 / 2)``, ``z ~ N(0, 1)``, of ``shape``, centred or not."""
    if centred:
        spread = jnp.broadcast_to(spread, shape)  # the full batch shape: no plate broadcasting
        log_m = numpyro.sample(f"{name}_log_scale", dist.Normal(-0.5 * spread**2, spread))
        return jnp.exp(log_m)
    z = numpyro.sample(f"{name}_z", dist.Normal(0.0, 1.0))
    return jnp.exp(spread * z - 0.5 * spread**2)


def geo_term(geo: GeoInputs, pooling: GeoPooling, seasonal: bool) -> GeoEffects:
    r"""Samples the per-geo media deviations (and seasonality amplitudes, when asked for).

    .. math::
        v_{gc} \sim N(0, \tau_c^{w_{gc}}), \quad u_{gc} = \tau_c^{1 - w_{gc}} v_{gc}
        \;(\Rightarrow u_{gc} \sim N(0, \tau_c)), \quad
        m_{gc} = n_g\, e^{u_{gc} - \bar u_c}

    Args:
      geo: Sizes and centring weights (:func:`geo_inputs`), ``(geo, ...)``.
      pooling: Priors of the spreads.
      seasonal: Whether the model has seasonality features at all.

    Returns:
      A :class:`GeoEffects`.
    """
    n_geo, n_channel = geo.centring.shape
    w = geo.centring
    with numpyro.plate("channel", n_channel, dim=-1):
        tau = numpyro.sample("media_spread", pooling.media_spread)
        tau = jnp.broadcast_to(jnp.reshape(tau, (1, -1)), (1, n_channel))
        with numpyro.plate("geo", n_geo, dim=-2):
            # The scale has the full batch shape (geo, channel); NumPyro's
            # Normal.sample with a sample_shape (init_to_median draws 15) then
            # multiplies (15, geo, channel) by (geo, channel), which callers
            # running with jax_numpy_rank_promotion="raise" would refuse.
            with jax.numpy_rank_promotion("allow"):
                v = numpyro.sample("media_offset", dist.Normal(0.0, tau**w))
    u = tau ** (1.0 - w) * v
    deviation = u - jnp.mean(u, axis=0, keepdims=True)
    multiplier = numpyro.deterministic(
        "media_multiplier", jnp.reshape(geo.size, (n_geo, 1)) * jnp.exp(deviation)
    )
    scale = None
    if seasonal and pooling.seasonality_spread is not None:
        omega = numpyro.sample("seasonality_spread", pooling.seasonality_spread)
        with numpyro.plate("geo_season", n_geo):
            s = _sample_multiplier("seasonality", omega, (n_geo,), pooling.centred is True)
        scale = numpyro.deterministic("seasonality_scale", s)
    return GeoEffects(multiplier, scale)
