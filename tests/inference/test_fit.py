"""Fitting on small simulated data: NUTS, SVI, MAP, the Fit object and its file format."""

import dataclasses

import arviz as az
import numpy as np
import pytest

import jax
import numpyro.distributions as dist

from mmm_jax.data import from_frame
from mmm_jax.diagnostics.metrics import contributions
from mmm_jax.inference import Fit, FitFileError, fit_map, fit_nuts, fit_svi
from mmm_jax.inference.svi import Guide
from mmm_jax.models import ModelConfig
from mmm_jax.models.config import Likelihood
from mmm_jax.synthetic import SimulationConfig, simulate


@pytest.fixture(scope="module")
def sim():
    base = SimulationConfig(n_periods=200, noise_sd=0.03)
    cfg = dataclasses.replace(base, channels=base.channels[:2])
    return simulate(cfg, seed=3)


@pytest.fixture(scope="module")
def data(sim):
    return from_frame(sim.frame, controls=("organic_traffic",))


CONFIG = ModelConfig(yearly_order=1, weekly_order=1, max_lag=14)


# The module's NUTS fit; test_marginal_and_full_nuts_agree refits with the baseline sampled.
NUTS_KW = dict(
    key=jax.random.PRNGKey(0), num_warmup=150, num_samples=100, num_chains=2, progress_bar=False
)


@pytest.fixture(scope="module")
def nuts_fit(data):
    return fit_nuts(data, CONFIG, **NUTS_KW)


def test_nuts_fit_shapes_and_info(nuts_fit, data):
    assert nuts_fit.method == "nuts"
    assert nuts_fit.draws["media/roas"].shape == (2, 100, 2)
    assert nuts_fit.draws["media/coef"].shape == (2, 100, 2)
    assert "mu" not in nuts_fit.draws and "y" not in nuts_fit.draws
    assert nuts_fit.stats["diverging"].shape == (2, 100)
    assert nuts_fit.info["divergences"] == int(nuts_fit.stats["diverging"].sum())
    t = nuts_fit.timings
    assert t["total_s"] > 0 and t["compile_s"] >= 0
    assert t["run_s"] == pytest.approx(t["total_s"] - t["compile_s"])


def test_nuts_fit_explains_the_data(nuts_fit, data, sim):
    """Posterior-mean prediction tracks revenue closely and ROAS intervals are sane."""
    mu = nuts_fit.predict()["mu"].mean(0) * data.scaler.target_scale
    resid = np.asarray(data.target) - mu
    assert np.sqrt(np.mean(resid**2)) / np.mean(data.target) < 0.06  # noise is 3%
    c = contributions(nuts_fit)
    truth = np.array([sim.truth["channels"][n]["roas"] for n in data.channels])
    roas = c.roas.mean(0)
    # short chains on 200 days: a loose but real check, a factor of 2 around the truth
    assert np.all(roas > truth / 2) and np.all(roas < truth * 2)


def test_same_key_same_draws(data):
    kw = dict(num_warmup=20, num_samples=10, num_chains=1, progress_bar=False)
    a = fit_nuts(data, CONFIG, key=jax.random.PRNGKey(5), **kw)
    b = fit_nuts(data, CONFIG, key=jax.random.PRNGKey(5), **kw)
    for k in a.draws:
        np.testing.assert_array_equal(a.draws[k], b.draws[k])


def test_nuts_integrates_the_baseline_out_by_default(nuts_fit):
    """The default model's baseline is integrated out; its draws are there all the same."""
    assert nuts_fit.info["marginalized_baseline"] is True
    assert nuts_fit.draws["baseline/intercept"].shape == (2, 100, 1)
    assert nuts_fit.draws["baseline/trend"].shape == (2, 100)
    assert nuts_fit.draws["baseline/seasonality"].shape == (2, 100, 4)
    assert nuts_fit.draws["baseline/controls"].shape == (2, 100, 1)
    assert not [k for k in nuts_fit.draws if k.endswith(("coefficients_z", "marginal"))]
    # draws vary from draw to draw (sampled from the conditional, not its mean)
    assert nuts_fit.draws["baseline/trend"].std() > 0


