import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import jax.numpy as jnp

from mmm_jax.data import from_frame
from mmm_jax.synthetic import DEFAULT_CHANNELS, ChannelSpec, SimulationConfig, simulate
from mmm_jax.transforms.adstock import Adstock, adstock_media
from mmm_jax.transforms.saturation import Saturation, saturate

SMALL = SimulationConfig(n_periods=120, max_lag=14)
PAIR = (("search", "social", 0.3),)


def load(sim):
    geo = "geo" if sim.config.n_geos > 1 else None
    return from_frame(
        sim.frame, geo=geo, controls=["organic_traffic"], min_periods=sim.config.max_lag
    )


def media_series(sim, media):
    """Expected media revenue (geo, time), recomputed channel by channel with the
    model's JAX kernels (adstock_media / saturate): the truth comes from the
    simulator's own NumPy kernels, so this compares two implementations."""
    cfg = sim.config
    saturated = []
    for c, spec in enumerate(cfg.channels):
        params = {k: jnp.asarray(v) for k, v in spec.adstock_params.items()}
        a = adstock_media(jnp.asarray(media[..., c : c + 1]), spec.adstock, params, cfg.max_lag)
        sat = {k: jnp.asarray(v) for k, v in spec.saturation_params.items()}
        saturated.append(np.asarray(saturate(spec.saturation, a[..., 0], sat), dtype=np.float64))
    s = np.stack(saturated, axis=-1)  # (geo, time, channel)
    beta = np.array([sim.truth["channels"][c.name]["beta_geo"] for c in cfg.channels]).T
    total = np.einsum("gtc,gc->gt", s, beta)
    names = [c.name for c in cfg.channels]
    for a, b, gamma in cfg.synergy:
        i, j = names.index(a), names.index(b)
        pair = gamma * np.sqrt(beta[:, i] * beta[:, j])
        total += s[..., i] * s[..., j] * pair[:, None]
    return total


def media_total(sim, media):
    return media_series(sim, media).sum()


def test_same_seed_same_frame_other_seed_other_frame():
    a, b, c = simulate(SMALL, seed=3), simulate(SMALL, seed=3), simulate(SMALL, seed=4)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.truth == b.truth
    assert not np.allclose(a.frame["revenue"], c.frame["revenue"])


@pytest.mark.parametrize(
    "config",
    [SMALL, dataclasses.replace(SMALL, n_geos=3, freq="W-MON", synergy=PAIR)],
    ids=["national", "geo-weekly-synergy"],
)
def test_truth_matches_direct_recomputation(config):
    sim = simulate(config, seed=0)
    data = load(sim)
    assert data.channels == tuple(c.name for c in config.channels)
    assert data.n_geo == config.n_geos and data.n_time == config.n_periods
    media = data.media
    all_on = media_total(sim, media)
    for c, name in enumerate(data.channels):
        t = sim.truth["channels"][name]
        assert t["spend_total"] == pytest.approx(media[..., c].sum(), rel=1e-12)
        zeroed = media.copy()
        zeroed[..., c] = 0.0
        assert t["contribution"] == pytest.approx(all_on - media_total(sim, zeroed), rel=1e-5)
        assert t["roas"] == pytest.approx(t["contribution"] / t["spend_total"], rel=1e-12)
        bumped = media.copy()
        bumped[..., c] *= 1.01
        marginal = (media_total(sim, bumped) - all_on) / (0.01 * t["spend_total"])
        assert t["marginal_roas"] == pytest.approx(marginal, rel=1e-3)
        # The scale the model will use is the mean spend per period.
        assert t["media_scale"] == pytest.approx(data.scaler.media_scale[c], rel=1e-12)
    # Baseline + media = expected revenue; observed revenue is that times mean-one noise.
    truth = sim.truth
    assert truth["baseline_total"] + all_on == pytest.approx(truth["revenue_total"], rel=1e-6)
    assert truth["baseline_share"] + truth["media_share"] == pytest.approx(1.0)
    assert data.target.sum() == pytest.approx(truth["observed_revenue_total"], rel=1e-12)
    n = config.n_geos * config.n_periods
    assert truth["observed_revenue_total"] == pytest.approx(
        truth["revenue_total"], rel=5 * config.noise_sd / np.sqrt(n)
    )


