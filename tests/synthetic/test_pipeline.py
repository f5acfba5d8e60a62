"""Bronze -> silver -> gold: every injected defect is found, counted and reported."""

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest

from mmm_jax.data import DataValidationError, from_frame
from mmm_jax.synthetic import SimulationConfig, simulate
from mmm_jax.synthetic.pipeline import (
    BronzeDefects,
    FixKind,
    injected_defects,
    make_bronze,
    to_gold,
    to_silver,
)

SEED = 3
CENT = 0.005 + 1e-6  # money is exported rounded to cents
SESSION = 0.5 + 1e-9  # organic traffic is exported as whole sessions


@pytest.fixture(scope="module")
def sim():
    # A higher dark probability for one channel makes sure inactive days exist.
    config = SimulationConfig(n_periods=150)
    channels = list(config.channels)
    channels[2] = dataclasses.replace(channels[2], dark_prob=0.1)
    return simulate(dataclasses.replace(config, channels=tuple(channels)), seed=11)


@pytest.fixture(scope="module")
def bronze(sim):
    return make_bronze(sim, seed=SEED)


@pytest.fixture(scope="module")
def silver(bronze):
    return to_silver(bronze)


def _zero_dates(sim, channel):
    frame = sim.frame
    return [d.strftime("%Y-%m-%d") for d in frame.loc[frame[f"spend_{channel}"] == 0, "date"]]


def test_bronze_has_the_defects(sim, bronze):
    names = [c.name for c in sim.config.channels]
    assert list(bronze) == [f"ads_{n}" for n in names] + ["sales"]
    assert list(bronze["ads_search"].columns) == ["Day", "Cost"]
    assert list(bronze["ads_social"].columns) == ["Reporting Starts", "Amount Spent"]
    assert bronze["ads_social"]["Amount Spent"].str.match(r"^\$\d{1,3}(,\d{3})*\.\d\d$").all()
    assert bronze["ads_video"]["Spend (EUR)"].str.match(r"^\d{1,3}(\.\d{3})*,\d\d €$").all()
    assert list(bronze["sales"].columns) == ["Date", "Gross Revenue", "Sessions"]
    # Each ad export lacks exactly its zero-spend days and has 3 extra rows.
    for n in names:
        assert len(bronze[f"ads_{n}"]) == len(sim.frame) - len(_zero_dates(sim, n)) + 3
    assert len(bronze["sales"]) == len(sim.frame) + 3


def test_every_injected_defect_is_reported(sim, bronze, silver):
    _, report = silver
    log = injected_defects(sim, seed=SEED)
    kinds = {
        "duplicated_rows": FixKind.REMOVED_DUPLICATES,
        "omitted_inactive_days": FixKind.FILLED_INACTIVE_DAYS,
    }
    assert {e["defect"] for e in log} == set(kinds)
    for entry in log:
        fixes = report.find(entry["source"], kinds[entry["defect"]])
        assert len(fixes) == 1, entry
        assert fixes[0].count == entry["count"]
        assert list(fixes[0].examples) == entry["dates"][:5]
    # The fills are exactly the days the simulation spent nothing (independent of the log).
    for c in sim.config.channels:
        zero = _zero_dates(sim, c.name)
        assert report.count(f"ads_{c.name}", FixKind.FILLED_INACTIVE_DAYS) == len(zero)
    assert report.count("ads_video", FixKind.FILLED_INACTIVE_DAYS) >= 5
    for source in bronze:
        assert report.count(source, FixKind.REMOVED_DUPLICATES) == 3


def test_format_fixes_are_reported_with_counts(bronze, silver):
    _, report = silver
    renames = {
        (f.source, f.examples[0], f.column)
        for f in report.fixes
        if f.kind is FixKind.RENAMED_COLUMN
    }
    assert renames == {
        ("ads_search", "Day", "date"),
        ("ads_search", "Cost", "spend"),
        ("ads_social", "Reporting Starts", "date"),
        ("ads_social", "Amount Spent", "spend"),
        ("ads_video", "Spend (EUR)", "spend"),
        ("sales", "Date", "date"),
        ("sales", "Gross Revenue", "revenue"),
        ("sales", "Sessions", "organic_traffic"),
    }
    # Every money string is parsed (duplicates included: parsing comes first).
    assert report.count("ads_social", FixKind.PARSED_CURRENCY) == len(bronze["ads_social"])
    assert report.count("ads_video", FixKind.PARSED_CURRENCY) == len(bronze["ads_video"])
    assert report.count("sales", FixKind.PARSED_CURRENCY, "revenue") == len(bronze["sales"])
    assert report.count("ads_search", FixKind.PARSED_CURRENCY) == 0
    # Dates: "05 Jan 2023" rows in the social export, "2023/01/05" in video.
    raw = bronze["ads_social"]["Reporting Starts"]
    n_text = int(raw.str.match(r"^\d\d [A-Z][a-z]{2} \d{4}$").sum())
    assert 0 < n_text < len(raw)
    assert report.count("ads_social", FixKind.PARSED_DATES) == n_text
    assert report.count("ads_video", FixKind.PARSED_DATES) == len(bronze["ads_video"])
    assert report.count("sales", FixKind.PARSED_DATES) == 0
    # Nothing was out of order, so nothing is reported as sorted.
    assert not [f for f in report.fixes if f.kind is FixKind.SORTED_ROWS]


