"""Array aliases and the dimension-name convention.

Every array is laid out ``(..., geo, time, channel)``; a national model has
``geo = 1``. Posterior draws, chains and scenarios live in the leading ``...``.
Per-channel parameters are ``(..., channel)``.
"""

from typing import Any

import jax

Array = jax.Array
ArrayLike = Any  # numpy or jax array, or a Python scalar
PRNGKey = jax.Array
