"""Every experiments/ script runs end to end with ``--quick`` (in-process, via ``main``).

Experiment 01 runs once per module (simulate -> bronze -> silver -> gold, NUTS
and SVI); experiment 03 reuses its NUTS fit. Assertions are on the numbers the
scripts write to ``result.json``: the gold data equals the simulation within
the cent rounding of the exports, ROAS estimates are finite and within a loose
factor of the truth (tiny fits, so loose), and the recommended allocation
spends exactly the budget within the bounds and captures a share of the truly
attainable uplift that is at most one.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tests._paths import load_script

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

pytestmark = pytest.mark.slow  # two short NUTS runs and one SVI: about a minute on 2 cores


def _load(name):
    path = EXPERIMENTS / f"{name}.py"
    return load_script(path, f"experiment_{name}")


def _run(name, argv):
    module = _load(name)
    result = module.main(module.build_parser().parse_args(argv))
    return module, result


@pytest.fixture(scope="module")
def run01(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp01")
    _, result = _run("01_generate_and_fit", ["--out", str(out), "--quick", "--seed", "2"])
    return out, result


def test_01_writes_its_numbers_and_figures(run01):
    out, result = run01
    on_disk = json.loads((out / "result.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert "quick=True" in result["config_repr"]
    for f in result["figures"]:
        assert (out / f).stat().st_size > 1000
    assert (out / "fit_nuts.npz").exists() and (out / "fit_svi.npz").exists()
    report = json.loads((out / "silver_report.json").read_text())
    kinds = {f["kind"] for f in report["fixes"]}
    assert {"removed_duplicates", "filled_inactive_days", "parsed_currency"} <= kinds
    assert set(report["rows_out"].values()) == {100}
    assert result["data"]["max_abs_gold_error"]["spend"] <= 0.005 + 1e-6
    assert result["data"]["max_abs_gold_error"]["revenue"] <= 0.005 + 1e-6


def test_01_roas_is_finite_and_near_the_truth(run01):
    _, result = run01
    truth = result["truth"]["roas"]
    assert set(result["methods"]) == {"nuts", "svi_auto_mvn"}
    for m, r in result["methods"].items():
        assert r["seconds"] > 0
        for name, est in r["roas"].items():
            values = [est[k] for k in ("mean", "hdi_low", "hdi_high")]
            assert np.all(np.isfinite(values)), (m, name)
            assert est["hdi_low"] <= est["mean"] <= est["hdi_high"]
            assert est["truth"] == truth[name]
            # Tiny fits on 100 days: only a loose factor is meaningful.
            assert 1 / 5 < est["mean"] / truth[name] < 5, (m, name, est, truth[name])
            assert est["ratio"] == pytest.approx(est["mean"] / truth[name])
        assert 0 <= r["roas_coverage"] <= 1
        assert 0 < r["baseline_share"]["mean"] < 1
    assert result["methods"]["nuts"]["r_hat_max"] is not None


def test_03_allocation_spends_the_budget_and_is_scored(run01, tmp_path):
    out01, _ = run01
    out = tmp_path / "exp03"
    argv = ["--out", str(out), "--quick", "--seed", "2", "--fit", str(out01 / "fit_nuts.npz")]
    _, result = _run("03_optimise_budget", argv)
    assert json.loads((out / "result.json").read_text()) == json.loads(json.dumps(result))
    hist = np.array(list(result["historical"].values()))
    rec = np.array(list(result["recommended"].values()))
    opt = np.array(list(result["true_optimum"].values()))
    assert result["budget"] == pytest.approx(hist.sum(), rel=1e-9)
    assert rec.sum() == pytest.approx(result["budget"], rel=1e-6)
    assert opt.sum() == pytest.approx(result["budget"], rel=1e-4)
    lo, hi = result["config"]["bounds"]
    assert np.all(rec >= lo * hist * (1 - 1e-6)) and np.all(rec <= hi * hist * (1 + 1e-6))
    # The true optimum is at least as good as the recommendation under the true curves.
    rev = result["true_revenue"]
    assert rev["optimum"] >= rev["recommended"] - 1e-6 * rev["optimum"]
    assert result["true_uplift_captured"] == pytest.approx(rev["recommended"] - rev["historical"])
    share = result["share_captured"]
    assert share is None or share <= 1 + 1e-6
    assert (out / "figures" / "budget_reallocation.png").stat().st_size > 1000
    assert result["fit"]["method"] == "nuts" and result["fit"]["n_samples"] == 80
