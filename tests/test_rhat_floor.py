"""benchmarks/rhat_floor.py: the max R-hat of chains with no fault but their ESS."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests._paths import load_script

ROOT = Path(__file__).resolve().parents[1]


def _module():
    return load_script(ROOT / "benchmarks" / "rhat_floor.py", "rhat_floor")


rf = _module()


@pytest.mark.parametrize("ess", [300.0, 1500.0, 3000.0])
def test_ar1_chains_have_the_wanted_bulk_ess(ess):
    import arviz as az

    x = rf.ar1_chains(np.full(40, ess), 4, 500, np.random.default_rng(3))
    assert x.shape == (4, 500, 40)
    measured = az.ess(az.convert_to_dataset({"x": x}), method="bulk")["x"].values
    assert np.median(measured) == pytest.approx(ess, rel=0.1)
    assert abs(float(np.mean(x))) < 0.1 and float(np.std(x)) == pytest.approx(1.0, abs=0.05)


def test_the_floor_rises_with_parameters_and_falls_with_ess():
    one_iid = rf.max_rhat(np.full(1, 2000.0), 4, 500, reps=40, seed=1)
    many_poor = rf.max_rhat(np.full(225, 300.0), 4, 500, reps=20, seed=2)
    many_good = rf.max_rhat(np.full(225, 2000.0), 4, 500, reps=20, seed=3)
    # Independent draws: R-hat hugs 1. 225 parameters at ESS 300: the max
    # clears 1.01 by noise alone; at ESS 2000 it does not.
    assert np.quantile(one_iid, 0.95) < 1.006
    assert np.median(many_poor) > 1.015
    assert np.median(many_good) < 1.008
    assert np.all(many_poor > 1.0)


def test_fits_reads_per_parameter_ess_and_places_the_measured_max(tmp_path):
    per = {"a": {"ess_bulk": [400.0, 500.0], "r_hat": [1.004, 1.003]}, "b": {"ess_bulk": [900.0]}}
    result = {
        "settings": {"chains": 4, "draws": 500},
        "results": [
            {"G": 5, "method": "nuts", "r_hat_max": 1.5, "per_parameter": per},
            {"G": 10, "method": "nuts", "r_hat_max": 1.01},  # no per-parameter ESS: skipped
            {"G": 50, "method": "svi"},
        ],
    }
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(result))
    args = type("Args", (), {"reps": 30, "seed": 0})()
    (row,) = rf.fits(path, args)
    assert (row["G"], row["params"], row["min_ess"]) == (5, 3, 400.0)
    assert row["q05"] <= row["median"] <= row["q95"] < 1.5
    assert row["measured_quantile"] == 1.0  # a max of 1.5 is far above any floor


def test_main_writes_json_and_figure_and_rejects_bad_input(tmp_path, capsys):
    out = tmp_path / "floor.json"
    assert rf.main(["--ess", "500", "--params", "1,3", "--reps", "20", "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert [(r["params"], r["ess"]) for r in written["grid"]] == [(1, 500), (3, 500)]
    assert out.with_suffix(".png").stat().st_size > 0
    with pytest.raises(SystemExit):
        rf.main(["--ess", "0"])
    with pytest.raises(SystemExit):
        rf.main(["--fit-json", str(tmp_path / "missing.json")])
    assert "missing.json" in capsys.readouterr().err
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"summary": {}}))
    with pytest.raises(SystemExit):
        rf.main(["--reps", "20", "--fit-json", str(wrong), "--out", str(out)])
    assert "not a scale.py result" in capsys.readouterr().err
