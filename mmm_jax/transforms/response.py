r"""The media response surface: what spend earns, per posterior draw, in currency.

One surface serves the analysis (response curves, saturation spend), the
budget optimiser, the what-if simulator and the demo's true response. Its
parameters are arrays laid out ``(draw, geo, channel)``; a national model is
one geo and a known truth is one draw, so nothing branches on rank.

The model's media revenue per period in geo :math:`g`, in scaled units, is

.. math::
    m_{gt} = \sum_c \beta_{gc} S_c(a_{gtc})
      + \sum_{p=(i,j)} \gamma_{gp} S_i(a_{gti}) S_j(a_{gtj}),
    \qquad a_{gtc} = \sum_l w_{gcl}\, \frac{x_{g,t-l,c}}{s_c},

with ``coef`` :math:`\beta`, saturation :math:`S_c`
(`mmm_jax.transforms.saturation.saturate_channels`), normalised adstock weights
:math:`w` and the media scale :math:`s_c`; multiplying by ``target_scale``
gives currency. Normalised adstock maps a constant spend :math:`x` to
:math:`x`, so in a steady state (constant spend per period) only saturation and
synergy matter: that is `steady_state_response`, the kernel every function
here evaluates.

A response function maps spend in currency to media revenue per draw in
currency. The ones built here are `ResponseFunction` objects: callables that
also offer ``aligned(spend_by_draw)``, evaluating row ``d`` of a
``(draw, ...)`` spend under draw ``d`` only (what the per-draw optimiser and
the saturation-spend bisection need: one draw's cost per row instead of all
draws'). Spend is decided per ``(geo, channel)``, or per channel and split over
geos in a fixed mix (``geo_mix``), each geo on its own curve.
"""

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

import jax.numpy as jnp

from mmm_jax._typing import Array
from mmm_jax.transforms.saturation import SATURATION_PARAMS, Saturation, saturate_channels

__all__ = [
    "ResponseFunction",
    "ResponseParams",
    "horizon_response",
    "steady_response",
    "steady_state_response",
]


def steady_state_response(
    spend: Array,
    coef: Array,
    kinds: tuple[Saturation, ...],
    saturation_params: dict,
    synergy: Array | None = None,
    pairs: tuple[tuple[int, int], ...] | None = None,
) -> Array:
    r"""Steady-state media revenue on the scaled target, for scaled spend per period.

    .. math::
        r(x) = \sum_c \beta_c S_c(x_c) + \sum_{(i,j)} \gamma_{ij} S_i(x_i) S_j(x_j)

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


class ResponseParams(NamedTuple):
    r"""Draws of the media response, in the model's scaled units.

    Attributes:
      coef: ``(draw, geo, channel)``: scaled revenue at full saturation, :math:`\beta`.
      saturation: One `Saturation` per channel (static).
      saturation_params: Name -> ``(draw, geo, channel)``; entries of channels whose
        kind does not use the name are ignored.
      synergy: ``(draw, geo, pair)`` coefficients :math:`\gamma` for ``pairs``, or None.
      pairs: ``((i, j), ...)`` channel index pairs with ``i < j``, or None.
      media_scale: ``(channel,)`` currency per scaled unit of spend.
      target_scale: ``()`` currency per scaled unit of revenue.
      adstock_weights: ``(draw, geo, channel, lag)`` normalised lag weights (lag 0
        acts on the same period), needed by `horizon_response` only.
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