def test_truth_is_json_safe():
    sim = simulate(dataclasses.replace(SMALL, synergy=PAIR), seed=1)
    assert json.loads(json.dumps(sim.truth)) == sim.truth
    assert sim.truth["synergy"] == {"search:social": 0.3}
    assert sim.truth["config"]["channels"][0]["adstock"] == "geometric"


def test_concave_channel_has_marginal_below_average_roas():
    sim = simulate(SMALL, seed=2)
    retail = sim.truth["channels"]["retail"]  # Michaelis-Menten: concave everywhere
    assert 0 < retail["marginal_roas"] < retail["roas"]


def test_synergy_adds_the_pair_term_to_both_channels():
    base = simulate(SMALL, seed=5)
    syn = simulate(dataclasses.replace(SMALL, synergy=PAIR), seed=5)
    pd.testing.assert_frame_equal(
        base.frame.drop(columns="revenue"), syn.frame.drop(columns="revenue")
    )
    media = load(syn).media
    pair_total = media_total(syn, media) - media_total(base, media)
    assert pair_total > 0
    for name in ("search", "social"):
        gain = (
            syn.truth["channels"][name]["contribution"]
            - base.truth["channels"][name]["contribution"]
        )
        assert gain == pytest.approx(pair_total, rel=1e-4)
    for name in ("video", "retail"):
        assert syn.truth["channels"][name]["contribution"] == pytest.approx(
            base.truth["channels"][name]["contribution"], rel=1e-9
        )


def test_true_steady_response_closed_form_zero_and_monotone():
    sim = simulate(SMALL, seed=0)
    # Hill and Michaelis-Menten equal 1/2 at the half-saturation spend.
    x = np.zeros(4)
    x[0] = 45_000.0  # search: hill, half_saturation 45k, beta 160k
    assert sim.true_steady_response(x) == pytest.approx(80_000.0, rel=1e-6)
    x = np.zeros(4)
    x[3] = 50_000.0  # retail: Michaelis-Menten, half_saturation 50k, beta 90k
    assert sim.true_steady_response(x) == pytest.approx(45_000.0, rel=1e-6)
    assert sim.true_steady_response(np.zeros(4)) == 0.0
    grid = np.linspace(0.0, 200_000.0, 41)
    for c in range(4):
        spend = np.full((41, 4), 20_000.0)
        spend[:, c] = grid
        r = sim.true_steady_response(spend)
        assert r.shape == (41,)
        assert np.all(np.diff(r) > 0)


def test_true_steady_response_equals_long_run_constant_spend_effect():
    cfg = dataclasses.replace(
        SMALL,
        channels=tuple(
            dataclasses.replace(c, spend_cv=0.0, dark_prob=0.0) for c in DEFAULT_CHANNELS
        ),
        synergy=PAIR,
        n_geos=2,
    )
    sim = simulate(cfg, seed=0)
    media = load(sim).media  # constant spend_mean in every geo and period
    np.testing.assert_allclose(
        media, np.broadcast_to([c.spend_mean for c in cfg.channels], media.shape)
    )
    # Once the adstock window has filled, every period's media revenue is the steady state.
    per_period = media_series(sim, media).sum(axis=0)[cfg.max_lag - 1 :]
    steady = sim.true_steady_response(np.array([c.spend_mean for c in cfg.channels]) * cfg.n_geos)
    np.testing.assert_allclose(per_period, steady, rtol=1e-5)
    # ... and not before (the window starts empty).
    assert media_series(sim, media).sum(axis=0)[0] < 0.9 * steady


def test_config_validation():
    with pytest.raises(ValueError, match=r"synergy pair \(search, tv\)"):
        SimulationConfig(synergy=(("search", "tv", 0.1),))
    with pytest.raises(ValueError, match="hill saturation takes parameters"):
        ChannelSpec(
            name="x",
            spend_mean=1.0,
            spend_cv=0.1,
            adstock=Adstock.GEOMETRIC,
            adstock_params={"retention": 0.5},
            saturation=Saturation.HILL,
            saturation_params={"half_saturation": 1.0},
            beta=1.0,
        )
    with pytest.raises(ValueError, match="unique"):
        SimulationConfig(channels=DEFAULT_CHANNELS[:1] * 2)
    spec = dataclasses.replace(
        DEFAULT_CHANNELS[0], adstock="weibull_pdf", adstock_params={"shape": 2, "scale": 3}
    )
    assert spec.adstock is Adstock.WEIBULL_PDF