def test_rows_are_accounted_for(sim, bronze, silver):
    _, report = silver
    for source, frame in bronze.items():
        assert report.rows_in[source] == len(frame)
        assert report.rows_out[source] == len(sim.frame)
        assert report.rows_out[source] == (
            len(frame)
            - report.count(source, FixKind.REMOVED_DUPLICATES)
            + report.count(source, FixKind.FILLED_INACTIVE_DAYS)
        )
    assert report.calendar[:2] == ("2023-01-01", sim.frame["date"].iloc[-1].strftime("%Y-%m-%d"))
    table = report.to_frame()
    assert len(table) == len(report.fixes) and (table["count"] >= 1).all()
    assert "filled_inactive_days" in str(report)
    assert report.to_dict()["rows_out"] == dict(report.rows_out)


def test_silver_and_gold_equal_the_simulation(sim, silver):
    frame, _ = silver
    truth = sim.frame
    assert list(frame.columns) == list(truth.columns)
    assert (frame["date"].to_numpy() == truth["date"].to_numpy()).all()
    money = [c for c in truth.columns if c.startswith("spend_")] + ["revenue"]
    np.testing.assert_allclose(frame[money], truth[money], rtol=0, atol=CENT)
    np.testing.assert_allclose(
        frame["organic_traffic"], truth["organic_traffic"], rtol=0, atol=SESSION
    )
    # Zero-spend days are exactly zero again.
    assert ((frame[money[:-1]] == 0) == (truth[money[:-1]] == 0)).all().all()

    gold = to_gold(frame)
    clean = from_frame(truth, controls=("organic_traffic",))
    assert gold.channels == clean.channels and gold.control_names == ("organic_traffic",)
    assert gold.freq == clean.freq == "D"
    np.testing.assert_allclose(gold.media, clean.media, rtol=0, atol=CENT)
    np.testing.assert_allclose(gold.target, clean.target, rtol=0, atol=CENT)
    np.testing.assert_allclose(gold.scaler.media_scale, clean.scaler.media_scale, rtol=0, atol=CENT)


def test_bronze_is_not_modified(bronze):
    before = {k: v.copy() for k, v in bronze.items()}
    to_silver(bronze)
    for k in bronze:
        pd.testing.assert_frame_equal(bronze[k], before[k])


def test_missing_revenue_days_raise_naming_the_dates(sim):
    defects = BronzeDefects(missing_revenue_days=4)
    log = [e for e in injected_defects(sim, seed=SEED, defects=defects) if e["source"] == "sales"]
    missing = next(e for e in log if e["defect"] == "missing_revenue_days")["dates"]
    assert len(missing) == 4
    with pytest.raises(DataValidationError, match="4 missing revenue day") as err:
        to_silver(make_bronze(sim, seed=SEED, defects=defects))
    for d in missing:
        assert d in str(err.value)


def test_conflicting_duplicates_raise_naming_the_dates(sim):
    defects = BronzeDefects(conflicting_duplicates=2)
    entry = next(
        e
        for e in injected_defects(sim, seed=SEED, defects=defects)
        if e["defect"] == "conflicting_duplicates"
    )
    with pytest.raises(DataValidationError, match="different values") as err:
        to_silver(make_bronze(sim, seed=SEED, defects=defects))
    for d in entry["dates"]:
        assert d in str(err.value)


def test_gaps_are_lost_data_where_the_platform_does_not_omit_inactive_days(sim, bronze):
    zero = _zero_dates(sim, "video")
    with pytest.raises(
        DataValidationError, match=f"ads_video: {len(zero)} missing spend day"
    ) as err:
        to_silver(bronze, omits_inactive_days=["ads_search", "ads_social", "ads_retail"])
    for d in zero[:5]:
        assert d in str(err.value)
    # Without omitted days there is nothing to fill, and nothing raises.
    full = make_bronze(
        sim, seed=SEED, defects=BronzeDefects(omit_inactive_days=False, duplicated_rows=0)
    )
    frame, report = to_silver(full, omits_inactive_days=False)
    assert not [
        f
        for f in report.fixes
        if f.kind in (FixKind.FILLED_INACTIVE_DAYS, FixKind.REMOVED_DUPLICATES)
    ]
    np.testing.assert_allclose(frame["spend_video"], sim.frame["spend_video"], atol=CENT)


