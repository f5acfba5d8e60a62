"""Smoke test: ``benchmarks/kernels.py --quick`` runs and reports positive throughputs."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "kernels.py"


def test_kernel_benchmark_quick(tmp_path):
    out = tmp_path / "kernels.json"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["backend"] == "cpu" and report["quick"] is True
    assert report["device_kind"]
    kernels = {r["kernel"] for r in report["results"]}
    assert kernels == {
        "geometric_scan",
        "geometric_associative",
        "conv_28",
        "conv_28_jnp_convolve",
        "hill",
        "michaelis_menten",
        "logistic",
    }
    assert len(report["results"]) == len(kernels) * len(report["grid"]["T"]) * len(
        report["grid"]["G"]
    )
    for row in report["results"]:
        assert row["elements"] == row["G"] * row["T"] * row["C"]
        assert row["run_s_median"] > 0 and row["compile_s"] > 0
        assert math.isfinite(row["elements_per_s"]) and row["elements_per_s"] > 0
        assert row["gb_per_s"] > 0
        # bytes = read + write of float32 (geo, time, channel)
        assert math.isclose(
            row["gb_per_s"], 8 * row["elements"] / row["run_s_median"] / 1e9, rel_tol=1e-9
        )
        assert row["bandwidth_share"] is None  # CPU: no peak bandwidth claimed