def test_truth_of_constant_spend_equals_the_closed_form():
    # No kernel involved on either side: the adstock of a constant spend x through
    # normalised geometric weights is x (1 - a^(t+1)) / (1 - a^L) until the window fills.
    tv = ChannelSpec(
        name="tv",
        spend_mean=1_000.0,
        spend_cv=0.0,
        dark_prob=0.0,
        adstock=Adstock.GEOMETRIC,
        adstock_params={"retention": 0.5},
        saturation=Saturation.MICHAELIS_MENTEN,
        saturation_params={"half_saturation": 1_500.0},
        beta=3_000.0,
    )
    radio = ChannelSpec(
        name="radio",
        spend_mean=400.0,
        spend_cv=0.0,
        dark_prob=0.0,
        adstock=Adstock.GEOMETRIC,
        adstock_params={"retention": 0.0},
        saturation=Saturation.HILL,
        saturation_params={"half_saturation": 800.0, "slope": 2.0},
        beta=1_000.0,
    )
    n, lag = 60, 10
    sim = simulate(SimulationConfig(n_periods=n, max_lag=lag, channels=(tv, radio)), seed=4)
    t = np.arange(n)
    a = 1_000.0 * (1 - 0.5 ** (np.minimum(t, lag - 1) + 1)) / (1 - 0.5**lag)

    def mm(x):
        return x / (x + 1_500.0)

    truth = sim.truth["channels"]
    assert truth["tv"]["spend_total"] == pytest.approx(n * 1_000.0, rel=1e-12)
    assert truth["tv"]["contribution"] == pytest.approx(3_000.0 * mm(a).sum(), rel=1e-12)
    assert truth["tv"]["roas"] == pytest.approx(3_000.0 * mm(a).sum() / (n * 1_000.0), rel=1e-12)
    bumped = 3_000.0 * (mm(1.01 * a) - mm(a)).sum() / (0.01 * n * 1_000.0)
    assert truth["tv"]["marginal_roas"] == pytest.approx(bumped, rel=1e-8)
    hill = 400.0**2 / (400.0**2 + 800.0**2)  # retention 0: adstock is the spend itself
    assert truth["radio"]["contribution"] == pytest.approx(n * 1_000.0 * hill, rel=1e-12)
    assert truth["radio"]["roas"] == pytest.approx(1_000.0 * hill / 400.0, rel=1e-12)
    media = truth["tv"]["contribution"] + truth["radio"]["contribution"]  # additive: no synergy
    assert sim.truth["revenue_total"] - sim.truth["baseline_total"] == pytest.approx(
        media, rel=1e-9
    )


def test_outputs_are_pinned_for_a_seed():
    # Computed by the simulator before it had its own NumPy kernels, with the
    # model's JAX kernels in float64 (JAX_ENABLE_X64=1): the same numbers to
    # rounding. A change here changes every data set a seed names.
    config = dataclasses.replace(
        SimulationConfig(n_periods=104, freq="W-MON", n_geos=4, max_lag=8), synergy=PAIR
    )
    sim = simulate(config, seed=0)
    pinned = {
        "search": (26206848.562969387, 1.1163156850743932),
        "social": (12782985.556243062, 1.4790774144387162),
        "video": (9111411.547409981, 1.0267385069643313),
        "retail": (14720847.252001762, 0.7309476176841687),
    }
    for name, (contribution, marginal) in pinned.items():
        assert sim.truth["channels"][name]["contribution"] == pytest.approx(contribution, rel=1e-9)
        assert sim.truth["channels"][name]["marginal_roas"] == pytest.approx(marginal, rel=1e-9)
    assert sim.truth["revenue_total"] == pytest.approx(203148675.59925494, rel=1e-9)
    assert sim.truth["observed_revenue_total"] == pytest.approx(203968174.41200674, rel=1e-9)
    assert sim.truth["baseline_total"] == pytest.approx(142268540.92234322, rel=1e-12)
    np.testing.assert_allclose(
        sim.frame["revenue"].iloc[[0, 57, 415]],
        [380700.92135955597, 419103.3886853334, 533707.7119321359],
        rtol=1e-9,
    )
