"""The ``mmm-jax`` command line: the stable surface scripts and benchmarks rely on.

Commands (see DESIGN.md, "The results contract")::

    mmm-jax demo [--out DIR] [--seed N] [--quick]
    mmm-jax fit DATA.csv --out RUN [options]
    mmm-jax optimize RUN --budget AMOUNT_PER_PERIOD [--bounds LO,HI] [--out alloc.json]
    mmm-jax simulate RUN --allocation alloc.json
    mmm-jax report RUN

Bad input ends with a one-line ``error: ...`` on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from mmm_jax._cache import enable_compilation_cache


def configure_devices(n_chains: int = 4) -> None:
    """Gives JAX one CPU device per chain so NUTS chains run in parallel threads.

    Must run before JAX starts; it changes nothing on a GPU, where chains are
    vectorised, or when ``XLA_FLAGS`` already sets a device count.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(n_chains, os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def _finite_or_none(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite_or_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite_or_none(v) for v in x]
    return x


def dumps(obj) -> str:
    """Strict JSON (NaN and infinities become null) for files other tools read."""
    return json.dumps(_finite_or_none(obj), indent=2, allow_nan=False)


def _show_progress(args) -> bool:
    """Progress bars only for a person at a terminal, never with ``--quiet``.

    A progress bar is a host callback inside the compiled sampling loop, and
    JAX cannot keep such a program in its persistent cache: with bars, every
    NUTS fit compiles afresh (about 13 s on beauty_daily with 2 cores). Logs
    and pipelines get no bars and the cached program.
    """
    return not args.quiet and sys.stderr.isatty()


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


# ------------------------------------------------------------------ fit
def _parse_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    return items or None


def _model_config(args):
    from mmm_jax.models import (
        Adstock,
        GeoPooling,
        Likelihood,
        ModelConfig,
        Saturation,
        SynergyPriors,
    )

    try:
        adstock = Adstock(args.adstock)
        saturation = Saturation(args.saturation)
    except ValueError as err:
        raise CLIError(str(err)) from None
    return ModelConfig(
        adstock=adstock,
        saturation=saturation,
        max_lag=args.max_lag,
        synergy=SynergyPriors() if args.synergy else None,
        likelihood=Likelihood(args.likelihood),
        geo_pooling=GeoPooling(centred=args.geo_pooling == "centred") if args.geo_pooling else None,
    )


def run_fit(args) -> dict:
    """``mmm-jax fit``: validate data, fit, write ``RUN/fit.npz`` and ``RUN/summary.json``."""
    import jax

    from mmm_jax.data import load_csv
    from mmm_jax.diagnostics import add_review, holdout_metrics, holdout_periods, review, summarize
    from mmm_jax.inference import fit_map, fit_nuts, fit_svi
    from mmm_jax.models import build_inputs

    data = load_csv(
        args.data,
        date=args.date,
        target=args.target,
        channels=_parse_list(args.channels),
        controls=tuple(_parse_list(args.controls) or ()),
        geo=args.geo,
    )
    config = _model_config(args)
    lift = None
    if args.lift_tests:
        from mmm_jax.calibration import LiftSpread, load_lift_csv

        if not Path(args.lift_tests).is_file():
            raise CLIError(f"no lift-test file at {args.lift_tests}")
        lift = load_lift_csv(
            args.lift_tests,
            data,
            market_share=args.lift_market_share,
            spread=LiftSpread(args.lift_spread),
        )
    if args.holdout is not None:
        if lift is not None:
            raise CLIError(
                "--holdout with --lift-tests is not supported: the lift tests are not "
                "split with the periods; fit without one of them"
            )
        # Refuse what would stop the refit before spending the main fit, not after it.
        try:
            n_hold = holdout_periods(data.n_time, args.holdout)
            build_inputs(data.time_slice(0, data.n_time - n_hold, rescale=True), config)
        except ValueError as err:  # DataValidationError included
            raise CLIError(f"--holdout {args.holdout}: {err}") from None
    key = jax.random.PRNGKey(args.seed)
    progress = _show_progress(args)

    def fit_fn(d, lift_tests=None):
        common = dict(key=key, progress_bar=progress, lift_tests=lift_tests)
        if args.method == "nuts":
            return fit_nuts(
                d,
                config,
                num_warmup=args.warmup,
                num_samples=args.draws,
                num_chains=args.chains,
                **common,
            )
        if args.method == "svi":
            return fit_svi(d, config, num_steps=args.svi_steps, guide=args.guide, **common)
        return fit_map(d, config, num_steps=args.svi_steps, **common)

    fit = fit_fn(data, lift)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fit.save(out / "fit.npz")
    summary = summarize(fit)
    written = [out / "summary.json", out / "fit.npz"]
    if args.holdout is None:  # a refit left by an earlier run into this folder is not this run's
        (out / "fit_holdout.npz").unlink(missing_ok=True)
    else:
        n_hold = holdout_periods(data.n_time, args.holdout)
        print(
            f"hold-out: refitting on the first {data.n_time - n_hold} periods "
            f"to forecast the last {n_hold}"
        )
        check = holdout_metrics(
            data, fit_fn, frac=args.holdout, key=jax.random.fold_in(key, 1), return_fit=True
        )
        check.pop("fit").save(out / "fit_holdout.npz")
        summary["fit"]["holdout"] = {
            **check["holdout"],
            "n_train": check["n_train"],
            "n_holdout": check["n_holdout"],
            "holdout_start": check["holdout_start"],
        }
        written.append(out / "fit_holdout.npz")
    # The model review's verdicts (sampler, predictive check, hold-out forecast,
    # baseline, ROAS, prior shift) travel with the numbers they qualify.
    summary = add_review(summary, review(fit, summary=summary))
    (out / "summary.json").write_text(dumps(summary))
    _print_summary(summary)
    print("wrote " + ", ".join(str(p) for p in written))
    return summary


def _print_summary(summary: dict) -> None:
    d = summary["diagnostics"]
    print(
        f"method {d['method']}: {d['seconds']:.1f} s, r_hat_max {d['r_hat_max']}, "
        f"ess_bulk_min {d['ess_bulk_min']}, divergences {d['divergences']}"
        + (" (baseline integrated out)" if d.get("marginalized_baseline") else "")
    )
    print(f"{'channel':<12}{'ROAS mean':>10}{'90% HDI':>22}{'mROAS':>8}  wasteful")
    for name, ch in summary["channels"].items():
        r = ch["roas"]
        print(
            f"{name:<12}{r['mean']:>10.2f}   [{r['hdi_low']:>7.2f}, {r['hdi_high']:>7.2f}]"
            f"{ch['marginal_roas']['mean']:>8.2f}  {'yes' if ch['wasteful'] else 'no'}"
        )
    b = summary["baseline"]["share"]
    print(f"baseline share {b['mean']:.3f} [{b['hdi_low']:.3f}, {b['hdi_high']:.3f}]")
    f = summary["fit"]
    print(f"fit: R2 {f['r2']:.3f}  MAPE {f['mape']:.3%}  NRMSE {f['nrmse']:.3f}")
    if "holdout" in f:
        h = f["holdout"]
        cover = "n/a (too few draws)" if h["coverage"] is None else f"{h['coverage']:.0%}"
        print(
            f"hold-out ({h['n_holdout']} periods from {h['holdout_start']}): R2 {h['r2']:.3f}  "
            f"MAPE {h['mape']:.3%}  NRMSE {h['nrmse']:.3f}  90% interval coverage {cover}"
        )
    items = summary.get("review") or []
    counts = {s: sum(i["status"] == s for i in items) for s in ("pass", "warn", "fail")}
    if items:
        print(f"review: {counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail")
    for i in items:
        if i["status"] != "pass":
            print(f"  {i['status'].upper()} {i['check']}: {i['message']}")


# ------------------------------------------------------------------ optimize / simulate
def _load_run(run: str):
    from mmm_jax.inference import Fit

    path = Path(run)
    if path.is_dir():
        path = path / "fit.npz"
    if not path.exists():
        raise CLIError(f"no fit found at {path}: run `mmm-jax fit DATA.csv --out {run}` first")
    return Fit.load(path)


def _geo_response(fit):
    """Steady-state response to spend per (geo, channel) per period, summed over geos.

    Each geo's curves (its own coefficients with ``geo_pooling``) are laid side
    by side as ``geo * channel`` independent "channels" (synergy pairs within
    each geo), so the existing `steady_response` evaluates them all at once.
    """
    import numpy as np

    import jax.numpy as jnp

    from mmm_jax.diagnostics.metrics import geo_media_draws
    from mmm_jax.optimize import ResponseFunction, ResponseParams, steady_response

    m = geo_media_draws(fit)
    n_sample, n_geo, n_channel = m["coef"].shape
    pairs, synergy = None, None
    if m["pairs"] is not None:
        pairs = tuple(
            (g * n_channel + i, g * n_channel + j) for g in range(n_geo) for i, j in m["pairs"]
        )
        synergy = np.tile(m["synergy"], (1, n_geo))
    flat = steady_response(
        ResponseParams(
            coef=m["coef"].reshape(n_sample, n_geo * n_channel),
            saturation=tuple(m["saturation"]) * n_geo,
            saturation_params={
                k: v.reshape(n_sample, n_geo * n_channel) for k, v in m["saturation_params"].items()
            },
            synergy=synergy,
            pairs=pairs,
            media_scale=np.tile(m["media_scale"], n_geo),
            target_scale=np.asarray(m["target_scale"]),
        )
    )
    return ResponseFunction(
        lambda x: flat(jnp.reshape(x, (n_geo * n_channel,))),
        lambda xd: flat.aligned(jnp.reshape(xd, (xd.shape[0], n_geo * n_channel))),
        flat.n_draws,
        (n_geo, n_channel),
    )


def _response(fit, *, per_geo: bool = False):
    """Steady-state media revenue per period (currency, per draw) as a `ResponseFunction`.

    National data: spend per channel ``(channel,)``. Geo panels: with
    ``per_geo`` the decision is spend per geo and channel ``(geo, channel)``
    (`mmm_jax.optimize.optimize_budget` takes it as is); without, spend per
    channel ``(channel,)`` is split over geos in each channel's historical geo
    mix, and each geo's revenue comes from its own curve.
    """
    import numpy as np

    import jax.numpy as jnp

    from mmm_jax.diagnostics import media_draws
    from mmm_jax.optimize import ResponseFunction, ResponseParams, steady_response

    if fit.data.n_geo == 1 and not per_geo:
        return steady_response(ResponseParams(**media_draws(fit)))
    by_geo = _geo_response(fit)
    if per_geo:
        return by_geo
    hist = _historical(fit, per_geo=True)  # (geo, channel)
    totals = hist.sum(axis=0)
    share = jnp.asarray(
        np.where(totals > 0, hist / np.where(totals > 0, totals, 1.0), 1.0 / hist.shape[0])
    )

    def split(x):  # (..., channel) -> (..., geo, channel)
        return share * jnp.expand_dims(x, -2)

    return ResponseFunction(
        lambda x: by_geo(split(jnp.asarray(x))),
        lambda xd: by_geo.aligned(split(jnp.asarray(xd))),
        by_geo.n_draws,
        (fit.data.n_channel,),
    )


def _historical(fit, *, per_geo: bool = False):
    """Historical spend per period: per channel summed over geos, or per (geo, channel)."""
    import numpy as np

    media = np.asarray(fit.data.media)
    if per_geo:
        return media.mean(axis=1)  # (geo, channel)
    return media.sum(axis=0).mean(axis=0)  # per period, summed over geos


def _baseline_per_period(fit):
    """Posterior draws of the mean baseline revenue per period (all media at zero)."""
    import numpy as np

    base = fit.predict(media=np.zeros_like(fit.data.media))["mu"] * fit.data.scaler.target_scale
    return base.sum(axis=1).mean(axis=1)  # (sample,)


def _parse_bounds(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise CLIError(
            f"--bounds must be LO,HI multiples of historical spend, got {text!r}"
        ) from None
    if not 0 <= lo <= hi:
        raise CLIError(f"--bounds needs 0 <= LO <= HI, got {lo}, {hi}")
    return lo, hi


def run_optimize(args) -> dict:
    """``mmm-jax optimize``: the allocation maximising the posterior utility, as ``alloc.json``."""
    import numpy as np

    import jax

    from mmm_jax.diagnostics import estimate
    from mmm_jax.optimize import cvar, mean_profit, mean_revenue, optimize_budget, value_at_risk

    fit = _load_run(args.run)
    names = list(fit.data.channels)
    per_geo = bool(getattr(args, "per_geo", False))
    if per_geo and fit.data.n_geo == 1:
        raise CLIError("--per-geo needs a run fitted on a geo panel; this one has a single geo")
    hist = _historical(fit)
    # The decision: spend per channel, or per (geo, channel) with --per-geo.
    hist_d = _historical(fit, per_geo=True) if per_geo else hist
    budget = float(args.budget) if args.budget is not None else float(hist.sum())
    if not budget > 0:
        raise CLIError(f"--budget must be positive, got {budget}")
    lo, hi = _parse_bounds(args.bounds)
    lower, upper = lo * hist_d, hi * hist_d
    if lower.sum() > budget or upper.sum() < budget:
        raise CLIError(
            f"budget {budget:,.2f} is outside what the bounds allow: "
            f"[{lower.sum():,.2f}, {upper.sum():,.2f}] per period ({lo}x-{hi}x historical)"
        )
    utilities = {"mean": mean_revenue, "profit": mean_profit}
    if args.utility in utilities:
        utility = utilities[args.utility]()
    else:
        kind, _, level = args.utility.partition(":")
        try:
            utility = {"var": value_at_risk, "cvar": cvar}[kind](float(level))
        except (KeyError, ValueError):
            raise CLIError(
                f"--utility must be mean, profit, var:Q or cvar:Q, got {args.utility!r}"
            ) from None
    response = _response(fit, per_geo=per_geo)
    result = optimize_budget(
        response,
        budget=budget,
        lower=lower,
        upper=upper,
        utility=utility,
        key=jax.random.PRNGKey(args.seed),
        reference=hist_d * budget / hist_d.sum(),
        per_draw=args.per_draw,
    )
    base = _baseline_per_period(fit)
    revenue = base + result.expected_revenue
    historical = base + np.asarray(response(hist_d))
    decision = np.asarray(result.allocation)
    by_channel = decision.sum(axis=0) if per_geo else decision
    if per_geo:
        cells = [f"{g}:{c}" for g in fit.data.geos for c in names]  # (geo, channel), row-major
    else:
        cells = names
    alloc = {
        "budget": budget,
        "allocation": dict(zip(names, map(float, by_channel))),
        "historical_allocation": dict(zip(names, map(float, hist))),
        "expected_revenue": estimate(revenue),
        "historical_revenue": estimate(historical),
        "uplift": estimate(revenue - historical),
        "media_revenue": estimate(result.expected_revenue),
        "shift": {n: float(a - h) for n, a, h in zip(names, by_channel, hist)},
        "at_lower_bound": [n for n, b in zip(cells, result.at_lower.ravel()) if b],
        "at_upper_bound": [n for n, b in zip(cells, result.at_upper.ravel()) if b],
        "bounds_multiple_of_historical": [lo, hi],
        "utility": args.utility,
        "kkt": {k: (v.tolist() if hasattr(v, "tolist") else v) for k, v in result.kkt.items()},
        "converged": bool(result.converged),
        "note": "per period, steady state (constant spend); revenue includes the mean baseline",
    }
    if per_geo:
        alloc["allocation_by_geo"] = {
            g: dict(zip(names, map(float, row))) for g, row in zip(fit.data.geos, decision)
        }
        alloc["historical_allocation_by_geo"] = {
            g: dict(zip(names, map(float, row))) for g, row in zip(fit.data.geos, hist_d)
        }
        alloc["note"] += "; bounds and decisions per (geo, channel), allocation sums over geos"
    if result.prob_more is not None:
        alloc["prob_should_get_more"] = dict(zip(cells, map(float, result.prob_more.ravel())))
    out = Path(args.out) if args.out else Path(args.run) / "alloc.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(alloc))
    scope = "per (geo, channel)" if per_geo else "per channel"
    print(
        f"budget {budget:,.0f} per period, bounds {lo}x-{hi}x historical {scope}, "
        f"utility {args.utility}"
    )
    print(f"{'channel':<12}{'historical':>14}{'recommended':>14}{'shift':>9}")
    bounded = alloc["at_lower_bound"] + alloc["at_upper_bound"]
    for n, h, a in zip(names, hist, by_channel):
        flag = " (at bound)" if n in bounded else ""
        if per_geo:
            k = sum(cell.endswith(f":{n}") for cell in bounded)
            flag = f" ({k} of {fit.data.n_geo} geos at a bound)" if k else ""
        print(f"{n:<12}{h:>14,.0f}{a:>14,.0f}{(a - h) / h:>+9.1%}{flag}")
    u = alloc["uplift"]
    print(
        f"expected uplift {u['mean']:,.0f} per period "
        f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}); KKT converged: {result.converged}"
    )
    print(f"wrote {out}")
    return alloc


