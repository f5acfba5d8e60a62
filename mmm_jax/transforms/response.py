r"""Steady-state media response: what constant spend per period earns per period.

With normalised adstock a constant spend :math:`x` has steady-state adstock
:math:`x`, so the steady-state media revenue (on the scaled target) is

.. math::
    r(x) = \sum_c \beta_c S_c(x_c) + \sum_{i<j} \gamma_{ij} S_i(x_i) S_j(x_j)

This one pure function serves the analysis (response curves, saturation
spend) and the budget optimiser, so both read the same curve.
"""

import jax.numpy as jnp

from mmm_jax._typing import Array
from mmm_jax.transforms.saturation import Saturation, saturate_channels


def steady_state_response(
    spend: Array,
    coef: Array,
    kinds: tuple[Saturation, ...],
    saturation_params: dict,
    synergy: Array | None = None,
    pairs: tuple[tuple[int, int], ...] | None = None,
) -> Array:
    r"""Steady-state media revenue :math:`r(x)` on the scaled target.

    Args:
      spend: Scaled spend per period, shape ``(..., channel)``.
      coef: :math:`\beta`, shape ``(..., channel)`` (broadcasts with ``spend``).
      kinds: Saturation kind of each channel (static).
      saturation_params: Name -> ``(..., channel)``.
      synergy: :math:`\gamma`, shape ``(..., pair)``, or ``None``.
      pairs: Channel index pairs ``(i, j)`` matching ``synergy``'s last axis.

    Returns:
      Shape ``(...)``: the broadcast batch shape.
    """
    saturated = saturate_channels(kinds, spend, saturation_params)
    total = jnp.sum(coef * saturated, axis=-1)
    if synergy is not None and pairs:
        i = jnp.asarray([p[0] for p in pairs], dtype=jnp.int32)
        j = jnp.asarray([p[1] for p in pairs], dtype=jnp.int32)
        total = total + jnp.sum(synergy * saturated[..., i] * saturated[..., j], axis=-1)
    return total
