r"""Lift-test calibration as a NumPyro term: each test's lift predicted by the model.

The model predicts a lift test (:class:`mmm_jax.calibration.LiftTests`)
**counterfactually with its own adstock and saturation**: the extra spend is
spread over the window's periods (in proportion to the channel's historical
spend by default, so a go-dark test switches the channel off, or uniformly:
:class:`mmm_jax.calibration.LiftSpread`), adstocked with the channel's lag
weights, pushed through the channel's saturation on top of the historical
adstocked spend, and summed over the window **and the carry-over tail** after
it (up to the end of the data):

.. math::
    \widehat{\Delta y}_k = s_k \sum_{t \ge t_k^0} \Big[\beta_c
        \big(S_c(a_{gtc} + \Delta a_{kt}) - S_c(a_{gtc})\big)
        + \Delta \text{synergy}_{kt}\Big],
    \qquad
    \Delta a_{kt} = \sum_l w_{cl}\, \frac{\Delta x_{k,t-l}}{s_k},

with :math:`a` the adstocked historical spend of the test's geo :math:`g`,
:math:`w_c` channel :math:`c`'s normalised lag weights, and :math:`s_k\in(0,1]`
the test region's share of the geo's market: a region that is a fraction
:math:`s` of the market has spend :math:`s x` and response :math:`s f(x)`, so
its own bump :math:`\Delta x` moves it like a bump :math:`\Delta x / s` moves
the whole market, and its lift is :math:`s [f(x + \Delta x/s) - f(x)]`.

The observed lift enters as

.. math::
    \Delta y_k / m \sim \mathcal N\Big(\widehat{\Delta y}_k,\;
        \sqrt{\mathrm{se}_k^2 + (\tau\, |\Delta y_k|)^2} \,/\, m\Big)

on the scaled target (:math:`m` the target scale), with :math:`\tau` an
optional *relative* test-to-test heterogeneity (``None``: :math:`\tau = 0`).

Why along the adstocked path: a likelihood on the steady-state curve at the
mean spend (PyMC-Marketing's) ignores adstock, so a short test on a channel
whose carry-over peaks late looks smaller than it is and pushes the channel
the wrong way.

:func:`lift_inputs` turns validated tests into :class:`LiftInputs`, arrays on
the model's scaled units; :func:`lift_term` takes only those arrays and the
media term's parameters.
"""

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from mmm_jax._typing import Array
from mmm_jax.calibration.lift import LiftSpread, LiftTests
from mmm_jax.data.dataset import MMMData
from mmm_jax.models.config import ModelConfig
from mmm_jax.transforms.conv import lag_stack
from mmm_jax.transforms.saturation import saturate_channels

__all__ = ["LiftInputs", "lift_inputs", "lift_term", "predicted_lift"]


class LiftInputs(NamedTuple):
    r"""Lift tests as arrays on the model's scaled units (built by :func:`lift_inputs`).

    Attributes:
      channel: Channel index of each test, ``(test,)`` int.
      geo: Geo index of each test, ``(test,)`` int.
      delta_lagged: Lag stack of the market-equivalent extra scaled spend
        :math:`\Delta x_{kt} / (m_c s_k)`, ``(test, time, lag)``; lag 0 is the
        extra spend itself, zero outside the test window.
      share: Market share of each test region, ``(test,)``.
      observed: Measured lift divided by the target scale, ``(test,)``.
      std_err: Its standard error on the same scale, ``(test,)``.
      heterogeneity: Prior of the relative test-to-test spread, or ``None``.
    """

    channel: Array
    geo: Array
    delta_lagged: Array
    share: Array
    observed: Array
    std_err: Array
    heterogeneity: dist.Distribution | None = None


