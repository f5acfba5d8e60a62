"""A self-contained HTML report of a fit: headline numbers, tables and figures.

`render_report` turns a ``summary.json`` dict (the results contract of
DESIGN.md) and a set of matplotlib figures into one ``report.html``: figures
are embedded as base64 PNG, the CSS is inline and nothing is fetched, so the
file can be mailed or opened offline. Every string from the summary, the
truth, the notes or the figure names is HTML-escaped. `write_report` writes
it to ``report.html`` atomically.

`figures_for_fit` draws the standard figures with `mmm_jax.diagnostics.plots`
from a fit's `mmm_jax.diagnostics.analysis.Analysis`, the numbers its summary
holds.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

import jax

from mmm_jax._atomic import write_text
from mmm_jax._format import fmt_sig
from mmm_jax.diagnostics import metrics, plots
from mmm_jax.diagnostics.analysis import Analysis, analyse
from mmm_jax.models.terms import synergy_pairs

__all__ = ["CAPTIONS", "figures_for_fit", "render_report", "write_report"]

#: Captions of the standard figures of `figures_for_fit`, by key.
CAPTIONS: dict[str, str] = {
    "posterior_predictive": (
        "Observed revenue against the model's posterior predictive mean, with 50% and 90% "
        "intervals. Actual points mostly inside the bands mean the model reproduces the data."
    ),
    "holdout_forecast": (
        "Out of sample: the last periods forecast by a refit that saw only the earlier ones "
        "(mmm-jax fit --holdout), with 50% and 90% intervals; the shaded periods were held out."
    ),
    "contributions": (
        "Revenue per period split into the baseline (what would have happened with no media) "
        "and each channel's counterfactual contribution (posterior means)."
    ),
    "waterfall": (
        "Total revenue over the window: baseline plus each channel's counterfactual "
        "contribution, with 90% HDIs."
    ),
    "roas": (
        "Return on ad spend (contribution per unit of spend) and marginal ROAS (return on the "
        "next unit). Marginal ROAS below the break-even line means the last units of spend "
        "lost money."
    ),
    "response_curves": (
        "Steady-state revenue per period as each channel's spend changes, others held at their "
        "mean. Beyond the saturation spend the next unit of spend returns less than it costs."
    ),
    "synergy": (
        "Pairwise synergy between channels: posterior means and the probability that each is "
        "positive."
    ),
    "loss": "Convergence of the SVI optimisation (negative ELBO per step).",
    "budget": "Current against recommended spend per period, with the change per channel.",
    "prior_posterior": (
        "Prior against posterior of the model parameters: how much the data taught the model."
    ),
}

_CSS = """
:root { --ink:#1d232b; --muted:#5b6570; --line:#e3e6ea; --bg:#f7f8fa; --accent:#2e5c8a;
        --pass:#e6f4ea; --pass-ink:#1b6b34; --warn:#fff4d6; --warn-ink:#8a5a00;
        --fail:#fde7e9; --fail-ink:#a3121f; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 32px 28px 64px; }
h1 { font-size: 28px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; margin: 40px 0 12px; padding-bottom: 6px;
     border-bottom: 2px solid var(--line); }
p.sub { color: var(--muted); margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase;
           letter-spacing: 0.04em; }
.card .v { font-size: 24px; font-weight: 650; margin-top: 2px; font-variant-numeric: tabular-nums; }
.card .i { color: var(--muted); font-size: 12.5px; font-variant-numeric: tabular-nums; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line);
        border-radius: 10px; overflow: hidden; font-size: 14px; }
th, td { padding: 8px 10px; text-align: right; border-bottom: 1px solid var(--line);
         font-variant-numeric: tabular-nums; vertical-align: top; }
th { background: #eef1f4; font-weight: 600; font-size: 12.5px; color: #39424c; }
th:first-child, td:first-child { text-align: left; white-space: nowrap; }
td.text, th.text { text-align: left; }
.scroll { overflow-x: auto; }
tr:last-child td { border-bottom: none; }
.hdi { display: block; color: var(--muted); font-size: 12px; white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 7px; }
.flag { font-weight: 600; color: var(--fail-ink); }
.yes { color: var(--pass-ink); font-weight: 600; } .no { color: var(--fail-ink); font-weight: 600; }
tr.pass td { background: var(--pass); } tr.warn td { background: var(--warn); }
tr.fail td { background: var(--fail); }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 8px;
         border-radius: 99px;
         font-size: 12px; font-weight: 700; text-transform: uppercase; }
