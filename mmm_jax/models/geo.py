r"""Geo-hierarchical term: per-geo media multipliers and seasonality amplitudes.

The term samples, under the ``geo`` scope (site names ``geo/*`` are public API):

============================  ==================  ======================================
site                          shape               meaning
============================  ==================  ======================================
``geo/media_spread``          ``(channel,)``      :math:`\tau_c`, log-scale sd across geos
``geo/media_z``               ``(geo, channel)``  standard-normal offsets (non-centred)
``geo/media_multiplier``      ``(geo, channel)``  :math:`\exp(\tau_c z_{gc} - \tau_c^2/2)`
``geo/seasonality_spread``    ``()``              :math:`\omega`
``geo/seasonality_z``         ``(geo,)``          standard-normal offsets
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


def geo_term(n_geo: int, n_channel: int, pooling: GeoPooling, seasonal: bool) -> GeoEffects:
    r"""Samples the per-geo media multipliers and seasonality amplitudes (non-centred).

    .. math::
        m_{gc} = \exp(\tau_c z_{gc} - \tau_c^2 / 2), \qquad
        s_g = \exp(\omega z_g - \omega^2 / 2), \qquad z \sim N(0, 1)

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
            z = numpyro.sample("media_z", dist.Normal(0.0, 1.0))
    multiplier = numpyro.deterministic(
        "media_multiplier", _lognormal_mean_one(jnp.reshape(tau, (1, n_channel)), z)
    )
    scale = None
    if seasonal and pooling.seasonality_spread is not None:
        omega = numpyro.sample("seasonality_spread", pooling.seasonality_spread)
        with numpyro.plate("geo_season", n_geo):
            zs = numpyro.sample("seasonality_z", dist.Normal(0.0, 1.0))
        scale = numpyro.deterministic("seasonality_scale", _lognormal_mean_one(omega, zs))
    return GeoEffects(multiplier, scale)
