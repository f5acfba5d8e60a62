"""Causal convolution shared by every finite-window adstock."""

import jax
import jax.numpy as jnp

from mmm_jax._typing import Array


def causal_convolve(x: Array, weights: Array) -> Array:
    r"""Causal convolution of one series with a finite lag kernel.

    .. math::
        a_t = \sum_{l=0}^{L-1} w_l\, x_{t-l}, \qquad x_{t} = 0 \text{ for } t < 0

    Args:
      x: One series, shape ``(time,)``.
      weights: Lag weights ``w_0 .. w_{L-1}``, shape ``(lag,)``; ``w_0`` acts on
        the same period.

    Returns:
      Shape ``(time,)``, dtype of ``x`` promoted with ``weights``.
    """
    n = x.shape[-1]
    full = jnp.convolve(x, weights, mode="full", precision=jax.lax.Precision.HIGHEST)
    return full[:n]


def convolve_media(media: Array, weights: Array) -> Array:
    """Applies `causal_convolve` to every ``(geo, channel)`` series.

    Args:
      media: Shape ``(geo, time, channel)``.
      weights: Shape ``(channel, lag)``: one kernel per channel.

    Returns:
      Shape ``(geo, time, channel)``.
    """
    per_channel = jax.vmap(causal_convolve, in_axes=(-1, 0), out_axes=-1)
    return jax.vmap(per_channel, in_axes=(0, None))(media, weights)