tr.pass .badge { color: var(--pass-ink); border: 1px solid var(--pass-ink); }
tr.warn .badge { color: var(--warn-ink); border: 1px solid var(--warn-ink); }
tr.fail .badge { color: var(--fail-ink); border: 1px solid var(--fail-ink); }
ul.notes { background: #fff; border: 1px solid var(--line); border-radius: 10px;
           padding: 12px 16px 12px 34px; }
figure { margin: 18px 0 28px; background: #fff; border: 1px solid var(--line); border-radius: 10px;
         padding: 14px; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13.5px; margin-top: 8px; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 48px; }
"""


# ------------------------------------------------------------------ formatting
def _esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _money(x: Any) -> str:
    return fmt_sig(x)


def _ratio(x: Any) -> str:
    return fmt_sig(x)


def _pct(x: Any, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%" if _finite(x) else "—"


def _est(e: Mapping[str, Any] | None, fmt) -> str:
    """Mean with its 90% HDI underneath, as HTML."""
    if not e:
        return "—"
    hdi = f"[{fmt(e.get('hdi_low'))}, {fmt(e.get('hdi_high'))}]"
    return f"{_esc(fmt(e.get('mean')))}<span class='hdi'>{_esc(hdi)}</span>"


def _inside(value: Any, e: Mapping[str, Any] | None) -> str:
    if (
        not _finite(value)
        or not e
        or not _finite(e.get("hdi_low"))
        or not _finite(e.get("hdi_high"))
    ):
        return "—"
    ok = e["hdi_low"] <= value <= e["hdi_high"]
    return "<span class='yes'>yes</span>" if ok else "<span class='no'>no</span>"


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _card(key: str, value: str, interval: str = "") -> str:
    extra = f"<div class='i'>{_esc(interval)}</div>" if interval else ""
    return (
        f"<div class='card'><div class='k'>{_esc(key)}</div>"
        f"<div class='v'>{_esc(value)}</div>{extra}</div>"
    )


def _table(
    head: Iterable[str],
    rows: Iterable[Iterable[str]],
    row_classes: Iterable[str] | None = None,
    text_cols: tuple[int, ...] = (),
) -> str:
    """An HTML table; cells are HTML already (escaped by the caller), ``text_cols`` left-aligned."""
    rows = [list(r) for r in rows]
    classes = list(row_classes) if row_classes is not None else [""] * len(rows)
    heads = (
        f"<th class='text'>{_esc(h)}</th>" if i in text_cols else f"<th>{_esc(h)}</th>"
        for i, h in enumerate(head)
    )
    out = ["<div class='scroll'><table><thead><tr>", *heads, "</tr></thead><tbody>"]
    for cls, row in zip(classes, rows, strict=True):
        out.append(f"<tr class='{_esc(cls)}'>" if cls else "<tr>")
        out.extend(
            f"<td class='text'>{c}</td>" if i in text_cols else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        out.append("</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


# ------------------------------------------------------------------ sections
def _headline(summary: Mapping[str, Any]) -> str:
    channels = summary.get("channels", {})
    spend = sum(float(c.get("spend", 0.0)) for c in channels.values())
    contrib = sum(float((c.get("contribution") or {}).get("mean", 0.0)) for c in channels.values())
    cards = [
        _card("Media spend", _money(spend)),
        _card("Media contribution", _money(contrib), "sum of channel posterior means"),
        _card("Media ROAS", _ratio(contrib / spend) if spend > 0 else "—", "contribution / spend"),
    ]
    share = (summary.get("baseline") or {}).get("share")
    if share:
        cards.append(
            _card(
                "Baseline share",
                _pct(share.get("mean")),
                f"90% HDI {_pct(share.get('hdi_low'))}–{_pct(share.get('hdi_high'))}",
            )
        )
    fit = summary.get("fit") or {}
    if "r2" in fit:
        cards.append(_card("Fit R²", _ratio(fit.get("r2")), f"MAPE {_pct(fit.get('mape'))}"))
    wasteful = [n for n, c in channels.items() if c.get("wasteful")]
    cards.append(
        _card("Wasteful channels", str(len(wasteful)), ", ".join(wasteful) if wasteful else "none")
    )
    return "<div class='cards'>" + "".join(cards) + "</div>"


#: Why the two marginal ROAS differ, in one sentence (report and README).
MARGINAL_ROAS_NOTE = (
    "Two marginal ROAS: the 1% bump raises the observed, varying spend of the window and counts "
    "its carry-over as far as the data reach (what the last units actually returned), while the "
    "steady-state one is the slope of the response curve at constant historical spend per period "
    "(what the optimiser and the saturation spend use); they differ when spend varied over time, "
    "because the curve is concave, and by the carry-over the window cuts off."
)


def _n_geos(summary: Mapping[str, Any]) -> int:
    n = (summary.get("data") or {}).get("n_geos")
    return n if isinstance(n, int) and n > 0 else 1


def _per_period(summary: Mapping[str, Any]) -> str:
    """``per period``, with ``national total over N geos`` on a geo panel."""
    n = _n_geos(summary)
    return "per period" + (f", national total over {n} geos" if n > 1 else "")


def _channel_table(summary: Mapping[str, Any], truth: Mapping[str, Any] | None) -> str:
    channels = summary.get("channels", {})
    colors = plots.channel_colors(list(channels))
    truth_ch = (truth or {}).get("channels", {})
    n_geos = _n_geos(summary)
    has_steady = any(c.get("steady_state_marginal_roas") for c in channels.values())
    head = [
        "Channel",
        "Spend (window" + (f", {n_geos} geos" if n_geos > 1 else "") + ")",
        "Contribution",
        "ROAS",
        "Marginal ROAS (1% bump, window)",
        *(["Marginal ROAS (steady state)"] if has_steady else []),
        f"Saturation spend ({_per_period(summary)})",
        "Wasteful?",
    ]
    has_true_roas = any("roas" in truth_ch.get(n, {}) for n in channels)
    has_true_mroas = any("marginal_roas" in truth_ch.get(n, {}) for n in channels)
    if has_true_roas:
        head += ["True ROAS", "Inside HDI?"]
    if has_true_mroas:
        head += ["True marginal ROAS", "Inside HDI?"]
    rows = []
    for name, c in channels.items():
        swatch = f"<span class='swatch' style='background:{colors[name]}'></span>"
        wasteful = "<span class='flag'>yes</span>" if c.get("wasteful") else "no"
        row = [
            swatch + _esc(name),
            _esc(_money(c.get("spend"))),
            _est(c.get("contribution"), _money),
            _est(c.get("roas"), _ratio),
            _est(c.get("marginal_roas"), _ratio),
            *([_est(c.get("steady_state_marginal_roas"), _ratio)] if has_steady else []),
            _est(c.get("saturation_spend"), _money),
            wasteful,
        ]
        t = truth_ch.get(name, {})
        if has_true_roas:
            row += [_esc(_ratio(t.get("roas"))), _inside(t.get("roas"), c.get("roas"))]
        if has_true_mroas:
            row += [
                _esc(_ratio(t.get("marginal_roas"))),
                _inside(t.get("marginal_roas"), c.get("marginal_roas")),
            ]
        rows.append(row)
    note = (
        "<p class='sub'>Mean with its 90% highest-density interval underneath. Spend and "
        "contribution are totals over the fit window; contribution is counterfactual (revenue "
        "with the channel minus revenue without it). A channel is flagged wasteful when its "
        f"1% bump marginal ROAS is below 1 with probability ≥ {metrics.WASTE_PROB:.0%}. Saturation spend is "
        f"steady state, {_esc(_per_period(summary))}.</p>"
        + (f"<p class='sub'>{_esc(MARGINAL_ROAS_NOTE)}</p>" if has_steady else "")
    )
    return note + _table(head, rows)


def _baseline_and_synergy(summary: Mapping[str, Any], truth: Mapping[str, Any] | None) -> str:
    base = summary.get("baseline") or {}
    head = ["Quantity", "Estimate"]
    rows = [
        ["Baseline revenue", _est(base.get("contribution"), _money)],
        ["Baseline share of revenue", _est(base.get("share"), _pct)],
    ]
    true_share = (truth or {}).get("baseline_share")
    if _finite(true_share):
        head += ["Truth", "Inside HDI?"]
        rows[0] += ["—", "—"]
        rows[1] += [_esc(_pct(true_share)), _inside(true_share, base.get("share"))]
    out = _table(head, rows)
    synergy = summary.get("synergy") or {}
    if synergy:
        out += "<h2>Synergy</h2>" + _table(
            ["Pair", "Synergy coefficient"],
            ([_esc(pair.replace(":", " × ")), _est(e, _ratio)] for pair, e in synergy.items()),
        )
    return out


def _fit_quality(summary: Mapping[str, Any]) -> str:
    fit = summary.get("fit") or {}
    hold = fit.get("holdout")
    metrics = [
        ("R²", "r2", _ratio, "Share of the revenue variation the model explains (1 is perfect)."),
        ("MAPE", "mape", _pct, "Mean absolute percentage error per period."),
        ("NRMSE", "nrmse", _pct, "Root mean squared error relative to the revenue range."),
    ]
    if hold is None:
        return _table(
            ["Metric", "Value", "Meaning"],
            ([name, _esc(fmt(fit.get(k))), _esc(text)] for name, k, fmt, text in metrics),
            text_cols=(2,),
        )
    metrics.append(
        (
            "90% interval coverage",
            "coverage",
            _pct,
            "Share of periods inside the 90% forecast band.",
        )
    )
    head = (
        f"Held out: last {hold['n_holdout']} periods from {hold['holdout_start']}, "
        f"forecast by a refit on the first {hold['n_train']}"
    )
    return _table(
        ["Metric", "In sample", head, "Meaning"],
        (
            [name, _esc(fmt(fit.get(k)) if k in fit else "—"), _esc(fmt(hold.get(k))), _esc(text)]
            for name, k, fmt, text in metrics
        ),
        text_cols=(3,),
    )


def _diagnostics(summary: Mapping[str, Any]) -> str:
    d = summary.get("diagnostics") or {}

    def num(x, fmt):
        return _esc(fmt(x)) if _finite(x) else "not applicable"

    rows = [
        ["Method", _esc(str(d.get("method", "—")).upper()), "How the posterior was computed."],
        [
            "Run time",
            _esc(f"{d['seconds']:,.1f} s") if _finite(d.get("seconds")) else "—",
            "Wall-clock time of the fit.",
        ],
        [
            "Largest R-hat",
            num(d.get("r_hat_max"), lambda x: f"{x:.3f}"),
            "Agreement between chains; below 1.01 is good. Needs several chains.",
        ],
        [
            "Smallest bulk ESS",
            num(d.get("ess_bulk_min"), lambda x: f"{x:,.0f}"),
            "Effective number of independent draws; a few hundred or more is good.",
        ],
        [
            "Divergences",
            num(d.get("divergences"), lambda x: f"{x:,d}"),
            "NUTS transitions that failed; any number above zero deserves a look.",
        ],
    ]
    out = _table(
        ["Check", "Value", "Meaning"], ([r[0], r[1], _esc(r[2])] for r in rows), text_cols=(2,)
    )
    review = summary.get("review")
    if review:
        statuses = []
        rows = []
        for item in review:
            status = str(item.get("status", "warn")).lower()
            status = status if status in ("pass", "warn", "fail") else "warn"
            statuses.append(status)
            rows.append(
                [
                    f"<span class='badge'>{_esc(status)}</span>",
                    _esc(item.get("check", "")),
                    _esc(item.get("message", "")),
                ]
            )
        out += "<h2>Review</h2>" + _table(
            ["Status", "Check", "Verdict"], rows, statuses, text_cols=(1, 2)
        )
    return out


def _verdicts(summary: Mapping[str, Any]) -> str:
    """The review's FAIL and WARN items, fails first, for the top of the page."""
    review = summary.get("review")
    if not review:
        return ""
    order = {"fail": 0, "warn": 1}
    flagged = sorted(
        (i for i in review if str(i.get("status", "")).lower() in order),
        key=lambda i: order[str(i["status"]).lower()],
    )
    if not flagged:
        return (
            "<h2>Verdicts</h2><p class='sub'>Every check of the model review passed "
            f"({len(review)} checks; see Diagnostics).</p>"
        )
    fails = sum(str(i["status"]).lower() == "fail" for i in flagged)
    lead = (
        f"{fails} check{'s' if fails != 1 else ''} FAILED: read no number below before fixing "
        "the fit. "
        if fails
        else ""
    )
    rows = [
        [
            f"<span class='badge'>{_esc(str(i['status']).lower())}</span>",
            _esc(i.get("check", "")),
            _esc(i.get("message", "")),
        ]
        for i in flagged
    ]
    return (
        f"<h2 id='verdicts'>Verdicts</h2><p class='sub'>{_esc(lead)}The model review's "
        f"warnings and failures ({len(flagged)} of {len(review)} checks); the full review is "
        "under Diagnostics.</p>"
        + _table(
            ["Status", "Check", "Verdict"],
            rows,
            [str(i["status"]).lower() for i in flagged],
            text_cols=(1, 2),
        )
    )


