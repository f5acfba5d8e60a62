"""Hold-out metrics, rolling-origin CV and PSIS-LOO comparison, checked by hand.

The windowing tests inject a cheap ``fit_fn`` that places a full-data SVI
posterior on the training window it receives (a real refit per fold would
compile once per window length); it records what it was given, so the tests
can assert that no fold trains on its future.
"""

import dataclasses

import numpy as np
import pytest

import jax

from mmm_jax.data import DataValidationError, from_frame
from mmm_jax.diagnostics.metrics import fit_metrics
from mmm_jax.diagnostics.validation import (
    compare_models,
    holdout_metrics,
    rolling_origin,
    window_metrics,
)
from mmm_jax.inference import Fit, fit_nuts, fit_svi
from mmm_jax.models import ModelConfig
from mmm_jax.models.mmm import time_frame
from mmm_jax.synthetic import SimulationConfig, simulate

CONFIG = ModelConfig(yearly_order=1, weekly_order=1, max_lag=14)


@pytest.fixture(scope="module")
def data():
    cfg = SimulationConfig(n_periods=150)
    cfg = dataclasses.replace(cfg, channels=cfg.channels[:2])
    return from_frame(simulate(cfg, seed=11).frame, controls=("organic_traffic",))


def svi(data, config):
    return fit_svi(
        data, config, key=jax.random.PRNGKey(1), num_steps=1500, num_samples=200, progress_bar=False
    )


@pytest.fixture(scope="module")
def right(data):
    return svi(data, CONFIG)


@pytest.fixture(scope="module")
def no_seasonality(data):
    return svi(data, dataclasses.replace(CONFIG, yearly_order=0, weekly_order=0))


class Recorder:
    """fit_fn that places ``source``'s draws on the window it receives, and records the window."""

    def __init__(self, source):
        self.source = source
        self.seen = []

    def __call__(self, d):
        self.seen.append(d)
        return place(self.source, d)


def place(source, d):
    """``source``'s posterior as if fitted on ``d`` (its time frame and ROAS reference)."""
    return Fit("svi", source.draws, d, source.config, time_frame(d.dates))


def by_hand(fit, data, start, stop, key):
    scale = data.scaler.target_scale
    pred = fit.predict(data, sites=("mu", "y"), key=key)
    mu = pred["mu"][..., start:stop] * scale
    y = pred["y"][..., start:stop] * scale
    actual = np.asarray(data.target)[:, start:stop]
    lo, hi = np.quantile(y, [0.05, 0.95], axis=0)
    return {
        **fit_metrics(actual, mu.mean(axis=0)),
        "coverage": float(np.mean((actual >= lo) & (actual <= hi))),
    }


def test_holdout_equals_metrics_by_hand(data, right):
    rec = Recorder(right)
    key = jax.random.PRNGKey(21)
    out = holdout_metrics(data, rec, frac=0.1, key=key)
    assert (out["n_train"], out["n_holdout"]) == (135, 15)
    (train,) = rec.seen
    assert train.n_time == 135 and train.dates.equals(data.dates[:135])
    # Scaled on the training periods alone: the held-out means never reach the fit.
    np.testing.assert_allclose(train.scaler.media_scale, data.media[0, :135].mean(axis=0))
    assert train.scaler.target_scale == pytest.approx(data.target[0, :135].mean())
    assert train.scaler.target_scale != pytest.approx(data.scaler.target_scale, rel=1e-4)
    assert out["holdout_start"] == str(data.dates[135].date())
    fit = place(right, train)
    view = data.with_scaler(train.scaler)  # forecasts and scores on the training scale
    k_train, k_hold = jax.random.split(key)
    for part, (lo, hi), k in (("train", (0, 135), k_train), ("holdout", (135, 150), k_hold)):
        expected = by_hand(fit, view, lo, hi, k)
        assert out[part] == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert 0.0 <= out[part]["coverage"] <= 1.0
    # The forecast sees the training spend: adstock carry-over raises the first hold-out
    # period above a forecast made from the hold-out window alone.
    full = fit.predict(view)["mu"][:, 0, 135]
    alone = fit.predict(view.time_slice(135))["mu"][:, 0, 0]
    assert np.all(full >= alone) and np.mean(full - alone) > 0


def test_holdout_rejects_bad_frac(data, right):
    for frac in (0.0, 1.0, 0.995):
        with pytest.raises(ValueError, match="frac"):
            holdout_metrics(data, Recorder(right), frac=frac)
    with pytest.raises(ValueError, match="start < stop"):
        window_metrics(right, data, 10, 10, key=jax.random.PRNGKey(0))


