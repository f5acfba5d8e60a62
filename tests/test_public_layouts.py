"""Data as practitioners bring it: the layouts of three public MMM examples, and unit safety.

The CSVs in ``tests/public_style/`` copy the column layouts of PyMC-Marketing's
example, Meridian's national simulated data and Robyn's simulated weekly data,
with numbers from a known process (``make_data.py``, truth in ``truth.json``).
Fast tests read each file the way ``mmm-jax fit`` does with the flags a user
of that layout needs and check what comes out; ``slow`` tests fit them through
the command line and compare ROAS with the truth.

Unit safety: spend is scaled per channel by its mean and the target by its
mean, and the default prior is on the relative ROAS, so multiplying all spend
by ``k`` leaves the model on its scaled data unchanged and divides every ROAS
by ``k``. A fast test checks this on the model's trace (same seed: same draws,
same log density, ROAS times ``k`` equal); a slow one fits the same data three
times (spend x1, x1e-3, x1e3) through the command line.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jax.numpy as jnp
from numpyro.handlers import seed, trace

from mmm_jax.cli import main
from mmm_jax.data import from_frame, load_csv
from mmm_jax.models import ModelConfig, build_inputs, mmm

HERE = Path(__file__).resolve().parent / "public_style"
TRUTH = json.loads((HERE / "truth.json").read_text())

MERIDIAN_CHANNELS = ["Channel0_spend", "Channel1_spend", "Channel2_spend"]
MERIDIAN_CONTROLS = ["competitor_sales_control", "sentiment_score_control", "Promo"]
ROBYN_CHANNELS = ["tv_S", "ooh_S", "print_S", "facebook_S", "search_S"]

#: ``mmm-jax fit`` arguments per layout: the flags a user of that layout needs.
ARGS = {
    "pymc_layout.csv": ["--date", "date_week", "--target", "y", "--spend-prefix", "x"]
    + ["--controls", "event_1,event_2,t"],
    "meridian_national.csv": ["--date", "time", "--kpi", "conversions"]
    + ["--revenue-per-kpi", "revenue_per_conversion", "--channels", ",".join(MERIDIAN_CHANNELS)]
    + ["--controls", ",".join(MERIDIAN_CONTROLS)],
    "robyn_weekly.csv": ["--date", "DATE", "--channels", ",".join(ROBYN_CHANNELS)]
    + ["--controls", "competitor_sales_B,events,newsletter"],
    "weak_units.csv": ["--date", "date_week", "--target", "y", "--channels", "x1,x2"]
    + ["--controls", "event_1,event_2,t"],
}

#: Quick settings of the slow fits: SVI is enough for the ROAS band checked.
SVI = ["--method", "svi", "--svi-steps", "1500", "--seed", "0", "--quiet"]


# ------------------------------------------------------------------ reading each layout
def test_pymc_layout_finds_channels_by_prefix():
    data = load_csv(
        HERE / "pymc_layout.csv",
        date="date_week",
        target="y",
        spend_prefix="x",
        controls=["event_1", "event_2", "t"],
    )
    frame = pd.read_csv(HERE / "pymc_layout.csv")
    assert data.channels == ("1", "2")
    assert data.control_names == ("event_1", "event_2", "t")
    np.testing.assert_allclose(data.media[0, :, 0], frame["x1"])
    assert data.freq.startswith("W") and data.n_time == len(frame)


def test_meridian_layout_fits_conversions_as_revenue():
    frame = pd.read_csv(HERE / "meridian_national.csv")
    data = load_csv(
        HERE / "meridian_national.csv",
        date="time",
        target="conversions",
        revenue_per_kpi="revenue_per_conversion",
        channels=MERIDIAN_CHANNELS,
        controls=MERIDIAN_CONTROLS,
    )
    assert data.channels == tuple(MERIDIAN_CHANNELS)  # whole column names, impressions left out
    assert data.target_name == "revenue (conversions x revenue_per_conversion)"
    revenue = frame["conversions"] * frame["revenue_per_conversion"]
    np.testing.assert_allclose(data.target[0], revenue)
    fixed = from_frame(
        frame, date="time", target="conversions", revenue_per_kpi=35.0, channels=MERIDIAN_CHANNELS
    )
    assert fixed.target_name == "revenue (conversions x 35)"
    np.testing.assert_allclose(fixed.target[0], 35.0 * frame["conversions"])


def test_robyn_layout_one_hot_encodes_events_with_na_as_reference():
    data = load_csv(
        HERE / "robyn_weekly.csv",
        date="DATE",
        channels=ROBYN_CHANNELS,
        controls=["competitor_sales_B", "events", "newsletter"],
    )
    frame = pd.read_csv(HERE / "robyn_weekly.csv", keep_default_na=False)
    assert data.channels == tuple(ROBYN_CHANNELS)
    assert data.control_names == (
        "competitor_sales_B",
        "events=event1",
        "events=event2",
        "newsletter",
    )
    np.testing.assert_array_equal(data.controls[0, :, 1], frame["events"] == "event1")
    assert data.controls[0, :, 1].sum() == 3 and data.controls[0, :, 2].sum() == 2


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kpi", "conversions"], "--kpi needs --revenue-per-kpi"),
        (["--kpi", "conversions", "--target", "y"], "--kpi and --target both"),
        (["--revenue-per-kpi", "35"], "--revenue-per-kpi needs --kpi"),
        (["--kpi", "conversions", "--revenue-per-kpi", "-2"], "revenue_per_kpi must be"),
        (["--kpi", "conversions", "--revenue-per-kpi", "price"], "revenue-per-KPI column 'price'"),
        (["--kpi", "conversions", "--revenue-per-kpi", "Promo"], "not > 0 at rows"),
    ],
)
def test_kpi_flags_refuse_what_they_cannot_use(flags, message, tmp_path, capsys):
    argv = ["fit", str(HERE / "meridian_national.csv"), "--out", str(tmp_path / "run")]
    argv += ["--date", "time", "--channels", ",".join(MERIDIAN_CHANNELS), *flags]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and message in err, err
    assert not (tmp_path / "run" / "summary.json").exists()


# ------------------------------------------------------------------ unit invariance
def _scaled(frame: pd.DataFrame, factor: float) -> pd.DataFrame:
    out = frame.copy()
    out[MERIDIAN_CHANNELS] = out[MERIDIAN_CHANNELS] * factor
    return out


@pytest.mark.parametrize("factor", [1e-3, 1e3])
def test_model_is_unchanged_by_the_units_of_spend(factor):
    """Same seed, spend x ``factor``: same draws and log density; ROAS x ``factor`` the same."""
    frame = pd.read_csv(HERE / "meridian_national.csv")
    config = ModelConfig()
    kw = dict(date="time", target="conversions", channels=MERIDIAN_CHANNELS)
    traces = []
    for k in (1.0, factor):
        data = from_frame(_scaled(frame, k), **kw)
        inputs = build_inputs(data, config)
        y = jnp.asarray(data.target_scaled)
        traces.append(trace(seed(mmm, 7)).get_trace(inputs, config, y))
    base, other = traces
    log_density = [
        sum(
            float(jnp.sum(s["fn"].log_prob(s["value"])))
            for s in t.values()
            if s["type"] == "sample"
        )
        for t in traces
    ]
    np.testing.assert_allclose(log_density[1], log_density[0], rtol=1e-5)
    for name, site in base.items():
        if site["type"] == "sample" and not site["is_observed"]:
            np.testing.assert_allclose(other[name]["value"], site["value"], rtol=1e-6)
    np.testing.assert_allclose(other["mu"]["value"], base["mu"]["value"], rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(other["media/roas"]["value"]) * factor, base["media/roas"]["value"], rtol=1e-5
    )


@pytest.mark.slow
def test_posterior_roas_in_currency_is_the_same_whatever_the_units_of_spend(tmp_path):
    """The issue's acceptance: spend x1e-3 and x1e3, ROAS x factor equal to the x1 fit's.

    SVI with one seed follows the same path on the same scaled data, so the
    agreement is to float32 rounding (measured 7e-8 relative). NUTS agrees
    within Monte Carlo error only: the rounding of ``roas * spend_ratio``
    differs in the last bit between units, and a sampler's trajectories
    amplify a last-bit difference (1 chain x 150 draws: within 11%).
    """
    frame = pd.read_csv(HERE / "meridian_national.csv")
    roas = {}
    for k in (1.0, 1e-3, 1e3):
        path = tmp_path / f"data_{k:g}.csv"
        _scaled(frame, k).to_csv(path, index=False)
        run = tmp_path / f"run_{k:g}"
        argv = ["fit", str(path), "--out", str(run), *ARGS["meridian_national.csv"]]
        assert main([*argv, "--method", "svi", "--svi-steps", "500", "--seed", "3"]) == 0
        summary = json.loads((run / "summary.json").read_text())
        roas[k] = np.array([summary["channels"][c]["roas"]["mean"] for c in MERIDIAN_CHANNELS])
        units = next(i for i in summary["review"] if i["check"] == "units")
        assert units["status"] == ("pass" if k == 1.0 else "warn")
    print({k: (v * k).round(6).tolist() for k, v in roas.items()})
    for k in (1e-3, 1e3):
        np.testing.assert_allclose(roas[k] * k, roas[1.0], rtol=1e-5)


# ------------------------------------------------------------------ fits through the CLI
def _fit(name: str, tmp_path: Path, extra: list[str] = ()) -> dict:
    run = tmp_path / "run"
    argv = ["fit", str(HERE / name), "--out", str(run), *ARGS[name], *SVI, *extra]
    assert main(argv) == 0
    return json.loads((run / "summary.json").read_text())


def _statuses(summary: dict) -> dict[str, str]:
    return {i["check"]: i["status"] for i in summary["review"]}


def _check_roas(summary: dict, truth: dict[str, float], names: dict[str, str], band: float):
    """Every channel's posterior-mean ROAS finite and within ``band``x of the truth."""
    assert set(summary["channels"]) == set(names)
    for channel, column in names.items():
        mean = summary["channels"][channel]["roas"]["mean"]
        assert np.isfinite(mean)
        assert truth[column] / band < mean < truth[column] * band, (channel, mean, truth[column])


