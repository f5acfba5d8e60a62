r"""Adstock (carry-over) kernels: pure ``jax.numpy``, no NumPyro.

Each kernel is written for **one series with scalar parameters** and batched
with ``vmap``. Finite-window kernels are lag weights ``w_0 .. w_{L-1}`` fed to
the causal convolution in :mod:`mmm_jax.transforms.conv`; with
``normalize=True`` (the default) the weights sum to one, so a constant spend
``x`` has steady-state adstock ``x``.

Kinds and their parameters (all scalars, or ``(channel,)`` when batched):

=============  =========================  =============================================
kind           parameters                 weight of lag :math:`l = 0, 1, \dots, L-1`
=============  =========================  =============================================
geometric      ``retention`` α ∈ [0, 1)   :math:`\alpha^l`
weibull_cdf    ``shape`` k, ``scale`` λ   :math:`\exp(-(l/\lambda)^k)` (survival: decay)
weibull_pdf    ``shape`` k, ``scale`` λ   :math:`f_{k,\lambda}(l + 1)` (delayed peak when k > 1)
delayed        ``retention`` α, θ ≥ 0     :math:`\alpha^{(l-\theta)^2}` (Jin et al. 2017)
=============  =========================  =============================================

:func:`weibull_decay` maps a Weibull kernel's :math:`(k, \lambda)` to the
decay :math:`d` its first lags fix, the coordinate the pooled geo panel
samples instead of :math:`\lambda`.
"""

import enum
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp

from mmm_jax._typing import Array
from mmm_jax.transforms._util import align
from mmm_jax.transforms.conv import convolve_media


class Adstock(enum.Enum):
    """Adstock kernel families."""

    GEOMETRIC = "geometric"
    WEIBULL_CDF = "weibull_cdf"
    WEIBULL_PDF = "weibull_pdf"
    DELAYED = "delayed"


#: Parameter names of each adstock kind, in a fixed order.
ADSTOCK_PARAMS: dict[Adstock, tuple[str, ...]] = {
    Adstock.GEOMETRIC: ("retention",),
    Adstock.WEIBULL_CDF: ("shape", "scale"),
    Adstock.WEIBULL_PDF: ("shape", "scale"),
    Adstock.DELAYED: ("retention", "peak_delay"),
}


def _as_float(x: Array) -> Array:
    """Integer media promoted to the default float; float media keep their dtype."""
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x, float))


def geometric_adstock(x: Array, retention: Array, *, normalize: bool = True) -> Array:
    r"""Geometric (infinite-memory) adstock of one series, as a ``lax.scan``.

    .. math::
        a_t = x_t + \alpha\, a_{t-1}, \qquad a_{-1} = 0

    With ``normalize=True`` the output is multiplied by :math:`1 - \alpha`, so a
    constant input :math:`x_t = c` converges to :math:`c`.

    The fastest form on a CPU. On a GPU use
    :func:`geometric_adstock_associative`: one scan step per period costs about
    21 µs there (H200: 2.1 s for 100,000 periods, 14,000 times the associative
    form; ``benchmarks/README.md``).

    Args:
      x: Non-negative media for one channel, shape ``(time,)``.
      retention: :math:`\alpha \in [0, 1)`, shape ``()``.
      normalize: Scale to unit steady-state gain. Static (Python bool).

    Returns:
      Adstocked media, shape ``(time,)``.

    References:
      Jin et al. (2017), Bayesian methods for media mix modeling with carryover
      and shape effects, Eq. (1).
    """
    x = _as_float(x)
    retention = jnp.asarray(retention, x.dtype)

    def step(carry, x_t):
        a_t = x_t + retention * carry
        return a_t, a_t

    _, a = jax.lax.scan(step, jnp.zeros((), x.dtype), x)
    return a * (1.0 - retention) if normalize else a