def test_marginal_and_full_nuts_agree(nuts_fit, data):
    """Integrating the baseline out leaves the posterior as it was (within Monte Carlo error).

    A coarse check on short chains; the exact algebra is tested in
    tests/models/test_marginal_baseline.py. On this data with 4 x 2000 draws
    the two posteriors' means agree to 1-3% and sds to 3-10% (CHANGELOG.md, 2026-11-30).
    """
    full = fit_nuts(data, CONFIG, **NUTS_KW, marginalize_baseline=False)
    assert full.info["marginalized_baseline"] is False
    for site in (
        "media/roas",
        "baseline/intercept",
        "baseline/controls",
        "baseline/trend",
        "sigma",
    ):
        a, b = np.asarray(nuts_fit.draws[site]), np.asarray(full.draws[site])
        # Monte Carlo standard error of each mean from its bulk ESS (2 x 100
        # autocorrelated draws: the ESS is 50-260 here, so a fixed fraction of
        # the sd would be a coin toss); 4 MCSE apart is a real disagreement.
        ess_a, ess_b = (az.ess(az.convert_to_dataset({"x": v}))["x"].values.ravel() for v in (a, b))
        a, b = a.reshape(200, -1), b.reshape(200, -1)
        mcse = np.sqrt(a.var(0) / ess_a + b.var(0) / ess_b)
        np.testing.assert_array_less(np.abs(a.mean(0) - b.mean(0)), 4 * mcse, err_msg=site)
        np.testing.assert_array_less(np.abs(np.log(a.std(0) / b.std(0))), np.log(1.5), site)


def test_marginalize_baseline_when_it_cannot(data):
    student = ModelConfig(
        yearly_order=1, weekly_order=1, max_lag=14, likelihood=Likelihood.STUDENT_T
    )
    with pytest.raises(ValueError, match="cannot be integrated out: the likelihood is student_t"):
        fit_nuts(data, student, key=jax.random.PRNGKey(0), marginalize_baseline=True)
    with pytest.raises(ValueError, match="cannot be integrated out: the likelihood is student_t"):
        fit_svi(data, student, key=jax.random.PRNGKey(0), marginalize_baseline=True)
    svi = fit_svi(data, student, key=jax.random.PRNGKey(0), num_steps=50, progress_bar=False)
    assert svi.info["marginalized_baseline"] is False
    kw = dict(num_warmup=20, num_samples=10, num_chains=1, progress_bar=False)
    fit = fit_nuts(data, student, key=jax.random.PRNGKey(0), **kw)
    assert fit.info["marginalized_baseline"] is False
    assert fit.draws["baseline/intercept"].shape == (1, 10, 1)
    with pytest.raises(ValueError, match="cannot be split over geos"):
        fit_nuts(
            data, CONFIG, key=jax.random.PRNGKey(0), geo_sharding=True, marginalize_baseline=True
        )


def test_nuts_argument_errors(data):
    with pytest.raises(ValueError, match="num_warmup must be >= 1"):
        fit_nuts(data, CONFIG, key=jax.random.PRNGKey(0), num_warmup=0)
    with pytest.raises(ValueError, match="target_accept must be in"):
        fit_nuts(data, CONFIG, key=jax.random.PRNGKey(0), target_accept=1.5)
    with pytest.raises(ValueError, match="chain_method='parallel' needs 64 devices"):
        fit_nuts(data, CONFIG, key=jax.random.PRNGKey(0), num_chains=64, chain_method="parallel")


@pytest.mark.parametrize("guide", list(Guide))
def test_svi_guides_fit(data, guide):
    fit = fit_svi(
        data,
        CONFIG,
        key=jax.random.PRNGKey(1),
        guide=guide,
        num_steps=1500,
        num_samples=200,
        progress_bar=False,
    )
    assert fit.method == "svi" and fit.info["guide"] == guide.value
    assert fit.draws["media/roas"].shape == (1, 200, 2)
    losses = np.asarray(fit.info["losses"])
    # the ELBO improved a lot from its start
    assert np.mean(losses[-50:]) < np.mean(losses[:50]) - 100
    mu = fit.predict()["mu"].mean(0) * data.scaler.target_scale
    assert np.sqrt(np.mean((np.asarray(data.target) - mu) ** 2)) / np.mean(data.target) < 0.08


