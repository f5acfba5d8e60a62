"""NumPyro model terms, their composition and typed configuration."""

from mmm_jax.models.config import (
    Adstock,
    BaselinePriors,
    GeoPooling,
    GeoShapes,
    Likelihood,
    MediaPriors,
    ModelConfig,
    Saturation,
    SynergyPriors,
    check_config,
    config_from_dict,
    config_to_dict,
)
from mmm_jax.models.geo import GeoEffects, geo_term
from mmm_jax.models.mmm import ModelInputs, TimeFrame, build_inputs, mmm, time_frame
from mmm_jax.models.terms import media_response, synergy_pairs

__all__ = [
    "Adstock",
    "BaselinePriors",
    "GeoEffects",
    "GeoPooling",
    "GeoShapes",
    "Likelihood",
    "MediaPriors",
    "ModelConfig",
    "ModelInputs",
    "Saturation",
    "SynergyPriors",
    "TimeFrame",
    "build_inputs",
    "check_config",
    "geo_term",
    "config_from_dict",
    "config_to_dict",
    "media_response",
    "mmm",
    "synergy_pairs",
    "time_frame",
]