def _validate(params: ResponseParams) -> tuple[int, int, int]:
    coef = np.shape(params.coef)
    if len(coef) != 3:
        raise ValueError(f"coef must have shape (draw, geo, channel), got {coef}")
    n_draws, n_geo, n_channel = coef
    if len(params.saturation) != n_channel:
        raise ValueError(f"{len(params.saturation)} saturation kinds for {n_channel} channels")
    for kind in params.saturation:
        if not isinstance(kind, Saturation):
            raise TypeError(f"saturation entries must be Saturation, got {kind!r}")
        for name in SATURATION_PARAMS[kind]:
            if name not in params.saturation_params:
                raise ValueError(f"{kind.value} saturation needs saturation_params[{name!r}]")
            shape = np.shape(params.saturation_params[name])
            if shape != coef:
                raise ValueError(f"saturation_params[{name!r}] has shape {shape}, want {coef}")
    if (params.synergy is None) != (params.pairs is None):
        raise ValueError("synergy and pairs must both be given or both be None")
    if params.pairs is not None:
        want = (n_draws, n_geo, len(params.pairs))
        if np.shape(params.synergy) != want:
            raise ValueError(f"synergy has shape {np.shape(params.synergy)}, want {want}")
        for i, j in params.pairs:
            if not 0 <= i < j < n_channel:
                raise ValueError(f"pair {(i, j)} must satisfy 0 <= i < j < {n_channel}")
    if np.shape(params.media_scale) != (n_channel,):
        raise ValueError(f"media_scale must have shape ({n_channel},)")
    if np.shape(params.target_scale) != ():
        raise ValueError("target_scale must be a scalar")
    if np.any(np.asarray(params.media_scale) <= 0):
        raise ValueError("media_scale must be positive")
    return n_draws, n_geo, n_channel


class _Flat(NamedTuple):
    """`ResponseParams` with geo and channel merged: ``geo * channel`` independent curves."""

    coef: Array  # (draw, geo * channel)
    saturation: tuple
    saturation_params: dict
    synergy: Array | None  # (draw, geo * pair)
    pairs: tuple | None  # pairs within each geo, offset by geo * channel
    media_scale: Array  # (geo * channel,)
    target_scale: Array


def _flatten(params: ResponseParams) -> _Flat:
    """Lays each geo's curves side by side, so the kernel evaluates every geo in one call."""
    n_draws, n_geo, n_channel = np.shape(params.coef)
    cells = n_geo * n_channel
    pairs, synergy = None, None
    if params.pairs is not None:
        pairs = tuple(
            (g * n_channel + i, g * n_channel + j) for g in range(n_geo) for i, j in params.pairs
        )
        synergy = np.reshape(params.synergy, (n_draws, n_geo * len(params.pairs)))
    return _Flat(
        coef=np.reshape(params.coef, (n_draws, cells)),
        saturation=tuple(params.saturation) * n_geo,
        saturation_params={
            k: np.reshape(v, (n_draws, cells)) for k, v in params.saturation_params.items()
        },
        synergy=synergy,
        pairs=pairs,
        media_scale=np.tile(np.asarray(params.media_scale), n_geo),
        target_scale=np.asarray(params.target_scale),
    )


def _revenue(flat: _Flat, adstocked: Array) -> Array:
    """Scaled media revenue for adstocked scaled media ``(draw or 1, ..., geo * channel)``.

    Parameters ``(draw, k)`` are broadcast over the middle (e.g. period) axes.
    """
    extra = adstocked.ndim - 2

    def expand(p):  # (draw, k) -> (draw, 1, ..., 1, k)
        p = jnp.asarray(p)
        return p.reshape(p.shape[:1] + (1,) * extra + p.shape[1:])

    n_draws = flat.coef.shape[0]
    adstocked = jnp.broadcast_to(adstocked, (n_draws,) + adstocked.shape[1:])
    return steady_state_response(
        adstocked,
        expand(flat.coef),
        flat.saturation,
        {n: expand(v) for n, v in flat.saturation_params.items() if v is not None},
        None if flat.synergy is None else expand(flat.synergy),
        flat.pairs,
    )


