"""The NumPyro model: typed configuration and its composition from terms.

The package exports what configures and runs the model: `ModelConfig` with
its priors and options (`roas_prior` builds the ROAS prior from known
values), `mmm` and `build_inputs`. The terms
(`mmm_jax.models.terms`), the geo hierarchy (`mmm_jax.models.geo`) and the
configuration's JSON form (`mmm_jax.models.config.config_to_dict`) are in
their modules.
"""

from mmm_jax.models.config import (
    Adstock,
    BaselinePriors,
    Effect,
    GeoPooling,
    GeoShapes,
    GeoSize,
    Likelihood,
    MediaPriors,
    ModelConfig,
    Saturation,
    SynergyPriors,
    roas_prior,
)
from mmm_jax.models.mmm import build_inputs, mmm

__all__ = [
    "Adstock",
    "BaselinePriors",
    "Effect",
    "GeoPooling",
    "GeoShapes",
    "GeoSize",
    "Likelihood",
    "MediaPriors",
    "ModelConfig",
    "Saturation",
    "SynergyPriors",
    "build_inputs",
    "mmm",
    "roas_prior",
]