def test_rolling_origin_trains_only_on_the_past(data, right):
    rec = Recorder(right)
    rows = rolling_origin(data, rec, n_folds=3, horizon=20, key=jax.random.PRNGKey(2))
    folds, mean = rows[:-1], rows[-1]
    assert [f["fold"] for f in folds] == [0, 1, 2] and mean["fold"] == "mean"
    assert [d.n_time for d in rec.seen] == [90, 110, 130]
    previous_end = None
    for f, seen in zip(folds, rec.seen, strict=True):
        start = list(data.dates).index(np.datetime64(f["holdout_start"]))
        assert seen.dates[0] == data.dates[0]  # expanding window from the start
        assert seen.dates[-1] < data.dates[start]  # never sees its forecast window
        assert str(seen.dates[-1].date()) == f["train_end"]
        assert start == f["n_train"]
        assert seen.scaler.target_scale == pytest.approx(data.target[0, :start].mean())
        assert str(data.dates[start + 19].date()) == f["holdout_end"]
        if previous_end is not None:
            assert start == previous_end  # windows tile without overlap or gap
        previous_end = start + 20
    assert previous_end == data.n_time
    key = jax.random.PRNGKey(2)
    for f, seen in zip(folds, rec.seen, strict=True):
        key, k_train, k_hold = jax.random.split(key, 3)
        n = f["n_train"]
        assert f["holdout"] == pytest.approx(
            by_hand(place(right, seen), data.with_scaler(seen.scaler), n, n + 20, k_hold),
            rel=1e-6,
            abs=1e-9,
        )
    for part in ("train", "holdout"):
        for m in ("r2", "mape", "nrmse", "coverage"):
            assert mean[part][m] == pytest.approx(np.mean([f[part][m] for f in folds]))


def test_holdout_refuses_a_training_window_without_spend_on_a_channel(data, right):
    media = np.array(data.media)
    media[:, :140, 1] = 0.0  # the second channel starts spending in the hold-out
    late = data.with_media(media)
    with pytest.raises(DataValidationError, match=f"no spend on {data.channels[1]}"):
        holdout_metrics(late, Recorder(right), frac=0.1)


def test_rolling_origin_default_horizon_and_errors(data, right):
    rec = Recorder(right)
    rows = rolling_origin(data, rec, n_folds=2)
    assert [d.n_time for d in rec.seen] == [76, 113]  # horizon 150 // 4 = 37
    assert [r["n_holdout"] for r in rows[:-1]] == [37, 37]
    with pytest.raises(ValueError, match="n_folds"):
        rolling_origin(data, rec, n_folds=0)
    with pytest.raises(ValueError, match="training period"):
        rolling_origin(data, rec, n_folds=3, horizon=50)


def test_compare_ranks_misspecified_model_lower(data, right, no_seasonality):
    out = compare_models({"no_seasonality": no_seasonality, "right": right})
    assert out["ranking"] == ["right", "no_seasonality"]
    m = out["models"]
    assert m["right"]["elpd_loo"] > m["no_seasonality"]["elpd_loo"]
    diff = m["right"]["elpd_loo"] - m["no_seasonality"]["elpd_loo"]
    assert out["compare"]["no_seasonality"]["elpd_diff"] == pytest.approx(diff, rel=1e-6)
    assert out["compare"]["right"]["weight"] > 0.9
    assert sum(r["weight"] for r in out["compare"].values()) == pytest.approx(1.0)
    for name, fit in (("right", right), ("no_seasonality", no_seasonality)):
        ll = fit.log_likelihood().reshape(fit.n_samples, -1)  # (sample, point)
        lppd = np.sum(np.log(np.mean(np.exp(ll - ll.max(axis=0)), axis=0)) + ll.max(axis=0))
        # ArviZ: p_loo = lppd - elpd_loo; PSIS-LOO never exceeds the in-sample lppd here.
        assert m[name]["p_loo"] == pytest.approx(lppd - m[name]["elpd_loo"], rel=1e-4, abs=1e-3)
        assert m[name]["elpd_loo"] < lppd
        assert m[name]["n_points"] == data.n_time
        assert 0.0 <= m[name]["pareto_k_bad_share"] <= 1.0
        assert all(isinstance(w, str) for w in m[name]["warnings"])


def test_compare_single_model_and_mismatch(data, right):
    out = compare_models({"only": right})
    assert out["ranking"] == ["only"] and out["compare"]["only"]["weight"] == 1.0
    short = place(right, data.time_slice(0, 120))
    with pytest.raises(ValueError, match="same observations"):
        compare_models({"a": right, "b": short})
    with pytest.raises(ValueError, match="at least one"):
        compare_models({})


@pytest.mark.slow
def test_holdout_with_a_real_nuts_refit(data):
    def fit_fn(d):
        return fit_nuts(
            d,
            CONFIG,
            key=jax.random.PRNGKey(0),
            num_warmup=300,
            num_samples=300,
            num_chains=2,
            progress_bar=False,
        )

    out = holdout_metrics(data, fit_fn, frac=0.1)
    # A correctly specified model (noisy data: in-sample R^2 ~0.55, MAPE ~4%) forecasts 15 days
    # ahead about as well as it fits, and its intervals stay calibrated on both windows.
    assert 0.8 <= out["train"]["coverage"] <= 0.98
    assert out["holdout"]["mape"] < 2.0 * out["train"]["mape"]
    assert out["holdout"]["coverage"] >= 0.7
