"""Process set-up that must happen before JAX starts: CPU devices and the compilation cache.

The command line, the demo, the experiments, the benchmarks and the notebook
call these first; the library itself never does (importing ``mmm_jax``
changes no JAX setting).
"""

import os
from pathlib import Path

__all__ = ["configure_devices", "enable_compilation_cache"]

ENV_VAR = "MMM_JAX_CACHE"


def configure_devices(n_chains: int = 4) -> None:
    """Gives JAX one CPU device per chain so NUTS chains run in parallel threads.

    Sets ``--xla_force_host_platform_device_count`` in ``XLA_FLAGS`` to
    ``max(n_chains, CPU cores)``. It must run before JAX initialises its
    backend (the first array or compilation); it changes nothing on a GPU,
    where chains are vectorised, or when ``XLA_FLAGS`` already sets a device
    count.

    Args:
      n_chains: Chains that should run in parallel.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(n_chains, os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def default_cache_dir() -> Path:
    """``$MMM_JAX_CACHE``, else ``$XDG_CACHE_HOME/mmm_jax/xla`` (``~/.cache/mmm_jax/xla``)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmm_jax" / "xla"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keeps compiled XLA programs on disk so the next fit of the same shapes skips compiling.

    Compiling the NUTS loop of a daily model takes 10-20 s on a small CPU,
    often as long as sampling. JAX's persistent cache stores each compiled
    program under a key of its HLO, backend and flags, so a second fit of
    data of the same shape and configuration reads it back instead (the way
    PyTensor's compile cache serves PyMC). It changes no result. The
    command line turns it on; a library import never changes JAX's global
    configuration, so scripts call this themselves, before JAX compiles
    anything: JAX decides once, at its first compilation, whether a cache is
    in use.

    Args:
      path: Cache folder; ``None`` uses :func:`default_cache_dir`. The
        string ``"off"`` (also as ``$MMM_JAX_CACHE``) leaves the cache off.

    Returns:
      The folder in use, or ``None`` when turned off or when it cannot be
      created (a read-only home, say): caching is an optimisation, and a fit
      must not fail for want of it.
    """
    if path is None and os.environ.get(ENV_VAR, "").lower() == "off":
        return None
    if path is not None and str(path).lower() == "off":
        return None
    folder = Path(path).expanduser() if path is not None else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    import jax  # here, not at import: the CLI sets XLA_FLAGS before JAX starts

    jax.config.update("jax_compilation_cache_dir", str(folder))
    # Every program, however small. Setting up an SVI guide (or initialising
    # NUTS) runs the model eagerly, one primitive at a time, and each of its
    # hundreds of primitives compiles on its own; keeping only programs that
    # compile for long would make every new process recompile them all.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    return folder
