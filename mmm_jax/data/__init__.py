"""Data layer: validation, scaling, the `MMMData` container and synthetic data."""

from mmm_jax.data.dataset import (
    DataValidationError,
    MMMData,
    Scaler,
    from_frame,
    load_csv,
    periods_per_year,
)
from mmm_jax.data.geo_experiment import (
    GeoExperiment,
    GeoExperimentConfig,
    LiftEstimate,
    did_estimate,
    lift_rows,
    regression_estimate,
    simulate_geo_experiment,
)
from mmm_jax.data.pipeline import (
    BronzeDefects,
    Fix,
    FixKind,
    SilverReport,
    injected_defects,
    make_bronze,
    to_gold,
    to_silver,
)
from mmm_jax.data.simulate import (
    DEFAULT_CHANNELS,
    ChannelSpec,
    Simulation,
    SimulationConfig,
    simulate,
)

__all__ = [
    "GeoExperiment",
    "GeoExperimentConfig",
    "LiftEstimate",
    "did_estimate",
    "lift_rows",
    "regression_estimate",
    "simulate_geo_experiment",
    "BronzeDefects",
    "Fix",
    "FixKind",
    "SilverReport",
    "injected_defects",
    "make_bronze",
    "to_gold",
    "to_silver",
    "DEFAULT_CHANNELS",
    "ChannelSpec",
    "DataValidationError",
    "MMMData",
    "Scaler",
    "Simulation",
    "SimulationConfig",
    "from_frame",
    "load_csv",
    "periods_per_year",
    "simulate",
]