def test_svi_integrates_the_baseline_out(nuts_fit, data):
    """The guide covers the media and noise only; the baseline comes from its exact conditional.

    A guide over every parameter squeezes the ridge along which the
    intercept trades level with the channels into its family and comes out
    far too sure of itself; with the baseline integrated out it has much less
    to misrepresent. Here the full-rank guide's ROAS sds are 27-29% of NUTS's
    over every parameter and 67-70% collapsed; on beauty_daily 32-48% and
    71-85% (CHANGELOG.md, 2026-11-30).
    """
    kw = dict(key=jax.random.PRNGKey(1), guide="auto_mvn", num_steps=1500, progress_bar=False)
    collapsed = fit_svi(data, CONFIG, num_samples=400, **kw)
    full = fit_svi(data, CONFIG, num_samples=400, marginalize_baseline=False, **kw)
    assert collapsed.info["marginalized_baseline"] is True
    assert full.info["marginalized_baseline"] is False
    for site in ("baseline/intercept", "baseline/trend", "baseline/seasonality"):
        assert collapsed.draws[site].shape == full.draws[site].shape
        assert collapsed.draws[site].std() > 0
    sd_nuts = nuts_fit.draws["media/roas"].reshape(200, -1).std(0)
    sd_collapsed = collapsed.draws["media/roas"][0].std(0)
    sd_full = full.draws["media/roas"][0].std(0)
    assert np.all(sd_collapsed > 1.5 * sd_full), (sd_collapsed, sd_full, sd_nuts)
    assert np.all((sd_collapsed > 0.45 * sd_nuts) & (sd_collapsed < 1.5 * sd_nuts)), sd_nuts
    # and the collapsed fit's baseline is the conditional given each media draw
    mu = collapsed.predict()["mu"].mean(0) * data.scaler.target_scale
    assert np.sqrt(np.mean((np.asarray(data.target) - mu) ** 2)) / np.mean(data.target) < 0.06


def test_map_is_one_draw_and_fits(data):
    fit = fit_map(data, CONFIG, key=jax.random.PRNGKey(2), num_steps=1500, progress_bar=False)
    assert fit.draws["media/roas"].shape == (1, 1, 2)
    mu = fit.predict()["mu"][0] * data.scaler.target_scale
    assert np.sqrt(np.mean((np.asarray(data.target) - mu) ** 2)) / np.mean(data.target) < 0.08


def test_save_load_round_trip(nuts_fit, tmp_path):
    path = nuts_fit.save(tmp_path / "fit.npz")
    back = Fit.load(path, data=nuts_fit.data)
    assert back.method == "nuts" and back.info == nuts_fit.info and back.timings == nuts_fit.timings
    for k in nuts_fit.draws:
        np.testing.assert_array_equal(back.draws[k], nuts_fit.draws[k])
    assert back.data == nuts_fit.data
    np.testing.assert_array_equal(back.predict()["mu"], nuts_fit.predict()["mu"])


def test_fit_saved_before_the_slope_coordinate_loads_with_the_same_predictions(nuts_fit, tmp_path):
    """A fit.npz from before the Hill slope's normal score holds `media/slope` only.

    Loading it must restore `media/slope_normal`: predictions substitute the
    sampled sites, so without it the slope would be redrawn from the prior.
    One draw is put exactly on the bound 1, where float32 draws can land.
    """
    slope = np.array(nuts_fit.draws["media/slope"])
    slope[0, 0, 0] = 1.0
    old_draws = {k: v for k, v in nuts_fit.draws.items() if k != "media/slope_normal"}
    old_draws["media/slope"] = slope
    old = dataclasses.replace(nuts_fit, draws=old_draws)
    back = Fit.load(old.save(tmp_path / "old.npz"), data=nuts_fit.data)
    z = back.draws["media/slope_normal"]
    assert z.shape == slope.shape and np.all(np.isfinite(z))
    np.testing.assert_allclose(
        z.reshape(-1)[1:],
        np.asarray(nuts_fit.draws["media/slope_normal"]).reshape(-1)[1:],
        atol=1e-3,
    )
    # the predictions are those of the saved slopes, draw for draw
    want = dataclasses.replace(nuts_fit, draws={**nuts_fit.draws, "media/slope": slope})
    want = dataclasses.replace(want, draws={**want.draws, "media/slope_normal": z})
    np.testing.assert_allclose(back.predict()["mu"], want.predict()["mu"], rtol=1e-5, atol=1e-6)
    away = nuts_fit.predict()["mu"][1:]  # every draw but the one moved to the bound
    np.testing.assert_allclose(back.predict()["mu"][1:], away, rtol=1e-4, atol=1e-5)


def test_load_refuses_bad_files(nuts_fit, tmp_path, data):
    with pytest.raises(FitFileError, match="no saved fit at"):
        Fit.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(FitFileError, match="is not a readable mmm_jax fit"):
        Fit.load(junk)
    path = nuts_fit.save(tmp_path / "fit.npz")
    # flip bytes inside the stored arrays: the checksum must catch it
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 8] = bytes(b ^ 0xFF for b in raw[middle : middle + 8])
    corrupted = tmp_path / "corrupted.npz"
    corrupted.write_bytes(bytes(raw))
    with pytest.raises(FitFileError):
        Fit.load(corrupted)
    other = data.with_media(np.asarray(data.media) * 1.1)
    with pytest.raises(FitFileError, match="fitted on other data"):
        Fit.load(path, data=other)


