"""The organic baseline integrated out of the likelihood: when, and its draws afterwards.

Shared by :func:`mmm_jax.inference.fit_nuts` and :func:`mmm_jax.inference.fit_svi`,
which sample (or approximate) the other parameters only and then draw the
baseline from its exact Gaussian conditional, one draw per posterior draw.
"""

from __future__ import annotations

import numpy as np

import jax
from numpyro.infer import Predictive

from mmm_jax.models import ModelConfig, mmm
from mmm_jax.models.mmm import (
    ModelInputs,
    baseline_design,
    geo_baseline_design,
    marginal_baseline_blocker,
)
from mmm_jax.models.terms import BaselineDesign, GeoBaselineDesign


def pick_baseline_design(
    inputs: ModelInputs, config: ModelConfig, marginalize: bool | None, geo_sharding=False
) -> BaselineDesign | GeoBaselineDesign | None:
    """The baseline design to integrate out, or ``None`` to sample the baseline.

    A national series gets the dense :func:`~mmm_jax.models.baseline_design`;
    a panel (several geos) the structured
    :func:`~mmm_jax.models.geo_baseline_design`, which integrates the per-geo
    intercepts out geo by geo: its cost and memory grow linearly with the
    number of geos (no limit on it) and its geo-indexed arrays split over
    devices with ``geo_sharding``.
    """
    if marginalize is False:
        return None
    reason = marginal_baseline_blocker(inputs, config)
    if reason is None and inputs.lagged.shape[0] > 1:
        return geo_baseline_design(inputs, config)
    if reason is None and geo_sharding is not False:
        reason = "the dense design of a single geo flattens time, so it cannot be split over geos"
    if reason is None:
        return baseline_design(inputs, config)
    if marginalize:
        raise ValueError(
            f"marginalize_baseline=True, but the baseline cannot be integrated out: {reason}"
        )
    return None


def conditional_baseline(
    samples: dict,
    inputs: ModelInputs,
    config: ModelConfig,
    y,
    key: jax.Array,
    batch_size: int = 1000,
) -> dict[str, jax.Array]:
    """One draw of the baseline coefficients from their exact conditional per posterior draw.

    ``inputs.baseline`` is the design the samples were drawn with (the
    baseline integrated out).

    Returns the sites of :func:`mmm_jax.models.terms.baseline_term`
    (``baseline/intercept``, ...), each ``(chain, draw, ...)``.
    """
    if inputs.baseline is None:
        raise ValueError("conditional_baseline needs inputs whose baseline is integrated out")
    names = [f"baseline/{name}" for name, _, _ in inputs.baseline.sites]
    if isinstance(inputs.baseline, GeoBaselineDesign):  # its intercepts are not in `sites`
        names = ["baseline/intercept", *names]
    drawing = inputs._replace(baseline=inputs.baseline._replace(draw=True))
    n_chain, n_draw = next(iter(samples.values())).shape[:2]
    # Host copies: NUTS left the chains spread over devices (parallel chains).
    flat = {k: np.asarray(v).reshape(n_chain * n_draw, *v.shape[2:]) for k, v in samples.items()}

    @jax.jit
    def run(batch, k):
        predictive = Predictive(mmm, posterior_samples=batch, return_sites=names, parallel=True)
        return predictive(k, drawing, config, y=y)

    n = n_chain * n_draw
    parts: dict[str, list] = {name: [] for name in names}
    for i, start in enumerate(range(0, n, batch_size)):
        batch = {k: v[start : start + batch_size] for k, v in flat.items()}
        out = run(batch, jax.random.fold_in(key, i))
        for name in names:
            parts[name].append(out[name])
    return {
        name: jax.numpy.concatenate(v).reshape(n_chain, n_draw, *v[0].shape[1:])
        for name, v in parts.items()
    }
