"""Benchmarks: ``kernels.py --quick`` and ``fit_speed.py`` run and report what they measured; the
recovery benchmark's scoring computes what it claims."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from tests._paths import load_script

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


def _load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    return load_script(path, f"bench_{name}")


def test_recovery_seeds_summary_scores_coverage_and_error():
    summarise = _load_script("recovery_seeds").summarise

    def run(true, mean, hdi90, hdi50, r_hat=1.005, divergences=0):
        return {
            "channels": ["a", "b"],
            "true": true,
            "mean": mean,
            "hdi90": hdi90,
            "hdi50": hdi50,
            "r_hat_max": r_hat,
            "divergences": divergences,
            "n_draws": 1000,
        }

    runs = [
        # a: covered by both intervals, mean +10%; b: missed by both, mean -50%
        run([2.0, 1.0], [2.2, 0.5], [[1.0, 0.2], [3.0, 0.8]], [[1.5, 0.4], [2.5, 0.6]]),
        # a: 90% covers, 50% misses, mean -20%; b: both cover, mean +20%
        run(
            [2.0, 1.0],
            [1.6, 1.2],
            [[1.0, 0.8], [2.6, 1.6]],
            [[1.2, 0.9], [1.8, 1.3]],
            r_hat=1.02,
            divergences=10,
        ),
    ]
    s = summarise(runs)
    a, b = s["per_channel"]["a"], s["per_channel"]["b"]
    assert (a["coverage_90"], a["coverage_50"]) == (1.0, 0.5)
    assert (b["coverage_90"], b["coverage_50"]) == (0.5, 0.5)
    assert math.isclose(a["bias"], (0.1 - 0.2) / 2) and math.isclose(a["mean_abs_error"], 0.15)
    assert math.isclose(b["bias"], (-0.5 + 0.2) / 2) and math.isclose(b["mean_abs_error"], 0.35)
    assert math.isclose(a["rel_width_90"], (1.0 + 0.8) / 2)
    assert math.isclose(s["pooled"]["coverage_90"], 0.75)
    assert s["all_four_covered_90"] == 0.5  # only the second dataset has every channel inside
    assert s["all_within_25pct"] == 0.5  # the second: -20% and +20%
    assert s["n_datasets"] == 2
    assert s["n_r_hat_over_1_01"] == 1 and s["n_divergences_over_1pct"] == 1  # 10 of 1000


def test_fit_speed_reports_what_it_measured(tmp_path):
    """fit_speed.py on small simulated data: ESS/s is the min channel ESS over the median warm wall."""
    from mmm_jax.synthetic import SimulationConfig, simulate

    sim = simulate(SimulationConfig(n_periods=120, noise_sd=0.03), seed=4)
    (tmp_path / "small").mkdir()
    sim.frame.to_csv(tmp_path / "small" / "data.csv", index=False)
    out = tmp_path / "fit_speed.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "fit_speed.py"
    args = ["--data", str(tmp_path / "small"), "--chains", "2", "--warmup", "40", "--draws", "30"]
    args += ["--repeats", "3", "--svi-steps", "60", "--out", str(out)]
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    r = json.loads(out.read_text())
    n = r["nuts"]
    walls = n["warm_wall_s_all"]
    assert len(walls) == 3 and n["wall_s"] == sorted(walls)[1]
    assert 0 < n["min_bulk_ess_channel"] and n["max_rhat_channel"] > 0.9
    assert math.isclose(n["ess_per_s"], n["min_bulk_ess_channel"] / n["wall_s"])
    assert n["cold_wall_s"] > n["cold_compile_s"] > 0
    assert r["settings"]["marginalized_baseline"] is True
    assert r["svi"]["marginalized_baseline"] is True and r["svi"]["steps"] == 60
    assert r["svi"]["wall_s"] > 0 and r["svi"]["cold_wall_s"] > 0
    # No PyMC-Marketing here: the ratio is against the anchor's published figure.
    assert r["pymc_marketing"]["note"].startswith("anchor figure")
    assert math.isclose(r["ratio_ess_per_s_vs_pymc"], n["ess_per_s"] / 33.4)
