"""JSON descriptions of NumPyro distributions: a leaf module with no mmm_jax imports.

Priors are saved with a fit (:func:`mmm_jax.models.config_to_dict`) and lift
tests carry a heterogeneity prior (:meth:`mmm_jax.calibration.LiftTests.to_dict`);
both write distributions this way. It lives below both packages so that
:mod:`mmm_jax.calibration` need not import :mod:`mmm_jax.models`, which
imports it. The public names are :func:`mmm_jax.models.config.distribution_to_dict`
and :func:`mmm_jax.models.config.distribution_from_dict`.
"""

from typing import Any

import numpy as np

import numpyro.distributions as dist

__all__ = ["distribution_from_dict", "distribution_to_dict"]

_TRUNCATED = (
    dist.LeftTruncatedDistribution,
    dist.RightTruncatedDistribution,
    dist.TwoSidedTruncatedDistribution,
)


def distribution_to_dict(d: dist.Distribution) -> dict[str, Any]:
    """A JSON-safe description of a standard NumPyro distribution.

    Handles distributions built from their own arguments (``Normal``,
    ``LogNormal``, ``Beta``, ...) and ``.expand(batch_shape)`` of them (the
    usual way to give one prior per channel), and truncations of them
    (``TruncatedNormal(1, 1.5, low=1)`` and ``TruncatedDistribution(base, low,
    high)``). The description is rebuilt and
    compared on the spot, so a prior that would not load back fails here, when
    the fit is saved, not later when it is read.

    Raises:
      TypeError: The distribution cannot be rebuilt from its description.
    """
    if isinstance(d, dist.ExpandedDistribution):
        return {
            "dist": "Expanded",
            "base": distribution_to_dict(d.base_dist),
            "batch_shape": list(d.batch_shape),
        }
    if isinstance(d, _TRUNCATED):
        spec = {"dist": "Truncated", "base": distribution_to_dict(d.base_dist)}
        for bound in ("low", "high"):
            if hasattr(d, bound):
                spec[bound] = np.asarray(getattr(d, bound)).tolist()
        return spec
    name = type(d).__name__
    if getattr(dist, name, None) is not type(d):
        raise TypeError(f"cannot serialise distribution {name}; use a standard numpyro one")
    params = {k: np.asarray(getattr(d, k)).tolist() for k in d.arg_constraints if hasattr(d, k)}
    # Distributions parametrised two ways (e.g. probs/logits) keep only one.
    if name in {"Bernoulli", "Binomial", "Categorical"}:
        params = {k: v for k, v in params.items() if k != "logits"}
    spec = {"dist": name, "params": params}
    try:
        back = distribution_from_dict(spec)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"cannot serialise distribution {name} (it is not rebuilt from its arguments: {err}); "
            "use a standard numpyro distribution, or .expand() one for per-channel priors"
        ) from None
    same = type(back) is type(d) and back.batch_shape == d.batch_shape
    if not same or any(not np.allclose(getattr(back, k), getattr(d, k)) for k in params):
        raise TypeError(f"cannot serialise distribution {name}: it does not rebuild to itself")
    return spec


def distribution_from_dict(spec: dict[str, Any]) -> dist.Distribution:
    """Inverse of :func:`distribution_to_dict`."""
    if spec.get("dist") == "Expanded":
        return distribution_from_dict(spec["base"]).expand(tuple(spec["batch_shape"]))
    if spec.get("dist") == "Truncated":
        bounds = {b: np.asarray(spec[b], dtype=float) for b in ("low", "high") if b in spec}
        return dist.TruncatedDistribution(distribution_from_dict(spec["base"]), **bounds)
    cls = getattr(dist, spec["dist"], None)
    if cls is None or not isinstance(cls, type) or not issubclass(cls, dist.Distribution):
        raise ValueError(f"unknown distribution {spec['dist']!r}")
    return cls(**{k: np.asarray(v, dtype=float) for k, v in spec["params"].items()})
