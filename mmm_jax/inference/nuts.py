"""NUTS (No-U-Turn Sampler) fits of the MMM."""

from __future__ import annotations

import time

import numpy as np

import jax
from jax.sharding import Mesh
from numpyro.infer import MCMC, NUTS, init_to_median

from mmm_jax._enums import member as enum_member
from mmm_jax.calibration import LiftTests
from mmm_jax.data import MMMData
from mmm_jax.inference._baseline import conditional_baseline, pick_baseline_design
from mmm_jax.inference._common import ChainMethod, compile_clock, geo_info, keep_parameter_sites
from mmm_jax.inference.fit import Fit
from mmm_jax.inference.sharding import geo_mesh, shard_inputs
from mmm_jax.models import ModelConfig, build_inputs, mmm
from mmm_jax.models.mmm import model_sites, time_frame

__all__ = ["fit_nuts"]


def _pick_chain_method(chain_method, num_chains: int, sharded: bool = False) -> ChainMethod:
    if chain_method is not None:
        return enum_member(ChainMethod, chain_method, "chain_method")
    if not sharded and num_chains > 1 and jax.local_device_count() >= num_chains:
        return ChainMethod.PARALLEL
    if jax.default_backend() == "cpu":
        return ChainMethod.SEQUENTIAL
    return ChainMethod.VECTORIZED


def per_geo_sites(inputs, config: ModelConfig, y) -> tuple[list[str], list[str]]:
    """The model's latent sites split into ``(global, per_geo)``.

    Per-geo sites are the geo term's offsets and amplitudes (``geo/*`` with a
    geo axis) and, when the baseline is sampled, the per-geo intercepts.
    """
    n_geo = inputs.lagged.shape[0]
    per_geo, shared = [], []
    for name, site in model_sites(inputs, config, y).items():
        if site.type != "sample" or site.is_observed:
            continue
        shape = site.shape
        geo_indexed = n_geo > 1 and len(shape) >= 1 and shape[0] == n_geo
        if geo_indexed and (name.startswith("geo/") or name == "baseline/intercept"):
            per_geo.append(name)
        else:
            shared.append(name)
    return shared, per_geo


