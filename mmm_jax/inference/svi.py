"""Variational (SVI) and MAP fits of the MMM, with Optax optimisers."""

from __future__ import annotations

import enum
import time

import numpy as np

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from numpyro.infer import SVI, Predictive, Trace_ELBO, init_to_median
from numpyro.infer.autoguide import (
    AutoDelta,
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)

from mmm_jax._enums import member as enum_member
from mmm_jax.calibration import LiftTests
from mmm_jax.data import MMMData
from mmm_jax.inference._baseline import conditional_baseline, pick_baseline_design
from mmm_jax.inference._common import TIME_SITES, compile_clock, geo_info, keep_parameter_sites
from mmm_jax.inference.fit import Fit
from mmm_jax.inference.sharding import geo_mesh, shard_inputs
from mmm_jax.models import ModelConfig, build_inputs, mmm
from mmm_jax.models.mmm import ModelInputs, model_sites, time_frame

__all__ = ["Guide", "fit_map", "fit_svi"]


class Guide(enum.Enum):
    """Variational families.

    ``AUTO_NORMAL`` is mean-field ADVI (independent normals in the
    unconstrained space); ``AUTO_MVN`` a full-rank multivariate normal;
    ``AUTO_LOWRANK`` a low-rank-plus-diagonal multivariate normal.
    """

    AUTO_NORMAL = "auto_normal"
    AUTO_MVN = "auto_mvn"
    AUTO_LOWRANK = "auto_lowrank"


def _make_guide(guide: Guide, rank: int | None, init_scale: float):
    init = init_to_median(num_samples=15)
    if guide is Guide.AUTO_NORMAL:
        return AutoNormal(mmm, init_loc_fn=init, init_scale=init_scale)
    if guide is Guide.AUTO_MVN:
        return AutoMultivariateNormal(mmm, init_loc_fn=init, init_scale=init_scale)
    return AutoLowRankMultivariateNormal(mmm, init_loc_fn=init, init_scale=init_scale, rank=rank)


def _default_optimizer(num_steps: int, learning_rate: float) -> optax.GradientTransformation:
    # Adam with a cosine decay to 1% of the initial rate: big early moves, a
    # quiet end so the final parameters do not jitter with the ELBO noise.
    schedule = optax.cosine_decay_schedule(learning_rate, num_steps, alpha=0.01)
    return optax.chain(optax.clip_by_global_norm(10.0), optax.adam(schedule))


def _run_svi(
    guide,
    data,
    config,
    inputs,
    *,
    key,
    optimizer,
    num_steps,
    num_particles,
    progress_bar,
    geo_sharding=False,
):
    svi = SVI(mmm, guide, optimizer, Trace_ELBO(num_particles=num_particles))
    y = data.target_scaled
    if geo_sharding is not False:
        mesh = geo_sharding if isinstance(geo_sharding, Mesh) else geo_mesh(data.n_geo)
        inputs, y = shard_inputs(inputs, y, mesh)
    with compile_clock() as compile_s:
        t0 = time.perf_counter()
        result = svi.run(
            key,
            num_steps,
            inputs,
            config,
            y=y,
            progress_bar=progress_bar,
            stable_update=True,
        )
        losses = np.asarray(jax.block_until_ready(result.losses))
        seconds = time.perf_counter() - t0
    timings = {"compile_s": compile_s(), "fit_s": seconds, "total_s": seconds}
    return result.params, losses, timings


def _deterministic_sites(inputs: ModelInputs, config: ModelConfig) -> list[str]:
    sites = model_sites(inputs, config)
    return [k for k, s in sites.items() if s.type == "deterministic" and k not in TIME_SITES]


def _complete(latent: dict, inputs: ModelInputs, config: ModelConfig, key) -> dict:
    """Adds small deterministic sites (e.g. ``synergy/gamma``) to latent draws."""
    names = _deterministic_sites(inputs, config)
    if not names:
        return dict(latent)
    extra = Predictive(mmm, posterior_samples=latent, return_sites=names, parallel=True)(
        key, inputs, config
    )
    return {**latent, **extra}


