"""The persistent compilation cache and the compile clock of fits."""

import os
from pathlib import Path

import numpy as np
import pytest

import jax

from mmm_jax import enable_compilation_cache
from mmm_jax.data import from_frame
from mmm_jax.inference import fit_nuts
from mmm_jax.inference._common import compile_clock
from mmm_jax.models import ModelConfig
from mmm_jax.runtime import default_cache_dir
from mmm_jax.synthetic import SimulationConfig, simulate


def test_default_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MMM_JAX_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MMM_JAX_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mmm_jax" / "xla"


def test_off_leaves_jax_alone(monkeypatch):
    before = jax.config.jax_compilation_cache_dir
    assert enable_compilation_cache("off") is None
    monkeypatch.setenv("MMM_JAX_CACHE", "off")
    assert enable_compilation_cache() is None
    assert jax.config.jax_compilation_cache_dir == before


def test_unusable_folder_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    before = jax.config.jax_compilation_cache_dir
    assert enable_compilation_cache(blocker / "cache") is None
    assert jax.config.jax_compilation_cache_dir == before


def test_compile_clock_counts_only_compilation():
    with compile_clock() as seconds:
        f = jax.jit(lambda x: jax.numpy.sin(x) * 3.0 + x.sum())
        f(np.arange(1234.0)).block_until_ready()
        compiled = seconds()
        f(np.arange(1234.0)).block_until_ready()  # cached in memory: no new compilation
    assert compiled > 0
    assert seconds() == compiled


def test_second_fit_reads_the_persistent_cache():
    """conftest turns the cache on for the session: a refit compiles nothing new, same draws."""
    if os.environ["MMM_JAX_CACHE"].lower() == "off":
        pytest.skip("MMM_JAX_CACHE=off: the persistent cache is turned off for this run")
    assert jax.config.jax_compilation_cache_dir == os.environ["MMM_JAX_CACHE"]
    sim = simulate(SimulationConfig(n_periods=120, noise_sd=0.03), seed=11)
    data = from_frame(sim.frame, controls=("organic_traffic",))
    config = ModelConfig(yearly_order=1, weekly_order=0, max_lag=7)
    # Sizes no other test uses: the first fit compiles and writes (or, with a
    # cache kept from an earlier run, reads); either way it consults the cache.
    kw = dict(num_warmup=13, num_samples=7, num_chains=1, progress_bar=False)
    events = []

    def listener(event, **_):
        events.append(event)

    jax.monitoring.register_event_listener(listener)
    try:
        first = fit_nuts(data, config, key=jax.random.PRNGKey(2), **kw)
        consulted = events.count("/jax/compilation_cache/cache_misses") + events.count(
            "/jax/compilation_cache/cache_hits"
        )
        events.clear()
        second = fit_nuts(data, config, key=jax.random.PRNGKey(2), **kw)
        hits = events.count("/jax/compilation_cache/cache_hits")
    finally:
        jax.monitoring.unregister_event_listener(listener)
    assert consulted >= 1 and hits >= 1
    assert "/jax/compilation_cache/cache_misses" not in events
    assert any(Path(os.environ["MMM_JAX_CACHE"]).iterdir())
    assert first.timings["compile_s"] > 0
    for name in first.draws:
        np.testing.assert_array_equal(first.draws[name], second.draws[name])


def test_small_programs_are_kept_too():
    """Eager model runs (an SVI guide's set-up) compile hundreds of tiny programs: keep them all."""
    if os.environ["MMM_JAX_CACHE"].lower() == "off":
        pytest.skip("MMM_JAX_CACHE=off: the persistent cache is turned off for this run")
    folder = Path(os.environ["MMM_JAX_CACHE"])
    before = set(folder.iterdir())
    # A program no other test compiles; it compiles in about a millisecond.
    jax.jit(lambda x: jax.numpy.cos(x) * 7.123 + 0.37)(np.arange(29.0)).block_until_ready()
    assert set(folder.iterdir()) - before
