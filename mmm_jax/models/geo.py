r"""Geo-hierarchical term: per-geo media multipliers and seasonality amplitudes.

The term samples, under the ``geo`` scope (site names ``geo/*`` are public API):

============================  ==================  ======================================
site                          shape               meaning
============================  ==================  ======================================
``geo/media_spread``          ``(channel,)``      :math:`\tau_c`, log-scale sd across geos
``geo/media_z``               ``(geo, channel)``  standard-normal offsets (non-centred)
``geo/media_log_multiplier``  ``(geo, channel)``  :math:`\log m_{gc}` (centred, instead of ``media_z``)
``geo/media_multiplier``      ``(geo, channel)``  :math:`\exp(\tau_c z_{gc} - \tau_c^2/2)`
``geo/seasonality_spread``    ``()``              :math:`\omega`
``geo/seasonality_z``         ``(geo,)``          standard-normal offsets (non-centred)
``geo/seasonality_log_scale`` ``(geo,)``          :math:`\log s_g` (centred, instead)
``geo/seasonality_scale``     ``(geo,)``          :math:`\exp(\omega z_g - \omega^2/2)`
============================  ==================  ======================================

The multipliers have mean one under the prior, so the national coefficient
(and the ROAS prior that fixes it) keeps its meaning: the effect of an average
geo. With per-geo shapes (:attr:`GeoShapes.PER_GEO`) the media term samples
its adstock and saturation parameters with shape ``(geo, channel)`` instead.
"""

from typing import NamedTuple

import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from mmm_jax._typing import Array
from mmm_jax.models.config import GeoPooling

__all__ = ["GeoEffects", "geo_term"]


class GeoEffects(NamedTuple):
    """What the geo term returns.

    Attributes:
      media_multiplier: Per-geo multiplier of each channel's coefficient,
        shape ``(geo, channel)``, mean one under the prior.
      seasonality_scale: Per-geo amplitude of the seasonal pattern, shape
        ``(geo,)``, or ``None`` when every geo shares one amplitude.
    """

    media_multiplier: Array
    seasonality_scale: Array | None


def _lognormal_mean_one(spread: Array, z: Array) -> Array:
    return jnp.exp(spread * z - 0.5 * spread**2)


def _sample_multiplier(name: str, spread: Array, shape: tuple, centred: bool) -> Array:
    """Samples ``exp(spread * z - spread**2 / 2)``, ``z ~ N(0, 1)``, of ``shape``, centred or not."""
    if centred:
        spread = jnp.broadcast_to(spread, shape)  # the full batch shape: no plate broadcasting
        log_m = numpyro.sample(
            f"{name}_log_{'multiplier' if name == 'media' else 'scale'}",
            dist.Normal(-0.5 * spread**2, spread),
        )
        return jnp.exp(log_m)
    z = numpyro.sample(f"{name}_z", dist.Normal(0.0, 1.0))
    return _lognormal_mean_one(spread, z)


def geo_term(n_geo: int, n_channel: int, pooling: GeoPooling, seasonal: bool) -> GeoEffects:
    r"""Samples the per-geo media multipliers and seasonality amplitudes.

    .. math::
        m_{gc} = \exp(\tau_c z_{gc} - \tau_c^2 / 2), \qquad
        s_g = \exp(\omega z_g - \omega^2 / 2), \qquad z \sim N(0, 1)

    Non-centred (sites ``*_z``) by default; with ``pooling.centred`` the logs
    of :math:`m` and :math:`s` are the sampled sites instead.

    Args:
      n_geo: Number of geos :math:`G`.
      n_channel: Number of channels :math:`C`.
      pooling: Priors of the spreads.
      seasonal: Whether the model has seasonality features at all.

    Returns:
      A :class:`GeoEffects`.
    """
    with numpyro.plate("channel", n_channel, dim=-1):
        tau = numpyro.sample("media_spread", pooling.media_spread)
        with numpyro.plate("geo", n_geo, dim=-2):
            m = _sample_multiplier(
                "media", jnp.reshape(tau, (1, n_channel)), (n_geo, n_channel), pooling.centred
            )
    multiplier = numpyro.deterministic("media_multiplier", m)
    scale = None
    if seasonal and pooling.seasonality_spread is not None:
        omega = numpyro.sample("seasonality_spread", pooling.seasonality_spread)
        with numpyro.plate("geo_season", n_geo):
            s = _sample_multiplier("seasonality", omega, (n_geo,), pooling.centred)
        scale = numpyro.deterministic("seasonality_scale", s)
    return GeoEffects(multiplier, scale)