def lift_inputs(tests: LiftTests, data: MMMData, max_lag: int) -> LiftInputs:
    """Converts validated lift tests into :class:`LiftInputs` for ``data``.

    The spend change is spread over the periods the window touches as
    ``tests.spread`` says (:class:`~mmm_jax.calibration.LiftSpread`).

    Args:
      tests: The lift tests.
      data: The fit data (scaler, dates, channels, geos).
      max_lag: The model's adstock window (static).

    Returns:
      The arrays, float32 (or float64 under x64).

    Raises:
      DataValidationError: A test does not fit the data (see
        :meth:`LiftTests.check_data`).
    """
    tests.check_data(data)
    n_time = data.n_time
    s, e = tests.periods(data)
    chan = np.array([data.channels.index(c) for c in tests.channel], dtype=np.int32)
    geo = np.array([0 if g is None else data.geos.index(g) for g in tests.geo], dtype=np.int32)
    scale = np.asarray(data.scaler.media_scale)[chan] * tests.market_share
    t = np.arange(n_time)
    inside = (t[None, :] >= s[:, None]) & (t[None, :] <= e[:, None])
    weight = inside.astype(float)
    history = np.asarray(data.media)[geo[:, None], t[None, :], chan[:, None]]  # (test, time)
    history = np.where(inside, history, 0.0)
    if tests.spread is LiftSpread.PROPORTIONAL:
        weight = np.where(history.sum(axis=1, keepdims=True) > 0, history, weight)
    weight = weight / weight.sum(axis=1, keepdims=True)
    delta = weight * (tests.spend_delta / scale)[:, None]  # (test, time), market-equivalent
    # A cut never takes more than the market spent: at most, the region goes dark.
    floor = -history / np.asarray(data.scaler.media_scale)[chan][:, None]
    delta = np.where((tests.spend_delta < 0)[:, None], np.maximum(delta, floor), delta)
    dtype = jnp.result_type(float)
    lagged = lag_stack(jnp.asarray(delta[:, :, None], dtype), max_lag)[:, :, 0, :]
    m = data.scaler.target_scale
    return LiftInputs(
        channel=jnp.asarray(chan),
        geo=jnp.asarray(geo),
        delta_lagged=lagged,
        share=jnp.asarray(tests.market_share, dtype),
        observed=jnp.asarray(tests.lift / m, dtype),
        std_err=jnp.asarray(tests.lift_se / m, dtype),
        heterogeneity=tests.heterogeneity,
    )


# --------------------------------------------------------------------------- the term


