"""The HTML report of a run folder: ``report.html`` and ``figures/``, from verified files.

`report_run` reads a run folder (``fit.npz`` and what was derived from it),
checks that its files belong to one fit, draws the standard figures from the
fit's `mmm_jax.diagnostics.Analysis` (plus the hold-out forecast and the
budget reallocation when the run has them) and replaces the page and the
figures atomically, holding the run's lock.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from mmm_jax._format import fmt_sig
from mmm_jax.diagnostics.analysis import Analysis
from mmm_jax.run_folder import RunFolder, RunFolderError, RunMismatchError
from mmm_jax.workflow.decisions import allocation_vector

__all__ = ["report_into", "report_run"]


def report_run(run: str | os.PathLike, *, title: str | None = None) -> Path:
    """Writes ``RUN/report.html`` and ``RUN/figures/*.png`` for a run folder.

    Reads ``RUN/fit.npz`` and, when present, ``RUN/summary.json`` (else it is
    computed), ``RUN/alloc.json`` or else ``RUN/alloc_per_geo.json`` (adds the
    budget reallocation figure and an allocation note), ``RUN/fit_holdout.npz`` (``fit --holdout``: adds the
    hold-out forecast figure), ``RUN/truth.json`` (adds truth columns) and
    ``RUN/demo.json`` (adds its ``notes``), after checking that they belong to
    the same fit (`mmm_jax.run_folder.RunFiles.verify`). A summary without
    model review verdicts gets them computed for the page only; no input file
    is changed. The page and ``figures/`` are replaced atomically, holding the
    run folder's lock.

    Args:
      run: The run folder written by ``mmm-jax fit`` (or ``mmm-jax demo``).
      title: Page title (default: ``MMM report: <folder name>``).

    Returns:
      Path of ``report.html``.

    Raises:
      RunFolderError: No run folder, unreadable JSON in it, or files of
        different runs (`RunMismatchError`).
      FitFileError: A corrupted or edited fit file.
    """
    folder = RunFolder(run)
    with folder.update(command="report") as live:
        report_into(live, title=title or f"MMM report: {folder.root.name}")
    return folder.path / "report.html"


def report_into(files, *, title: str, analysis: Analysis | None = None) -> None:
    """Writes ``report.html`` and ``figures/`` into a run being written or held.

    Args:
      files: A `mmm_jax.run_folder.StagedRun` or `mmm_jax.run_folder.LiveRun`.
      title: Page title.
      analysis: The `Analysis` of the run's ``fit.npz``, if at hand (the demo
        has it); else it is made from the verified fit.
    """
    from mmm_jax.diagnostics import analyse, summarize
    from mmm_jax.diagnostics.plots import plot_budget_reallocation
    from mmm_jax.diagnostics.report import figures_for_fit, render_report
    from mmm_jax.diagnostics.review import add_review, review

    run = files.verify()
    fit = run.fit
    names = list(fit.data.channels)
    summary = run.summary
    with_saturation = summary is None or all(
        c.get("saturation_spend") is not None for c in summary.get("channels", {}).values()
    )
    a = analyse(fit, with_saturation=with_saturation) if analysis is None else analysis
    if summary is None:
        summary = summarize(a)
    if list(summary["channels"]) != names:
        raise RunMismatchError(
            f"{files.label}/summary.json has channels {list(summary['channels'])}, the fit has "
            f"{names}: they come from different runs"
        )
    if not summary.get("review"):
        summary = add_review(dict(summary), review(fit, summary=summary, analysis=a))
    truth = _truth(files)
    holdout = summary["fit"].get("holdout")
    refit = run.holdout_fit if holdout else None
    if refit is not None:
        _check_refit(fit, refit, int(holdout["n_train"]))
    figures = figures_for_fit(fit, summary=summary, truth=truth, analysis=a)
    if refit is not None:
        figures = _with_holdout_figure(figures, fit, refit)
    notes = []
    if run.alloc is not None:
        notes += _budget_note(run.alloc, a, names, figures, plot_budget_reallocation, files)
    demo = files.read_json("demo.json")
    if demo is not None:
        demo_notes = demo.get("notes", [])
        if not isinstance(demo_notes, list):
            raise RunFolderError(f"{files.label}/demo.json: field notes must be a list")
        notes += [str(n) for n in demo_notes]
    pngs = {}
    for key, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
        pngs[f"{key}.png"] = buffer.getvalue()
    files.replace_dir("figures", pngs)
    page = render_report(summary=summary, figures=figures, title=title, truth=truth, notes=notes)
    files.write_text("report.html", page)


def _budget_note(alloc: dict, analysis: Analysis, names, figures: dict, plot, files) -> list[str]:
    """Adds the budget figure of a verified ``alloc.json``; returns its note."""
    name = "alloc.json" if files.has("alloc.json") else "alloc_per_geo.json"  # as verify reads
    rec = allocation_vector(alloc, names, f"{files.label}/{name}")
    hist_map = alloc.get("historical_allocation") or {}
    try:
        hist = (
            np.array([float(hist_map[n]) for n in names])
            if isinstance(hist_map, dict) and set(hist_map) == set(names)
            else analysis.historical_spend.sum(axis=0)
        )
        budget = float(alloc.get("budget", rec.sum()))
    except (TypeError, ValueError):
        raise RunFolderError(
            f"{files.label}/alloc.json: budget and historical_allocation must hold numbers; "
            f"rerun `mmm-jax optimize {files.label}`"
        ) from None
    n_geos = len(analysis.geos)
    scope = f"national total over {n_geos} geos" if n_geos > 1 else ""
    figures["budget"] = plot(names, hist, rec, scope=scope).figure
    per = "per period" + (f" ({scope})" if scope else "")
    notes = []
    if alloc.get("forced") is True:
        failed = [
            str(i.get("check")) for i in alloc.get("failed_checks") or [] if isinstance(i, dict)
        ]
        notes.append(
            f"The allocation was forced on a fit that FAILs convergence ({', '.join(failed)}): "
            "its numbers are not the posterior's."
        )
    held = alloc.get("held")
    if isinstance(held, dict) and held:
        notes.append(
            f"Held at historical spend by the optimiser: {', '.join(map(str, held))} (ROAS not "
            "identified by the data; a lift test would inform it)."
        )
    u = alloc.get("uplift") or {}
    if not (
        isinstance(u, dict)
        and all(isinstance(u.get(k), int | float) for k in ("mean", "hdi_low", "hdi_high"))
    ):
        return notes
    return notes + [
        f"Budget {fmt_sig(budget)} {per}: the recommended "
        f"allocation ({', '.join(f'{n} {fmt_sig(v)}' for n, v in zip(names, rec))}) is "
        f"expected to add {fmt_sig(u['mean'])} revenue {per} over the historical mix "
        f"(90% HDI {fmt_sig(u['hdi_low'])} to {fmt_sig(u['hdi_high'])}), steady state."
    ]


def _truth(files) -> dict[str, Any] | None:
    """``truth.json`` (the demo's known truth) with the fields the report reads type-checked."""
    truth = files.read_json("truth.json")
    if truth is None:
        return None
    where = f"{files.label}/truth.json"

    def number(x, field):
        if x is not None and (isinstance(x, bool) or not isinstance(x, int | float)):
            raise RunFolderError(f"{where}: field {field} must be a number, got {x!r:.40}")

    channels = truth.get("channels", {})
    if not isinstance(channels, dict):
        raise RunFolderError(f"{where}: field channels must be an object")
    for name, ch in channels.items():
        if not isinstance(ch, dict):
            raise RunFolderError(f"{where}: field channels.{name} must be an object")
        for key in ("roas", "marginal_roas"):
            number(ch.get(key), f"channels.{name}.{key}")
    number(truth.get("baseline_share"), "baseline_share")
    return truth


def _check_refit(fit, refit, n_train: int) -> None:
    """Refuses a ``fit_holdout.npz`` that is not a refit on this run's first ``n_train`` periods."""
    start = fit.data.time_slice(0, n_train) if 0 < n_train < fit.data.n_time else None
    if (
        start is None
        or refit.data.n_time != n_train
        or refit.data.channels != fit.data.channels
        or refit.data.control_names != fit.data.control_names
        or not refit.data.dates.equals(start.dates)
        or not np.array_equal(refit.data.media, start.media)
        or not np.array_equal(refit.data.target, start.target)
    ):
        raise RunMismatchError(
            "fit_holdout.npz is not a refit on the first periods of this run's data: "
            "rerun `mmm-jax fit ... --holdout FRAC` into this folder"
        )


def _with_holdout_figure(figures: dict, fit, refit) -> dict:
    """``figures`` with the hold-out forecast drawn after the posterior predictive check."""
    from mmm_jax.diagnostics.plots import plot_posterior_predictive

    data = fit.data.with_scaler(refit.data.scaler)  # the full series on the refit's scale
    draws = np.asarray(refit.predict(data, sites=("y",))["y"]) * data.scaler.target_scale
    n_train = refit.data.n_time
    # The held-out periods and twice as many before them, so the forecast is readable.
    start = max(0, n_train - 2 * (data.n_time - n_train))
    ax = plot_posterior_predictive(
        data.dates[start:],
        data.target[:, start:],
        draws[..., start:],
        split=data.dates[n_train],
        title="Hold-out forecast",
    )
    out = {}
    for key, fig in figures.items():
        out[key] = fig
        if key == "posterior_predictive":
            out["holdout_forecast"] = ax.figure
    out.setdefault("holdout_forecast", ax.figure)
    return out
