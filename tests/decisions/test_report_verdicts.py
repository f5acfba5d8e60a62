"""The report leads with the review's verdicts, labels units and shows both marginal ROAS."""

import json
import re
import shutil

import numpy as np
import pytest

from mmm_jax.cli import main
from mmm_jax.diagnostics import analyse
from mmm_jax.diagnostics.plots import plot_budget_reallocation, plot_response_curves
from mmm_jax.diagnostics.report import MARGINAL_ROAS_NOTE, render_report
from mmm_jax.run_folder import RunFolder
from mmm_jax.workflow.reporting import _budget_note
from tests._paths import TINY_RUN as RUN


@pytest.fixture(scope="module")
def forced(tmp_path_factory):
    """A copy of the run with ``alloc.json`` from ``optimize --force``: (run, alloc)."""
    run = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(RUN, run)
    assert main(["optimize", str(run), "--force"]) == 0
    return run, json.loads((run / "alloc.json").read_text())


@pytest.fixture(scope="module")
def page(forced):
    """The page `report_run` writes, less its figures (drawing them takes half a minute)."""
    run, alloc = forced
    verified = RunFolder(run).load()
    a = analyse(verified.fit, with_saturation=False)
    figures = {}
    notes = _budget_note(
        alloc, a, list(a.channels), figures, plot_budget_reallocation, RunFolder(run)
    )
    assert list(figures) == ["budget"]
    return render_report(summary=verified.summary, figures={}, title="t", notes=notes)


def test_verdicts_come_before_any_number(page):
    verdicts = page.index("<h2 id='verdicts'>Verdicts</h2>")
    assert verdicts < page.index("Media ROAS") < page.index("<h2>Channels</h2>")
    top = page[verdicts : page.index("Media ROAS")]
    # fails first, then warnings; the passes stay in the full review below
    statuses = re.findall(r"<tr class='(pass|warn|fail)'>", top)
    assert statuses[:2] == ["fail", "fail"] and set(statuses[2:]) == {"warn"}
    assert "2 checks FAILED" in top and "Chains disagree (max R-hat 1.253" in top
    assert "ROAS of retail is not identified" in top


def test_report_shows_both_marginal_roas_and_the_decision_notes(page):
    summary = json.loads((RUN / "summary.json").read_text())
    assert "Marginal ROAS (1% bump, window)" in page and "Marginal ROAS (steady state)" in page
    assert MARGINAL_ROAS_NOTE.split(":")[0] in page
    steady = summary["channels"]["search"]["steady_state_marginal_roas"]["mean"]
    assert f"{steady:.3g}" in page  # three significant digits, as fmt_sig prints
    assert "forced on a fit that FAILs convergence (r_hat, ess_bulk)" in page
    assert "Held at historical spend by the optimiser: retail" in page


def test_geo_reports_say_amounts_are_national_totals():
    summary = json.loads((RUN / "summary.json").read_text())
    national = render_report(summary=summary, figures={}, title="t")
    assert "Saturation spend (per period)" in national and "national total" not in national
    summary["data"]["n_geos"] = 3
    geo = render_report(summary=summary, figures={}, title="t")
    assert "Saturation spend (per period, national total over 3 geos)" in geo
    assert "Spend (window, 3 geos)" in geo


def test_curve_and_budget_figures_label_their_scope():
    a = analyse(RunFolder(RUN).load().fit, with_saturation=False)
    hist = a.historical_spend.sum(axis=0)
    fig = plot_response_curves(a.curves, hist, names=a.channels, scope="national total over 3 geos")
    assert fig.axes[0].get_xlabel() == "Spend per period\n(national total over 3 geos)"
    assert fig.get_suptitle().endswith(": national total over 3 geos")
    plain = plot_response_curves(a.curves, hist, names=a.channels)
    assert plain.axes[0].get_xlabel() == "Spend per period"
    ax = plot_budget_reallocation(list(a.channels), hist, hist * 1.1, scope="national total")
    assert ax.get_ylabel() == "Spend per period\n(national total)"
    assert np.isfinite(hist).all()
