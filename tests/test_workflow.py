"""The library workflow the CLI, the demo and scripts call: fit, allocate, simulate, run folders.

Runs on hand-set posterior draws (no sampling), so each test takes seconds;
the command line's own tests and ``tests/test_pinned.py`` cover the same
functions end to end.
"""

import json

import numpy as np
import pytest

import jax.numpy as jnp

from mmm_jax.diagnostics import analyse
from mmm_jax.run_folder import RunFolder
from mmm_jax.workflow import allocate, fit, optimize_run, simulate, simulate_run
from mmm_jax.workflow.decisions import allocation_vector
from mmm_jax.workflow.text import allocation_lines
from tests.diagnostics.test_metrics import data as data  # noqa: F401  (module fixture)
from tests.diagnostics.test_metrics import make_fit


@pytest.fixture(scope="module")
def analysis(data):
    return analyse(make_fit(data))


def test_allocate_spends_the_budget_within_bounds_and_reads_the_analysis(analysis):
    hist = analysis.historical_spend.sum(axis=0)
    alloc = allocate(analysis, budget=1.2 * hist.sum(), bounds=(0.5, 2.0), seed=1)
    x = np.array(list(alloc["allocation"].values()))
    assert list(alloc["allocation"]) == ["a", "b"]
    np.testing.assert_allclose(x.sum(), 1.2 * hist.sum(), rtol=1e-6)
    assert np.all(x >= 0.5 * hist * (1 - 1e-6)) and np.all(x <= 2 * hist * (1 + 1e-6))
    np.testing.assert_allclose(list(alloc["historical_allocation"].values()), hist)
    # revenue = the analysis's baseline per period + the media response at the allocation
    media = np.asarray(analysis.response_fn(jnp.asarray(x)))
    want = analysis.baseline_per_period + media
    assert alloc["expected_revenue"]["mean"] == pytest.approx(want.mean(), rel=1e-5)
    assert alloc["converged"] is True and "provenance" not in alloc
    # the what-if of the recommendation reproduces it, from a dict, alloc.json or an array
    for spec in (alloc, alloc["allocation"], x):
        what_if = simulate(analysis, spec)
        assert what_if["budget"] == pytest.approx(x.sum(), rel=1e-12)
        assert what_if["expected_revenue"]["mean"] == pytest.approx(want.mean(), rel=1e-5)
    lines = allocation_lines(alloc)
    assert lines[0].startswith("budget ") and "utility mean" in lines[0]
    assert lines[2].startswith("a ") and lines[-1].startswith("expected uplift")


def test_allocate_and_simulate_refuse_what_they_cannot_do(analysis):
    with pytest.raises(ValueError, match="per_geo needs a run fitted on a geo panel"):
        allocate(analysis, per_geo=True)
    with pytest.raises(ValueError, match="budget must be positive"):
        allocate(analysis, budget=0.0)
    with pytest.raises(ValueError, match="outside what the bounds allow"):
        allocate(analysis, budget=1.0)
    with pytest.raises(ValueError, match="bounds needs 0 <= LO <= HI"):
        allocate(analysis, bounds=(2.0, 1.0))
    with pytest.raises(ValueError, match="utility must be mean, profit"):
        allocate(analysis, utility="median")
    with pytest.raises(ValueError, match=r"plan: unknown channels \['c'\]"):
        simulate(analysis, {"a": 1.0, "b": 1.0, "c": 1.0}, where="plan")
    with pytest.raises(ValueError, match="must have shape"):
        simulate(analysis, np.ones(3))
    with pytest.raises(ValueError, match="finite and non-negative"):
        allocation_vector({"a": -1.0, "b": 1.0}, ["a", "b"])
    with pytest.raises(ValueError, match="method must be one of nuts, svi, map"):
        fit(analysis.fit.data, method="hmc")


def test_run_folder_variants_write_with_provenance(data, tmp_path):
    fitted = make_fit(data)
    run = RunFolder(tmp_path / "run")
    with run.replace() as stage:
        stage.save_fit(fitted)
    alloc, path = optimize_run(run.path, bounds=(0.5, 2.0))
    assert path == run.path / "alloc.json"
    on_disk = json.loads(path.read_text())
    assert on_disk["provenance"]["fit_checksum"] == run.load().fit_checksum
    assert on_disk["allocation"] == pytest.approx(alloc["allocation"])
    out = tmp_path / "what_if.json"
    result = simulate_run(run.path, on_disk, out=out)
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["provenance"] == on_disk["provenance"]
    # outside the run folder, the run is only read
    elsewhere = tmp_path / "plans" / "alloc.json"
    elsewhere.parent.mkdir()
    optimize_run(run.path, out=elsewhere)
    assert elsewhere.is_file() and sorted(p.name for p in run.path.iterdir()) == [
        "alloc.json",
        "fit.npz",
    ]
