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
from mmm_jax.models.mmm import ModelInputs, baseline_design, marginal_baseline_blocker
from mmm_jax.models.terms import BaselineDesign

# With marginalize_baseline=None the baseline is integrated out when it has at
# most this many coefficients: two (geo * time) x coef matrix-vector products
# per gradient stay cheap next to the media term, and the design and its
# rotated copy ((geo * time) x coef floats each) stay small (a panel of ~190
# geos over two years: about 110 MB each).
AUTO_MARGINAL_MAX_COEFFICIENTS = 200


def pick_baseline_design(
    inputs: ModelInputs, config: ModelConfig, marginalize: bool | None, geo_sharding
) -> BaselineDesign | None:
    """The baseline design to integrate out, or ``None`` to sample the baseline."""
    if marginalize is False:
        return None
    if geo_sharding is not False:
        if marginalize:
            raise ValueError(
                "marginalize_baseline=True does not work with geo_sharding; "
                "pass marginalize_baseline=None or False"
            )
        return None
    limit = None if marginalize else AUTO_MARGINAL_MAX_COEFFICIENTS
    reason = marginal_baseline_blocker(inputs, config, max_coefficients=limit)
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
