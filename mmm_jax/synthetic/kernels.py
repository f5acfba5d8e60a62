r"""NumPy reference kernels of the simulator: adstock and saturation, from their formulas.

The simulator's truth is computed with these functions, not with the model's
JAX kernels (:mod:`mmm_jax.transforms`). Each curve is thus written twice,
independently, and the two are checked against each other on random inputs
(``tests/synthetic/test_kernels.py``): a bug in one shows up as a
disagreement, instead of sitting in the truth and in the fit alike, where a
recovery test cannot see it.

They are written for clarity, in float64 NumPy, one channel with scalar
parameters at a time: no tricks for gradients, float32 range or batching,
since nothing differentiates, batches or jits them.

**Adstock.** Lag weights :math:`w_0, \dots, w_{L-1}` for a window of
:math:`L` periods, then the causal convolution
:math:`a_t = \sum_{l=0}^{L-1} w_l\, x_{t-l}` (:math:`x_t = 0` before the
data). Normalised weights sum to one, so a constant spend :math:`x` has
steady-state adstock :math:`x`.

=============  =========================  ==================================================
kind           parameters                 weight of lag :math:`l = 0, 1, \dots, L-1`
=============  =========================  ==================================================
geometric      ``retention`` α ∈ [0, 1)   :math:`\alpha^l`
weibull_cdf    ``shape`` k, ``scale`` λ   :math:`\exp(-(l/\lambda)^k)`
weibull_pdf    ``shape`` k, ``scale`` λ   :math:`\frac{k}{\lambda}(\frac{l+1}{\lambda})^{k-1}
                                          \exp(-(\frac{l+1}{\lambda})^k)`
delayed        ``retention`` α, θ ≥ 0     :math:`\alpha^{(l-\theta)^2}`
=============  =========================  ==================================================

**Saturation**, from :math:`[0, \infty)` onto :math:`[0, 1)`:

=================  ===================================  ======================================
kind               parameters                           curve
=================  ===================================  ======================================
hill               ``half_saturation`` K, ``slope`` s   :math:`x^s / (x^s + K^s)`
michaelis_menten   ``half_saturation`` K                :math:`x / (x + K)`
logistic           ``rate`` λ                           :math:`(1 - e^{-λx}) / (1 + e^{-λx})`
=================  ===================================  ======================================

The kinds and their parameter names are the model's (:class:`mmm_jax.transforms.Adstock`,
:class:`mmm_jax.transforms.Saturation`): a shared vocabulary, not shared code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmm_jax.transforms.adstock import ADSTOCK_PARAMS, Adstock
from mmm_jax.transforms.saturation import SATURATION_PARAMS, Saturation

__all__ = [
    "adstock",
    "adstock_weights",
    "delayed_weights",
    "geometric_weights",
    "hill",
    "logistic",
    "michaelis_menten",
    "saturate",
    "weibull_cdf_weights",
    "weibull_pdf_weights",
]


def _lags(max_lag: int) -> np.ndarray:
    if max_lag < 1:
        raise ValueError(f"max_lag must be >= 1, got {max_lag}")
    return np.arange(max_lag, dtype=np.float64)


def geometric_weights(retention: float, max_lag: int) -> np.ndarray:
    r"""Unnormalised geometric lag weights :math:`w_l = \alpha^l` (:math:`0^0 = 1`).

    Args:
      retention: :math:`\alpha \in [0, 1)`.
      max_lag: Window length :math:`L \ge 1`.

    Returns:
      Shape ``(max_lag,)``.
    """
    return float(retention) ** _lags(max_lag)


def weibull_cdf_weights(shape: float, scale: float, max_lag: int) -> np.ndarray:
    r"""Unnormalised Weibull survival weights :math:`w_l = \exp(-(l/\lambda)^k)`.

    Args:
      shape: :math:`k > 0`.
      scale: :math:`\lambda > 0`, in periods.
      max_lag: Window length :math:`L \ge 1`.

    Returns:
      Shape ``(max_lag,)``; :math:`w_0 = 1`.
    """
    return np.exp(-((_lags(max_lag) / scale) ** shape))


def weibull_pdf_weights(shape: float, scale: float, max_lag: int) -> np.ndarray:
    r"""Unnormalised Weibull density weights at :math:`l + 1`.

    .. math::
        w_l = \frac{k}{\lambda}\Big(\frac{l+1}{\lambda}\Big)^{k-1}
              \exp\Big(-\Big(\frac{l+1}{\lambda}\Big)^k\Big)

    Args:
      shape: :math:`k > 0` (a delayed peak when :math:`k > 1`).
      scale: :math:`\lambda > 0`, in periods.
      max_lag: Window length :math:`L \ge 1`.

    Returns:
      Shape ``(max_lag,)``.
    """
    u = (_lags(max_lag) + 1.0) / scale
    return (shape / scale) * u ** (shape - 1.0) * np.exp(-(u**shape))


def delayed_weights(retention: float, peak_delay: float, max_lag: int) -> np.ndarray:
    r"""Unnormalised delayed-adstock weights :math:`w_l = \alpha^{(l - \theta)^2}`.

    Args:
      retention: :math:`\alpha \in (0, 1)`.
      peak_delay: :math:`\theta \ge 0`, the lag of the peak.
      max_lag: Window length :math:`L \ge 1`.

    Returns:
      Shape ``(max_lag,)``.

    References:
      Jin et al. (2017), Bayesian methods for media mix modeling with
      carryover and shape effects, Eq. (2).
    """
    return float(retention) ** ((_lags(max_lag) - peak_delay) ** 2)


def adstock_weights(
    kind: Adstock, params: Mapping[str, float], max_lag: int, *, normalize: bool = True
) -> np.ndarray:
    r"""Lag weights of one channel's adstock.

    Args:
      kind: The adstock family.
      params: Its parameters (scalars) by name (``mmm_jax.transforms.ADSTOCK_PARAMS``).
      max_lag: Window length :math:`L \ge 1`.
      normalize: Divide by the sum, so the weights sum to one.

    Returns:
      Shape ``(max_lag,)``, float64.

    Raises:
      ValueError: An unknown kind or missing parameter, or normalised
        weights of a kernel with no mass in the window (every weight 0).
    """
    kind = Adstock(kind)
    missing = [n for n in ADSTOCK_PARAMS[kind] if n not in params]
    if missing:
        raise ValueError(f"{kind.value} adstock needs {ADSTOCK_PARAMS[kind]}, missing {missing}")
    p = {n: float(params[n]) for n in ADSTOCK_PARAMS[kind]}
    if kind is Adstock.GEOMETRIC:
        w = geometric_weights(p["retention"], max_lag)
    elif kind is Adstock.WEIBULL_CDF:
        w = weibull_cdf_weights(p["shape"], p["scale"], max_lag)
    elif kind is Adstock.WEIBULL_PDF:
        w = weibull_pdf_weights(p["shape"], p["scale"], max_lag)
    else:
        w = delayed_weights(p["retention"], p["peak_delay"], max_lag)
    if not normalize:
        return w
    total = w.sum()
    if not total > 0:
        raise ValueError(f"{kind.value} adstock {p} has no weight in a window of {max_lag}")
    return w / total


def adstock(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    r"""Causal convolution along the last axis: :math:`a_t = \sum_l w_l\, x_{t-l}`.

    Args:
      x: Spend, shape ``(..., time)``; periods before the first count as 0.
      weights: Lag weights ``w_0 .. w_{L-1}``, shape ``(lag,)``; ``w_0`` acts
        on the same period.

    Returns:
      Shape of ``x``, float64.
    """
    x = np.asarray(x, dtype=np.float64)
    n_time = x.shape[-1]
    out = np.zeros_like(x)
    for lag, w in enumerate(np.asarray(weights, dtype=np.float64)):
        if lag >= n_time:
            break
        out[..., lag:] += w * x[..., : n_time - lag]
    return out


def hill(x: np.ndarray, half_saturation: float, slope: float) -> np.ndarray:
    r"""Hill curve :math:`x^s / (x^s + K^s)`, computed as :math:`1 / (1 + (K/x)^s)`.

    The second form is the same function for :math:`x > 0` and stays finite
    for any :math:`x^s`; it is 0 at :math:`x = 0`.

    Args:
      x: Non-negative, any shape.
      half_saturation: :math:`K > 0`.
      slope: :math:`s > 0`.

    Returns:
      Values in :math:`[0, 1)`, shape of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / (1.0 + (half_saturation / x) ** slope)