def _mix(geo_mix, n_geo: int, n_channel: int) -> Array:
    mix = np.asarray(geo_mix, dtype=float)
    if mix.shape != (n_geo, n_channel):
        raise ValueError(f"geo_mix must have shape ({n_geo}, {n_channel}), got {mix.shape}")
    if not np.all(np.isfinite(mix)) or np.any(mix < 0):
        raise ValueError("geo_mix must be finite and non-negative")
    if not np.allclose(mix.sum(axis=0), 1.0, rtol=1e-6):
        raise ValueError(f"each channel's geo_mix must sum to one, got {mix.sum(axis=0)}")
    return jnp.asarray(mix)


def _split(mix: Array, x: Array) -> Array:
    """Spend per channel ``(..., channel)`` -> per geo ``(..., geo, channel)`` in ``mix``."""
    x = jnp.expand_dims(x, -2)
    return jnp.reshape(mix, (1,) * (x.ndim - 2) + mix.shape) * x


def steady_response(params: ResponseParams, *, geo_mix: Array | None = None) -> ResponseFunction:
    r"""Steady-state media revenue per period for a constant spend per period.

    .. math::
        R_d(x) = \sum_g r_{dg}(x_g), \qquad x_g = m_g \odot x \text{ with } ``geo_mix``,

    :math:`r_{dg}` being `steady_state_response` under draw :math:`d`'s
    parameters of geo :math:`g`, in currency.

    Args:
      params: Draws of the response, ``(draw, geo, channel)``.
      geo_mix: ``(geo, channel)`` share of each channel's spend going to each
        geo (each column sums to one). With it the decision is spend per
        channel; without, spend per ``(geo, channel)``.

    Returns:
      A `ResponseFunction`: spend per period in currency, shape
      ``(geo, channel)`` (or ``(channel,)`` with ``geo_mix``) -> media revenue
      per period in currency per draw, shape ``(draw,)``.
    """
    n_draws, n_geo, n_channel = _validate(params)
    flat = _flatten(params)
    cells = n_geo * n_channel
    media_scale = jnp.asarray(flat.media_scale)
    target_scale = jnp.asarray(flat.target_scale)

    def aligned_cells(spend_by_draw):  # (draw or 1, geo * channel)
        return _revenue(flat, spend_by_draw / media_scale[None, :]) * target_scale

    def by_geo(spend):  # (geo, channel)
        return aligned_cells(jnp.reshape(spend, (cells,))[None, :])

    def by_geo_aligned(spend_by_draw):  # (draw or 1, geo, channel)
        return aligned_cells(jnp.reshape(spend_by_draw, (spend_by_draw.shape[0], cells)))

    if geo_mix is None:
        return ResponseFunction(
            lambda x: by_geo(jnp.asarray(x)), by_geo_aligned, n_draws, (n_geo, n_channel)
        )
    mix = _mix(geo_mix, n_geo, n_channel)
    return ResponseFunction(
        lambda x: by_geo(_split(mix, jnp.asarray(x))),
        lambda xd: by_geo_aligned(_split(mix, jnp.asarray(xd))),
        n_draws,
        (n_channel,),
    )


