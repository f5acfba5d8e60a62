"""mmm_jax: Bayesian Marketing Mix Modeling on JAX."""

__version__ = "0.1.0"
