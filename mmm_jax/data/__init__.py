"""Data layer: validation, scaling, the `MMMData` container and synthetic data."""

from mmm_jax.data.dataset import (
    DataValidationError,
    MMMData,
    Scaler,
    from_frame,
    load_csv,
    periods_per_year,
)

__all__ = [
    "DataValidationError",
    "MMMData",
    "Scaler",
    "from_frame",
    "load_csv",
    "periods_per_year",
]
