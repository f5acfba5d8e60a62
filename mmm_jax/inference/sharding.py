r"""Geos sharded across devices with :mod:`jax.sharding`.

The model's data are indexed by geo first, ``(geo, time, channel, lag)``, and
geos are conditionally independent given the parameters, so a fit splits them
over a one-axis device mesh named ``geo``:

* **sharded** over ``geo``: lagged spend, controls, the target and every
  ``(geo, ...)`` array computed from them (adstock, saturation, ``mu`` and the
  per-geo log-likelihood terms);
* **replicated**: the parameters (a few dozen global ones plus the per-geo
  offsets, small next to the data), the time features and the sampler state.

The integrated-out baseline of a panel (:class:`mmm_jax.models.GeoBaselineDesign`)
is split the same way: its per-geo arrays (column means, centred columns,
prior means, sizes) follow the geos, and what is left after summing over geos
(a ``k x k`` system, ``k`` the number of shared baseline coefficients) is
computed replicated on every device.

The joint log density is a sum over geos, so each device adds up its own geos
and XLA inserts one all-reduce for the total (and one for the gradient of the
replicated parameters). Nothing in the model changes: :func:`mmm_jax.models.mmm`
only constrains the placement of its geo-indexed arrays when its inputs
carry the mesh (``ModelInputs.mesh``, set by :func:`shard_inputs`).

See ``docs/distributed.md`` for spanning several hosts.
"""

from __future__ import annotations

import jax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from mmm_jax.models.mmm import ModelInputs
from mmm_jax.models.terms import GeoBaselineDesign

__all__ = ["GEO_AXIS", "geo_mesh", "shard_inputs"]

#: Name of the mesh axis geos are split over.
GEO_AXIS = "geo"


def geo_mesh(n_geo: int, devices: list | None = None) -> Mesh:
    r"""A one-axis mesh named ``geo`` over as many devices as split ``n_geo`` evenly.

    Uses the largest number of devices :math:`d \le` ``len(devices)`` that
    divides ``n_geo``, so every device holds ``n_geo / d`` whole geos (no
    padding, which would add fake geos to the likelihood).

    Args:
      n_geo: Number of geos, >= 1.
      devices: Devices to use; default ``jax.devices()``.

    Returns:
      A :class:`jax.sharding.Mesh` with axis ``geo``.

    Raises:
      ValueError: ``n_geo < 1`` or no devices.
    """
    if n_geo < 1:
        raise ValueError(f"n_geo must be >= 1, got {n_geo}")
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("geo_mesh needs at least one device")
    n = max(d for d in range(1, len(devices) + 1) if n_geo % d == 0)
    return Mesh(devices[:n], (GEO_AXIS,))


def _put(x, mesh: Mesh, sharded: bool):
    if x is None:
        return None
    spec = PartitionSpec(GEO_AXIS, *([None] * (x.ndim - 1))) if sharded else PartitionSpec()
    return jax.device_put(x, NamedSharding(mesh, spec))


def shard_inputs(inputs: ModelInputs, y, mesh: Mesh) -> tuple[ModelInputs, jax.Array | None]:
    """Places the model's arrays on ``mesh``: geo-indexed ones split, the rest replicated.

    Args:
      inputs: Arrays from :func:`mmm_jax.models.build_inputs`.
      y: Scaled target ``(geo, time)`` or ``None``.
      mesh: A mesh with a ``geo`` axis (:func:`geo_mesh`).

    Returns:
      ``(inputs, y)`` as committed, sharded :class:`jax.Array` s, with
      ``inputs.mesh`` set to ``mesh`` so the model keeps its geo-indexed
      intermediates split as well.

    Raises:
      ValueError: The number of geos is not a multiple of the mesh's ``geo`` size,
        lift tests are present (their arrays are not geo-indexed), or the
        baseline is integrated out in the dense form of a national series
        (:class:`mmm_jax.models.BaselineDesign` flattens geo and time; a
        panel's :class:`mmm_jax.models.GeoBaselineDesign` is split).
    """
    n_geo = inputs.lagged.shape[0]
    size = mesh.shape[GEO_AXIS]
    if n_geo % size:
        raise ValueError(f"{n_geo} geos cannot be split evenly over {size} devices")
    if inputs.lift is not None:
        raise ValueError("geo sharding does not support lift tests yet; fit them unsharded")
    if inputs.baseline is not None and not isinstance(inputs.baseline, GeoBaselineDesign):
        raise ValueError(
            "geo sharding does not support the dense integrated-out baseline of a national "
            "series; sample it (marginalize_baseline=False)"
        )
    geo_fields = {"lagged", "controls", "reference"}
    placed = {
        name: _put(value, mesh, name in geo_fields)
        for name, value in inputs._asdict().items()
        if name not in {"lift", "baseline", "mesh", "geo"}
    }
    baseline = inputs.baseline
    if baseline is not None:
        split = {"height", "noise_scale", "centred", "mean", "prior_mean"}
        baseline = baseline._replace(
            **{
                name: _put(getattr(baseline, name), mesh, name in split)
                for name in baseline._fields
                if name not in {"sites", "draw"}
            }
        )
    geo = inputs.geo
    if geo is not None:  # per geo, except control_size (per control)
        geo = geo._replace(
            **{name: _put(getattr(geo, name), mesh, name != "control_size") for name in geo._fields}
        )
    return ModelInputs(**placed, baseline=baseline, mesh=mesh, geo=geo), _put(y, mesh, True)
