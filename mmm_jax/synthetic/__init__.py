"""Synthetic data with known truth: a simulator, geo experiments and a medallion pipeline.

- :mod:`~mmm_jax.synthetic.simulate`: MMM data drawn from a stated
  data-generating process, with the counterfactual truth (contributions,
  ROAS, marginal ROAS) beside it.
- :mod:`~mmm_jax.synthetic.geo_experiment`: a market of regions, a spend
  test on one channel, its true lift and two estimators of it (DiD,
  regression adjustment), written as lift-test rows.
- :mod:`~mmm_jax.synthetic.pipeline`: raw platform exports with the defects
  real ones have (bronze), cleaned with a report of every fix (silver), and
  validated model data (gold).

The simulator computes adstock and saturation with its own NumPy reference
kernels (:mod:`~mmm_jax.synthetic.kernels`), not the model's
:mod:`mmm_jax.transforms`, so a bug in a kernel cannot sit in the truth and in
the fit alike; tests check that the two implementations agree. Nothing in the
model, inference or analysis layers imports this package.
"""

from mmm_jax.synthetic.geo_experiment import (
    GeoExperimentConfig,
    did_estimate,
    lift_rows,
    regression_estimate,
    simulate_geo_experiment,
)
from mmm_jax.synthetic.pipeline import BronzeDefects, FixKind, make_bronze, to_gold, to_silver
from mmm_jax.synthetic.simulate import (
    DEFAULT_CHANNELS,
    ChannelSpec,
    Simulation,
    SimulationConfig,
    simulate,
)

__all__ = [
    "DEFAULT_CHANNELS",
    "BronzeDefects",
    "ChannelSpec",
    "FixKind",
    "GeoExperimentConfig",
    "Simulation",
    "SimulationConfig",
    "did_estimate",
    "lift_rows",
    "make_bronze",
    "regression_estimate",
    "simulate",
    "simulate_geo_experiment",
    "to_gold",
    "to_silver",
]