def _read_allocation(path: str, names: list[str]):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no allocation file at {p}")
    try:
        spec = json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise CLIError(f"{p} is not valid JSON ({err})") from None
    alloc = spec.get("allocation", spec) if isinstance(spec, dict) else None
    if not isinstance(alloc, dict):
        raise CLIError(
            f"{p} must hold {{channel: amount}} or {{'allocation': {{channel: amount}}}}"
        )
    unknown = sorted(set(alloc) - set(names))
    missing = [n for n in names if n not in alloc]
    if unknown or missing:
        raise CLIError(
            f"{p}: unknown channels {unknown}, missing channels {missing}; the fit has {names}"
        )
    try:
        x = np.array([float(alloc[n]) for n in names])
    except (TypeError, ValueError):
        raise CLIError(f"{p}: every amount must be a number") from None
    bad = [n for n, v in zip(names, x) if not np.isfinite(v) or v < 0]
    if bad:
        raise CLIError(f"{p}: spend must be finite and non-negative, not for {bad}")
    return x


def run_simulate(args) -> dict:
    """``mmm-jax simulate``: revenue and its credible interval for any allocation."""
    import numpy as np

    from mmm_jax.diagnostics import estimate

    fit = _load_run(args.run)
    names = list(fit.data.channels)
    x = _read_allocation(args.allocation, names)
    hist = _historical(fit)
    response = _response(fit)
    base = _baseline_per_period(fit)
    media = np.asarray(response(x))
    media_hist = np.asarray(response(hist))
    out = {
        "allocation": dict(zip(names, map(float, x))),
        "budget": float(x.sum()),
        "expected_revenue": estimate(base + media),
        "media_revenue": estimate(media),
        "historical_revenue": estimate(base + media_hist),
        "uplift": estimate(media - media_hist),
        "roas": estimate(media / max(float(x.sum()), 1e-12)),
        "note": "per period, steady state (constant spend)",
    }
    text = dumps(out)
    if args.out:
        Path(args.out).write_text(text)
    print(text)
    return out