@pytest.mark.parametrize(
    ("texts", "values"),
    [
        (["$1,234.50", "$0.99", "USD 1,000,000.00"], [1234.5, 0.99, 1e6]),
        (["1.234,50 €", "€ 12,00", "1.000.000,25 €"], [1234.5, 12.0, 1000000.25]),
        (["1234.5", "17"], [1234.5, 17.0]),
    ],
)
def test_money_strings(texts, values):
    dates = pd.date_range("2024-01-01", periods=len(texts), freq="D").strftime("%Y-%m-%d")
    ads = pd.DataFrame({"date": dates, "spend": texts})
    sales = pd.DataFrame(
        {"date": dates, "revenue": [100.0 + i for i in range(len(texts))], "sessions": 5}
    )
    frame, report = to_silver({"ads_x": ads, "sales": sales})
    np.testing.assert_allclose(frame["spend_x"], values, rtol=1e-12)
    changed = sum(t != str(v) and t != f"{v:g}" for t, v in zip(texts, values))
    assert report.count("ads_x", FixKind.PARSED_CURRENCY) == changed


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["$1,234.50", "1.234,50 €"], "mixes decimal conventions"),
        (["$1,234.50", "n/a"], r"not money \(dates \['2024-01-02'\]\)"),
        (["$1,234.50", None], r"blank value\(s\) at dates \['2024-01-02'\]"),
    ],
)
def test_bad_money_raises(texts, message):
    dates = ["2024-01-01", "2024-01-02"]
    ads = pd.DataFrame({"date": dates, "spend": texts})
    sales = pd.DataFrame({"date": dates, "revenue": [1.0, 2.0], "sessions": [1, 2]})
    with pytest.raises(DataValidationError, match=message):
        to_silver({"ads_x": ads, "sales": sales})


def test_dates_in_no_known_format_and_missing_columns_raise():
    sales = pd.DataFrame(
        {"date": ["2024-01-01", "2024-01-02"], "revenue": [1.0, 2.0], "sessions": [1, 2]}
    )
    ads = pd.DataFrame({"date": ["2024-01-01", "01/02/2024"], "spend": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match=re.escape("no known format")):
        to_silver({"ads_x": ads, "sales": sales})
    ads = pd.DataFrame({"date": ["2024-01-01", "2024-01-02"], "budget": [1.0, 2.0]})
    with pytest.raises(DataValidationError, match="no column for \\['spend'\\].*amount spent"):
        to_silver({"ads_x": ads, "sales": sales})
    with pytest.raises(DataValidationError, match="needs 'sales'"):
        to_silver({"ads_x": ads})


def test_unsorted_rows_are_reported():
    dates = ["2024-01-01", "2024-01-03", "2024-01-02", "2024-01-04"]
    ads = pd.DataFrame({"date": dates, "spend": [1.0, 3.0, 2.0, 4.0]})
    sales = pd.DataFrame({"date": sorted(dates), "revenue": [1.0, 2.0, 3.0, 4.0], "sessions": 1})
    frame, report = to_silver({"ads_x": ads, "sales": sales})
    assert report.count("ads_x", FixKind.SORTED_ROWS) == 1
    np.testing.assert_array_equal(frame["spend_x"], [1.0, 2.0, 3.0, 4.0])


def test_geo_panel_round_trip():
    sim = simulate(SimulationConfig(n_periods=40, n_geos=3), seed=2)
    bronze = make_bronze(sim, seed=0)
    assert "geo" in bronze["ads_search"].columns and "geo" in bronze["sales"].columns
    frame, report = to_silver(bronze)
    truth = sim.frame.sort_values(["geo", "date"], kind="stable").reset_index(drop=True)
    assert list(frame.columns) == list(truth.columns)
    assert (frame["geo"].to_numpy() == truth["geo"].to_numpy()).all()
    money = [c for c in truth.columns if c.startswith("spend_")] + ["revenue"]
    np.testing.assert_allclose(frame[money], truth[money], rtol=0, atol=CENT)
    for c in sim.config.channels:
        assert report.count(f"ads_{c.name}", FixKind.FILLED_INACTIVE_DAYS) == int(
            (sim.frame[f"spend_{c.name}"] == 0).sum()
        )
    gold = to_gold(frame)
    assert gold.media.shape == (3, 40, 4)
