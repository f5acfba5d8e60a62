"""The NumPyro model: typed configuration and its composition from terms.

The package exports what configures and runs the model: `ModelConfig` with
its priors and options (`roas_prior` builds the ROAS prior from known
values), `mmm` and `build_inputs`. The terms
(`mmm_jax.models.terms`), the geo hierarchy (`mmm_jax.models.geo`) and the
configuration's JSON form (`mmm_jax.models.config.config_to_dict`) are in
their modules.

Options that are one of a few kinds are given by name, ``ModelConfig(
likelihood="student_t")``, ``MediaPriors(effect="roas")``,
``GeoPooling(shapes="per_geo", size="population")``, and held as the enums
of `mmm_jax.models.config` (``Likelihood``, ``Effect``, ``GeoShapes``,
``GeoSize``); `Adstock` and `Saturation`, which name the model's curves, are
exported here too.
"""

from mmm_jax.models.config import (
    Adstock,
    BaselinePriors,
    GeoPooling,
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
    "GeoPooling",
    "MediaPriors",
    "ModelConfig",
    "Saturation",
    "SynergyPriors",
    "build_inputs",
    "mmm",
    "roas_prior",
]