# ------------------------------------------------------------------ report
def _read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CLIError(f"{path} is not valid JSON ({err}); {what}") from None


def write_run_report(run: str | Path, *, title: str | None = None) -> Path:
    """Writes ``RUN/report.html`` and ``RUN/figures/*.png`` for a run folder.

    Reads ``RUN/fit.npz`` and, when present, ``RUN/summary.json`` (else it is
    computed), ``RUN/alloc.json`` (adds the budget reallocation figure and an
    allocation note), ``RUN/fit_holdout.npz`` (``fit --holdout``: adds the
    hold-out forecast figure), ``RUN/truth.json`` (adds truth columns) and
    ``RUN/demo.json`` (adds its ``notes``). A summary without model review
    verdicts gets them computed for the page only; no input file is changed.

    Args:
      run: The run folder written by ``mmm-jax fit`` (or ``mmm-jax demo``).
      title: Page title (default: ``MMM report: <folder name>``).

    Returns:
      Path of ``report.html``.

    Raises:
      CLIError: No run folder, or unreadable JSON in it.
    """
    import numpy as np

    from mmm_jax.diagnostics import summarize
    from mmm_jax.diagnostics.plots import plot_budget_reallocation
    from mmm_jax.diagnostics.report import figures_for_fit, write_report
    from mmm_jax.diagnostics.review import add_review, review
    from mmm_jax.inference import Fit

    run_dir = Path(run)
    if not run_dir.is_dir():
        raise CLIError(f"no run folder at {run_dir}: run `mmm-jax fit DATA.csv --out {run}` first")
    fit = _load_run(str(run_dir))
    names = list(fit.data.channels)
    summary_path = run_dir / "summary.json"
    if summary_path.is_file():
        summary = _read_json(summary_path, "delete it to recompute it")
    else:
        summary = summarize(fit)
    if set(summary.get("channels", {})) != set(names):
        raise CLIError(
            f"{summary_path} has channels {sorted(summary.get('channels', {}))}, "
            f"the fit has {names}: they come from different runs"
        )
    if not summary.get("review"):
        summary = add_review(dict(summary), review(fit, summary=summary))
    truth_path = run_dir / "truth.json"
    truth = (
        _read_json(truth_path, "it should hold the known truth") if truth_path.is_file() else None
    )
    holdout = (summary.get("fit") or {}).get("holdout")
    refit = None
    if holdout and (run_dir / "fit_holdout.npz").is_file():
        refit = Fit.load(run_dir / "fit_holdout.npz")
        _check_refit(fit, refit, int(holdout["n_train"]))
    figures = figures_for_fit(fit, summary=summary, truth=truth)
    if refit is not None:
        figures = _with_holdout_figure(figures, fit, refit)
    notes = []
    alloc_path = run_dir / "alloc.json"
    if alloc_path.is_file():
        alloc = _read_json(alloc_path, "rerun `mmm-jax optimize`")
        rec = _read_allocation(str(alloc_path), names)
        hist_map = alloc.get("historical_allocation") or {}
        hist = (
            np.array([float(hist_map[n]) for n in names])
            if set(hist_map) == set(names)
            else _historical(fit)
        )
        figures["budget"] = plot_budget_reallocation(names, hist, rec).figure
        u = alloc.get("uplift") or {}
        if all(k in u for k in ("mean", "hdi_low", "hdi_high")):
            notes.append(
                f"Budget {float(alloc.get('budget', rec.sum())):,.0f} per period: the recommended "
                f"allocation ({', '.join(f'{n} {v:,.0f}' for n, v in zip(names, rec))}) is "
                f"expected to add {u['mean']:,.0f} revenue per period over the historical mix "
                f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}), steady state."
            )
    demo_path = run_dir / "demo.json"
    if demo_path.is_file():
        notes += [str(n) for n in _read_json(demo_path, "rerun `mmm-jax demo`").get("notes", [])]
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    for key, fig in figures.items():
        fig.savefig(figure_dir / f"{key}.png", dpi=110, bbox_inches="tight", facecolor="white")
    return write_report(
        run_dir,
        summary=summary,
        figures=figures,
        title=title or f"MMM report: {run_dir.resolve().name}",
        truth=truth,
        notes=notes,
    )