def horizon_response(
    params: ResponseParams,
    *,
    n_periods: int,
    history: Array | None = None,
    geo_mix: Array | None = None,
) -> ResponseFunction:
    """Media revenue of a flighting plan over ``n_periods``, carry-over included.

    Spend enters after ``history`` (past spend whose carry-over reaches into the
    plan) and is followed by ``lag - 1`` periods of zero spend, so the plan's own
    carry-over out of the window is counted (as pymc-marketing pads ``max_lag``
    zeros). The result is the total media revenue over the plan and its tail,
    which includes the history's carry-over into that window (a per-draw
    constant that does not depend on the plan).

    Args:
      params: Draws with ``adstock_weights`` of shape ``(draw, geo, channel, lag)``.
      n_periods: Length :math:`H` of the plan (static).
      history: Optional past spend in currency, shape ``(past, geo, channel)``
        (``(past, channel)`` with ``geo_mix``); only the last ``lag - 1``
        periods matter.
      geo_mix: ``(geo, channel)`` share of each channel's spend per geo, as in
        `steady_response`.

    Returns:
      A `ResponseFunction`: spend per (period, geo, channel) in currency, shape
      ``(n_periods, geo, channel)`` (``(n_periods, channel)`` with ``geo_mix``)
      -> total media revenue in currency, ``(draw,)``.
    """
    n_draws, n_geo, n_channel = _validate(params)
    if params.adstock_weights is None:
        raise ValueError("horizon_response needs params.adstock_weights (draw, geo, channel, lag)")
    weights = jnp.asarray(params.adstock_weights)
    if weights.ndim != 4 or weights.shape[:3] != (n_draws, n_geo, n_channel):
        raise ValueError(
            f"adstock_weights must have shape ({n_draws}, {n_geo}, {n_channel}, lag), "
            f"got {weights.shape}"
        )
    if n_periods < 1:
        raise ValueError(f"n_periods must be >= 1, got {n_periods}")
    mix = None if geo_mix is None else _mix(geo_mix, n_geo, n_channel)
    flat = _flatten(params)
    cells = n_geo * n_channel
    n_lag = weights.shape[-1]
    weights = jnp.reshape(weights, (n_draws, cells, n_lag))
    decision = (n_geo, n_channel) if mix is None else (n_channel,)
    if history is None:
        past = jnp.zeros((n_lag - 1, cells), weights.dtype)
    else:
        history = jnp.asarray(history)
        if history.ndim != 1 + len(decision) or history.shape[1:] != decision:
            raise ValueError(f"history must have shape (past, *{decision}), got {history.shape}")
        if mix is not None:
            history = _split(mix, history)
        history = jnp.reshape(history, (history.shape[0], cells))
        past = history[history.shape[0] - (n_lag - 1) :] if n_lag > 1 else history[:0]
        past = jnp.concatenate([jnp.zeros((n_lag - 1 - past.shape[0], cells)), past])
    media_scale = jnp.asarray(flat.media_scale)
    target_scale = jnp.asarray(flat.target_scale)
    n_out = n_periods + n_lag - 1  # the plan and its carry-over tail
    # lagged[t, l] indexes the padded series at output period t, lag l.
    lag_index = (n_lag - 1) + np.arange(n_out)[:, None] - np.arange(n_lag)[None, :]

    def cells_of(spend_by_draw):  # (rows, period, *decision) -> (rows, period, cells)
        if mix is not None:
            spend_by_draw = _split(mix, spend_by_draw)
        return jnp.reshape(spend_by_draw, spend_by_draw.shape[:2] + (cells,))

    def aligned(spend_by_draw):  # (draw or 1, period, *decision)
        spend_by_draw = cells_of(jnp.asarray(spend_by_draw))
        rows = spend_by_draw.shape[0]
        tail = jnp.zeros((rows, n_lag - 1, cells), spend_by_draw.dtype)
        head = jnp.broadcast_to(past, (rows,) + past.shape).astype(spend_by_draw.dtype)
        series = jnp.concatenate([head, spend_by_draw, tail], axis=1) / media_scale[None, None, :]
        lagged = series[:, lag_index, :]  # (rows, out, lag, cells)
        if rows == 1:  # one plan under every draw
            adstocked = jnp.einsum("tlc,dcl->dtc", lagged[0], weights)
        else:  # plan d under draw d
            adstocked = jnp.einsum("dtlc,dcl->dtc", lagged, weights)
        return jnp.sum(_revenue(flat, adstocked), axis=-1) * target_scale

    def fn(spend):
        spend = jnp.asarray(spend)
        if spend.shape != (n_periods, *decision):
            raise ValueError(
                f"spend must have shape {(n_periods, *decision)}, got {tuple(spend.shape)}"
            )
        return aligned(spend[None])

    return ResponseFunction(fn, aligned, n_draws, (n_periods, *decision))