def geometric_adstock_associative(x: Array, retention: Array, *, normalize: bool = True) -> Array:
    r"""Same recursion as `geometric_adstock`, as a parallel ``associative_scan``.

    The pairs :math:`(\alpha, x_t)` compose as
    :math:`(a_1, b_1) \circ (a_2, b_2) = (a_1 a_2,\; a_2 b_1 + b_2)`, which turns
    the length-:math:`T` recursion into :math:`O(\log T)` parallel depth: the
    form to use for long series on a GPU.

    Args:
      x: Shape ``(time,)``.
      retention: :math:`\alpha \in [0, 1)`, shape ``()``.
      normalize: Scale to unit steady-state gain.

    Returns:
      Shape ``(time,)``.
    """
    x = _as_float(x)
    retention = jnp.asarray(retention, x.dtype)

    def combine(left, right):
        a1, b1 = left
        a2, b2 = right
        return a1 * a2, a2 * b1 + b2

    decay = jnp.broadcast_to(retention, x.shape)
    _, a = jax.lax.associative_scan(combine, (decay, x))
    return a * (1.0 - retention) if normalize else a


def _normalise(w: Array, normalize: bool) -> Array:
    return w / jnp.sum(w, axis=-1, keepdims=True) if normalize else w


def geometric_weights(retention: Array, max_lag: int, *, normalize: bool = True) -> Array:
    r"""Lag weights :math:`w_l = \alpha^l`, :math:`l < L`.

    Args:
      retention: :math:`\alpha \in [0, 1)`, shape ``()``.
      max_lag: Window length :math:`L \ge 1` (static).
      normalize: Make the weights sum to one.

    Returns:
      Shape ``(max_lag,)``.
    """
    lag = jnp.arange(max_lag, dtype=jnp.result_type(retention, float))
    # alpha**0 = 1 even at alpha = 0, and the gradient stays finite there.
    safe = jnp.where(retention > 0, retention, 1.0)
    w = jnp.where(lag == 0, 1.0, jnp.where(retention > 0, safe**lag, 0.0))
    return _normalise(w, normalize)


def weibull_weights(
    shape: Array, scale: Array, max_lag: int, kind: Adstock, *, normalize: bool = True
) -> Array:
    r"""Weibull lag weights, the CDF (decay) or PDF (delayed peak) form.

    .. math::
        w^{\mathrm{cdf}}_l = \exp\!\big(-(l/\lambda)^k\big), \qquad
        w^{\mathrm{pdf}}_l = \frac{k}{\lambda}\Big(\frac{l+1}{\lambda}\Big)^{k-1}
            \exp\!\Big(-\Big(\frac{l+1}{\lambda}\Big)^k\Big)

    The CDF form is the Weibull survival function: it starts at one and decays,
    slowly then fast when :math:`k > 1`. The PDF form is evaluated at
    :math:`l + 1` so the same period always gets weight; with :math:`k > 1` the
    effect peaks after a delay, with :math:`k = 1` it is geometric with
    :math:`\alpha = e^{-1/\lambda}`. The PDF weights are normalised with a
    log-space softmax, which stays finite in float32 for any :math:`k, \lambda`.

    Args:
      shape: :math:`k > 0`, shape ``()``.
      scale: :math:`\lambda > 0` in periods, shape ``()``.
      max_lag: Window length :math:`L \ge 1` (static).
      kind: ``Adstock.WEIBULL_CDF`` or ``Adstock.WEIBULL_PDF`` (static).
      normalize: Make the weights sum to one.

    Returns:
      Shape ``(max_lag,)``.
    """
    dtype = jnp.result_type(shape, scale, float)
    lag = jnp.arange(max_lag, dtype=dtype)
    if kind is Adstock.WEIBULL_CDF:
        safe = jnp.where(lag > 0, lag, 1.0)
        z = jnp.where(lag > 0, (safe / scale) ** shape, 0.0)
        return _normalise(jnp.exp(-z), normalize)
    if kind is Adstock.WEIBULL_PDF:
        u = (lag + 1.0) / scale
        logw = jnp.log(shape) - jnp.log(scale) + (shape - 1.0) * jnp.log(u) - u**shape
        if normalize:
            return jax.nn.softmax(logw, axis=-1)
        return jnp.exp(logw)
    raise ValueError(f"kind must be Adstock.WEIBULL_CDF or Adstock.WEIBULL_PDF, got {kind!r}")