def _check_refit(fit, refit, n_train: int) -> None:
    """Refuses a ``fit_holdout.npz`` that is not a refit on this run's first ``n_train`` periods."""
    import numpy as np

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
        raise CLIError(
            "fit_holdout.npz is not a refit on the first periods of this run's data: "
            "rerun `mmm-jax fit ... --holdout FRAC` into this folder"
        )


def _with_holdout_figure(figures: dict, fit, refit) -> dict:
    """``figures`` with the hold-out forecast drawn after the posterior predictive check."""
    import numpy as np

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


def run_report(args) -> Path:
    """``mmm-jax report``: ``RUN/report.html`` with figures and tables."""
    path = write_run_report(args.run, title=args.title)
    print(path)
    return path


def run_demo(args) -> dict:
    """``mmm-jax demo``: synthetic data with known truth, fit, optimise, report."""
    from mmm_jax.demo import run_demo as demo

    return demo(args.out, seed=args.seed, quick=args.quick, progress=_show_progress(args))


# ------------------------------------------------------------------ parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mmm-jax``."""
    parser = argparse.ArgumentParser(
        prog="mmm-jax", description="Bayesian marketing mix modeling on JAX."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit the MMM to a CSV and write RUN/summary.json")
    fit.add_argument("data", help="CSV with a date column, the target and spend_* columns")
    fit.add_argument("--out", required=True, help="run folder to write")
    fit.add_argument("--date", default="date")
    fit.add_argument("--target", default="revenue")
    fit.add_argument("--channels", help="comma-separated channels (default: every spend_* column)")
    fit.add_argument("--controls", help="comma-separated control columns, e.g. organic_traffic")
    fit.add_argument("--geo", help="geo column for panel data")
    fit.add_argument(
        "--geo-pooling",
        nargs="?",
        const="noncentred",
        choices=("noncentred", "centred"),
        help="per-geo media effects and seasonality amplitude, partially pooled across geos "
        "(default: one media effect shared by every geo); 'centred' samples the per-geo "
        "log effects themselves, better when each geo has long data",
    )
    fit.add_argument(
        "--lift-tests",
        help="CSV of lift tests: channel,start,end,spend_delta,lift,lift_se[,geo][,market_share]",
    )
    fit.add_argument(
        "--lift-market-share",
        type=float,
        default=None,
        help="share of the geo's market the test regions are, for rows without a market_share "
        "column (default 1: the whole geo)",
    )
    fit.add_argument(
        "--lift-spread",
        choices=["proportional", "uniform"],
        default="proportional",
        help="spread each test's spend_delta over its window in proportion to the channel's "
        "spend there (default: a '+x%% of plan' or go-dark test), or evenly (a flat top-up)",
    )
    fit.add_argument("--method", choices=["nuts", "svi", "map"], default="nuts")
    fit.add_argument(
        "--adstock",
        choices=["geometric", "weibull_cdf", "weibull_pdf", "delayed"],
        default="weibull_pdf",
    )
    fit.add_argument(
        "--saturation", choices=["hill", "michaelis_menten", "logistic"], default="hill"
    )
    fit.add_argument(
        "--max-lag", type=int, default=None, help="adstock window (default by frequency)"
    )
    fit.add_argument("--likelihood", choices=["normal", "student_t", "lognormal"], default="normal")
    fit.add_argument("--synergy", action="store_true", help="add pairwise channel interactions")
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--chains", type=int, default=4)
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--warmup", type=int, default=1000)
    fit.add_argument("--svi-steps", type=int, default=10_000)
    fit.add_argument(
        "--holdout",
        type=float,
        default=None,
        metavar="FRAC",
        help="also refit on the first 1-FRAC of the periods and score the last FRAC out of "
        "sample (e.g. 0.1): summary.json's fit.holdout, RUN/fit_holdout.npz; twice the time",
    )
    fit.add_argument(
        "--guide", choices=["auto_normal", "auto_mvn", "auto_lowrank"], default="auto_mvn"
    )
    fit.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the default when stderr is not a terminal)",
    )
    fit.set_defaults(func=run_fit)

    opt = sub.add_parser("optimize", help="recommend a budget allocation over the posterior")
    opt.add_argument("run", help="run folder written by `mmm-jax fit`")
    opt.add_argument("--budget", type=float, help="total spend per period (default: historical)")
    opt.add_argument(
        "--bounds", default="0.5,2.0", help="per-channel LO,HI multiples of historical spend"
    )
    opt.add_argument(
        "--utility",
        default="mean",
        help="mean, profit, var:Q (lower quantile) or cvar:Q; with a fixed budget "
        "profit ranks allocations as mean does",
    )
    opt.add_argument("--per-draw", action="store_true", help="also optimise each posterior draw")
    opt.add_argument(
        "--per-geo",
        action="store_true",
        help="geo panels: decide spend per (geo, channel), each geo on its own curves, with "
        "bounds per (geo, channel); alloc.json adds allocation_by_geo",
    )
    opt.add_argument("--seed", type=int, default=0)
    opt.add_argument("--out", help="allocation JSON (default RUN/alloc.json)")
    opt.set_defaults(func=run_optimize)

    sim = sub.add_parser(
        "simulate", help="what-if: revenue with credible interval for an allocation"
    )
    sim.add_argument("run", help="run folder written by `mmm-jax fit`")
    sim.add_argument(
        "--allocation", required=True, help="JSON {channel: spend per period} or an alloc.json"
    )
    sim.add_argument("--out", help="also write the result here")
    sim.set_defaults(func=run_simulate)

    rep = sub.add_parser("report", help="write RUN/report.html with figures and tables")
    rep.add_argument("run", help="run folder written by `mmm-jax fit` or `mmm-jax demo`")
    rep.add_argument("--title", help="page title")
    rep.set_defaults(func=run_report)

    demo = sub.add_parser(
        "demo", help="synthetic data with known truth: fit, calibrate, optimise, report, compare"
    )
    demo.add_argument("--out", default="mmm_demo", help="folder to write (default ./mmm_demo)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the data and the fit")
    demo.add_argument(
        "--quick", action="store_true", help="tiny settings (for tests): numbers mean little"
    )
    demo.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the default when stderr is not a terminal)",
    )
    demo.set_defaults(func=run_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmm-jax`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_devices(getattr(args, "chains", 4))
    enable_compilation_cache()
    from mmm_jax.data import DataValidationError
    from mmm_jax.inference import FitFileError

    try:
        args.func(args)
    except (CLIError, DataValidationError, FitFileError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
