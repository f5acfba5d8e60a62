r"""Differentiable media response surfaces over posterior draws.

The model's media revenue per period, in its scaled units, is

.. math::
    m_t = \sum_c \beta_c S_c(a_{tc}) + \sum_{p=(i,j)} \gamma_p S_i(a_{ti}) S_j(a_{tj}),
    \qquad a_{tc} = \sum_l w_{cl}\, \frac{x_{t-l,c}}{s_c},

with ``coef`` :math:`\beta`, saturation :math:`S_c` (`mmm_jax.transforms.saturate_channels`),
normalised adstock weights :math:`w` and the media scale :math:`s_c`; multiplying by
``target_scale`` gives currency. Everything here works on posterior ARRAYS, never on a
model object, so a fitted model, a hand-written curve or the known true response of a
benchmark are optimised the same way.

A response function maps spend (currency) to media revenue per draw (currency). The
ones built here are `ResponseFunction` objects: callables that also offer
``aligned(spend_by_draw)``, evaluating row ``d`` of a ``(draw, ...)`` spend under draw
``d`` only, which is what the per-draw optimiser uses (one draw's cost per row instead
of all draws').
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import jax.numpy as jnp

from mmm_jax._typing import Array
from mmm_jax.transforms import Saturation, steady_state_response
from mmm_jax.transforms.saturation import SATURATION_PARAMS


class ResponseParams(NamedTuple):
    r"""Posterior draws of the media response, in the model's scaled units.

    Attributes:
      coef: ``(draw, channel)``: scaled revenue at full saturation, :math:`\beta`.
      saturation: One `Saturation` per channel (static).
      saturation_params: Name -> ``(draw, channel)``; NaN where a channel's kind
        does not use that name.
      synergy: ``(draw, pair)`` coefficients :math:`\gamma` for ``pairs``, or None.
      pairs: ``((i, j), ...)`` channel index pairs with ``i < j``, or None.
      media_scale: ``(channel,)`` currency per scaled unit of spend.
      target_scale: ``()`` currency per scaled unit of revenue.
      adstock_weights: ``(draw, channel, lag)`` normalised lag weights (lag 0 acts
        on the same period), needed by `horizon_response` only.
    """

    coef: Array
    saturation: tuple
    saturation_params: dict
    synergy: Array | None
    pairs: tuple | None
    media_scale: Array
    target_scale: Array
    adstock_weights: Array | None = None


class ResponseFunction:
    """A response ``spend -> (draw,)`` revenue in currency, with a draw-aligned variant.

    Hashes by identity, so the optimiser's compiled loop is reused for as long as
    the same object is passed: build it once, optimise many budgets with it.

    Attributes:
      n_draws: Number of posterior draws.
      spend_shape: The decision shape the function takes, e.g. ``(channel,)``.
    """

    def __init__(self, fn: Callable, aligned: Callable, n_draws: int, spend_shape: tuple):
        self._fn = fn
        self._aligned = aligned
        self.n_draws = n_draws
        self.spend_shape = spend_shape

    def __call__(self, spend: Array) -> Array:
        """Media revenue per draw, shape ``(draw,)``, for spend of shape `spend_shape`."""
        return self._fn(spend)

    def aligned(self, spend_by_draw: Array) -> Array:
        """Row ``d`` of ``spend_by_draw`` (shape ``(draw, *spend_shape)``) under draw ``d``."""
        return self._aligned(spend_by_draw)


def _validate(params: ResponseParams) -> tuple[int, int]:
    coef = np.shape(params.coef)
    if len(coef) != 2:
        raise ValueError(f"coef must have shape (draw, channel), got {coef}")
    n_draws, n_channel = coef
    if len(params.saturation) != n_channel:
        raise ValueError(f"{len(params.saturation)} saturation kinds for {n_channel} channels")
    for kind in params.saturation:
        if not isinstance(kind, Saturation):
            raise TypeError(f"saturation entries must be Saturation, got {kind!r}")
        for name in SATURATION_PARAMS[kind]:
            if name not in params.saturation_params:
                raise ValueError(f"{kind.value} saturation needs saturation_params[{name!r}]")
            shape = np.shape(params.saturation_params[name])
            if shape != (n_draws, n_channel):
                raise ValueError(f"saturation_params[{name!r}] has shape {shape}, want {coef}")
    if (params.synergy is None) != (params.pairs is None):
        raise ValueError("synergy and pairs must both be given or both be None")
    if params.pairs is not None:
        if np.shape(params.synergy) != (n_draws, len(params.pairs)):
            raise ValueError(
                f"synergy has shape {np.shape(params.synergy)}, "
                f"want ({n_draws}, {len(params.pairs)})"
            )
        for i, j in params.pairs:
            if not 0 <= i < j < n_channel:
                raise ValueError(f"pair {(i, j)} must satisfy 0 <= i < j < {n_channel}")
    if np.shape(params.media_scale) != (n_channel,):
        raise ValueError(f"media_scale must have shape ({n_channel},)")
    if np.shape(params.target_scale) != ():
        raise ValueError("target_scale must be a scalar")
    if np.any(np.asarray(params.media_scale) <= 0):
        raise ValueError("media_scale must be positive")
    return n_draws, n_channel


def _revenue(params: ResponseParams, adstocked: Array) -> Array:
    """Scaled media revenue per period for adstocked scaled media ``(draw or 1, ..., channel)``.

    The per-period curve is `mmm_jax.transforms.steady_state_response`; parameters
    ``(draw, k)`` are broadcast over the middle (e.g. period) axes.
    """
    extra = adstocked.ndim - 2

    def expand(p):  # (draw, k) -> (draw, 1, ..., 1, k)
        p = jnp.asarray(p)
        return p.reshape(p.shape[:1] + (1,) * extra + p.shape[1:])

    n_draws = params.coef.shape[0]
    adstocked = jnp.broadcast_to(adstocked, (n_draws,) + adstocked.shape[1:])
    return steady_state_response(
        adstocked,
        expand(params.coef),
        tuple(params.saturation),
        {n: expand(v) for n, v in params.saturation_params.items() if v is not None},
        None if params.synergy is None else expand(params.synergy),
        params.pairs,
    )


def steady_response(params: ResponseParams) -> ResponseFunction:
    """Steady-state media revenue per period for a constant spend per period.

    Normalised adstock maps a constant spend :math:`x` to :math:`x`, so only the
    saturation and synergy terms matter.

    Args:
      params: Posterior draws of the response.

    Returns:
      A `ResponseFunction`: spend per period in currency, shape ``(channel,)``
      -> media revenue per period in currency per draw, shape ``(draw,)``.
    """
    n_draws, n_channel = _validate(params)
    media_scale = jnp.asarray(params.media_scale)
    target_scale = jnp.asarray(params.target_scale)

    def aligned(spend_by_draw):  # (draw or 1, channel)
        return _revenue(params, spend_by_draw / media_scale[None, :]) * target_scale

    def fn(spend):
        return aligned(jnp.asarray(spend)[None, :])

    return ResponseFunction(fn, aligned, n_draws, (n_channel,))


def horizon_response(
    params: ResponseParams, *, n_periods: int, history: Array | None = None
) -> ResponseFunction:
    """Media revenue of a flighting plan over ``n_periods``, carry-over included.

    Spend enters after ``history`` (past spend whose carry-over reaches into the
    plan) and is followed by ``lag - 1`` periods of zero spend, so the plan's own
    carry-over out of the window is counted (as pymc-marketing pads ``max_lag``
    zeros). The result is the total media revenue over the plan and its tail,
    which includes the history's carry-over into that window (a per-draw
    constant that does not depend on the plan).

    Args:
      params: Posterior draws with ``adstock_weights`` of shape ``(draw, channel, lag)``.
      n_periods: Length :math:`H` of the plan (static).
      history: Optional past spend in currency, shape ``(past, channel)``; only
        the last ``lag - 1`` periods matter.

    Returns:
      A `ResponseFunction`: spend per (period, channel) in currency, shape
      ``(n_periods, channel)`` -> total media revenue in currency, ``(draw,)``.
    """
    n_draws, n_channel = _validate(params)
    if params.adstock_weights is None:
        raise ValueError("horizon_response needs params.adstock_weights (draw, channel, lag)")
    weights = jnp.asarray(params.adstock_weights)
    if weights.ndim != 3 or weights.shape[:2] != (n_draws, n_channel):
        raise ValueError(
            f"adstock_weights must have shape ({n_draws}, {n_channel}, lag), got {weights.shape}"
        )
    if n_periods < 1:
        raise ValueError(f"n_periods must be >= 1, got {n_periods}")
    n_lag = weights.shape[-1]
    if history is None:
        past = jnp.zeros((n_lag - 1, n_channel), weights.dtype)
    else:
        history = jnp.asarray(history)
        if history.ndim != 2 or history.shape[1] != n_channel:
            raise ValueError(f"history must have shape (past, {n_channel}), got {history.shape}")
        past = history[history.shape[0] - (n_lag - 1) :] if n_lag > 1 else history[:0]
        past = jnp.concatenate([jnp.zeros((n_lag - 1 - past.shape[0], n_channel)), past])
    media_scale = jnp.asarray(params.media_scale)
    target_scale = jnp.asarray(params.target_scale)
    n_out = n_periods + n_lag - 1  # the plan and its carry-over tail
    # lagged[t, l] indexes the padded series at output period t, lag l.
    lag_index = (n_lag - 1) + np.arange(n_out)[:, None] - np.arange(n_lag)[None, :]

    def aligned(spend_by_draw):  # (draw or 1, period, channel)
        rows = spend_by_draw.shape[0]
        tail = jnp.zeros((rows, n_lag - 1, n_channel), spend_by_draw.dtype)
        head = jnp.broadcast_to(past, (rows,) + past.shape).astype(spend_by_draw.dtype)
        series = jnp.concatenate([head, spend_by_draw, tail], axis=1) / media_scale[None, None, :]
        lagged = series[:, lag_index, :]  # (rows, out, lag, channel)
        if rows == 1:  # one plan under every draw
            adstocked = jnp.einsum("tlc,dcl->dtc", lagged[0], weights)
        else:  # plan d under draw d
            adstocked = jnp.einsum("dtlc,dcl->dtc", lagged, weights)
        return jnp.sum(_revenue(params, adstocked), axis=-1) * target_scale

    def fn(spend):
        spend = jnp.asarray(spend)
        if spend.shape != (n_periods, n_channel):
            raise ValueError(f"spend must have shape ({n_periods}, {n_channel}), got {spend.shape}")
        return aligned(spend[None])

    return ResponseFunction(fn, aligned, n_draws, (n_periods, n_channel))
