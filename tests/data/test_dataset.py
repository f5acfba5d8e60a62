import json
import re

import numpy as np
import pandas as pd
import pytest

import jax.numpy as jnp

from mmm_jax.data import DataValidationError, MMMData, from_frame, load_csv
from mmm_jax.data.dataset import Scaler, periods_per_year
from tests._frames import random_frame
from tests._paths import BENCHDATA

BENCH = BENCHDATA
needs_bench = pytest.mark.skipif(not BENCH.exists(), reason="shared benchdata not available")


#: Two channels, a price control and revenue.
COLUMNS = {
    "spend_tv": ("gamma", 2.0, 50.0),
    "spend_search": ("gamma", 3.0, 20.0),
    "price": ("normal", 10.0, 1.0),
    "revenue": ("gamma", 5.0, 200.0),
}


def make_frame(n=40, geos=None, seed=0):
    return random_frame(COLUMNS, n=n, geos=geos, seed=seed, sort_by_date=True)


def raises(df, *patterns, **kw):
    """from_frame must raise, and the message must contain every pattern (regex)."""
    with pytest.raises(DataValidationError) as info:
        from_frame(df, **kw)
    msg = str(info.value)
    for p in patterns:
        assert re.search(p, msg), f"{p!r} not in message:\n{msg}"
    return msg


# --------------------------------------------------------------------------- happy path


