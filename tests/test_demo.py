"""``mmm-jax demo``: the quick run end to end, its printed numbers recomputed from its files."""

import json
import os
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import jax.numpy as jnp

from mmm_jax.cli import main
from mmm_jax.demo import DemoSettings, regional_market, true_response
from mmm_jax.inference import Fit
from mmm_jax.run_folder import RunFolder
from mmm_jax.synthetic import ChannelSpec, SimulationConfig, simulate
from mmm_jax.transforms.adstock import Adstock
from mmm_jax.transforms.saturation import Saturation


def test_true_response_matches_simulation_with_geos_and_synergy():
    extra = ChannelSpec(
        name="radio",
        spend_mean=10_000.0,
        spend_cv=0.2,
        adstock=Adstock.GEOMETRIC,
        adstock_params={"retention": 0.2},
        saturation=Saturation.HILL,
        saturation_params={"half_saturation": 12_000.0, "slope": 2.0},
        beta=20_000.0,
    )
    base = SimulationConfig()
    config = replace(
        base,
        n_periods=60,
        n_geos=3,
        channels=(*base.channels, extra),
        synergy=(("social", "search", 0.3), ("video", "radio", -0.2)),
    )
    sim = simulate(config, seed=5)
    fn = true_response(sim)
    rng = np.random.default_rng(0)
    spends = rng.uniform(0.0, 150_000.0, size=(6, len(config.channels)))
    got = np.array([float(np.asarray(fn(jnp.asarray(x)))[0]) for x in spends])
    np.testing.assert_allclose(got, sim.true_steady_response(spends), rtol=2e-5)


def test_regional_market_regions_add_up_to_the_national_response():
    # G regions each spending x / G earn, summed, what the nation earns spending x.
    national = replace(SimulationConfig(), n_periods=60, synergy=(("search", "video", 0.2),))
    regions = 4
    regional = replace(regional_market(national, regions), n_periods=60, n_geos=regions)
    nat, reg = simulate(national, seed=1), simulate(regional, seed=1)
    assert reg.truth["intercept_geo"] == pytest.approx([national.intercept / regions] * regions)
    spends = np.random.default_rng(3).uniform(0.0, 120_000.0, size=(5, 4))
    np.testing.assert_allclose(
        reg.true_steady_response(spends), nat.true_steady_response(spends), rtol=1e-10
    )
    with pytest.raises(ValueError, match="regions must be >= 1"):
        regional_market(national, 0)


def test_demo_settings_validate():
    with pytest.raises(ValueError, match="num_chains must be >= 2"):
        DemoSettings(num_chains=1)
    with pytest.raises(ValueError, match="bounds"):
        DemoSettings(bounds=(1.5, 2.0))
    with pytest.raises(ValueError, match="spend_lift must be in"):
        DemoSettings(spend_lift=0.5)
    with pytest.raises(ValueError, match="pre-test periods"):
        DemoSettings(n_periods=60, test_periods=28, cooldown_periods=28)


def _line(text: str, out: str) -> None:
    assert text in out.splitlines(), f"{text!r} not printed"


