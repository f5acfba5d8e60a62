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


def geo_info(data, config, inputs) -> dict:
    """``Fit.info`` entries recording a geo panel's sizes and centring, or ``{}``.

    ``geo`` is the account of :func:`mmm_jax.models.describe_geo_inputs`
    (what set the sizes and why); ``geo_inputs`` the arrays themselves, which
    :meth:`mmm_jax.inference.Fit.inputs` passes back to the model so that
    every prediction uses exactly what the fit used.
    """
    from mmm_jax.models.geo import describe_geo_inputs

    if inputs.geo is None:
        return {}
    arrays = {k: np.asarray(v, dtype=float).tolist() for k, v in inputs.geo._asdict().items()}
    return {"geo": describe_geo_inputs(data, config, inputs.geo), "geo_inputs": arrays}


def geo_from_info(info: dict):
    """The :class:`mmm_jax.models.GeoInputs` recorded by :func:`geo_info`, or ``None``."""
    from mmm_jax.models.geo import GeoInputs

    arrays = info.get("geo_inputs")
    if arrays is None:
        return None
    return GeoInputs(**{k: np.asarray(arrays[k], dtype=float) for k in GeoInputs._fields})