def _figures(figures: Mapping[str, Figure], captions: Mapping[str, str]) -> str:
    out = []
    for key, fig in figures.items():
        if not isinstance(fig, Figure):
            raise TypeError(
                f"figures[{key!r}] must be a matplotlib Figure, got {type(fig).__name__}"
            )
        caption = captions.get(key, CAPTIONS.get(key, str(key).replace("_", " ").capitalize()))
        out.append(
            f"<figure id='fig-{_esc(key)}'><img alt='{_esc(key)}' "
            f"src='data:image/png;base64,{_png(fig)}'>"
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    return "".join(out)


# ------------------------------------------------------------------ public
def render_report(
    *,
    summary: Mapping[str, Any],
    figures: Mapping[str, Figure],
    title: str,
    truth: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
    captions: Mapping[str, str] | None = None,
) -> str:
    """The HTML of the report: one self-contained page.

    Sections: the review's verdicts (its FAIL and WARN items, before any
    number), headline numbers, notes, the per-channel table (with truth
    columns when ``truth`` is given), baseline and synergy, fit quality,
    diagnostics (and the coloured ``summary["review"]`` verdicts when
    present), then the figures with captions.

    Args:
      summary: A ``summary.json`` dict (`mmm_jax.diagnostics.summarize`).
        May hold ``"review"``: a list of ``{"check", "status", "message"}``
        dicts with status ``"pass"``, ``"warn"`` or ``"fail"``.
      figures: Key -> Figure, embedded in order as PNG. Known keys
        (`CAPTIONS`) get a standard caption.
      title: Page title.
      truth: Known truth, ``{"channels": {name: {"roas", "marginal_roas"}},
        "baseline_share": x}`` (e.g. a simulation's truth), adding true
        values and whether each lies inside its 90% HDI.
      notes: Free-text remarks shown near the top.
      captions: Key -> caption, overriding `CAPTIONS`.

    Returns:
      The page, as a string.

    Raises:
      TypeError: ``summary`` is not a mapping or a figure is not a Figure.
    """
    if not isinstance(summary, Mapping):
        raise TypeError(f"summary must be a dict (summary.json), got {type(summary).__name__}")
    data = summary.get("data") or {}
    sub = []
    if data.get("start") and data.get("end"):
        sub.append(f"{data['start']} to {data['end']}")
    if data.get("n_periods"):
        sub.append(f"{data['n_periods']} periods")
    if data.get("n_geos"):
        sub.append(f"{data['n_geos']} geo{'s' if data['n_geos'] != 1 else ''}")
    if data.get("target"):
        sub.append(f"target: {data['target']}")
    method = (summary.get("diagnostics") or {}).get("method")
    if method:
        sub.append(f"method: {str(method).upper()}")
    notes = list(notes)
    body = [
        f"<h1>{_esc(title)}</h1>",
        f"<p class='sub'>{_esc(' · '.join(sub))}</p>" if sub else "",
        _verdicts(summary),
        _headline(summary),
    ]
    if notes:
        body.append(
            "<h2>Notes</h2><ul class='notes'>"
            + "".join(f"<li>{_esc(n)}</li>" for n in notes)
            + "</ul>"
        )
    body += [
        "<h2>Channels</h2>",
        _channel_table(summary, truth),
        "<h2>Baseline</h2>",
        _baseline_and_synergy(summary, truth),
        "<h2>Fit quality</h2>",
        _fit_quality(summary),
        "<h2>Diagnostics</h2>",
        _diagnostics(summary),
    ]
    if figures:
        body += ["<h2>Figures</h2>", _figures(figures, captions or {})]
    note = data.get("currency_note", "Money in the data's currency.")
    body.append(f"<footer>{_esc(note)} · Generated by mmm_jax.</footer>")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def write_report(
    out_dir: str | Path,
    *,
    summary: Mapping[str, Any],
    figures: Mapping[str, Figure],
    title: str,
    truth: Mapping[str, Any] | None = None,
    notes: Iterable[str] = (),
    captions: Mapping[str, str] | None = None,
) -> Path:
    """Writes ``out_dir/report.html`` (`render_report`'s page), atomically.

    An earlier ``report.html`` is replaced only by a complete new one (a
    temporary file renamed into place).

    Args:
      out_dir: Folder to write into (created if missing).
      summary: As `render_report`.
      figures: As `render_report`.
      title: As `render_report`.
      truth: As `render_report`.
      notes: As `render_report`.
      captions: As `render_report`.

    Returns:
      Path of the written file.

    Raises:
      TypeError: ``summary`` is not a mapping or a figure is not a Figure.
    """
    page = render_report(
        summary=summary, figures=figures, title=title, truth=truth, notes=notes, captions=captions
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_text(out_dir / "report.html", page)


def figures_for_fit(
    fit: metrics.FitLike,
    *,
    summary: Mapping[str, Any] | None = None,
    truth: Mapping[str, Any] | None = None,
    key: Any = None,
    analysis: Analysis | None = None,
) -> dict[str, Figure]:
    """The standard figures of a fit, drawn from its `Analysis`.

    Draws the posterior predictive check, contributions over time, the
    waterfall, the ROAS forest (with ``truth`` markers), the response curves
    with saturation spend, the synergy heat map when the model has synergy,
    and the loss trace for SVI.

    Args:
      fit: A fitted model (:class:`mmm_jax.inference.Fit`).
      summary: Its ``summary.json`` dict, if already computed; when it was made
        without saturation spend (``saturation_spend`` is ``None``), the
        response curves are drawn without it too.
      truth: Known truth with ``channels[name]["roas"]`` and
        ``["marginal_roas"]`` (e.g. a simulation's truth).
      key: PRNG key for the posterior-predictive draws (default
        ``jax.random.PRNGKey(0)``).
      analysis: The fit's `Analysis`, if at hand (else it is made here): the
        figures then show the numbers the summary was computed from.

    Returns:
      Key (see `CAPTIONS`) -> Figure, in report order.
    """
    data = fit.data
    names = list(data.channels)
    scale = float(data.scaler.target_scale)
    key = jax.random.PRNGKey(0) if key is None else key
    figs: dict[str, Figure] = {}

    y_draws = np.asarray(fit.predict(sites=("y",), key=key)["y"]) * scale
    figs["posterior_predictive"] = plots.plot_posterior_predictive(
        data.dates, data.target, y_draws
    ).figure

    with_saturation = True
    if summary is not None:
        with_saturation = all(
            c.get("saturation_spend") is not None for c in summary.get("channels", {}).values()
        )
    a = analyse(fit, with_saturation=with_saturation) if analysis is None else analysis
    contrib = a.contributions
    figs["contributions"] = plots.plot_contributions(data.dates, contrib, actual=data.target).figure
    figs["waterfall"] = plots.plot_waterfall(contrib).figure
    figs["roas"] = plots.plot_roas_forest(names, contrib.roas, a.marginal_roas, truth).figure

    current = a.historical_spend.sum(axis=0)
    sat = a.saturation_spend if with_saturation else None
    scope = f"national total over {data.n_geo} geos" if data.n_geo > 1 else ""
    figs["response_curves"] = plots.plot_response_curves(
        a.curves, current, sat, names=names, scope=scope
    )

    if a.synergy and len(names) > 1:
        mean = np.zeros((len(names), len(names)))
        prob = np.full((len(names), len(names)), np.nan)
        for i, j in synergy_pairs(len(names)):
            gamma = np.asarray(a.synergy[f"{names[i]}:{names[j]}"], dtype=float)
            mean[i, j] = mean[j, i] = gamma.mean()
            prob[i, j] = prob[j, i] = np.mean(gamma > 0)
        figs["synergy"] = plots.plot_synergy_heatmap(
            names, mean, prob, value_label="synergy (revenue per period)"
        ).figure

    info = getattr(fit, "info", {}) or {}
    if getattr(fit, "method", None) == "svi" and info.get("losses"):
        figs["loss"] = plots.plot_loss(
            np.asarray(info["losses"]), every=int(info.get("loss_every", 1))
        ).figure
    return figs
