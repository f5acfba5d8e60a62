"""The NUTS-vs-SVI notebook stays runnable: it is stored clean and executed with small settings.

* fast: the stored notebook is valid, has no outputs, starts with a tagged
  parameters cell, and every code cell is valid Python; its setup and data
  cells (everything before the fits) run in a fresh ``python3`` kernel;
* slow (``--run-slow``; about a minute on 2 idle cores, several on a busy
  machine): the whole notebook runs with ``MMM_NB_SETTINGS=smoke`` (NUTS and
  every SVI guide) and its printed summary table is read back and checked.
"""

import ast
import re
from pathlib import Path

import pytest

from mmm_jax.inference.svi import Guide

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "nuts_vs_svi.ipynb"
FITS_HEADING = "## Cell 4"


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def _execute(notebook, monkeypatch, timeout):
    """Runs the notebook with smoke settings; returns (printed text, number of PNG outputs)."""
    monkeypatch.setenv("MMM_NB_SETTINGS", "smoke")
    monkeypatch.setenv("JAX_PLATFORMS", "cpu")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the kernel draws inline (PNG outputs)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=timeout,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    executed = client.execute()
    text, images = [], 0
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out
            text.append(out.get("text", "") or "".join(out.get("data", {}).get("text/plain", "")))
            images += "image/png" in out.get("data", {})
    return "\n".join(text), images


def test_notebook_is_valid_and_stored_without_outputs(notebook):
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "MMM_NB_SETTINGS" in code[0].source
    for c in code:
        ast.parse(c.source)  # raises on a syntax error
    guides = re.findall(r'"(auto_\w+)"', code[0].source)
    assert set(guides) == {g.value for g in Guide}
    assert any(
        c.cell_type == "markdown" and c.source.startswith(FITS_HEADING) for c in notebook.cells
    )


def test_notebook_setup_and_data_cells_run(notebook, monkeypatch):
    cut = next(i for i, c in enumerate(notebook.cells) if c.source.startswith(FITS_HEADING))
    head = nbformat.from_dict(notebook)
    head.cells = head.cells[:cut]
    text, _ = _execute(head, monkeypatch, timeout=180)
    assert "settings: smoke; 90 days" in text
    assert "gold data: 90 days, channels ['search', 'social', 'video', 'retail']" in text
    assert "true ROAS" in text


def _summary_rows(text):
    """method -> row values of the printed 'NUTS vs SVI summary' table."""
    lines = text.split("NUTS vs SVI summary\n", 1)[1].splitlines()
    header = lines[0].split()
    rows = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) != len(header) + 1:
            break
        rows[parts[0]] = dict(zip(header, parts[1:]))
    return header, rows


@pytest.mark.slow
def test_notebook_runs_with_smoke_settings(notebook, monkeypatch):
    text, images = _execute(nbformat.from_dict(notebook), monkeypatch, timeout=900)
    header, rows = _summary_rows(text)
    assert "hdi_overlap_vs_nuts" in header and "truth_in_90hdi" in header
    assert list(rows) == ["nuts", "auto_normal", "auto_lowrank", "auto_mvn"]
    # NUTS against itself: full overlap, zero distance.
    assert float(rows["nuts"]["hdi_overlap_vs_nuts"]) == 1.0
    assert float(rows["nuts"]["wasserstein_vs_nuts_sd"]) == 0.0
    for row in rows.values():
        assert float(row["wall_s"]) > 0 and float(row["ess_roas_min"]) > 0
        assert 0.0 <= float(row["hdi_overlap_vs_nuts"]) <= 1.0
        assert float(row["wasserstein_vs_nuts_sd"]) >= 0.0
        inside, n = row["truth_in_90hdi"].split("/")
        assert n == "4" and 0 <= int(inside) <= 4
    assert images == 2  # the two figures
