"""Explicit broadcasting (the tests run with ``jax_numpy_rank_promotion="raise"``)."""

import jax.numpy as jnp

from mmm_jax._typing import Array


def left_pad(a, ndim: int) -> Array:
    """Prepends singleton axes so ``a`` has ``ndim`` dimensions (``(c,)`` -> ``(1, 1, c)``)."""
    a = jnp.asarray(a)
    if a.ndim >= ndim:
        return a
    return jnp.reshape(a, (1,) * (ndim - a.ndim) + a.shape)


def align(*arrays) -> list[Array]:
    """Left-pads every array to the largest rank among them (NumPy's rule, made explicit)."""
    arrays = [jnp.asarray(a) for a in arrays]
    ndim = max(a.ndim for a in arrays)
    return [left_pad(a, ndim) for a in arrays]