def michaelis_menten(x: np.ndarray, half_saturation: float) -> np.ndarray:
    r"""Michaelis-Menten curve :math:`x / (x + K)`.

    Args:
      x: Non-negative, any shape.
      half_saturation: :math:`K > 0`.

    Returns:
      Values in :math:`[0, 1)`, shape of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    return x / (x + half_saturation)


def logistic(x: np.ndarray, rate: float) -> np.ndarray:
    r"""Logistic saturation :math:`(1 - e^{-\lambda x}) / (1 + e^{-\lambda x})`.

    Args:
      x: Non-negative, any shape.
      rate: :math:`\lambda > 0`, per unit of ``x``.

    Returns:
      Values in :math:`[0, 1)`, shape of ``x``.
    """
    e = np.exp(-rate * np.asarray(x, dtype=np.float64))
    return (1.0 - e) / (1.0 + e)


def saturate(kind: Saturation, x: np.ndarray, params: Mapping[str, float]) -> np.ndarray:
    """One channel's saturation curve.

    Args:
      kind: The saturation family.
      x: Non-negative adstocked spend, any shape.
      params: Its parameters (scalars) by name (``mmm_jax.transforms.SATURATION_PARAMS``).

    Returns:
      Shape of ``x``, float64.

    Raises:
      ValueError: An unknown kind or a missing parameter.
    """
    kind = Saturation(kind)
    missing = [n for n in SATURATION_PARAMS[kind] if n not in params]
    if missing:
        raise ValueError(
            f"{kind.value} saturation needs {SATURATION_PARAMS[kind]}, missing {missing}"
        )
    if kind is Saturation.HILL:
        return hill(x, float(params["half_saturation"]), float(params["slope"]))
    if kind is Saturation.MICHAELIS_MENTEN:
        return michaelis_menten(x, float(params["half_saturation"]))
    return logistic(x, float(params["rate"]))