def fit_nuts(
    data: MMMData,
    config: ModelConfig,
    *,
    key: jax.Array,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.85,
    max_tree_depth: int = 10,
    dense_mass: bool = True,
    chain_method: ChainMethod | str | None = None,
    progress_bar: bool = True,
    lift_tests: LiftTests | None = None,
    geo_sharding: bool | Mesh = False,
    marginalize_baseline: bool | None = None,
) -> Fit:
    """Samples the posterior with NUTS.

    Args:
      data: Validated, scaled data.
      config: Model configuration.
      key: PRNG key (no default: same key, same draws on the same backend).
      num_warmup: Adaptation steps per chain.
      num_samples: Kept draws per chain.
      num_chains: Number of chains.
      target_accept: Target acceptance probability of step-size adaptation.
      max_tree_depth: Maximum tree depth (at most ``2**depth`` leapfrog steps).
      dense_mass: Adapt a full (dense) mass matrix during warmup. The MMM
        posterior has strong linear correlations (ROAS against half-saturation
        and slope, intercept against every channel's level); a diagonal mass
        matrix leaves NUTS taking hundreds of leapfrog steps per draw, a dense
        one a few dozen, at negligible cost for a few dozen parameters. On a
        geo panel with ``geo_pooling``, ``True`` means dense over the global
        parameters and diagonal over the per-geo ones (:func:`per_geo_sites`),
        whose number grows with the geos; pass NumPyro's structured form (a
        list of tuples of site names) for any other layout.
      chain_method: ``parallel`` (one chain per device: needs ``num_chains``
        JAX devices, e.g. ``XLA_FLAGS=--xla_force_host_platform_device_count=4``
        on CPU, set before JAX starts), ``vectorized`` (chains batched with
        ``vmap`` on one device: the choice for a GPU) or ``sequential``.
        ``None`` picks parallel when there are enough devices, else vectorized
        on an accelerator and sequential on a CPU. On a CPU vectorized chains
        wait for the longest tree of any chain at every step: on beauty_daily
        with 4 chains on 2 cores they took 142 s where parallel took 29 s.
      progress_bar: Show a progress bar.
      lift_tests: Geo lift tests on ``data`` whose likelihood calibrates the
        model (:class:`mmm_jax.calibration.LiftTests`), or ``None``.
      geo_sharding: Split the geos over devices (:mod:`mmm_jax.inference.sharding`):
        ``True`` builds a ``geo`` mesh over all devices
        (:func:`~mmm_jax.inference.sharding.geo_mesh`), or pass a mesh. Every
        chain then uses every device, so chains are vectorised (sequential on a
        CPU when ``chain_method`` is not given); ``parallel`` is refused.
        Not with ``lift_tests``.
      marginalize_baseline: Integrate the organic baseline (intercepts,
        trend, changepoints, seasonality, controls: linear, with Normal priors)
        out of the Normal likelihood, so NUTS samples only the other
        parameters, and draw the baseline afterwards from its exact
        conditional posterior, one draw per NUTS draw. The posterior is the
        same; the sampler's space is smaller and free of the ridge along which
        the intercept trades level with the channels. On beauty_daily it
        halved the leapfrog steps per draw and raised the ESS per second 2.7x
        (``benchmarks/README.md``). ``None`` (default) does it whenever it can
        (:func:`mmm_jax.models.marginal_baseline_blocker`: Normal likelihood
        and baseline priors, no per-geo seasonality scale, at most 200
        coefficients) and ``geo_sharding`` is off; ``True`` insists (and
        raises if it cannot); ``False`` samples the baseline with everything
        else.

    Returns:
      A :class:`Fit` with ``method="nuts"``; ``timings`` has ``total_s``,
      ``compile_s`` (tracing and XLA compilation, as JAX reports them; a
      cache read with :func:`mmm_jax.enable_compilation_cache` warm) and
      ``run_s`` (the rest: warmup, sampling and the baseline's conditional
      draws); ``info`` has the settings, the number of divergences and
      whether the baseline was integrated out (``marginalized_baseline``).

    Raises:
      ValueError: Non-positive sizes, ``target_accept`` outside (0, 1), or
        ``marginalize_baseline=True`` where the baseline cannot be integrated
        out (the message says why).
    """
    chain_method = _pick_chain_method(chain_method, num_chains, sharded=bool(geo_sharding))
    for name, value in (("num_warmup", num_warmup), ("num_samples", num_samples)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if num_chains < 1:
        raise ValueError(f"num_chains must be >= 1, got {num_chains}")
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept}")
    if chain_method is ChainMethod.PARALLEL and jax.local_device_count() < num_chains:
        raise ValueError(
            f"chain_method='parallel' needs {num_chains} devices, JAX sees {jax.local_device_count()}; "
            "use 'vectorized' or set XLA_FLAGS=--xla_force_host_platform_device_count before JAX starts"
        )
    inputs = build_inputs(data, config, lift=lift_tests)
    design = pick_baseline_design(inputs, config, marginalize_baseline, geo_sharding)
    inputs = inputs._replace(baseline=design)
    y = data.target_scaled
    if geo_sharding is not False:
        if chain_method is ChainMethod.PARALLEL:
            raise ValueError(
                "geo_sharding uses every device for each chain: "
                "use chain_method 'vectorized' or 'sequential', not 'parallel'"
            )
        mesh = geo_sharding if isinstance(geo_sharding, Mesh) else geo_mesh(data.n_geo)
        inputs, y = shard_inputs(inputs, y, mesh)
    mass = dense_mass
    if dense_mass is True and inputs.geo is not None:
        shared, per_geo = per_geo_sites(inputs, config, y)
        mass = [tuple(shared)] if per_geo else True
    kernel = NUTS(
        mmm,
        target_accept_prob=target_accept,
        max_tree_depth=max_tree_depth,
        dense_mass=mass,
        init_strategy=init_to_median(num_samples=15),
    )
    mcmc = MCMC(
        kernel,
        num_warmup=num_warmup,
        num_samples=num_samples,
        num_chains=num_chains,
        chain_method=chain_method.value,
        progress_bar=progress_bar,
    )
    with compile_clock() as compile_s:
        t0 = time.perf_counter()
        # One run covers warmup and sampling: one loop to compile, not two
        # (separate warmup() and run() calls compiled the NUTS loop twice).
        mcmc.run(key, inputs, config, y=y, extra_fields=("diverging", "num_steps"))
        samples = jax.block_until_ready(mcmc.get_samples(group_by_chain=True))
        if design is not None:
            samples = {
                **samples,
                **conditional_baseline(samples, inputs, config, y, jax.random.fold_in(key, 1)),
            }
        total_s = time.perf_counter() - t0
    extra = mcmc.get_extra_fields(group_by_chain=True)
    stats = {
        "diverging": np.asarray(extra["diverging"]),
        "num_steps": np.asarray(extra["num_steps"]),
    }
    return Fit(
        method="nuts",
        draws=keep_parameter_sites(samples),
        data=data,
        config=config,
        frame=time_frame(data.dates),
        timings={"compile_s": compile_s(), "run_s": total_s - compile_s(), "total_s": total_s},
        info={
            "num_warmup": num_warmup,
            "num_samples": num_samples,
            "num_chains": num_chains,
            "target_accept": target_accept,
            "max_tree_depth": max_tree_depth,
            # True, False, or the dense blocks (the rest of the sites diagonal)
            "dense_mass": mass if isinstance(mass, bool) else [list(b) for b in mass],
            "chain_method": chain_method.value,
            "divergences": int(stats["diverging"].sum()),
            "backend": jax.default_backend(),
            "geo_shards": 1 if inputs.mesh is None else int(inputs.mesh.size),
            "marginalized_baseline": design is not None,
            **geo_info(data, config, inputs),
        },
        stats=stats,
        lift_tests=lift_tests,
    )
