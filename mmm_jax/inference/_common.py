"""Helpers shared by the fitting functions."""

import enum

import numpy as np

# Sites that depend on time are recomputed from the parameters, never stored.
TIME_SITES = frozenset({"mu", "y"})


class ChainMethod(enum.Enum):
    """How NUTS runs several chains."""

    VECTORIZED = "vectorized"
    PARALLEL = "parallel"
    SEQUENTIAL = "sequential"


def keep_parameter_sites(samples: dict) -> dict[str, np.ndarray]:
    """Drops time-indexed sites (``mu``, ``y``) and converts to numpy."""
    return {k: np.asarray(v) for k, v in samples.items() if k not in TIME_SITES}
