"""Behaviour pinned: the numbers ``mmm-jax`` writes stay those of the reference commit.

`tests.pinned.make_pins.run_pipeline` fits two small checked-in data sets
(national with synergy; a pooled three-geo panel with a hold-out refit)
through the command line and runs ``optimize`` and ``simulate`` on them;
every number of every JSON written must equal ``tests/pinned/pins.json`` to
a relative 1e-6, and every string, flag and key must be the same. The pins
are only meaningful on the backend that made them (same JAX, numpy and
processor, named by model and instruction set: XLA compiles for the host,
and two processors sold as "AMD EPYC" gave 60 numbers apart by up to 7e-4
relative, an HDI bound or a near-zero z-shift), so elsewhere the test is
skipped with the reason, never passed.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FAST_COMPILE, FULL_OPT_ENV
from tests.pinned.make_pins import PINS, backend

ROOT = Path(__file__).resolve().parents[1]
REL = 1e-6
ABS = 1e-9


def _diff(got, want, path: str, out: list[str]) -> None:
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            extra = sorted(set(got) - set(want)) if isinstance(got, dict) else got
            missing = sorted(set(want) - set(got)) if isinstance(got, dict) else None
            out.append(f"{path}: keys differ (extra {extra}, missing {missing})")
            return
        for k in want:
            _diff(got[k], want[k], f"{path}.{k}", out)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            out.append(f"{path}: {got!r:.80} != {want!r:.80}")
            return
        for i, (g, w) in enumerate(zip(got, want)):
            _diff(g, w, f"{path}[{i}]", out)
    elif isinstance(want, float) and not isinstance(got, bool) and isinstance(got, int | float):
        if not math.isclose(got, want, rel_tol=REL, abs_tol=ABS):
            out.append(f"{path}: {got!r} != {want!r} (rel {abs(got - want) / abs(want):.2e})")
    elif got != want or type(got) is not type(want):
        out.append(f"{path}: {got!r:.120} != {want!r:.120}")


def test_diff_names_every_difference():
    out = []
    want = {"a": 1.0, "b": [1, "x"], "c": {"d": True}, "e": 0.5}
    _diff({"a": 1.0 + 1e-7, "b": [1, "y"], "c": {"d": 1}, "e": 0.5}, want, "", out)
    assert out == [".b[1]: 'y' != 'x'", ".c.d: 1 != True"]
    _diff({"a": 1.00001, "b": [1], "c": {}, "e": 0.5}, want, "", out := [])
    assert out[0].startswith(".a: 1.00001 != 1.0") and ".b: " in out[1] and "missing" in out[2]


def _pipeline_outputs(tmp_path) -> dict:
    """`run_pipeline`'s outputs, from a process compiling as a user's run does.

    The suite compiles without LLVM's optimisations (tests/conftest.py,
    FAST_COMPILE), which moves the last bits of some floats; the pins are
    made and checked with XLA's default optimisation.
    """
    env = {**os.environ, FULL_OPT_ENV: "1"}
    env["XLA_FLAGS"] = " ".join(
        f for f in env.get("XLA_FLAGS", "").split() if f not in FAST_COMPILE
    )
    out = tmp_path / "outputs.json"
    cmd = [sys.executable, "-m", "tests.pinned.make_pins", "--outputs", str(out)]
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_command_line_numbers_are_pinned(tmp_path):
    pins = json.loads(PINS.read_text())
    here = backend()
    if pins["backend"] != here:
        changed = {
            k: (pins["backend"].get(k), v) for k, v in here.items() if pins["backend"].get(k) != v
        }
        pytest.skip(
            f"pins were made on another backend: {changed}; "
            "regenerate with `python -m tests.pinned.make_pins` at the reference commit"
        )
    got = _pipeline_outputs(tmp_path)
    diffs: list[str] = []
    _diff(got, pins["outputs"], "", diffs)
    assert not diffs, f"{len(diffs)} differences, first ones:\n" + "\n".join(diffs[:25])