def weibull_decay(shape: Array, scale: Array, kind: Adstock) -> Array:
    r"""The Weibull kernel's decay, the combination of :math:`k` and :math:`\lambda` data pin down.

    .. math::
        d^{\mathrm{cdf}} = -k \log\lambda, \qquad
        d^{\mathrm{pdf}} = \log(2^k - 1) - k \log\lambda

    Read off the unnormalised weights of :func:`weibull_weights`:
    :math:`-\log w^{\mathrm{cdf}}_1 = (1/\lambda)^k = e^{d}` (the log
    cumulative hazard at lag one), and
    :math:`\log(w^{\mathrm{pdf}}_0 / w^{\mathrm{pdf}}_1) = e^{d} - (k - 1)\log 2`
    (the drop from lag zero to lag one, less a term of :math:`k` alone). The
    lags that carry weight fix :math:`d` much better than :math:`\lambda`:
    along a fixed decay, :math:`\lambda` and :math:`k` trade off in a curved
    ridge (a banana) that NUTS crosses in many small steps. For every
    :math:`k > 0` the map is smooth and strictly decreasing in
    :math:`\lambda`, a bijection of :math:`(0, \infty)` onto the real line,
    so it is a change of coordinates (:func:`weibull_scale_from_decay` is its
    inverse).

    Args:
      shape: :math:`k > 0`, any shape.
      scale: :math:`\lambda > 0`, broadcastable with ``shape``.
      kind: ``Adstock.WEIBULL_CDF`` or ``Adstock.WEIBULL_PDF`` (static).

    Returns:
      :math:`d`, the broadcast shape of ``shape`` and ``scale``.
    """
    return weibull_decay_offset(shape, kind) - shape * jnp.log(scale)


def weibull_scale_from_decay(shape: Array, decay: Array, kind: Adstock) -> Array:
    r"""Inverse of :func:`weibull_decay`: :math:`\lambda = \exp\big((c(k) - d)/k\big)`.

    :math:`c(k)` is :func:`weibull_decay_offset`, and
    :math:`|d\lambda / d\,d| = \lambda / k`.

    Args:
      shape: :math:`k > 0`, any shape.
      decay: :math:`d`, real, broadcastable with ``shape``.
      kind: ``Adstock.WEIBULL_CDF`` or ``Adstock.WEIBULL_PDF`` (static).

    Returns:
      :math:`\lambda > 0`, the broadcast shape.
    """
    return jnp.exp((weibull_decay_offset(shape, kind) - decay) / shape)


def weibull_decay_offset(shape: Array, kind: Adstock) -> Array:
    r""":math:`c(k)` of :math:`d = c(k) - k\log\lambda`: :math:`\log(2^k - 1)` (PDF), 0 (CDF).

    Computed as :math:`\log\operatorname{expm1}(k \log 2)`, accurate for small :math:`k`.

    Args:
      shape: :math:`k > 0`, any shape.
      kind: ``Adstock.WEIBULL_CDF`` or ``Adstock.WEIBULL_PDF`` (static).

    Returns:
      Same shape as ``shape``.
    """
    shape = jnp.asarray(shape)
    shape = shape.astype(jnp.result_type(shape, float))
    if kind is Adstock.WEIBULL_CDF:
        return jnp.zeros_like(shape)
    if kind is Adstock.WEIBULL_PDF:
        return jnp.log(jnp.expm1(shape * math.log(2.0)))
    raise ValueError(f"kind must be Adstock.WEIBULL_CDF or Adstock.WEIBULL_PDF, got {kind!r}")


def delayed_weights(
    retention: Array, peak_delay: Array, max_lag: int, *, normalize: bool = True
) -> Array:
    r"""Delayed adstock weights :math:`w_l = \alpha^{(l - \theta)^2}`.

    Args:
      retention: :math:`\alpha \in (0, 1)`, shape ``()``.
      peak_delay: :math:`\theta \ge 0`, the lag of the peak, shape ``()``.
      max_lag: Window length :math:`L \ge 1` (static).
      normalize: Make the weights sum to one.

    Returns:
      Shape ``(max_lag,)``.

    References:
      Jin et al. (2017), Eq. (2).
    """
    lag = jnp.arange(max_lag, dtype=jnp.result_type(retention, peak_delay, float))
    log_alpha = jnp.log(jnp.clip(retention, jnp.finfo(lag.dtype).tiny, None))
    logw = log_alpha * (lag - peak_delay) ** 2
    if normalize:
        return jax.nn.softmax(logw, axis=-1)
    return jnp.exp(logw)


