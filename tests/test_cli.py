"""End-to-end tests of the ``mmm-jax`` command line, run in-process through ``main``.

Small simulated data (90 daily periods) is fitted once per module with a short
SVI run and once with MAP; every command then reads the run folder the way a
user's script would. Numbers are checked against the CSV they came from and
against each other (the what-if reproduces the optimiser's revenue), errors
against the one-line ``error: ...`` convention with exit status 2.

The last section feeds every way a run folder used to be lost or mixed (a
full disk, a kill between files, two writers, edited or foreign files) and
every input that used to leak a traceback: each ends with exit status 2 and
one line, or a complete new run, and the earlier run is intact byte for byte.
Two of them run ``mmm-jax fit`` in a separate process, stopped or killed at a
named write phase.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jax

from mmm_jax import _atomic
from mmm_jax.cli import main
from mmm_jax.run_folder import RunFolder
from mmm_jax.synthetic import SimulationConfig, simulate
from tests.test_run_folder import needs_proc, rewrite_meta, snapshot, wait_stopped

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
    from mmm_jax.diagnostics.validation import window_metrics
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
    # A one-draw MAP run keeps this fast; alloc.json adds the budget figure and note. Its
    # 200 steps leave the loss falling, so the review FAILs svi_converged: --force.
    summary_before = (map_run / "summary.json").read_bytes()
    assert main(["optimize", str(map_run)]) == 2
    assert "the SVI loss was still falling" in capsys.readouterr().err
    assert main(["optimize", str(map_run), "--force"]) == 0
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
    assert "forced on a fit that FAILs convergence (svi_converged)" in page


def _error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_error_missing_csv(tmp_path, capsys):
    err = _error(capsys, ["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "run")])
    assert "nope.csv" in err and "not found" in err
    assert os.listdir(tmp_path) == []  # no run folder, no stage, no lock left


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
    assert "no run folder at" in err and "missing" in err and "mmm-jax fit" in err


def test_error_infeasible_budget(svi_run, capsys):
    err = _error(capsys, ["optimize", str(svi_run), "--budget", "10", "--bounds", "0.5,2"])
    assert "budget 10.0 is outside what the bounds allow" in err


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
    [
        ([], False),  # geo pooling by default, offsets non-centred
        (["--geo-pooling"], False),
        (["--geo-pooling", "auto"], None),  # centred as far as each geo's data pin them
        (["--geo-pooling", "centred"], True),
        (["--geo-pooling", "noncentred"], False),
        (["--geo-pooling", "none"], "off"),
    ],
)
def test_geo_pooling_flag_builds_the_config(flags, centred):
    from mmm_jax.cli import _model_config, build_parser

    args = build_parser().parse_args(["fit", "panel.csv", "--out", "run", "--geo", "geo", *flags])
    pooling = _model_config(args).geo_pooling
    assert (pooling is None) if centred == "off" else (pooling.centred is centred)


def test_geo_pooling_flag_refuses_unknown_form(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "panel.csv", "--out", "run", "--geo-pooling", "sideways"])
    assert exc.value.code == 2
    assert "invalid choice: 'sideways'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def geo_run(tmp_path_factory):
    from tests.models.test_model import small_frame

    folder = tmp_path_factory.mktemp("geo_run")
    # geos named like missing values, and a label with spaces around it, stay geos
    geos = ["north", "NA", "None", " south "]
    small_frame(geos=geos).to_csv(folder / "panel.csv", index=False)
    run = folder / "run"
    argv = ["fit", str(folder / "panel.csv"), "--out", str(run), "--geo", "geo", "--geo-pooling"]
    argv += ["--controls", "traffic", "--method", "map", "--svi-steps", "400", "--quiet"]
    assert main(argv) == 0
    return run


def test_optimize_per_geo_decides_each_geo_within_its_bounds(geo_run, tmp_path):
    # the 400-step MAP fixture FAILs svi_converged; --force: the bounds are what is tested
    national, per_geo = tmp_path / "national.json", tmp_path / "per_geo.json"
    argv = ["optimize", str(geo_run), "--bounds", "0.5,2", "--force", "--out", str(national)]
    assert main(argv) == 0
    argv = ["optimize", str(geo_run), "--bounds", "0.5,2", "--per-geo", "--force"]
    argv += ["--out", str(per_geo)]
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
    # per-period amounts are national totals over the geos, and say so
    assert nat["n_geos"] == geo["n_geos"] == 4 and nat["forced"] is True
    assert nat["note"].endswith("spend and revenue are national totals over 4 geos")


def test_optimize_per_geo_writes_its_own_file_beside_the_national_plan(geo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(geo_run, run)
    assert main(["optimize", str(run), "--force"]) == 0
    assert main(["optimize", str(run), "--per-geo", "--force"]) == 0
    national = json.loads((run / "alloc.json").read_text())
    per_geo = json.loads((run / "alloc_per_geo.json").read_text())
    assert "allocation_by_geo" not in national and "allocation_by_geo" in per_geo
    loaded = RunFolder(run).load()  # both checked against the fit; the report shows the national
    assert loaded.alloc == national
    (run / "alloc.json").unlink()
    assert RunFolder(run).load().alloc == per_geo
    edited = {**per_geo, "provenance": {"fit_checksum": "0" * 64}}
    (run / "alloc_per_geo.json").write_text(json.dumps(edited))
    with pytest.raises(ValueError, match=r"alloc_per_geo.json was not computed from .*--per-geo"):
        RunFolder(run).load()


def test_optimize_per_geo_refuses_a_national_run(svi_run, capsys):
    assert main(["optimize", str(svi_run), "--per-geo"]) == 2
    assert "--per-geo needs a run fitted on a geo panel" in capsys.readouterr().err


def test_geo_names_na_and_none_are_geos(geo_run):
    fit = RunFolder(geo_run).load().fit
    assert fit.data.geos == ("north", "NA", "None", "south")


# ------------------------------------------------------------------ runs never lost or mixed
MAP_ARGS = ["--method", "map", "--svi-steps", "200", "--channels", ",".join(CHANNELS)]
MAP_ARGS += ["--controls", "organic_traffic", "--quiet"]

# `mmm-jax fit` in its own process, stopped or killed at PHASE (mmm_jax._atomic.set_fault_hook)
CLI = textwrap.dedent(
    """
    import os, signal, sys
    from mmm_jax import _atomic

    phase, action = sys.argv[1:3]

    def hook(name):
        if name == phase:
            os.kill(os.getpid(), signal.SIGKILL if action == "kill" else signal.SIGSTOP)

    _atomic.set_fault_hook(hook)
    from mmm_jax.cli import main

    sys.exit(main(sys.argv[3:]))
    """
)


@pytest.fixture
def earlier(map_run, tmp_path):
    """A copy of the MAP run (fit, hold-out refit, summary; alloc and report once made)."""
    run = tmp_path / "run"
    shutil.copytree(map_run, run)
    return run


def _assert_intact(run: Path, before: dict) -> None:
    assert snapshot(run) == before
    assert os.listdir(run.parent) == [run.name]  # no stage, backup or lock beside it
    RunFolder(run).load()  # and its files still check out as one run


@needs_proc
def test_two_fits_into_one_folder_second_fails_at_once_first_completes(earlier, csv_path, capsys):
    argv = ["fit", str(csv_path), "--out", str(earlier), *MAP_ARGS, "--holdout", "0.1"]
    first = subprocess.Popen(
        [sys.executable, "-c", CLI, "locked", "stop", *argv, "--seed", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_stopped(first)
        before = snapshot(earlier)
        start = time.monotonic()
        err = _error(capsys, ["fit", str(csv_path), "--out", str(earlier), *MAP_ARGS])
        assert time.monotonic() - start < 2.0  # refused before loading data or fitting
        assert (
            f"run folder {earlier} is being written by another mmm-jax process "
            f"(pid {first.pid}, mmm-jax fit); wait for it to finish or choose another --out"
        ) in err
        assert "being written" in _error(capsys, ["optimize", str(earlier)])
        assert snapshot(earlier) == before
    finally:
        first.send_signal(signal.SIGCONT)
    out, errors = first.communicate(timeout=600)
    assert first.returncode == 0 and b"Traceback" not in errors, errors.decode()
    # the first fit's run, complete: its hold-out refit was not deleted by the second
    run = RunFolder(earlier).load()
    assert run.holdout_fit is not None and run.summary["fit"]["holdout"]["n_holdout"] == 9
    assert sorted(os.listdir(earlier)) == ["fit.npz", "fit_holdout.npz", "summary.json"]
    assert os.listdir(earlier.parent) == [earlier.name]


def test_a_fit_killed_between_fit_npz_and_summary_json_changes_nothing(earlier, csv_path):
    before = snapshot(earlier)
    argv = ["fit", str(csv_path), "--out", str(earlier), *MAP_ARGS, "--seed", "7"]
    proc = subprocess.run(
        [sys.executable, "-c", CLI, "staged:fit.npz", "kill", *argv], capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert snapshot(earlier) == before
    RunFolder(earlier).load()  # the earlier fit and summary, still a pair
    # the next writer is not locked out, and clears the killed one's stage
    assert any(name.startswith(".run.tmp-") for name in os.listdir(earlier.parent))
    with RunFolder(earlier).update(command="report"):
        pass
    _assert_intact(earlier, before)


def test_a_full_disk_while_writing_the_run_keeps_the_earlier_run(
    earlier, csv_path, capsys, monkeypatch
):
    before = snapshot(earlier)

    def half_then_full(fd, data):
        os.write(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(_atomic, "_write_all", half_then_full)
    err = _error(capsys, ["fit", str(csv_path), "--out", str(earlier), *MAP_ARGS])
    assert "fit.npz (No space left on device); the run folder is left as it was" in err
    monkeypatch.undo()
    _assert_intact(earlier, before)


def test_fit_checks_the_run_folder_before_fitting(csv_path, tmp_path, capsys, monkeypatch):
    import mmm_jax.inference as inference

    def no_fit(*args, **kwargs):
        raise AssertionError("fitted before checking --out")

    for name in ("fit_map", "fit_svi", "fit_nuts"):
        monkeypatch.setattr(inference, name, no_fit)
    (tmp_path / "file").write_text("not a folder")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "todo.txt").write_text("keep me")
    argv = ["fit", str(csv_path), "--quiet", "--out"]
    assert "exists and is a file" in _error(capsys, [*argv, str(tmp_path / "file")])
    err = _error(capsys, [*argv, str(tmp_path / "file" / "run")])
    assert "a part of its path is a file" in err
    err = _error(capsys, [*argv, str(notes)])
    assert "is not an mmm-jax run folder (it holds todo.txt)" in err
    assert (notes / "todo.txt").read_text() == "keep me"
    if os.geteuid() == 0:  # root may write anywhere but in /sys
        assert "cannot write into /sys" in _error(capsys, [*argv, "/sys/run"])
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert "cannot write" in _error(capsys, [*argv, str(locked / "run")])
    # checked before the data, too: a bad CSV with a bad --out names the --out
    err = _error(capsys, ["fit", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "file")])
    assert "exists and is a file" in err


def _allocation_file(tmp_path: Path) -> str:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({c: 1000.0 for c in CHANNELS}))
    return str(path)


def _readers(run: Path, tmp_path: Path) -> list[list[str]]:
    return [
        ["report", str(run)],
        ["optimize", str(run)],
        ["simulate", str(run), "--allocation", _allocation_file(tmp_path)],
    ]


def test_an_edited_fit_is_refused(earlier, tmp_path, capsys):
    def tenfold_target_scale(meta):  # ROAS 13.9 instead of 1.39
        meta["data"]["scaler"]["target_scale"] *= 10

    rewrite_meta(earlier / "fit.npz", tenfold_target_scale)
    for argv in _readers(earlier, tmp_path):
        assert "fit.npz is corrupted or was edited" in _error(capsys, argv)


def test_files_of_another_run_are_refused(earlier, svi_run, optimized, tmp_path, capsys):
    fit = (earlier / "fit.npz").read_bytes()
    shutil.copy(svi_run / "fit.npz", earlier / "fit.npz")  # a fit of other settings
    for argv in _readers(earlier, tmp_path):
        assert "summary.json describes another fit than" in _error(capsys, argv)
    (earlier / "fit.npz").write_bytes(fit)
    refit = (earlier / "fit_holdout.npz").read_bytes()
    shutil.copy(svi_run / "fit.npz", earlier / "fit_holdout.npz")
    err = _error(capsys, ["report", str(earlier)])
    assert "fit_holdout.npz is not the hold-out refit" in err
    (earlier / "fit_holdout.npz").write_bytes(refit)
    shutil.copy(svi_run / "alloc.json", earlier / "alloc.json")  # optimised on the SVI fit
    err = _error(capsys, ["report", str(earlier)])
    assert "alloc.json was not computed from" in err and "rerun `mmm-jax optimize" in err
    (earlier / "alloc.json").unlink()
    summary = json.loads((earlier / "summary.json").read_text())
    del summary["provenance"]  # as an older mmm_jax wrote it
    (earlier / "summary.json").write_text(json.dumps(summary))
    err = _error(capsys, ["report", str(earlier)])
    assert "does not record which fit it describes" in err and "delete summary.json" in err


@pytest.mark.parametrize(
    "field, edit",
    [
        ("(top level)", lambda s: [s]),  # was a traceback in cli.py
        ("channels.search", lambda s: {**s, "channels": {**s["channels"], "search": 1.5}}),
        ("review[0]", lambda s: {**s, "review": ["pass"]}),
        (
            "fit.holdout.n_train",
            lambda s: {
                **s,
                "fit": {**s["fit"], "holdout": {**s["fit"]["holdout"], "n_train": "81"}},
            },
        ),
        (
            "diagnostics.divergences",
            lambda s: {**s, "diagnostics": {"method": "map", "divergences": "0"}},
        ),
    ],
)
def test_a_wrongly_typed_summary_is_named_not_a_traceback(earlier, tmp_path, capsys, field, edit):
    summary = json.loads((earlier / "summary.json").read_text())
    (earlier / "summary.json").write_text(json.dumps(edit(summary)))
    for argv in _readers(earlier, tmp_path):
        assert f"run/summary.json: field {field} must be" in _error(capsys, argv)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "d.csv", "--out", "r", "--seed", str(2**64)], "--seed: must be from 0 to"),
        (["fit", "d.csv", "--out", "r", "--seed", "-1"], "--seed: must be from 0 to 4294967295"),
        (["optimize", "r", "--seed", "1e3"], "--seed: must be a whole number, got '1e3'"),
        (["demo", "--seed", str(2**32 - 1)], "--seed: must be from 0 to 4294967293"),
        (["fit", "d.csv", "--out", "r", "--chains", "0"], "--chains: must be at least 1, got 0"),
        (["fit", "d.csv"], "the following arguments are required: --out"),
    ],
)
def test_bad_arguments_end_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: mmm-jax {argv[0]}: ") and err.count("\n") == 1, err
    assert message in err and "Traceback" not in err


def test_repeated_header_and_true_false_spend_are_refused(csv_path, tmp_path, capsys):
    lines = csv_path.read_text().splitlines()
    twice = tmp_path / "twice.csv"  # a second spend_social column would be fitted as social.1
    twice.write_text("\n".join([lines[0].replace("spend_video", "spend_social"), *lines[1:]]))
    err = _error(capsys, ["fit", str(twice), "--out", str(tmp_path / "run")])
    assert "'spend_social' at columns" in err and "appear more than once" in err
    frame = pd.read_csv(csv_path)
    frame["spend_video"] = frame.index % 3 == 0
    flags = tmp_path / "flags.csv"
    frame.to_csv(flags, index=False)
    err = _error(capsys, ["fit", str(flags), "--out", str(tmp_path / "run")])
    assert "'spend_video': True/False values where amounts are expected" in err
    assert sorted(os.listdir(tmp_path)) == ["flags.csv", "twice.csv"]


def test_an_unexpected_error_is_one_line_unless_debugging(svi_run, tmp_path, capsys, monkeypatch):
    import mmm_jax.workflow as workflow

    def broken(*args, **kwargs):
        raise KeyError("surprise")

    monkeypatch.setattr(workflow, "simulate", broken)
    argv = ["simulate", str(svi_run), "--allocation", _allocation_file(tmp_path)]
    err = _error(capsys, argv)
    assert err.startswith("error: internal error: KeyError: 'surprise' (rerun with MMM_JAX_DEBUG=1")
    monkeypatch.setenv("MMM_JAX_DEBUG", "1")
    with pytest.raises(KeyError, match="surprise"):
        main(argv)
