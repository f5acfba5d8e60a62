"""End-to-end tests of the ``mmm-jax`` command line, run in-process through ``main``.

Small simulated data (90 daily periods) is fitted once per module with a short
SVI run and once with MAP; every command then reads the run folder the way a
user's script would. Numbers are checked against the CSV they came from and
against each other (the what-if reproduces the optimiser's revenue), errors
against the one-line ``error: ...`` convention with exit status 2.
"""

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import jax

from mmm_jax.cli import main
from mmm_jax.data import SimulationConfig, simulate

CHANNELS = ["search", "social", "video", "retail"]
ESTIMATE_KEYS = {"mean", "median", "hdi_low", "hdi_high"}


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    sim = simulate(replace(SimulationConfig(), n_periods=90), seed=3)
    path = tmp_path_factory.mktemp("data") / "data.csv"
    sim.frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def svi_run(csv_path, tmp_path_factory):
    run = tmp_path_factory.mktemp("svi_run")
    argv = ["fit", str(csv_path), "--out", str(run), "--method", "svi", "--svi-steps", "300"]
    assert main([*argv, "--controls", "organic_traffic", "--quiet", "--seed", "1"]) == 0
    return run


@pytest.fixture(scope="module")
def map_run(csv_path, tmp_path_factory):
    run = tmp_path_factory.mktemp("map_run")
    argv = ["fit", str(csv_path), "--out", str(run), "--method", "map", "--svi-steps", "200"]
    argv += ["--channels", ",".join(CHANNELS), "--controls", "organic_traffic", "--holdout", "0.1"]
    assert main(argv) == 0
    return run


@pytest.fixture(scope="module")
def optimized(svi_run, csv_path):
    """``mmm-jax optimize`` at 1.1 x the historical budget: (alloc dict, budget, historical)."""
    hist = pd.read_csv(csv_path)[[f"spend_{c}" for c in CHANNELS]].mean().to_numpy()
    budget = 1.1 * float(hist.sum())
    argv = ["optimize", str(svi_run), "--budget", repr(budget), "--bounds", "0.5,2"]
    assert main(argv) == 0
    return json.loads((svi_run / "alloc.json").read_text()), budget, hist


def _is_estimate(e) -> bool:
    return (
        isinstance(e, dict)
        and set(e) >= ESTIMATE_KEYS
        and all(np.isfinite(e[k]) for k in ESTIMATE_KEYS)
        and e["hdi_low"] <= e["median"] <= e["hdi_high"]
    )


def test_fit_svi_writes_summary_per_results_contract(svi_run, csv_path):
    summary = json.loads((svi_run / "summary.json").read_text())
    assert (svi_run / "fit.npz").is_file()
    assert list(summary["channels"]) == CHANNELS
    frame = pd.read_csv(csv_path)
    for name, ch in summary["channels"].items():
        assert set(ch) >= {
            "spend",
            "contribution",
            "roas",
            "marginal_roas",
            "saturation_spend",
            "wasteful",
        }
        # Spend is the total over the window, straight from the CSV.
        np.testing.assert_allclose(ch["spend"], frame[f"spend_{name}"].sum(), rtol=1e-5)
        for key in ("contribution", "roas", "marginal_roas", "saturation_spend"):
            assert _is_estimate(ch[key]), (name, key, ch[key])
        # ROAS draws are contribution draws over a fixed spend, so the means agree.
        np.testing.assert_allclose(
            ch["roas"]["mean"], ch["contribution"]["mean"] / ch["spend"], rtol=1e-4
        )
        assert isinstance(ch["wasteful"], bool)
    assert _is_estimate(summary["baseline"]["contribution"])
    share = summary["baseline"]["share"]
    assert _is_estimate(share) and 0.0 < share["mean"] < 1.0
    assert summary["synergy"] == {}  # fitted without --synergy
    assert set(summary["fit"]) >= {"r2", "mape", "nrmse"}
    assert all(np.isfinite(v) for v in summary["fit"].values())
    diag = summary["diagnostics"]
    assert diag["method"] == "svi" and diag["seconds"] > 0
    assert diag["r_hat_max"] is None and diag["divergences"] is None  # one SVI "chain"
    # The model review's plain-language verdicts, in reading order (no hold-out asked for).
    checks = [i["check"] for i in summary["review"]]
    assert checks[0] == "svi_converged" and checks[-4:] == [
        "negative_baseline",
        "roas_plausible",
        "roas_identified",
        "prior_shift",
    ]
    assert "ppc_coverage" in checks and "holdout_forecast" not in checks
    assert all(i["status"] in ("pass", "warn", "fail") and i["message"] for i in summary["review"])