def adstock_weights(
    kind: Adstock, params: Mapping[str, Array], max_lag: int, *, normalize: bool = True
) -> Array:
    r"""Lag weights of any kind, batched over the parameters' shape.

    Args:
      kind: The adstock family (static).
      params: The kind's parameters (`ADSTOCK_PARAMS`), each of shape
        ``(...,)``, e.g. ``(channel,)`` or ``(draw, channel)``; they broadcast.
      max_lag: Window length :math:`L \ge 1` (static).
      normalize: Make each kernel sum to one.

    Returns:
      Shape ``(..., max_lag)``.

    Raises:
      TypeError: ``kind`` is not an `Adstock`.
      ValueError: A parameter is missing or ``max_lag < 1``.
    """
    if not isinstance(kind, Adstock):
        raise TypeError(f"kind must be an Adstock, got {kind!r}")
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    names = ADSTOCK_PARAMS[kind]
    missing = [n for n in names if n not in params]
    if missing:
        raise ValueError(f"{kind.value} adstock needs parameters {names}, missing {missing}")
    args = jnp.broadcast_arrays(*(jnp.asarray(params[n]) for n in names))
    batch = args[0].shape
    flat = [a.reshape(-1) for a in args]
    if kind is Adstock.GEOMETRIC:
        fn = lambda a: geometric_weights(a, max_lag, normalize=normalize)  # noqa: E731
    elif kind is Adstock.DELAYED:
        fn = lambda a, d: delayed_weights(a, d, max_lag, normalize=normalize)  # noqa: E731
    else:
        fn = lambda k, s: weibull_weights(k, s, max_lag, kind, normalize=normalize)  # noqa: E731
    return jax.vmap(fn)(*flat).reshape(*batch, max_lag)


def adstock_media(
    media: Array, kind: Adstock, params: Mapping[str, Array], max_lag: int, *, normalize=True
) -> Array:
    """Adstock of every ``(geo, channel)`` series with per-channel parameters.

    Args:
      media: Non-negative media, shape ``(geo, time, channel)``.
      kind: The adstock family (static).
      params: Parameters of shape ``(channel,)`` or ``()``.
      max_lag: Window length (static).
      normalize: Unit steady-state gain.

    Returns:
      Shape ``(geo, time, channel)``.
    """
    media = _as_float(media)
    n_channel = media.shape[-1]
    weights = adstock_weights(kind, params, max_lag, normalize=normalize)
    weights = jnp.broadcast_to(weights, (n_channel, max_lag))
    return convolve_media(media, weights.astype(media.dtype))


def adstock_weights_channels(
    kinds: tuple[Adstock, ...], params: Mapping[str, Array], max_lag: int, *, normalize=True
) -> Array:
    """Lag weights with a possibly different adstock kind for each channel.

    Args:
      kinds: One `Adstock` per channel (static).
      params: Parameter name -> ``(..., channel)``; only the names some
        channel's kind uses are needed, entries of channels of another kind are
        ignored.
      max_lag: Window length (static).
      normalize: Make each kernel sum to one.

    Returns:
      Shape ``(..., channel, max_lag)``.
    """
    distinct = list(dict.fromkeys(kinds))
    if len(distinct) == 1:
        return adstock_weights(distinct[0], params, max_lag, normalize=normalize)
    out = None
    for kind in distinct:
        mask = jnp.asarray([k is kind for k in kinds])
        safe = {n: jnp.where(*align(mask, params[n]), 0.5) for n in ADSTOCK_PARAMS[kind]}
        w = adstock_weights(kind, safe, max_lag, normalize=normalize)
        out = w if out is None else jnp.where(*align(mask[:, None], w), out)
    return out