def predicted_lift(
    lift: LiftInputs,
    lagged: Array,
    params: Mapping[str, Array],
    weights: Array,
    saturated: Array,
    config: ModelConfig,
    gamma: Array | None = None,
    geo_multiplier: Array | None = None,
) -> Array:
    r"""The model's own lift of each test on the scaled target (no sampling).

    .. math::
        \widehat{\Delta y}_k = s_k \sum_t \Big[\beta_c \big(S_c(a_{kt} + \Delta a_{kt})
            - S_c(a_{kt})\big) + \sum_{i<j} \gamma_{ij} (S'_{kti} S'_{ktj} - S_{kti} S_{ktj})\Big]

    Periods without extra adstock add exactly zero, so the sum covers the
    window and its carry-over tail, cut at the end of the data.

    Args:
      lift: The tests' arrays.
      lagged: Lagged scaled historical spend, ``(geo, time, channel, lag)``.
      params: ``coef`` and the saturation parameters, each ``(channel,)``.
      weights: Normalised adstock lag weights, ``(channel, lag)``.
      saturated: The model's saturation values, ``(geo, time, channel)``
        (used for the other channels of a synergy pair).
      config: Model configuration (saturation kinds).
      gamma: Synergy coefficients in :func:`mmm_jax.models.synergy_pairs`
        order, ``(pair,)``, or ``None`` without synergy.
      geo_multiplier: Per-geo multipliers of the coefficients,
        ``(geo, channel)`` (geo pooling), or ``None``: a test in geo
        :math:`g` then predicts through geo :math:`g`'s own coefficient
        :math:`\beta_c m_{gc}` and interactions
        :math:`\gamma_{ij}\sqrt{m_{gi} m_{gj}}`.

    Returns:
      Predicted lift per test, ``(test,)``, on the scaled target.
    """
    n_channel = lagged.shape[-2]
    dtype = lagged.dtype
    c, g = lift.channel, lift.geo
    w = weights[c].astype(dtype)  # (test, lag)
    history = lagged[g, :, c, :]  # (test, time, lag): advanced axes first
    a = jnp.einsum("ktl,kl->kt", history, w, precision=jax.lax.Precision.HIGHEST)
    da = jnp.einsum("ktl,kl->kt", lift.delta_lagged, w, precision=jax.lax.Precision.HIGHEST)
    onehot = jax.nn.one_hot(c, n_channel, dtype=dtype)  # (test, channel)
    kinds = config.saturation_kinds(n_channel)

    def own_curve(x):  # (test, time) -> S_{c_k}(x), (test, time)
        spread = x[:, :, None] * onehot[:, None, :]
        return jnp.sum(saturate_channels(kinds, spread, params) * onehot[:, None, :], axis=-1)

    s_old = own_curve(a)
    s_new = own_curve(a + da)
    coef = jnp.reshape(params["coef"], (1, n_channel))
    if geo_multiplier is not None:
        coef = coef * geo_multiplier[g]  # (test, channel): each test's own geo
    coef = jnp.sum(onehot * coef, axis=-1)  # (test,)
    delta = coef * jnp.sum(s_new - s_old, axis=-1)
    if gamma is not None and n_channel > 1:
        i, j = np.triu_indices(n_channel, k=1)
        others = saturated[g] * (1.0 - onehot[:, None, :])  # (test, time, channel)
        old = others + s_old[:, :, None] * onehot[:, None, :]
        new = others + s_new[:, :, None] * onehot[:, None, :]
        change = new[..., i] * new[..., j] - old[..., i] * old[..., j]  # (test, time, pair)
        gamma = gamma.astype(dtype)
        if geo_multiplier is not None:
            root = jnp.sqrt(geo_multiplier[g][:, i] * geo_multiplier[g][:, j])  # (test, pair)
            delta = delta + jnp.einsum("ktp,kp->k", change, gamma[None, :] * root)
        else:
            delta = delta + jnp.einsum("ktp,p->k", change, gamma)
    return lift.share * delta


def lift_term(
    lift: LiftInputs,
    lagged: Array,
    params: Mapping[str, Array],
    weights: Array,
    saturated: Array,
    config: ModelConfig,
    gamma: Array | None = None,
    geo_multiplier: Array | None = None,
) -> Array:
    r"""Adds each lift test's likelihood to the model.

    Sites (under the ``lift`` scope): ``predicted`` (deterministic, scaled,
    ``(test,)``), ``heterogeneity`` (when a prior is given) and the observed
    ``delta_y`` ``(test,)``.

    .. math::
        \Delta y_k / m \sim \mathcal N\big(\widehat{\Delta y}_k,\;
            \sqrt{\mathrm{se}_k^2 + \tau^2 \Delta y_k^2}/m\big)

    Args:
      lift: The tests' arrays (:func:`lift_inputs`).
      lagged: Lagged scaled historical spend, ``(geo, time, channel, lag)``.
      params: Media parameters, each ``(channel,)`` (``coef`` included).
      weights: Normalised adstock lag weights, ``(channel, lag)``.
      saturated: The model's saturation values, ``(geo, time, channel)``.
      config: Model configuration.
      gamma: Synergy coefficients ``(pair,)`` or ``None``.
      geo_multiplier: Per-geo coefficient multipliers ``(geo, channel)``
        (geo pooling) or ``None``.

    Returns:
      The predicted lift per test, ``(test,)``, on the scaled target.
    """
    pred = numpyro.deterministic(
        "predicted",
        predicted_lift(lift, lagged, params, weights, saturated, config, gamma, geo_multiplier),
    )
    sd = lift.std_err
    if lift.heterogeneity is not None:
        tau = numpyro.sample("heterogeneity", lift.heterogeneity)
        sd = jnp.sqrt(sd**2 + (tau * lift.observed) ** 2)
    with numpyro.plate("test", pred.shape[0]):
        numpyro.sample("delta_y", dist.Normal(pred, sd), obs=lift.observed)
    return pred