def _rewrite_meta(path, edit):
    """Edits a saved fit's metadata in place, keeping its stored checksum."""
    import io
    import json

    with np.load(path) as npz:
        contents = {k: npz[k] for k in npz.files}
    meta = json.loads(str(contents["__meta__"]))
    edit(meta)
    contents["__meta__"] = np.asarray(json.dumps(meta))
    buffer = io.BytesIO()
    np.savez(buffer, **contents)
    path.write_bytes(buffer.getvalue())


def test_checksum_covers_the_metadata(nuts_fit, tmp_path):
    path = nuts_fit.save(tmp_path / "fit.npz")
    content, checksum = nuts_fit.to_bytes()
    assert path.read_bytes() == content
    assert Fit.load_with_checksum(path)[1] == checksum

    def tenfold_target_scale(meta):  # every ROAS would read 10x
        meta["data"]["scaler"]["target_scale"] *= 10

    def longer_adstock(meta):
        meta["config"]["max_lag"] += 1

    for edit in (tenfold_target_scale, longer_adstock):
        edited = tmp_path / f"{edit.__name__}.npz"
        edited.write_bytes(content)
        _rewrite_meta(edited, edit)
        with pytest.raises(FitFileError, match="corrupted or was edited"):
            Fit.load(edited)


def test_format_1_files_are_refused_with_a_reason(nuts_fit, tmp_path):
    path = nuts_fit.save(tmp_path / "fit.npz")

    def version_1(meta):
        meta["version"] = 1

    _rewrite_meta(path, version_1)
    with pytest.raises(FitFileError, match=r"fit format version 1, this mmm_jax reads 2 .*refit"):
        Fit.load(path)


def test_to_arviz_named_dims(nuts_fit, data):
    idata = nuts_fit.to_arviz()
    post = idata.posterior
    assert post["media/roas"].dims == ("chain", "draw", "channel")
    assert list(post.coords["channel"].values) == list(data.channels)
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "geo", "date")
    ppc = idata.posterior_predictive["y"]
    assert ppc.shape == (2, 100, 1, data.n_time)
    # posterior predictive is in currency: its mean tracks observed revenue
    obs = idata.observed_data["y"].values
    rel = np.abs(ppc.mean(("chain", "draw")).values - obs).mean() / obs.mean()
    assert rel < 0.06


@pytest.mark.parametrize("centred", [False, True])
def test_to_arviz_labels_per_geo_curve_sites(centred):
    """With per-geo curve shapes, media and geo sites are (geo, channel) and are labelled so."""
    import pandas as pd

    from numpyro.infer import Predictive

    from mmm_jax.data import from_frame
    from mmm_jax.models import GeoPooling, build_inputs, mmm
    from mmm_jax.models.config import GeoShapes
    from mmm_jax.models.mmm import time_frame

    rng = np.random.default_rng(0)
    rows = []
    for g in ("north", "south", "west"):
        n = 60
        rows.append(
            pd.DataFrame(
                {
                    "date": pd.date_range("2024-01-01", periods=n, freq="D"),
                    "geo": g,
                    "spend_a": rng.gamma(2.0, 50.0, n),
                    "spend_b": rng.gamma(2.0, 80.0, n),
                    "revenue": rng.normal(1000.0, 50.0, n),
                }
            )
        )
    data = from_frame(pd.concat(rows, ignore_index=True), geo="geo")
    config = ModelConfig(
        yearly_order=1,
        weekly_order=0,
        max_lag=7,
        geo_pooling=GeoPooling(
            shapes=GeoShapes.PER_GEO, centred=centred, seasonality_spread=dist.HalfNormal(0.3)
        ),
    )
    inputs = build_inputs(data, config)
    prior = Predictive(mmm, num_samples=4)(jax.random.PRNGKey(0), inputs, config)
    draws = {k: np.asarray(v)[None] for k, v in prior.items() if k not in ("mu", "y")}
    fit = Fit("map", draws, data, config, time_frame(data.dates))
    post = fit.to_arviz(posterior_predictive=False).posterior
    shaped = [k for k in post.data_vars if k.startswith("media/") and post[k].ndim == 4]
    assert shaped, "expected per-geo media sites"
    for k in shaped:
        assert post[k].dims == ("chain", "draw", "geo", "channel")
    assert list(post.coords["geo"].values) == ["north", "south", "west"]
    offsets = ("geo/media_offset", "geo/seasonality_log_scale")
    if not centred:
        offsets = ("geo/media_offset", "geo/seasonality_z")
    assert post["geo/media_spread"].dims == ("chain", "draw", "channel")
    for k in ("geo/media_multiplier", offsets[0]):
        assert post[k].dims == ("chain", "draw", "geo", "channel")
    for k in ("geo/seasonality_scale", offsets[1]):
        assert post[k].dims == ("chain", "draw", "geo")