def test_demo_quick_end_to_end(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    assert main(["demo", "--out", str(out_dir), "--quick", "--quiet", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    files = ("data.csv", "truth.json", "fit.npz", "fit_uncalibrated.npz", "lift_tests.csv")
    for name in (*files, "summary.json", "alloc.json", "demo.json"):
        assert (out_dir / name).is_file(), name
    assert (out_dir / "figures" / "budget.png").is_file()
    # one run folder, swapped in whole: its files check out together, nothing left beside it
    run = RunFolder(out_dir).load()
    assert run.alloc["provenance"]["fit_checksum"] == run.fit_checksum
    assert os.listdir(tmp_path) == ["demo"]
    summary = json.loads((out_dir / "summary.json").read_text())
    truth = json.loads((out_dir / "truth.json").read_text())
    alloc = json.loads((out_dir / "alloc.json").read_text())
    demo = json.loads((out_dir / "demo.json").read_text())
    names = list(summary["channels"])
    assert names == ["search", "social", "video", "retail"] == demo["channels"]
    assert summary["diagnostics"]["method"] == "nuts" and summary["review"]
    # the default model's baseline is integrated out, lift tests and all
    assert summary["diagnostics"]["marginalized_baseline"] is True

    # The data on disk is the simulation the truth belongs to.
    sim = simulate(replace(SimulationConfig(), n_periods=120), seed=2)
    frame = pd.read_csv(out_dir / "data.csv")
    np.testing.assert_allclose(frame["revenue"], sim.frame["revenue"], rtol=1e-12)
    assert truth["channels"]["search"]["roas"] == pytest.approx(
        sim.truth["channels"]["search"]["roas"], rel=1e-12
    )

    # The calibration: a holdout on the channel with the widest relative ROAS HDI before,
    # inside the data's window, saved with the calibrated fit; before/after as printed.
    cal = demo["calibration"]
    test = cal["test"]
    rel = {
        n: (r["before"]["hdi_high"] - r["before"]["hdi_low"]) / r["before"]["mean"]
        for n, r in cal["roas"].items()
    }
    assert test["channel"] == max(rel, key=rel.get)
    assert test["spend_delta"] < 0 and test["true_lift"] < 0 and test["market_share"] == 0.25
    dates = pd.to_datetime(frame["date"])
    assert dates.min() <= pd.Timestamp(test["start"]) <= pd.Timestamp(test["end"]) <= dates.max()
    lift_tests = Fit.load(out_dir / "fit.npz").lift_tests
    assert lift_tests is not None and lift_tests.channel == (test["channel"],)
    np.testing.assert_allclose(lift_tests.lift, [test["lift"]], rtol=1e-12)
    np.testing.assert_allclose(lift_tests.market_share, [0.25])
    assert Fit.load(out_dir / "fit_uncalibrated.npz").lift_tests is None
    csv = pd.read_csv(out_dir / "lift_tests.csv")
    assert csv["lift"].iloc[0] == pytest.approx(test["lift"], rel=1e-12)
    _line(
        f"lift test on {test['channel']}: {test['start']} to {test['end']}, spend change "
        f"{test['spend_delta']:,.0f}, measured lift {test['lift']:,.0f} (se "
        f"{test['lift_se']:,.0f}), true lift {test['true_lift']:,.0f}, market share 0.250",
        out,
    )
    for name in names:
        row = cal["roas"][name]
        b, a = row["before"], row["after"]
        # "after" is the calibrated summary's ROAS; the truth is truth.json's.
        assert a == {k: summary["channels"][name]["roas"][k] for k in a}
        assert row["truth"] == truth["channels"][name]["roas"]
        ratio = (a["hdi_high"] - a["hdi_low"]) / (b["hdi_high"] - b["hdi_low"])
        assert row["width_ratio"] == pytest.approx(ratio, rel=1e-12)
        mark = "*" if name == test["channel"] else " "
        hb = f"[{b['hdi_low']:.2f}, {b['hdi_high']:.2f}]"
        ha = f"[{a['hdi_low']:.2f}, {a['hdi_high']:.2f}]"
        _line(
            f"{mark}{name:<9}{b['mean']:>7.2f}  {hb:<16}{a['mean']:>7.2f}  {ha:<16}"
            f"{ratio:>6.2f}x{row['truth']:>7.2f}",
            out,
        )

    # Per channel ROAS against truth, as printed.
    for name in names:
        r, true = summary["channels"][name]["roas"], truth["channels"][name]["roas"]
        inside = "yes" if r["hdi_low"] <= true <= r["hdi_high"] else "no"
        hdi = f"[{r['hdi_low']:.2f}, {r['hdi_high']:.2f}]"
        _line(f"{name:<10}{r['mean']:>8.2f}  {hdi:<16}{true:>7.2f}  {inside}", out)
    b, tb = summary["baseline"]["share"], truth["baseline_share"]
    inside = "yes" if b["hdi_low"] <= tb <= b["hdi_high"] else "no"
    _line(
        f"baseline share {b['mean']:.3f} [{b['hdi_low']:.3f}, {b['hdi_high']:.3f}], "
        f"true {tb:.3f}, inside: {inside}",
        out,
    )
    est = [n for n in names if summary["channels"][n]["wasteful"]]
    true_w = [n for n in names if truth["channels"][n]["marginal_roas"] < 1]
    agree = "yes" if set(est) == set(true_w) else "no"
    _line(
        f"wasteful channels: estimated {', '.join(est) or 'none'}; "
        f"true (marginal ROAS < 1) {', '.join(true_w) or 'none'}; agree: {agree}",
        out,
    )

    # The allocation, scored with the true response recomputed here.
    hist = np.array([alloc["historical_allocation"][n] for n in names])
    rec = np.array([alloc["allocation"][n] for n in names])
    opt = np.array(demo["truth_score"]["true_optimum"])
    budget = alloc["budget"]
    np.testing.assert_allclose(hist, frame[[f"spend_{n}" for n in names]].mean(), rtol=1e-6)
    for x in (rec, opt):
        assert abs(x.sum() - budget) <= 1e-6 * budget
        assert np.all(x >= 0.5 * hist * (1 - 1e-6)) and np.all(x <= 2 * hist * (1 + 1e-6))
    r_hist, r_rec, r_opt = sim.true_steady_response(np.stack([hist, rec, opt]))
    # The true optimum beats the historical mix and the model's recommendation.
    assert r_opt >= r_rec - 1e-6 * r_opt and r_opt >= r_hist
    for n, h, a, o in zip(names, hist, rec, opt):
        _line(f"{n:<10}{h:>12,.0f}{a:>13,.0f}{o:>14,.0f}", out)
    share = (r_rec - r_hist) / (r_opt - r_hist)
    _line(
        f"true uplift per period: recommendation {r_rec - r_hist:,.0f} of "
        f"{r_opt - r_hist:,.0f} attainable ({share:.1%} captured)",
        out,
    )
    u = alloc["uplift"]
    inside = "yes" if u["hdi_low"] <= r_rec - r_hist <= u["hdi_high"] else "no"
    _line(
        f"model's expected uplift {u['mean']:,.0f} per period "
        f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}), inside: {inside}",
        out,
    )
    assert demo["truth_score"]["share_captured"] == pytest.approx(share, rel=1e-9, abs=1e-12)

    # What the demo does not do is said, and the report carries truth and notes.
    assert "What this demo does not do yet:" in out and "No lift-test calibration" not in out
    assert "Where the simulated geo test is simpler than a real one:" in out
    page = (out_dir / "report.html").read_text()
    assert "True ROAS" in page and "Quick mode" in page
    assert "ROAS before -&gt; after calibration" in page or "ROAS before -> after" in page
    assert "Simulated test:" in page
    assert out.rstrip().endswith(f"report: {out_dir / 'report.html'}")
    t = demo["timings"]
    assert t["total_s"] >= t["fit_s"] + t["calibrated_fit_s"] and t["calibrated_fit_s"] > 0
