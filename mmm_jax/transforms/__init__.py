"""Kernels: pure ``jax.numpy`` functions, no NumPyro.

The package exports the media response surface over posterior draws
(`ResponseParams`, `steady_response`, `horizon_response`), which the
analysis, the optimiser and the simulator share. The kernels it is built
from are in their modules: `mmm_jax.transforms.adstock` (geometric, Weibull,
delayed; lag weights), `mmm_jax.transforms.saturation` (Hill,
Michaelis-Menten, logistic) and `mmm_jax.transforms.conv` (causal
convolution and lag stacks for finite-window adstocks).
"""

from mmm_jax.transforms.response import ResponseParams, horizon_response, steady_response

__all__ = ["ResponseParams", "horizon_response", "steady_response"]