@pytest.mark.slow
def test_fit_pymc_layout(tmp_path):
    summary = _fit("pymc_layout.csv", tmp_path)
    truth = TRUTH["pymc_layout.csv"]["roas"]
    _check_roas(summary, truth, {"1": "x1", "2": "x2"}, band=2.0)
    status = _statuses(summary)
    assert status["units"] == "warn"  # spend on a 0-1 scale, sales in thousands
    assert status["r2"] == "pass"


@pytest.mark.slow
def test_fit_meridian_layout_reports_a_kpi_target(tmp_path):
    summary = _fit("meridian_national.csv", tmp_path)
    assert summary["data"]["target"] == "revenue (conversions x revenue_per_conversion)"
    truth = TRUTH["meridian_national.csv"]["roas"]
    _check_roas(summary, truth, {c: c.removesuffix("_spend") for c in MERIDIAN_CHANNELS}, 2.0)
    assert _statuses(summary)["units"] == "pass"


@pytest.mark.slow
def test_fit_robyn_layout_with_categorical_events(tmp_path):
    summary = _fit("robyn_weekly.csv", tmp_path)
    assert "events=event1" in summary["data"]["controls"]
    truth = TRUTH["robyn_weekly.csv"]["roas"]
    _check_roas(summary, truth, {c: c for c in ROBYN_CHANNELS}, band=3.0)
    assert {"units", "r2", "media_share"} <= set(_statuses(summary))


@pytest.mark.slow
def test_weak_fit_with_spend_on_a_unit_scale_is_flagged(tmp_path):
    """The issue's case: spend on 0-1, revenue in thousands, a model explaining about a third."""
    summary = _fit("weak_units.csv", tmp_path)
    status = _statuses(summary)
    assert summary["fit"]["r2"] < 0.5
    assert status["r2"] == "warn" and status["units"] == "warn"
    revenue_per_spend = next(i for i in summary["review"] if i["check"] == "units")["value"]
    assert revenue_per_spend > 1000
