"""Helpers shared by the fitting functions."""

import contextlib
import enum
from collections.abc import Callable, Iterator

import numpy as np

import jax

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


# JAX reports each compilation's stages as duration events (jax.monitoring).
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)


@contextlib.contextmanager
def compile_clock() -> Iterator[Callable[[], float]]:
    """Measures the seconds JAX spends tracing and compiling inside the block.

    Yields a function returning the seconds counted so far, so a fit can
    report its compile time apart from its sampling time. With a warm
    persistent compilation cache (:func:`mmm_jax.enable_compilation_cache`)
    the backend part is a cache read.
    """
    seconds = [0.0]

    def listener(event: str, duration: float, **_) -> None:
        if event in _COMPILE_EVENTS:
            seconds[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield lambda: seconds[0]
    finally:
        unregister = getattr(jax.monitoring, "unregister_event_duration_listener", None)
        if unregister is not None:
            unregister(listener)
