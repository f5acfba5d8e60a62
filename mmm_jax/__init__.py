"""mmm_jax: Bayesian Marketing Mix Modeling on JAX."""

from mmm_jax._cache import enable_compilation_cache

__version__ = "0.1.0"

__all__ = ["__version__", "enable_compilation_cache"]
