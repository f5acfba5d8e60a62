"""benchmarks/meridian_geo.py: what it reads of mmm_jax's own scale run (Meridian itself is
not installed here; its side is measured by running the script in Meridian's own venv)."""

import json
from pathlib import Path

import pytest

from tests._paths import load_script

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mg():
    return load_script(ROOT / "benchmarks" / "meridian_geo.py", "bench_meridian_geo")


def _scale_report(rows):
    return {"settings": {"chains": 4}, "device": "cpu", "results": rows}


def test_ours_takes_the_nuts_row_of_the_same_geo_count(mg, tmp_path):
    roas = {"a": {"rel_error": 0.05}, "b": {"rel_error": -0.2}}
    rows = [
        {"G": 50, "method": "svi", "wall_s": 5.0, "run_s": 3.0, "roas": roas},
        {"G": 10, "method": "nuts", "wall_s": 20.0, "run_s": 10.0, "min_ess_bulk": 300.0,
         "r_hat_max": 1.0, "roas": roas, "all_true_roas_in_hdi": True},
        {"G": 50, "method": "nuts", "wall_s": 120.0, "run_s": 100.0, "min_ess_bulk": 250.0,
         "min_ess_bulk_global": 260.0, "min_ess_site": "geo/media_spread", "r_hat_max": 1.012,
         "divergences": 0, "steps_per_draw": 24.0, "roas": roas, "all_true_roas_in_hdi": False},
    ]  # fmt: skip
    path = tmp_path / "scale.json"
    path.write_text(json.dumps(_scale_report(rows)))
    ours = mg._ours(path, 50)
    assert ours["ess_per_s_run"] == pytest.approx(2.5)
    assert ours["ess_per_s_wall"] == pytest.approx(250.0 / 120.0)
    assert ours["min_ess_bulk_global"] == 260.0 and ours["min_ess_site"] == "geo/media_spread"
    assert ours["max_abs_roas_rel_error"] == pytest.approx(0.2)
    assert ours["all_true_roas_in_hdi"] is False
    assert mg._ours(None, 50) is None
    with pytest.raises(SystemExit, match="no NUTS result at G = 25"):
        mg._ours(path, 25)


def test_committed_result_holds_both_sides_and_their_ratio(mg):
    path = ROOT / "benchmarks" / "results" / "meridian_geo_cpu.json"
    d = json.loads(path.read_text())
    ours = d["mmm_jax"]
    # the ratio is the quotient of the two ESS rates it says it is
    assert d["ratio_ess_per_s"]["mmm_jax_run_over_meridian"] == pytest.approx(
        (ours["min_ess_bulk"] / ours["run_s"]) / (d["min_ess_bulk"] / d["fit_s"])
    )
    national = d["ratio_ess_per_s_national"]["mmm_jax_wall_over_meridian"]
    wall = d["build_s"] + d["fit_s"]
    assert national == pytest.approx(
        (ours["min_ess_bulk_global"] / ours["wall_s"]) / (d["min_ess_bulk_channel"] / wall)
    )
    assert set(d["roas"]) == {"meta", "google", "tiktok", "amazon"}
    assert d["min_ess_site"] in d["per_site"]
    assert "family" in mg._processor() or mg._processor() == "unknown"
