"""mmm_jax: Bayesian Marketing Mix Modeling on JAX."""

from mmm_jax._version import __version__
from mmm_jax.runtime import enable_compilation_cache

__all__ = ["__version__", "enable_compilation_cache"]
