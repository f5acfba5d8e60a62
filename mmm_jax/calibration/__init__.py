"""Lift tests for lift-test calibration: reading, validation and JSON.

The likelihood they add to the model is :mod:`mmm_jax.models.lift`; a ROAS
prior from known experiment results is :func:`mmm_jax.models.roas_prior`.
"""

from mmm_jax.calibration.lift import LiftSpread, LiftTests, load_lift_csv

__all__ = ["LiftSpread", "LiftTests", "load_lift_csv"]
