import json
from pathlib import Path

import numpy as np
import pytest

import jax

from tests._paths import load_script

SCRIPT = Path(__file__).resolve().parents[2] / "experiments" / "02_lift_test_calibration.py"


def _load():
    return load_script(SCRIPT, "experiment_02")


def test_quick_simulated_run_writes_numbers_and_figures(tmp_path):
    _check_run(tmp_path, wrong_prior=False)


@pytest.mark.slow
def test_quick_run_with_a_wrong_prior(tmp_path):
    _check_run(tmp_path, wrong_prior=True)


def _check_run(tmp_path, wrong_prior):
    module = _load()
    extra = ["--wrong-prior", "social:6"] if wrong_prior else []
    args = module.build_parser().parse_args(
        ["--out", str(tmp_path), "--simulate", "--quick", *extra]
    )
    # numpyro's init draws from the (channel,)-batched wrong prior with
    # implicit rank promotion, which the suite's strict setting forbids.
    with jax.numpy_rank_promotion("allow"):
        result = module.main(args)
    saved = json.loads((tmp_path / "result.json").read_text())
    assert (tmp_path / "roas_before_after.png").stat().st_size > 10_000
    parts = ("default_prior", "wrong_prior") if wrong_prior else ("default_prior",)
    assert (tmp_path / "roas_wrong_prior.png").is_file() == wrong_prior
    for part in parts:
        moved = saved[part]["moved"]
        assert moved["social"]["tested"] and not moved["search"]["tested"]
        for name, row in moved.items():
            b = saved[part]["uncalibrated"][name]
            a = saved[part]["calibrated"][name]
            np.testing.assert_allclose(
                row["hdi_width_ratio"], a["hdi_width"] / b["hdi_width"], rtol=1e-12
            )
            assert b["hdi_low"] <= b["mean"] <= b["hdi_high"]
            assert "truth" in b and b["truth"] > 0
    if wrong_prior:  # centred at 6 with a 10% sd: uncalibrated social sits near it
        assert abs(result["wrong_prior"]["uncalibrated"]["social"]["mean"] - 6.0) < 1.5
    rows = saved["lift_tests"]
    assert rows["method"] == ["did", "regression"] and rows["true_lift"][0] > 0
