"""Kernels: adstock, saturation and the media response surface, pure ``jax.numpy``, no NumPyro."""

from mmm_jax.transforms._conv import adstock_from_lags, causal_convolve, convolve_media, lag_stack
from mmm_jax.transforms.adstock import (
    ADSTOCK_PARAMS,
    Adstock,
    adstock_media,
    adstock_weights,
    adstock_weights_channels,
    delayed_weights,
    geometric_adstock,
    geometric_adstock_associative,
    geometric_weights,
    weibull_weights,
)
from mmm_jax.transforms.response import (
    ResponseFunction,
    ResponseParams,
    horizon_response,
    steady_response,
    steady_state_response,
)
from mmm_jax.transforms.saturation import (
    SATURATION_PARAMS,
    Saturation,
    hill,
    logistic,
    michaelis_menten,
    saturate,
    saturate_channels,
)

__all__ = [
    "ADSTOCK_PARAMS",
    "SATURATION_PARAMS",
    "Adstock",
    "ResponseFunction",
    "ResponseParams",
    "Saturation",
    "adstock_from_lags",
    "adstock_media",
    "adstock_weights",
    "adstock_weights_channels",
    "causal_convolve",
    "convolve_media",
    "delayed_weights",
    "geometric_adstock",
    "geometric_adstock_associative",
    "geometric_weights",
    "hill",
    "lag_stack",
    "logistic",
    "michaelis_menten",
    "saturate",
    "saturate_channels",
    "horizon_response",
    "steady_response",
    "steady_state_response",
    "weibull_weights",
]