def _loss_summary(losses: np.ndarray, max_points: int = 2000) -> dict:
    step = max(1, len(losses) // max_points)
    tail = losses[-max(10, len(losses) // 10) :]
    head = (
        losses[-2 * len(tail) : -len(tail)] if len(losses) >= 2 * len(tail) else losses[: len(tail)]
    )
    # Converged: the last 10% of steps improved the mean loss by less than 1% of its spread.
    spread = float(np.std(tail)) + 1e-12
    improvement = float(np.mean(head) - np.mean(tail))
    return {
        "losses": losses[::step].tolist(),
        "loss_every": step,
        "final_loss": float(np.mean(tail)),
        "converged": bool(np.isfinite(losses[-1]) and improvement < spread),
    }


def _fit_result(
    method, latent, inputs, data, config, key, timings, losses, info, lift_tests
) -> Fit:
    """One chain of draws (latent plus small deterministic sites) as a :class:`Fit`."""
    draws = _complete(latent, inputs, config, key)
    draws = {k: v[None] for k, v in keep_parameter_sites(draws).items()}
    return Fit(
        method=method,
        draws=draws,
        data=data,
        config=config,
        frame=time_frame(data.dates),
        timings=timings,
        lift_tests=lift_tests,
        info={**info, "backend": jax.default_backend(), **_loss_summary(losses)},
    )


def fit_svi(
    data: MMMData,
    config: ModelConfig,
    *,
    key: jax.Array,
    guide: Guide | str = Guide.AUTO_MVN,
    num_steps: int = 10_000,
    learning_rate: float = 0.01,
    optimizer: optax.GradientTransformation | None = None,
    num_samples: int = 1000,
    num_particles: int = 1,
    rank: int | None = None,
    init_scale: float = 0.05,
    progress_bar: bool = True,
    lift_tests: LiftTests | None = None,
    geo_sharding: bool | Mesh = False,
    marginalize_baseline: bool | None = None,
) -> Fit:
    """Fits a variational approximation by maximising the ELBO.

    Args:
      data: Validated, scaled data.
      config: Model configuration.
      key: PRNG key.
      guide: Variational family: a `Guide` or its value, e.g. ``"auto_normal"``.
      num_steps: Optimisation steps.
      learning_rate: Peak learning rate of the default optimiser (ignored if
        ``optimizer`` is given).
      optimizer: Any Optax transformation; default Adam with cosine decay and
        gradient clipping.
      num_samples: Draws from the fitted guide kept as the posterior.
      num_particles: ELBO Monte Carlo particles per step.
      rank: Rank of ``AUTO_LOWRANK`` (default: about the square root of the
        number of parameters).
      init_scale: Initial scale of the guide.
      progress_bar: Show a progress bar.
      lift_tests: Geo lift tests calibrating the model, or ``None``.
      geo_sharding: Split the geos over devices during optimisation
        (:mod:`mmm_jax.inference.sharding`): ``True`` for a ``geo`` mesh over
        all devices, or a mesh. Not with ``lift_tests``.
      marginalize_baseline: Integrate the organic baseline out of the
        likelihood, as :func:`~mmm_jax.inference.fit_nuts` does: the guide
        covers only the media parameters and the noise scale, and each draw
        from it gets one draw of the baseline from its exact Gaussian
        conditional. The guide then approximates a smaller, less correlated
        posterior, and the baseline's uncertainty and its correlation with
        the media are exact given the media draw rather than squeezed into
        the guide's family. ``None`` (default) does it whenever it can and
        ``geo_sharding`` is off; ``True`` insists; ``False`` fits the guide
        over every parameter.

    Returns:
      A :class:`Fit` with ``method="svi"``, one chain of ``num_samples`` draws,
      and the ELBO loss trace (``info["losses"]``), a convergence flag and
      whether the baseline was integrated out (``info["marginalized_baseline"]``).

    Raises:
      ValueError: Non-positive sizes, or ``marginalize_baseline=True`` where
        the baseline cannot be integrated out (the message says why).
    """
    guide = enum_member(Guide, guide, "guide")
    if num_steps < 1 or num_samples < 1 or num_particles < 1:
        raise ValueError("num_steps, num_samples and num_particles must be >= 1")
    inputs = build_inputs(data, config, lift=lift_tests)
    design = pick_baseline_design(inputs, config, marginalize_baseline, geo_sharding)
    g = _make_guide(guide, rank, init_scale)
    optimizer = optimizer or _default_optimizer(num_steps, learning_rate)
    k_fit, k_draw, k_det = jax.random.split(key, 3)
    params, losses, timings = _run_svi(
        g,
        data,
        config,
        inputs._replace(baseline=design),
        key=k_fit,
        optimizer=optimizer,
        num_steps=num_steps,
        num_particles=num_particles,
        progress_bar=progress_bar,
        geo_sharding=geo_sharding,
    )
    # One draw per key under vmap: the guides' own batched sampling relies on
    # implicit rank promotion, which strict-broadcasting users switch off.
    keys = jax.random.split(k_draw, num_samples)
    latent = jax.vmap(lambda k: g.sample_posterior(k, params))(keys)
    if design is not None:
        t0 = time.perf_counter()
        base = conditional_baseline(
            {k: v[None] for k, v in latent.items()},
            inputs._replace(baseline=design),
            config,
            data.target_scaled,
            jax.random.fold_in(k_draw, 1),
        )
        latent = {**latent, **{k: v[0] for k, v in base.items()}}
        timings["total_s"] += time.perf_counter() - t0
    info = {
        "guide": guide.value,
        "num_steps": num_steps,
        "num_samples": num_samples,
        "num_particles": num_particles,
        "learning_rate": learning_rate,
        "marginalized_baseline": design is not None,
        **geo_info(data, config, inputs),
    }
    return _fit_result(
        "svi", latent, inputs, data, config, k_det, timings, losses, info, lift_tests
    )


def fit_map(
    data: MMMData,
    config: ModelConfig,
    *,
    key: jax.Array,
    num_steps: int = 5_000,
    learning_rate: float = 0.01,
    optimizer: optax.GradientTransformation | None = None,
    progress_bar: bool = True,
    lift_tests: LiftTests | None = None,
) -> Fit:
    """Maximum a posteriori point estimate (SVI with a point-mass guide).

    Args:
      data: Validated, scaled data.
      config: Model configuration.
      key: PRNG key.
      num_steps: Optimisation steps.
      learning_rate: Peak learning rate of the default optimiser.
      optimizer: Any Optax transformation (default: Adam with cosine decay).
      progress_bar: Show a progress bar.
      lift_tests: Geo lift tests calibrating the model, or ``None``.

    Returns:
      A :class:`Fit` with ``method="map"`` holding one chain of one draw, so every
      interval it reports has zero width: use NUTS or SVI for uncertainty.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    inputs = build_inputs(data, config, lift=lift_tests)
    g = AutoDelta(mmm, init_loc_fn=init_to_median(num_samples=15))
    optimizer = optimizer or _default_optimizer(num_steps, learning_rate)
    k_fit, k_det = jax.random.split(key)
    params, losses, timings = _run_svi(
        g,
        data,
        config,
        inputs,
        key=k_fit,
        optimizer=optimizer,
        num_steps=num_steps,
        num_particles=1,
        progress_bar=progress_bar,
    )
    point = {k: jnp.expand_dims(v, 0) for k, v in g.median(params).items()}
    info = {
        "num_steps": num_steps,
        "learning_rate": learning_rate,
        **geo_info(data, config, inputs),
    }
    return _fit_result("map", point, inputs, data, config, k_det, timings, losses, info, lift_tests)
