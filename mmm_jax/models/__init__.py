"""NumPyro model terms (the lift-test likelihood included), their composition, typed configuration and priors."""

from mmm_jax.models.config import (
    Adstock,
    BaselinePriors,
    Effect,
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
    roas_prior,
)
from mmm_jax.models.geo import GeoEffects, geo_term
from mmm_jax.models.lift import LiftInputs
from mmm_jax.models.mmm import (
    ModelInputs,
    TimeFrame,
    baseline_design,
    build_inputs,
    marginal_baseline_blocker,
    mmm,
    time_frame,
)
from mmm_jax.models.terms import BaselineDesign, media_response, synergy_pairs

__all__ = [
    "Adstock",
    "BaselineDesign",
    "BaselinePriors",
    "Effect",
    "GeoEffects",
    "GeoPooling",
    "GeoShapes",
    "Likelihood",
    "LiftInputs",
    "MediaPriors",
    "ModelConfig",
    "ModelInputs",
    "Saturation",
    "SynergyPriors",
    "TimeFrame",
    "baseline_design",
    "build_inputs",
    "check_config",
    "geo_term",
    "marginal_baseline_blocker",
    "config_from_dict",
    "config_to_dict",
    "media_response",
    "mmm",
    "roas_prior",
    "synergy_pairs",
    "time_frame",
]
