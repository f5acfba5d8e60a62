r"""Saturation (diminishing-returns) curves: pure ``jax.numpy``, no NumPyro.

Every curve maps :math:`[0, \infty)` onto :math:`[0, 1)`, is zero at zero and
increasing; the media coefficient multiplies it, so it plays the role of the
ceiling (Michaelis-Menten's :math:`V_{max}`). Value and gradient are finite at
zero spend for every positive parameter, including Hill slopes below one
(whose true derivative at zero is infinite; it is reported as 0 there, so
optimisers should start from positive spend).

=================  ===================================  ======================================
kind               parameters                           curve
=================  ===================================  ======================================
hill               ``half_saturation`` K, ``slope`` s   :math:`x^s / (x^s + K^s)`
michaelis_menten   ``half_saturation`` K                :math:`x / (x + K)`
logistic           ``rate`` λ                           :math:`(1 - e^{-λx}) / (1 + e^{-λx})`
=================  ===================================  ======================================
"""

import enum
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from mmm_jax._typing import Array
from mmm_jax.transforms._util import align


class Saturation(enum.Enum):
    """Saturation curve families."""

    HILL = "hill"
    MICHAELIS_MENTEN = "michaelis_menten"
    LOGISTIC = "logistic"


#: Parameter names of each saturation kind, in a fixed order.
SATURATION_PARAMS: dict[Saturation, tuple[str, ...]] = {
    Saturation.HILL: ("half_saturation", "slope"),
    Saturation.MICHAELIS_MENTEN: ("half_saturation",),
    Saturation.LOGISTIC: ("rate",),
}


def hill(x: Array, half_saturation: Array, slope: Array) -> Array:
    r"""Hill curve :math:`h(x) = x^s / (x^s + K^s)`; :math:`h(K) = 1/2`.

    Computed as :math:`\sigma(s \log(x/K))`, which neither overflows for large
    :math:`x` nor produces NaN gradients at :math:`x = 0` (double ``where``).

    Args:
      x: Non-negative, any shape; broadcasts against the parameters.
      half_saturation: :math:`K > 0`, e.g. shape ``(channel,)`` or ``()``.
      slope: :math:`s > 0`, same shape as ``half_saturation``.

    Returns:
      Values in :math:`[0, 1)`, the broadcast shape.
    """
    x, half_saturation, slope = align(x, half_saturation, slope)
    r = x / half_saturation
    positive = r > 0
    safe = jnp.where(positive, r, 1.0)
    return jnp.where(positive, jax.nn.sigmoid(slope * jnp.log(safe)), 0.0)


def michaelis_menten(x: Array, half_saturation: Array) -> Array:
    r"""Michaelis-Menten curve :math:`m(x) = x / (x + K)`, i.e. ``hill(x, K, 1)``.

    Args:
      x: Non-negative, any shape.
      half_saturation: :math:`K > 0`.

    Returns:
      Values in :math:`[0, 1)`.
    """
    x, half_saturation = align(x, half_saturation)
    return x / (x + half_saturation)


def logistic(x: Array, rate: Array) -> Array:
    r"""Logistic saturation :math:`(1 - e^{-\lambda x}) / (1 + e^{-\lambda x})`.

    Equal to :math:`\tanh(\lambda x / 2)`, but computed from
    :math:`e^{-\lambda x}` as written: XLA's ``tanh`` (and, in float32,
    ``expm1``) is not monotone to the last bit, and a saturation curve that
    dips by one ulp breaks the monotonicity the optimiser and the tests rely
    on. ``exp`` is monotone, and so are the subtraction, addition and
    division after it. Near 0 the result is exact to ``eps`` in absolute
    terms, not relative ones.

    Args:
      x: Non-negative, any shape.
      rate: :math:`\lambda > 0`.

    Returns:
      Values in :math:`[0, 1)`.
    """
    x, rate = align(x, rate)
    e = jnp.exp(-rate * x)
    return (1.0 - e) / (1.0 + e)


def saturate(kind: Saturation, x: Array, params: Mapping[str, Array]) -> Array:
    """Applies the saturation ``kind`` with its parameters (`SATURATION_PARAMS`).

    Args:
      kind: The curve family (static).
      x: Non-negative input, shape ``(..., channel)`` or anything the
        parameters broadcast against.
      params: The kind's parameters, e.g. each of shape ``(channel,)``.

    Returns:
      Same shape as the broadcast of ``x`` and the parameters.

    Raises:
      TypeError: ``kind`` is not a `Saturation`.
      ValueError: A parameter is missing.
    """
    if not isinstance(kind, Saturation):
        raise TypeError(f"kind must be a Saturation, got {kind!r}")
    names = SATURATION_PARAMS[kind]
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"{kind.value} saturation needs parameters {names}, missing {missing}")
    if kind is Saturation.HILL:
        return hill(x, params["half_saturation"], params["slope"])
    if kind is Saturation.MICHAELIS_MENTEN:
        return michaelis_menten(x, params["half_saturation"])
    return logistic(x, params["rate"])


def saturate_channels(
    kinds: tuple[Saturation, ...], x: Array, params: Mapping[str, Array]
) -> Array:
    """Applies a possibly different saturation kind to each channel.

    Args:
      kinds: One `Saturation` per channel (static).
      x: Shape ``(..., channel)``.
      params: Parameter name -> ``(..., channel)`` (or ``(channel,)``); only the
        names some channel's kind uses are needed, and entries of channels of
        another kind are ignored.

    Returns:
      Shape ``(..., channel)``.
    """
    if len(kinds) != x.shape[-1]:
        raise ValueError(f"{len(kinds)} saturation kinds for {x.shape[-1]} channels")
    distinct = list(dict.fromkeys(kinds))
    if len(distinct) == 1:
        return saturate(distinct[0], x, params)
    out = None
    mask = None
    for kind in distinct:
        mask = jnp.asarray([k is kind for k in kinds])
        safe = {n: jnp.where(*align(mask, params[n]), 1.0) for n in SATURATION_PARAMS[kind]}
        value = saturate(kind, x, safe)
        out = value if out is None else jnp.where(*align(mask, value), out)
    return out
