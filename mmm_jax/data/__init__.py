"""Data layer: validation, scaling and the `MMMData` container.

Synthetic data with known truth (the simulator, geo experiments, the
bronze/silver/gold pipeline) are :mod:`mmm_jax.synthetic`.
"""

from mmm_jax.data.dataset import (
    DataValidationError,
    MMMData,
    from_frame,
    load_csv,
)

__all__ = [
    "DataValidationError",
    "MMMData",
    "from_frame",
    "load_csv",
]
