"""mmm_jax: Bayesian Marketing Mix Modeling on JAX.

The names an analyst needs are re-exported here (the rest lives in its
subpackage: `mmm_jax.transforms` kernels and the response surface,
`mmm_jax.models`, `mmm_jax.calibration`, `mmm_jax.inference`,
`mmm_jax.diagnostics`, `mmm_jax.optimize`, `mmm_jax.workflow`)::

    import mmm_jax

    data = mmm_jax.load_csv("data.csv", controls=("organic_traffic",))
    fit = mmm_jax.fit(data, mmm_jax.ModelConfig(), method="nuts", seed=0)
    analysis = mmm_jax.analyse(fit)        # contributions, ROAS, curves, ...
    plan = mmm_jax.allocate(analysis)      # alloc.json: the budget's best split
    mmm_jax.simulate(analysis, plan)       # what-if for any allocation

Importing ``mmm_jax`` is cheap and changes nothing: each name loads its
subpackage (and JAX) when first used, and no JAX setting is ever changed by
the library (`configure_devices` and `enable_compilation_cache` are for the
caller to run, before JAX starts).
"""

from importlib import import_module
from typing import TYPE_CHECKING

from mmm_jax._version import __version__

#: Top-level name -> the module that defines (and exports) it.
_EXPORTS: dict[str, str] = {
    "Analysis": "mmm_jax.diagnostics",
    "Fit": "mmm_jax.inference",
    "LiftTests": "mmm_jax.calibration",
    "MMMData": "mmm_jax.data",
    "MediaPriors": "mmm_jax.models",
    "ModelConfig": "mmm_jax.models",
    "RunFolder": "mmm_jax.run_folder",
    "allocate": "mmm_jax.workflow",
    "analyse": "mmm_jax.diagnostics",
    "configure_devices": "mmm_jax.runtime",
    "enable_compilation_cache": "mmm_jax.runtime",
    "fit": "mmm_jax.workflow",
    "fit_nuts": "mmm_jax.inference",
    "fit_svi": "mmm_jax.inference",
    "load_csv": "mmm_jax.data",
    "load_lift_csv": "mmm_jax.calibration",
    "simulate": "mmm_jax.workflow",
}

__all__ = [
    "Analysis",
    "Fit",
    "LiftTests",
    "MMMData",
    "MediaPriors",
    "ModelConfig",
    "RunFolder",
    "__version__",
    "allocate",
    "analyse",
    "configure_devices",
    "enable_compilation_cache",
    "fit",
    "fit_nuts",
    "fit_svi",
    "load_csv",
    "load_lift_csv",
    "simulate",
]


def __getattr__(name: str):
    """Loads a re-exported name from its subpackage on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmm_jax' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the re-exported ones included before they are loaded."""
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from mmm_jax.calibration import LiftTests, load_lift_csv
    from mmm_jax.data import MMMData, load_csv
    from mmm_jax.diagnostics import Analysis, analyse
    from mmm_jax.inference import Fit, fit_nuts, fit_svi
    from mmm_jax.models import MediaPriors, ModelConfig
    from mmm_jax.run_folder import RunFolder
    from mmm_jax.runtime import configure_devices, enable_compilation_cache
    from mmm_jax.workflow import allocate, fit, simulate