def test_fit_map_gives_point_estimates(map_run):
    summary = json.loads((map_run / "summary.json").read_text())
    assert list(summary["channels"]) == CHANNELS
    assert summary["diagnostics"]["method"] == "map"
    for ch in summary["channels"].values():
        r = ch["roas"]
        assert r["hdi_low"] == r["median"] == r["hdi_high"]  # one draw: zero-width interval
        np.testing.assert_allclose(r["mean"], r["median"], rtol=1e-6)


def test_optimize_allocation_sums_to_budget_within_bounds(optimized, capsys):
    alloc, budget, hist = optimized
    x = np.array([alloc["allocation"][c] for c in CHANNELS])
    assert alloc["budget"] == pytest.approx(budget, rel=1e-12)
    assert abs(x.sum() - budget) <= 1e-6 * budget
    assert np.all(x >= 0.5 * hist * (1 - 1e-6)) and np.all(x <= 2.0 * hist * (1 + 1e-6))
    # Historical spend per period is the CSV's mean spend.
    np.testing.assert_allclose(
        [alloc["historical_allocation"][c] for c in CHANNELS], hist, rtol=1e-5
    )
    for key in ("expected_revenue", "historical_revenue", "uplift"):
        assert set(alloc[key]) >= ESTIMATE_KEYS
    # Uplift draws are revenue minus historical revenue, so the means subtract.
    np.testing.assert_allclose(
        alloc["uplift"]["mean"],
        alloc["expected_revenue"]["mean"] - alloc["historical_revenue"]["mean"],
        rtol=1e-4,
        atol=1e-6 * alloc["expected_revenue"]["mean"],
    )


