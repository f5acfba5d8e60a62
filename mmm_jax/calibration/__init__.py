"""Lift-test calibration: geo lift tests as likelihood terms, and ROAS priors."""

from mmm_jax.calibration.lift import (
    LIFT_COLUMNS,
    LiftInputs,
    LiftSpread,
    LiftTests,
    lift_inputs,
    lift_term,
    load_lift_csv,
    predicted_lift,
    roas_prior,
)

__all__ = [
    "LIFT_COLUMNS",
    "LiftInputs",
    "LiftSpread",
    "LiftTests",
    "lift_inputs",
    "lift_term",
    "load_lift_csv",
    "predicted_lift",
    "roas_prior",
]
