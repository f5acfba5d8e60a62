"""Test configuration: CPU only, strict rank promotion, `--run-slow` opt-in."""

import atexit
import json
import os
import shutil
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("MPLBACKEND", "Agg")
# Four CPU devices so NUTS tests can run chains in parallel (must precede JAX's start).
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
# Tests run short chains, so compiling dominates their time: skip LLVM's
# expensive optimisation passes (tests/diagnostics/test_review.py: 76 s -> 48 s).
if "xla_llvm_disable_expensive_passes" not in os.environ["XLA_FLAGS"]:
    os.environ["XLA_FLAGS"] += " --xla_llvm_disable_expensive_passes=true"
# And compile without LLVM's optimisations (another ~17% off the suite: test
# files spend more time compiling than running) and with XLA's older loop
# emitters instead of its MLIR fusion emitters. Setting up a guide or NUTS
# runs the model one primitive at a time, so a test file compiles hundreds of
# one-operation programs, and the fixed cost of each is what counts: about
# 35 ms with the fusion emitters, 20 ms without, on a 2-core CPU. Both change
# the last bits of some floats, so `tests/test_pinned.py`, which compares
# numbers to 1e-6, runs its pipeline in a process with XLA's defaults
# (FULL_OPT_ENV).
# XLA aborts the process on a flag it does not know, so the emitter flag is
# set only from the jaxlib it was measured with (0.10); an older one compiles
# the tests the slower way.
FAST_COMPILE = ("--xla_backend_optimization_level=0", "--xla_cpu_use_fusion_emitters=false")
FULL_OPT_ENV = "MMM_JAX_TEST_FULL_OPT"


def _jaxlib_at_least(major: int, minor: int) -> bool:
    from importlib.metadata import PackageNotFoundError, version

    try:
        parts = version("jaxlib").split(".")
        return (int(parts[0]), int(parts[1])) >= (major, minor)
    except (PackageNotFoundError, ValueError, IndexError):
        return False


if not os.environ.get(FULL_OPT_ENV):
    for _flag in FAST_COMPILE:
        if "fusion_emitters" in _flag and not _jaxlib_at_least(0, 10):
            continue
        if _flag.split("=")[0] not in os.environ["XLA_FLAGS"]:
            os.environ["XLA_FLAGS"] += " " + _flag

# One persistent compilation cache for the session (never the user's home):
# tests that fit the same small model reuse each other's compiled loops, and
# command-line tests run in subprocesses share it through the environment.
if not os.environ.get("MMM_JAX_CACHE"):
    os.environ["MMM_JAX_CACHE"] = tempfile.mkdtemp(prefix="mmm_jax_test_cache_")
    atexit.register(shutil.rmtree, os.environ["MMM_JAX_CACHE"], ignore_errors=True)
# Under pytest-xdist (`make test` runs one worker per core) each worker keeps a
# cache of its own inside the session's: JAX writes a cache entry in place, so a
# second process reading the same entry while it is written would see it torn.
if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("MMM_JAX_TEST_WORKER_CACHE"):
    os.environ["MMM_JAX_CACHE"] = os.path.join(
        os.environ["MMM_JAX_CACHE"], os.environ["PYTEST_XDIST_WORKER"]
    )
    os.makedirs(os.environ["MMM_JAX_CACHE"], exist_ok=True)
    os.environ["MMM_JAX_TEST_WORKER_CACHE"] = "1"

import pytest  # noqa: E402

import jax  # noqa: E402

from mmm_jax import enable_compilation_cache  # noqa: E402
from tests._paths import TINY_RUN  # noqa: E402

enable_compilation_cache()

# Catch national/geo broadcasting bugs: (geo, time) against (time,) must be explicit.
jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False, help="run slow tests")


#: The test files that take longest (seconds of one worker in the default run,
#: measured with ``--durations=0``), run first. `make test` hands whole files to
#: its two workers in collection order (``--dist loadfile --no-loadscope-reorder``):
#: longest first, no worker is left with a long file once the other is done.
#: Only the order depends on this list; a file missing from it runs after these.
LONGEST_FILES = (
    "tests/test_cli.py",
    "tests/inference/test_fit.py",
    "tests/calibration/test_lift.py",
    "tests/models/test_geo_decay.py",
    "tests/test_benchmarks_smoke.py",
    "tests/inference/test_sharding.py",
    "tests/diagnostics/test_review.py",
    "tests/test_demo.py",
    "tests/models/test_geo.py",
    "tests/transforms/test_adstock.py",
    "tests/models/test_marginal_baseline.py",
    "tests/diagnostics/test_validation.py",
    "tests/calibration/test_experiment_02.py",
    "tests/calibration/test_lift_end_to_end.py",
    "tests/inference/test_cache.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {f: i for i, f in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def key():
    return jax.random.PRNGKey(0)


@pytest.fixture
def tiny_run(tmp_path):
    """A copy of the checked-in tiny posterior (`tests._paths.TINY_RUN`), free to write into.

    A real NUTS run folder (2 chains x 30 draws on 90 simulated days; its
    review FAILs convergence), so downstream code (decisions, report,
    loading) runs in seconds on a real fit; `tests.decisions.make_run` makes it.
    """
    copy = tmp_path / "run"
    shutil.copytree(TINY_RUN, copy)
    return copy


@pytest.fixture
def tiny_summary():
    """The checked-in tiny posterior's ``summary.json``, read afresh for each test."""
    return json.loads((TINY_RUN / "summary.json").read_text())


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drops JAX's in-memory executables after each test module.

    Every compiled CPU program keeps LLVM memory mappings; a whole suite in one
    process compiles thousands and reached Linux's ``vm.max_map_count`` (65530),
    aborting inside XLA. The persistent compilation cache keeps later reuse cheap.
    """
    yield
    jax.clear_caches()
