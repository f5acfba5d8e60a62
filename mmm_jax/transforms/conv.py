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
    r"""Causal convolution of every ``(geo, channel)`` series with its channel's kernel.

    Same sum as `causal_convolve` per series, computed as a shift-and-add over
    the (static, short) lag axis: XLA fuses the ``L`` shifted slices into one
    pass, which on a CPU is an order of magnitude faster than a batched
    convolution and needs no ``L``-fold copy of the media.

    Args:
      media: Shape ``(geo, time, channel)``.
      weights: Shape ``(channel, lag)``: one kernel per channel.

    Returns:
      Shape ``(geo, time, channel)``.
    """
    n_time = media.shape[1]
    n_lag = weights.shape[-1]
    padded = jnp.pad(media, ((0, 0), (n_lag - 1, 0), (0, 0)))
    out = jnp.zeros(media.shape, jnp.result_type(media, weights))
    for lag in range(n_lag):
        start = n_lag - 1 - lag
        out = out + padded[:, start : start + n_time, :] * weights[None, None, :, lag]
    return out


def lag_stack(media: Array, max_lag: int) -> Array:
    r"""Lagged copies of the media: ``out[g, t, c, l] = media[g, t - l, c]``, 0 before the start.

    Media are data, so this is computed once before sampling; the adstock of
    every posterior draw is then one small contraction (`adstock_from_lags`)
    instead of a convolution, which is several times faster on a CPU and has a
    cheaper gradient with respect to the weights.

    Args:
      media: Shape ``(geo, time, channel)``.
      max_lag: Window length :math:`L \ge 1` (static).

    Returns:
      Shape ``(geo, time, channel, max_lag)``.
    """
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    n_time = media.shape[1]
    padded = jnp.pad(media, ((0, 0), (max_lag - 1, 0), (0, 0)))
    lags = [padded[:, max_lag - 1 - l : max_lag - 1 - l + n_time, :] for l in range(max_lag)]  # noqa: E741
    return jnp.stack(lags, axis=-1)


def adstock_from_lags(lagged: Array, weights: Array) -> Array:
    r"""Adstock from precomputed lags: :math:`a_{gtc} = \sum_l w_{cl}\, x_{g,t-l,c}`.

    Equals `convolve_media` (``media``, ``weights``) when ``lagged`` is
    `lag_stack` (``media``, ``L``).

    Args:
      lagged: Shape ``(geo, time, channel, lag)`` from `lag_stack`.
      weights: Shape ``(channel, lag)``.

    Returns:
      Shape ``(geo, time, channel)``.
    """
    return jnp.einsum("gtcl,cl->gtc", lagged, weights, precision=jax.lax.Precision.HIGHEST)
