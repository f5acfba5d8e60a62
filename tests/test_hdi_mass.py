"""benchmarks/hdi_mass.py: the held-out mass of an interval is the share of unseen draws
it holds; the sample HDI's comes out below its nominal level, the central interval's not;
a small run end to end (slow)."""

import json
from pathlib import Path

import numpy as np
import pytest

from tests._paths import BENCHDATA, load_script

ROOT = Path(__file__).resolve().parents[1]
needs_generator = pytest.mark.skipif(
    not (BENCHDATA / "make_truth.py").is_file(), reason="shared generator absent"
)


@pytest.fixture(scope="module")
def hm():
    return load_script(ROOT / "benchmarks" / "hdi_mass.py", "bench_hdi_mass")


def mean_mass(hm, draw, reps=100):
    masses = [hm.heldout_mass(draw(), chains=8) for _ in range(reps)]
    return {
        e: {lv: float(np.mean([m[e][lv] for m in masses])) for lv in hm.LEVELS}
        for e in ("hdi", "central")
    }


def test_the_shortest_window_holds_less_of_unseen_draws_than_of_its_own(hm):
    rng = np.random.default_rng(0)
    normal = mean_mass(hm, lambda: rng.normal(size=(4000, 2)))
    flat = mean_mass(hm, lambda: rng.uniform(size=(4000, 2)))
    for lv in hm.LEVELS:
        # the control: quantiles estimate their mass without a choice of window
        assert normal["central"][lv] == pytest.approx(lv, abs=0.003)
        assert flat["central"][lv] == pytest.approx(lv, abs=0.003)
        # the HDI falls short, and more where every window is nearly as short
        assert lv - 0.02 < normal["hdi"][lv] < normal["central"][lv] - 0.002
        assert flat["hdi"][lv] < normal["hdi"][lv]
    assert 0.5 - flat["hdi"][0.5] > 0.01


def test_chains_that_disagree_give_both_intervals_too_little_mass(hm):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 1))
    x[2000:] += 1.5  # the second half of the chains sits elsewhere
    mass = hm.heldout_mass(x, chains=8)
    assert mass["hdi"][0.5][0] < 0.3 and mass["central"][0.5][0] < 0.3


def test_heldout_mass_refuses_chains_that_do_not_split(hm):
    x = np.zeros((300, 1))
    with pytest.raises(ValueError, match="even number of chains"):
        hm.heldout_mass(x, chains=3)
    with pytest.raises(ValueError, match="do not split"):
        hm.heldout_mass(x, chains=8)


def test_summary_pools_the_fits_and_the_readme_renders_it(hm, tmp_path, monkeypatch):
    rng = np.random.default_rng(2)

    def fake_run(seed):
        rec = {"seed": seed}
        for q, k in (("roas", 3), ("marginal_roas", 3), ("baseline_share", 1)):
            mass = hm.heldout_mass(rng.normal(size=(800, k)), chains=4)
            rec[q] = {
                "ess_bulk": [400.0 + seed] * k,
                "skew": [0.0] * k,
                "mass": {
                    e: {str(lv): m.tolist() for lv, m in ms.items()} for e, ms in mass.items()
                },
            }
        return rec

    runs = [fake_run(seed) for seed in (5, 6, 7)]
    s = hm.summarise(runs)
    assert s["n_fits"] == 3
    values = np.concatenate([r["roas"]["mass"]["hdi"]["0.8"] for r in runs])
    assert s["roas"]["hdi"]["0.8"]["mean"] == pytest.approx(values.mean())
    lo, hi = s["roas"]["hdi"]["0.8"]["ci95"]
    assert min(values) <= lo <= values.mean() <= hi <= max(values)
    assert s["baseline_share"]["ess_bulk_median"] == 406.0
    # the README table reads the same numbers
    render = load_script(ROOT / "benchmarks" / "render_readme.py", "render_readme")
    settings = {"chains": 4, "warmup": 100, "draws": 200, "lift": "none", "first_seed": 5}
    (tmp_path / "hdi_mass.json").write_text(
        json.dumps({"settings": settings, "runs": runs, "summary": s})
    )
    monkeypatch.setattr(render, "RESULTS", tmp_path)
    text = render.hdi_mass()
    assert "3 prior datasets (seeds 5-7, no lift tests)" in text
    assert "2 chains (400 draws)" in text
    row = next(line for line in text.splitlines() if line.startswith("| baseline share | 50%"))
    mean = s["baseline_share"]["hdi"]["0.5"]["mean"]
    assert f"{100 * mean:.1f}%" in row and f"{100 * (mean - 0.5):.1f}" in row


@pytest.mark.slow
@needs_generator
def test_small_run_end_to_end(hm, tmp_path):
    args = ["--datasets", "2", "--chains", "2", "--warmup", "100", "--draws", "100",
            "--out", str(tmp_path)]  # fmt: skip
    assert hm.main(args) == 0
    report = json.loads((tmp_path / "hdi_mass.json").read_text())
    assert (tmp_path / "hdi_mass.png").is_file()
    runs, s = report["runs"], report["summary"]
    assert [r["seed"] for r in runs] == [1, 2] and s["n_fits"] == 2
    for q in hm.QUANTITIES:
        for e in ("hdi", "central"):
            for lv in hm.LEVELS:
                values = np.concatenate([r[q]["mass"][e][str(lv)] for r in runs])
                assert np.all((values >= 0) & (values <= 1))
                assert s[q][e][str(lv)]["mean"] == pytest.approx(values.mean())
                lo, hi = s[q][e][str(lv)]["ci95"]
                assert lo <= values.mean() <= hi
    assert len(runs[0]["roas"]["mass"]["hdi"]["0.9"]) == len(runs[0]["roas"]["ess_bulk"]) == 4
    # a rerun with the same settings fits nothing new
    assert hm.main(args) == 0
    assert len(json.loads((tmp_path / "hdi_mass.json").read_text())["runs"]) == 2