def test_from_frame_national_layout_and_scales():
    df = make_frame()
    before = df.copy(deep=True)
    data = from_frame(df, controls=["price"])
    pd.testing.assert_frame_equal(df, before)  # never mutated
    assert data.geos == ("national",)
    assert data.channels == ("tv", "search")
    assert data.control_names == ("price",)
    assert data.media.shape == (1, 40, 2) and data.target.shape == (1, 40)
    assert data.controls.shape == (1, 40, 1)
    assert data.freq == "D" and data.periods_per_year == 365.25
    np.testing.assert_array_equal(data.media[0, :, 0], df["spend_tv"].to_numpy())
    np.testing.assert_array_equal(data.target[0], df["revenue"].to_numpy())
    np.testing.assert_allclose(data.scaler.media_scale, df[["spend_tv", "spend_search"]].mean())
    assert data.scaler.target_scale == pytest.approx(df["revenue"].mean(), rel=1e-14)
    assert data.scaler.control_scale[0] == pytest.approx(df["price"].abs().mean(), rel=1e-14)
    np.testing.assert_allclose(data.media_scaled.mean(axis=(0, 1)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(data.target_scaled.mean(), 1.0, rtol=1e-12)
    assert not data.media.flags.writeable


def test_channels_accept_names_or_columns_and_keep_given_order():
    df = make_frame()
    a = from_frame(df, channels=["search", "tv"])
    b = from_frame(df, channels=["spend_search", "spend_tv"])
    assert a.channels == b.channels == ("search", "tv")
    np.testing.assert_array_equal(a.media[0, :, 0], df["spend_search"].to_numpy())
    assert a == b


def test_geo_panel_any_row_order_same_data_and_first_appearance_geo_order():
    df = make_frame(geos=["b", "a", "c"])
    date_major = from_frame(df, geo="geo")
    geo_major = from_frame(df.sort_values("geo", kind="stable"), geo="geo")
    assert date_major.geos == ("a", "b", "c")  # first appearance in the date-major frame
    assert geo_major.geos == ("a", "b", "c")
    assert date_major == geo_major
    sub = df[df["geo"] == "c"]
    np.testing.assert_array_equal(date_major.target[2], sub["revenue"].to_numpy())


def test_control_scale_falls_back_to_std_only_when_mean_abs_is_zero():
    media = np.ones((1, 4, 1))
    s = Scaler.from_arrays(media, np.arange(1.0, 5.0)[None], np.array([[[1.0], [-1.0], [2], [-2]]]))
    assert s.control_scale[0] == pytest.approx(1.5)
    assert s.media_scale[0] == 1.0 and s.target_scale == 2.5


def test_scale_unscale_round_trip_exact():
    data = from_frame(make_frame(geos=["x", "y"]), geo="geo", controls=["price"])
    s = data.scaler
    np.testing.assert_allclose(s.unscale_media(data.media_scaled), data.media, rtol=1e-12)
    np.testing.assert_allclose(s.unscale_target(data.target_scaled), data.target, rtol=1e-12)
    np.testing.assert_allclose(s.unscale_controls(data.controls_scaled), data.controls, rtol=1e-12)
    np.testing.assert_allclose(s.scale_media(s.unscale_media(data.media)), data.media, rtol=1e-12)


def test_scaler_works_on_jax_arrays_under_strict_rank_promotion():
    data = from_frame(make_frame(geos=["x", "y"]), geo="geo")
    out = data.scaler.scale_media(jnp.asarray(data.media, dtype=jnp.float32))
    np.testing.assert_allclose(np.asarray(out), data.media_scaled, rtol=1e-6)
    with pytest.raises(ValueError, match="last axis must have size 2"):
        data.scaler.scale_media(np.ones((3, 4)))


def test_scaler_rejects_bad_scales():
    with pytest.raises(DataValidationError, match="media_scale"):
        Scaler(media_scale=np.array([1.0, 0.0]), target_scale=1.0, control_scale=np.array([]))
    with pytest.raises(DataValidationError, match="target_scale"):
        Scaler(media_scale=np.array([1.0]), target_scale=-1.0, control_scale=np.array([]))


def test_dict_round_trips_are_exact_and_json_safe():
    data = from_frame(make_frame(geos=["x", "y"]), geo="geo", controls=["price"])
    back = MMMData.from_dict(json.loads(json.dumps(data.to_dict())))
    assert back == data
    assert back.dates.freqstr == "D"
    assert Scaler.from_dict(json.loads(json.dumps(data.scaler.to_dict()))) == data.scaler
    no_controls = from_frame(make_frame())
    assert no_controls.n_control == 0
    assert MMMData.from_dict(json.loads(json.dumps(no_controls.to_dict()))) == no_controls


def test_to_frame_round_trip():
    df = make_frame(geos=["x", "y"])
    data = from_frame(df, geo="geo", controls=["price"])
    frame = data.to_frame()
    assert list(frame.columns) == ["date", "geo", "spend_tv", "spend_search", "price", "revenue"]
    pd.testing.assert_frame_equal(frame, df[frame.columns], check_dtype=False)
    assert from_frame(frame, geo="geo", controls=["price"]) == data
    national = from_frame(make_frame())
    assert "geo" not in national.to_frame().columns
    assert from_frame(national.to_frame()) == national


def test_with_media_keeps_scaler_and_validates():
    data = from_frame(make_frame())
    zeroed = data.media.copy()
    zeroed[..., 0] = 0.0
    cf = data.with_media(zeroed)
    assert cf.scaler is data.scaler
    np.testing.assert_array_equal(cf.media_scaled[..., 0], 0.0)
    np.testing.assert_array_equal(cf.target, data.target)
    with pytest.raises(DataValidationError, match=r"shape \(1, 40\)"):
        data.with_media(zeroed[..., 0])
    bad = data.media.copy()
    bad[0, 3, 1] = -1.0
    with pytest.raises(DataValidationError, match=r"'search'.*negative.*2024-01-04"):
        data.with_media(bad)


def test_time_slice_positions_and_dates_share_scaler():
    data = from_frame(make_frame(), controls=["price"])
    head = data.time_slice(None, 30)
    tail = data.time_slice(30)
    assert head.n_time == 30 and tail.n_time == 10
    assert head.scaler is data.scaler and tail.scaler is data.scaler
    np.testing.assert_array_equal(np.concatenate([head.media, tail.media], axis=1), data.media)
    by_date = data.time_slice("2024-01-31")
    assert by_date == tail  # 2024-01-31 is position 30
    assert data.time_slice(-10) == tail
    with pytest.raises(ValueError, match="empty"):
        data.time_slice(10, 10)


def test_time_slice_rescaled_takes_the_window_means_and_with_scaler_puts_data_on_them():
    data = from_frame(make_frame(), controls=["price"])
    head = data.time_slice(None, 30, rescale=True)
    np.testing.assert_allclose(head.scaler.media_scale, data.media[0, :30].mean(axis=0))
    assert head.scaler.target_scale == pytest.approx(data.target[0, :30].mean())
    np.testing.assert_allclose(head.scaler.control_scale, np.abs(data.controls[0, :30]).mean(0))
    np.testing.assert_allclose(head.media_scaled.mean(axis=(0, 1)), 1.0)  # the window's own units
    np.testing.assert_array_equal(head.media, data.media[:, :30])
    view = data.with_scaler(head.scaler)  # the full data on the window's scale
    np.testing.assert_array_equal(view.media, data.media)
    np.testing.assert_allclose(view.target_scaled, data.target / head.scaler.target_scale)
    other = from_frame(make_frame())  # no controls: one control scale too few
    with pytest.raises(DataValidationError, match=r"1 control\(s\)"):
        data.with_scaler(other.scaler)
    media = data.media.copy()
    media[:, :35, 1] = 0.0  # the second channel first spends at period 35
    late = data.with_media(media)
    first = str(data.dates[35].date())
    with pytest.raises(DataValidationError, match=rf"no spend on {data.channels[1]} in it"):
        late.time_slice(0, 30, rescale=True)
    with pytest.raises(DataValidationError, match=rf"first spend {first}\): end the window later"):
        late.time_slice(0, 30, rescale=True)
    assert late.time_slice(0, 30).scaler is data.scaler  # same scaler: nothing to compute
    frame = make_frame()
    frame.loc[:9, "price"] = 0.0
    quiet = from_frame(frame, controls=["price"])
    with pytest.raises(DataValidationError, match="control price is zero throughout it"):
        quiet.time_slice(0, 10, rescale=True)


def test_periods_per_year():
    assert periods_per_year("D") == 365.25
    assert periods_per_year("W-MON") == pytest.approx(52.1786, abs=1e-4)
    assert periods_per_year("MS") == 12.0
    assert periods_per_year("2D") == 365.25 / 2


# --------------------------------------------------------------------------- benchdata


@needs_bench
def test_beauty_daily_matches_pandas():
    path = BENCH / "beauty_daily" / "data.csv"
    raw = pd.read_csv(path, parse_dates=["date"])
    data = load_csv(path, controls=["organic_traffic"])
    assert data.channels == ("meta", "google", "tiktok", "amazon")
    assert data.media.shape == (1, 730, 4) and data.controls.shape == (1, 730, 1)
    assert data.freq == "D" and data.geos == ("national",)
    spend = raw[[f"spend_{c}" for c in data.channels]]
    np.testing.assert_allclose(data.scaler.media_scale, spend.mean().to_numpy(), rtol=1e-13)
    assert data.scaler.target_scale == pytest.approx(raw["revenue"].mean(), rel=1e-13)
    assert data.scaler.control_scale[0] == pytest.approx(raw["organic_traffic"].mean(), rel=1e-13)
    np.testing.assert_array_equal(data.media[0], spend.to_numpy())


@needs_bench
def test_beauty_geo_weekly_matches_pandas():
    path = BENCH / "beauty_geo_weekly" / "data.csv"
    raw = pd.read_csv(path, parse_dates=["date"])
    data = load_csv(path, geo="geo", controls=["organic_traffic"])
    assert data.media.shape == (50, 156, 4) and data.target.shape == (50, 156)
    assert data.freq == "W-MON"
    assert data.periods_per_year == pytest.approx(365.25 / 7)
    assert data.geos == tuple(sorted(raw["geo"].unique()))
    wide = raw.pivot(index="date", columns="geo", values="revenue")
    np.testing.assert_array_equal(data.target, wide[list(data.geos)].to_numpy().T)
    spend = raw[[f"spend_{c}" for c in data.channels]]
    np.testing.assert_allclose(data.scaler.media_scale, spend.mean().to_numpy(), rtol=1e-13)
    assert data.scaler.target_scale == pytest.approx(raw["revenue"].mean(), rel=1e-13)
    # Per-geo totals, independently of the array layout.
    totals = raw.groupby("geo")["spend_meta"].sum()
    np.testing.assert_allclose(data.media[..., 0].sum(axis=1), totals[list(data.geos)], rtol=1e-12)


# --------------------------------------------------------------------------- bad input


def test_missing_columns_are_named_with_available_ones():
    df = make_frame()
    raises(df, r"target column 'sales'", r"available columns: \['date'", target="sales")
    raises(df, r"control column 'weather'", r"'spend_tv'", controls=["weather"])
    raises(df, r"geo column 'region'", geo="region")
    raises(df.drop(columns="date"), r"date column 'date'")
    raises(df, r"missing channel column.*'radio'.*'spend_radio'", channels=["tv", "radio"])


def test_no_channels_found():
    df = make_frame().rename(columns={"spend_tv": "tv", "spend_search": "search"})
    raises(df, r"no channels found.*'spend_'.*available columns")


def test_non_numeric_values_named_with_rows():
    df = make_frame()
    df["spend_tv"] = df["spend_tv"].astype(object)
    df.loc[[3, 7], "spend_tv"] = "n/a"
    raises(df, r"'spend_tv'", r"2 non-numeric", r"rows 3 \(2024-01-04\), 7 \(2024-01-08\)", "'n/a'")


def test_nan_and_inf_are_reported_per_column():
    df = make_frame()
    df.loc[[2, 5, 6, 8, 9, 11, 12], "revenue"] = np.nan
    df.loc[1, "price"] = np.inf
    msg = raises(
        df, r"'revenue'.*7 NaN", r"rows 2 \(2024-01-03\)", r"\(7 in all\)", controls=["price"]
    )
    assert re.search(r"'price'.*1 infinite value\(s\) at rows 1 \(2024-01-02\)", msg)


def test_negative_spend():
    df = make_frame(geos=["x", "y"])
    df.loc[5, "spend_search"] = -3.0
    raises(df, r"'spend_search'.*1 negative spend.*row.* 5 \(2024-01-03, y\)", geo="geo")


def test_duplicate_dates_per_geo():
    df = make_frame()
    df.loc[4, "date"] = df.loc[3, "date"]
    raises(df, r"'date'.*2 duplicate date.*rows 3 \(2024-01-04\), 4 \(2024-01-04\)")
    panel = make_frame(geos=["x", "y"])
    raises(panel.drop(index=[0]), r"unbalanced", geo="geo")  # sanity: different error
    panel.loc[2, "date"] = panel.loc[0, "date"]  # geo x gets 2024-01-01 twice
    raises(panel, r"duplicate date.*within a geo of 'geo'.*\(2024-01-01, x\)", geo="geo")


def test_unsorted_dates():
    df = make_frame()
    swapped = df.iloc[[0, 1, 3, 2, *range(4, 40)]]
    raises(swapped, r"'date' is not sorted.*row.* 3 \(2024-01-03\)")


def test_irregular_frequency_gives_dates_around_gap():
    df = make_frame().drop(index=[10, 11])
    raises(df, r"irregular frequency.*'D'.*2024-01-10 -> 2024-01-13")


def test_all_zero_channel():
    df = make_frame()
    df["spend_search"] = 0.0
    raises(df, r"\['spend_search'\] are zero in every row")


def test_constant_target_and_control():
    df = make_frame()
    df["revenue"] = 5.0
    df["price"] = 2.0
    msg = raises(df, r"target column 'revenue' is constant", controls=["price"])
    assert "control column 'price' is constant" in msg


def test_nonpositive_target_mean():
    df = make_frame()
    df["revenue"] = df["revenue"] - df["revenue"].mean() - 1.0
    raises(df, r"target column 'revenue'.*mean.*must be > 0")


def test_unbalanced_geo_panel_names_geos_and_dates():
    df = make_frame(geos=["x", "y", "z"])
    drop = df.index[
        (df["geo"] == "y") & df["date"].isin(pd.to_datetime(["2024-01-05", "2024-01-09"]))
    ]
    raises(
        df.drop(index=drop),
        r"unbalanced geo panel.*'geo'",
        r"y misses 2024-01-05, 2024-01-09",
        geo="geo",
    )


def test_fewer_periods_than_min_periods():
    raises(make_frame(n=10), r"'date': only 10 period.*at least 28.*min_periods=28", min_periods=28)


def test_bad_dates():
    df = make_frame()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d").astype(object)
    df.loc[6, "date"] = "not a date"
    df.loc[8, "date"] = None
    raises(df, r"'date'.*1 missing date.*rows 8", r"1 unparseable date.*rows 6.*'not a date'")


def test_column_used_twice():
    raises(make_frame(), r"more than one role: \['spend_tv'\]", controls=["spend_tv"])


def test_not_a_dataframe():
    with pytest.raises(TypeError, match="DataFrame"):
        from_frame({"date": []})


def test_load_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found.*nope.csv"):
        load_csv(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty.csv' is empty"):
        load_csv(empty)
    with pytest.raises(DataValidationError, match="is a directory"):
        load_csv(tmp_path)
    bad = tmp_path / "bad.csv"
    make_frame().assign(revenue=-1.0).to_csv(bad, index=False)
    with pytest.raises(DataValidationError, match=r"bad.csv: target column 'revenue' is constant"):
        load_csv(bad)


def test_load_csv_reads_dates_and_numeric_geo_labels(tmp_path):
    df = make_frame(geos=["501", "602"])
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    data = load_csv(path, geo="geo")
    assert data.geos == ("501", "602")
    assert data == from_frame(df, geo="geo")


# --------------------------------------------------------------------------- CSV header and labels


def test_load_csv_refuses_a_repeated_column_name(tmp_path):
    # pandas alone renames the copy "spend_tv.1", which would be fitted as a channel "tv.1"
    df = make_frame()
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    header = lines[0].replace("spend_search", "spend_tv")
    path.write_text("\n".join([header, *lines[1:]]) + "\n")
    with pytest.raises(DataValidationError, match=r"d.csv: 1 column name\(s\) appear more than"):
        load_csv(path)
    with pytest.raises(DataValidationError, match=r"'spend_tv' at columns 2, 3; rename"):
        load_csv(path, channels=["tv"])


def test_from_frame_refuses_repeated_columns():
    df = make_frame()
    df.columns = ["date", "spend_tv", "spend_tv", "price", "revenue"]
    raises(df, r"'spend_tv' at columns 2, 3")


def test_load_csv_keeps_na_none_and_null_as_geo_names(tmp_path):
    df = make_frame(geos=["NA", "None", "null", "n/a"])
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    data = load_csv(path, geo="geo")
    assert sorted(data.geos) == ["NA", "None", "n/a", "null"]
    assert data == from_frame(df, geo="geo")
    # in value columns the same markers still mean missing, named with geo and date
    text = path.read_text().splitlines()
    cells = text[3].split(",")
    cells[2] = "NA"  # spend_tv of the third row
    text[3] = ",".join(cells)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(
        DataValidationError, match=r"'spend_tv': 1 NaN / missing value\(s\) at rows 2"
    ):
        load_csv(path, geo="geo")


def test_geo_labels_are_stripped_but_never_merged(tmp_path):
    df = make_frame(geos=["north", "south"])
    df["geo"] = df["geo"].map({"north": " north", "south": "south "})
    data = from_frame(df, geo="geo")
    assert data.geos == ("north", "south")
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert load_csv(path, geo="geo").geos == ("north", "south")
    mixed = make_frame(geos=["north", "south"])
    mixed.loc[mixed.index[mixed["geo"] == "north"][:3], "geo"] = "north "
    raises(
        mixed,
        r"'geo': geo labels differ only in surrounding spaces: 'north ' \(row 0\) and 'north' \(row 6\)",
        geo="geo",
    )
    blank = make_frame(geos=["north", "south"])
    blank.loc[4, "geo"] = "  "
    raises(blank, r"'geo': 1 missing geo\(s\) at rows 4", geo="geo")


def test_true_false_is_refused_as_spend_or_target_but_not_as_a_control(tmp_path):
    df = make_frame()
    df["spend_tv"] = np.arange(len(df)) % 2 == 0
    raises(df, r"'spend_tv': True/False values where amounts are expected")
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)  # a CSV column of True/False reads as booleans
    with pytest.raises(DataValidationError, match="'spend_tv': True/False values"):
        load_csv(path)
    mixed = make_frame()
    mixed["revenue"] = mixed["revenue"].astype(object)
    mixed.loc[[3, 5], "revenue"] = True
    raises(mixed, r"'revenue': 2 True/False value\(s\) at rows 3 \(2024-01-04\), 5")
    flagged = make_frame().assign(holiday=lambda d: np.arange(len(d)) % 7 == 0)
    data = from_frame(flagged, controls=["holiday"])
    assert data.controls[0, :, 0].tolist() == [float(i % 7 == 0) for i in range(len(flagged))]


def test_digest_follows_the_values_not_the_object():
    df = make_frame()
    a, b = from_frame(df), from_frame(df.copy())
    assert a.digest() == b.digest() and len(a.digest()) == 64
    changed = df.copy()
    changed.loc[7, "revenue"] += 0.01
    assert from_frame(changed).digest() != a.digest()
    assert from_frame(df.rename(columns={"spend_tv": "spend_radio"})).digest() != a.digest()
    assert a.time_slice(0, 30).digest() != a.digest()


def test_categorical_control_is_one_hot_with_the_most_frequent_level_as_reference():
    df = make_frame(n=12)
    df["event"] = ["none"] * 6 + ["sale"] * 4 + [" launch "] * 2  # spaces stripped
    df["flag"] = [True, False] * 6
    data = from_frame(df, controls=("price", "event", "flag"))
    assert data.control_names == ("price", "event=launch", "event=sale", "flag")
    np.testing.assert_array_equal(data.controls[0, :, 1], [0] * 10 + [1] * 2)
    np.testing.assert_array_equal(data.controls[0, :, 2], [0] * 6 + [1] * 4 + [0] * 2)
    np.testing.assert_array_equal(data.controls[0, :, 3], [1, 0] * 6)
    # the scale of a 0/1 column is the share of periods it is on
    np.testing.assert_allclose(data.scaler.control_scale[1:3], [2 / 12, 4 / 12])
    # numbers written as text stay numbers
    df["price"] = df["price"].map(str)
    again = from_frame(df, controls=("price",))
    np.testing.assert_allclose(again.controls[0, :, 0], data.controls[0, :, 0])


def test_bad_categorical_controls_are_named():
    df = make_frame(n=12)
    df["event"] = ["sale"] * 12
    raises(df, r"control column 'event' has one value \('sale'\)", controls=("event",))
    df["event"] = ["sale", ""] * 6
    raises(df, r"column 'event': .*missing categorical value", controls=("event",))
    from mmm_jax.data import dataset

    df = make_frame(n=dataset._MAX_LEVELS + 2)
    df["event"] = [f"id{i}" for i in range(len(df))]
    raises(df, r"'event' has 52 distinct text values", controls=("event",))
    df["event"] = ["12", "n/a"] * (len(df) // 2)  # a dirty numeric column stays numeric
    raises(df, r"column 'event': .*non-numeric value", controls=("event",))
