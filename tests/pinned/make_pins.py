"""Pins of the numbers ``mmm-jax`` writes, for fixed seeds on two small checked-in data sets.

`run_pipeline` runs the command line in-process on ``national.csv`` (one geo,
SVI with synergy) and ``panel.csv`` (three geos, pooled SVI with a hold-out
refit): ``fit``, ``optimize`` (default and a CVaR utility with per-draw
optima; per channel and, for the panel, per geo) and ``simulate``. It
returns every JSON the commands wrote, less what legitimately changes from
run to run (`VOLATILE`: wall-clock seconds and the checksums that cover them).
``pins.json`` holds its output as made by the code at a reference commit;
``tests/test_pinned.py`` compares a fresh run with it number by number.

The data sets were made once with numpy (Hill curves over geometric
adstock, weekly seasonality, a traffic control, Gaussian noise) and are
checked in, so neither the synthetic-data simulator nor numpy's random
streams can change them.

Regenerate the pins only for a deliberate change of behaviour, and say so in
the commit::

    .venv/bin/python -m tests.pinned.make_pins
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINS = HERE / "pins.json"

#: Paths (dotted, ``*`` for any key) whose values change from run to run.
VOLATILE = (
    "*.summary.diagnostics.seconds",
    "*.summary.provenance",
    "*.alloc.provenance",
    "*.alloc_cvar.provenance",
    "*.simulate.provenance",
)


#: Instruction-set flags (``/proc/cpuinfo``) that change the code XLA emits.
SIMD = ("sse", "ssse", "avx", "fma", "f16c", "amx")


def backend() -> dict[str, str]:
    """What the numbers depend on besides the code: library versions and the processor."""
    import numpy as np

    import jax
    import jaxlib

    cpu, simd = platform.processor() or "", ""
    try:  # XLA compiles for the host's instruction set: the same name can hide two
        info = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        cpu = f"{info['model name']} (family {info['cpu family']}, model {info['model']})"
        simd = " ".join(sorted(f for f in info["flags"].split() if f.startswith(SIMD)))
    except (OSError, KeyError):
        pass
    return {
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu,
        "simd": simd,
        "x64": str(bool(jax.config.jax_enable_x64)),
    }


def _drop(tree: dict, path: list[str]) -> None:
    head, rest = path[0], path[1:]
    keys = list(tree) if head == "*" else [head]
    for key in keys:
        if key not in tree:
            continue
        if not rest:
            del tree[key]
        elif isinstance(tree[key], dict):
            _drop(tree[key], rest)


def _run(argv: list[str]) -> None:
    from mmm_jax.cli import main

    status = main(argv)
    if status != 0:
        raise RuntimeError(f"mmm-jax {' '.join(argv)} exited with {status}")


def run_pipeline(work: Path) -> dict:
    """Runs the pinned commands in ``work`` and returns their JSON outputs, volatile fields dropped."""
    work = Path(work)
    out: dict = {}

    national = work / "national"
    _run(
        [
            "fit",
            str(HERE / "national.csv"),
            "--out",
            str(national),
            "--controls",
            "organic_traffic",
            "--method",
            "svi",
            "--svi-steps",
            "300",
            "--guide",
            "auto_normal",
            "--synergy",
            "--seed",
            "7",
            "--quiet",
        ]
    )
    _run(["optimize", str(national), "--bounds", "0.5,2", "--seed", "3"])
    cvar = work / "national_cvar.json"
    _run(
        [
            "optimize",
            str(national),
            "--budget",
            "300",
            "--bounds",
            "0.25,3",
            "--utility",
            "cvar:0.2",
            "--per-draw",
            "--out",
            str(cvar),
        ]
    )
    whatif = work / "national_whatif.json"
    _run(["simulate", str(national), "--allocation", str(cvar), "--out", str(whatif)])
    out["national"] = {
        "summary": json.loads((national / "summary.json").read_text()),
        "alloc": json.loads((national / "alloc.json").read_text()),
        "alloc_cvar": json.loads(cvar.read_text()),
        "simulate": json.loads(whatif.read_text()),
    }

    panel = work / "panel"
    _run(
        [
            "fit",
            str(HERE / "panel.csv"),
            "--out",
            str(panel),
            "--geo",
            "geo",
            "--geo-pooling",
            "auto",  # partially centred offsets, as when these pins were made
            "--controls",
            "organic_traffic",
            "--method",
            "svi",
            "--svi-steps",
            "300",
            "--guide",
            "auto_normal",
            "--holdout",
            "0.2",
            "--seed",
            "11",
            "--quiet",
        ]
    )
    per_geo = work / "panel_per_geo.json"
    _run(["optimize", str(panel), "--per-geo", "--bounds", "0.5,1.5", "--out", str(per_geo)])
    _run(["optimize", str(panel), "--bounds", "0.5,1.5"])
    whatif = work / "panel_whatif.json"
    _run(["simulate", str(panel), "--allocation", str(per_geo), "--out", str(whatif)])
    out["panel"] = {
        "summary": json.loads((panel / "summary.json").read_text()),
        "alloc": json.loads((panel / "alloc.json").read_text()),
        "alloc_per_geo": json.loads(per_geo.read_text()),
        "simulate": json.loads(whatif.read_text()),
    }
    for path in VOLATILE:
        _drop(out, path.split("."))
    for run in out.values():
        run.get("alloc_per_geo", {}).pop("provenance", None)
    return out


def main(argv: list[str] | None = None) -> int:
    """Writes ``pins.json`` from a fresh run, in the test suite's JAX settings.

    With ``--outputs FILE`` it writes the run's outputs to FILE instead
    (`tests/test_pinned.py` runs it so). Either way the pipeline compiles
    with XLA's default optimisation, not the suite's faster one: the pins are
    the numbers a user's run writes.
    """
    import argparse
    import os
    import tempfile

    parser = argparse.ArgumentParser(description="Pins of the numbers mmm-jax writes.")
    parser.add_argument("--outputs", type=Path, help="write the outputs here, not pins.json")
    args = parser.parse_args(argv)
    os.environ["MMM_JAX_TEST_FULL_OPT"] = "1"  # read by tests.conftest (FULL_OPT_ENV)
    import tests.conftest  # noqa: F401  (CPU, XLA flags, rank promotion: as under pytest)

    with tempfile.TemporaryDirectory() as tmp:
        outputs = run_pipeline(Path(tmp))
    if args.outputs is not None:
        args.outputs.write_text(json.dumps(outputs) + "\n")
        return 0
    PINS.write_text(json.dumps({"backend": backend(), "outputs": outputs}, indent=1) + "\n")
    print(f"wrote {PINS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