def test_simulate_reproduces_optimized_revenue(optimized, svi_run, tmp_path, capsys):
    alloc, budget, _ = optimized
    out = tmp_path / "whatif.json"
    argv = ["simulate", str(svi_run), "--allocation", str(svi_run / "alloc.json")]
    assert main([*argv, "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == result
    assert result["budget"] == pytest.approx(budget, rel=1e-6)
    want = alloc["expected_revenue"]["mean"]
    assert abs(result["expected_revenue"]["mean"] - want) <= 0.01 * abs(want)
    want_h = alloc["historical_revenue"]["mean"]
    assert abs(result["historical_revenue"]["mean"] - want_h) <= 0.01 * abs(want_h)


def test_fit_holdout_scores_a_refit_on_the_first_90_percent(map_run, csv_path):
    from mmm_jax.data import load_csv
    from mmm_jax.diagnostics import window_metrics
    from mmm_jax.inference import Fit

    summary = json.loads((map_run / "summary.json").read_text())
    hold = summary["fit"]["holdout"]
    dates = pd.read_csv(csv_path)["date"]
    assert (hold["n_train"], hold["n_holdout"]) == (81, 9)
    assert hold["holdout_start"] == dates[81]
    # The saved refit saw the first 81 periods only, on their own scale ...
    data = load_csv(csv_path, channels=CHANNELS, controls=("organic_traffic",))
    refit = Fit.load(map_run / "fit_holdout.npz")
    assert refit.data.n_time == 81 and str(refit.data.dates[-1].date()) == dates[80]
    assert refit.data.scaler == data.time_slice(0, 81, rescale=True).scaler
    # ... and the summary's numbers are its forecast of the last 9, scored.
    view = data.with_scaler(refit.data.scaler)
    key = jax.random.fold_in(jax.random.PRNGKey(0), 1)
    by_hand = window_metrics(refit, view, 81, 90, key=jax.random.split(key)[1])
    assert hold["coverage"] is None and by_hand.pop("coverage") is None  # MAP: one draw, no band
    assert {k: hold[k] for k in by_hand} == pytest.approx(by_hand, rel=1e-6, abs=1e-9)
    assert hold["mape"] > 0.0
    # The review judges the forecast: no band from one draw, so on its error alone.
    (item,) = [i for i in summary["review"] if i["check"] == "holdout_forecast"]
    assert item["value"] is None and "Forecasting the last 9 periods" in item["message"]
    with pytest.raises(ValueError, match="another scale"):  # data still on their own scale
        refit.predict(data)


def test_fit_holdout_refuses_what_would_stop_the_refit_before_fitting(csv_path, tmp_path, capsys):
    argv = ["fit", str(csv_path), "--out", str(tmp_path / "run"), "--holdout"]
    assert "--holdout 1.5: frac must be in (0, 1)" in _error(capsys, [*argv, "1.5"])
    assert "need at least 2" in _error(capsys, [*argv, "0.99"])
    late = pd.read_csv(csv_path)
    late.loc[:59, "spend_social"] = 0.0  # social first spends in period 60
    late_path = tmp_path / "late.csv"
    late.to_csv(late_path, index=False)
    argv[1] = str(late_path)
    err = _error(capsys, [*argv, "0.5"])  # trains on periods 0-44: no social spend there
    assert "no spend on social in it (first spend " + late["date"][60] in err
    assert not (tmp_path / "run").exists()


def test_report_refuses_a_holdout_refit_of_other_data(map_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(map_run, copy)
    summary = json.loads((copy / "summary.json").read_text())
    summary["fit"]["holdout"]["n_train"] = 80  # the saved refit covers 81 periods
    (copy / "summary.json").write_text(json.dumps(summary))
    assert "fit_holdout.npz is not a refit" in _error(capsys, ["report", str(copy)])


def test_report_writes_html_with_every_channel(map_run, capsys):
    # A one-draw MAP run keeps this fast; alloc.json adds the budget figure and note.
    summary_before = (map_run / "summary.json").read_bytes()
    assert main(["optimize", str(map_run)]) == 0
    assert main(["report", str(map_run)]) == 0
    path = map_run / "report.html"
    assert capsys.readouterr().out.strip().endswith(str(path))
    page = path.read_text()
    for name in CHANNELS:
        assert name in page
    assert page.count("<figure") >= 5
    assert "id='fig-budget'" in page and "Budget " in page
    pngs = {p.name: p.read_bytes() for p in (map_run / "figures").glob("*.png")}
    assert {"posterior_predictive.png", "roas.png", "response_curves.png", "budget.png"} <= set(
        pngs
    )
    assert all(b.startswith(b"\x89PNG") and len(b) > 2000 for b in pngs.values())
    assert "Held out: last 9 periods from" in page and "90% interval coverage" in page
    # the hold-out forecast is drawn right after the posterior predictive check
    order = [page.index(f"id='fig-{k}'") for k in ("posterior_predictive", "holdout_forecast")]
    assert order == sorted(order) and "holdout_forecast.png" in pngs
    # The page shows the review that `fit` wrote, and the summary file is left as it was.
    assert (map_run / "summary.json").read_bytes() == summary_before
    assert "holdout_forecast" in page


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_error_missing_csv(tmp_path, capsys):
    err = _error(capsys, ["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "run")])
    assert "nope.csv" in err and "not found" in err
    assert not (tmp_path / "run").exists()


def test_error_nan_in_spend_names_column_and_row(csv_path, tmp_path, capsys):
    frame = pd.read_csv(csv_path)
    frame.loc[7, "spend_video"] = np.nan
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    err = _error(capsys, ["fit", str(bad), "--out", str(tmp_path / "run"), "--quiet"])
    assert "spend_video" in err and "rows 7" in err and frame.loc[7, "date"] in err


def test_error_unknown_channel(csv_path, tmp_path, capsys):
    argv = ["fit", str(csv_path), "--out", str(tmp_path), "--channels", "search,tv"]
    err = _error(capsys, argv)
    assert "'tv'" in err and "spend_tv" in err


def test_error_optimize_missing_run(tmp_path, capsys):
    err = _error(capsys, ["optimize", str(tmp_path / "missing")])
    assert "no fit found" in err and "missing" in err


def test_error_infeasible_budget(svi_run, capsys):
    err = _error(capsys, ["optimize", str(svi_run), "--budget", "10", "--bounds", "0.5,2"])
    assert "budget 10.00 is outside what the bounds allow" in err


def test_error_simulate_unknown_channel(svi_run, tmp_path, capsys):
    spec = tmp_path / "alloc.json"
    spec.write_text(json.dumps({"search": 1.0, "social": 1.0, "video": 1.0, "tv": 1.0}))
    err = _error(capsys, ["simulate", str(svi_run), "--allocation", str(spec)])
    assert "unknown channels ['tv']" in err and "missing channels ['retail']" in err


@pytest.mark.parametrize(
    "text, message",
    [("abc", "--bounds must be LO,HI"), ("1,2,3", "--bounds must be LO,HI"), ("2,1", "LO <= HI")],
)
def test_error_bad_bounds(svi_run, capsys, text, message):
    err = _error(capsys, ["optimize", str(svi_run), "--bounds", text])
    assert message in err and (text in err or "2.0, 1.0" in err)


def test_error_report_missing_run(tmp_path, capsys):
    err = _error(capsys, ["report", str(tmp_path / "missing")])
    assert "no run folder" in err


@pytest.mark.parametrize(
    "flags, centred",
    [([], None), (["--geo-pooling"], False), (["--geo-pooling", "centred"], True)],
)
def test_geo_pooling_flag_builds_the_config(flags, centred):
    from mmm_jax.cli import _model_config, build_parser

    args = build_parser().parse_args(["fit", "panel.csv", "--out", "run", "--geo", "geo", *flags])
    pooling = _model_config(args).geo_pooling
    assert (pooling is None) if centred is None else (pooling.centred is centred)


def test_geo_pooling_flag_refuses_unknown_form(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "panel.csv", "--out", "run", "--geo-pooling", "sideways"])
    assert exc.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory):
    from tests.models.test_model import small_frame

    folder = tmp_path_factory.mktemp("geo_run")
    small_frame(geos=["north", "south", "east", "west"]).to_csv(folder / "panel.csv", index=False)
    run = folder / "run"
    argv = ["fit", str(folder / "panel.csv"), "--out", str(run), "--geo", "geo", "--geo-pooling"]
    argv += ["--controls", "traffic", "--method", "map", "--svi-steps", "400", "--quiet"]
    assert main(argv) == 0
    return run


def test_optimize_per_geo_decides_each_geo_within_its_bounds(geo_run, tmp_path):
    national, per_geo = tmp_path / "national.json", tmp_path / "per_geo.json"
    assert main(["optimize", str(geo_run), "--bounds", "0.5,2", "--out", str(national)]) == 0
    argv = ["optimize", str(geo_run), "--bounds", "0.5,2", "--per-geo", "--out", str(per_geo)]
    assert main(argv) == 0
    nat, geo = json.loads(national.read_text()), json.loads(per_geo.read_text())
    cells = np.array([list(v.values()) for v in geo["allocation_by_geo"].values()])
    hist = np.array([list(v.values()) for v in geo["historical_allocation_by_geo"].values()])
    assert cells.shape == (4, 3)
    np.testing.assert_allclose(cells.sum(), geo["budget"], rtol=1e-5)
    np.testing.assert_allclose(hist.sum(), nat["budget"], rtol=1e-5)  # default budget: historical
    assert np.all(cells >= 0.5 * hist * (1 - 1e-5)) and np.all(cells <= 2 * hist * (1 + 1e-5))
    np.testing.assert_allclose(list(geo["allocation"].values()), cells.sum(axis=0), rtol=1e-5)
    # The national plan split in each channel's historical geo mix is one of the per-geo
    # plans, so deciding per geo can only do as well or better.
    assert geo["media_revenue"]["mean"] >= nat["media_revenue"]["mean"] * (1 - 1e-4)
    assert "allocation_by_geo" not in nat


def test_optimize_per_geo_refuses_a_national_run(svi_run, capsys):
    assert main(["optimize", str(svi_run), "--per-geo"]) == 2
    assert "--per-geo needs a run fitted on a geo panel" in capsys.readouterr().err
