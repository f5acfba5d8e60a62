"""The ``mmm-jax`` command line: the stable surface scripts and benchmarks rely on.

Commands (see DESIGN.md, "The results contract")::

    mmm-jax demo [--out DIR] [--seed N] [--quick]
    mmm-jax fit DATA.csv --out RUN [options]
    mmm-jax optimize RUN --budget AMOUNT_PER_PERIOD [--bounds LO,HI] [--out alloc.json]
    mmm-jax simulate RUN --allocation alloc.json
    mmm-jax report RUN

Every failure ends with a one-line ``error: ...`` on stderr and exit status
2, never a traceback (`main`). Run folders go through
`mmm_jax.run_folder.RunFolder`: ``fit`` and ``demo`` stage a whole new run
beside ``RUN`` and swap it in only when complete, under an exclusive lock;
``optimize``, ``simulate`` and ``report`` read a run only after checking
that its files belong to one fit, and replace the files they add to it
atomically.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path

from mmm_jax._atomic import write_text
from mmm_jax._cache import enable_compilation_cache
from mmm_jax.run_folder import RunFolder, RunFolderError, RunMismatchError, to_json


def configure_devices(n_chains: int = 4) -> None:
    """Gives JAX one CPU device per chain so NUTS chains run in parallel threads.

    Must run before JAX starts; it changes nothing on a GPU, where chains are
    vectorised, or when ``XLA_FLAGS`` already sets a device count.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = max(n_chains, os.cpu_count() or 1)
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


def dumps(obj) -> str:
    """Strict JSON (NaN and infinities become null) for files other tools read."""
    return to_json(obj)


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


#: Set to 1 to see the traceback of an unexpected error instead of its one line.
DEBUG_ENV = "MMM_JAX_DEBUG"

#: Largest seed: ``jax.random.PRNGKey`` keeps 32 bits, so larger seeds would repeat smaller ones.
MAX_SEED = 2**32 - 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other ``mmm-jax`` error."""

    def error(self, message: str):
        """Prints ``error: PROG: MESSAGE (see PROG --help)`` and exits with status 2."""
        self.exit(2, f"error: {self.prog}: {_one_line(message)} (see {self.prog} --help)\n")


def _seed(top: int = MAX_SEED):
    """An argparse type: a whole number from 0 to ``top``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
        if not 0 <= value <= top:
            raise argparse.ArgumentTypeError(f"must be from 0 to {top}, got {value}")
        return value

    return parse


def _count(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
        geo_pooling=None
        if args.geo_pooling == "none"
        else GeoPooling(centred=_CENTRING[args.geo_pooling]),
    )


# --geo-pooling FORM -> GeoPooling(centred=...); "none": no geo pooling. With one
# geo GeoPooling leaves its terms out (the national model), so it is the default.
_CENTRING = {"auto": None, "centred": True, "noncentred": False}


def run_fit(args) -> dict:
    """``mmm-jax fit``: validate data, fit, write the run folder ``RUN`` (whole or not at all).

    The run folder is checked and locked before anything else, the new run
    is staged beside it and replaces an earlier run only once complete
    (`mmm_jax.run_folder.RunFolder.replace`).
    """
    run = RunFolder(args.out)
    with run.replace(command="fit", hint=" or choose another --out") as stage:
        summary = _fit_into(stage, args)
    _print_summary(summary)
    written = [run.path / "summary.json", run.path / "fit.npz"]
    if args.holdout is not None:
        written.append(run.path / "fit_holdout.npz")
    print("wrote " + ", ".join(str(p) for p in written))
    return summary


def _fit_into(stage, args) -> dict:
    """Fits and stages ``fit.npz``, ``summary.json`` (and ``fit_holdout.npz``) in ``stage``."""
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
        population=args.population,
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
    stage.save_fit(fit)
    summary = summarize(fit)
    if args.holdout is not None:
        n_hold = holdout_periods(data.n_time, args.holdout)
        print(
            f"hold-out: refitting on the first {data.n_time - n_hold} periods "
            f"to forecast the last {n_hold}"
        )
        check = holdout_metrics(
            data, fit_fn, frac=args.holdout, key=jax.random.fold_in(key, 1), return_fit=True
        )
        stage.save_fit(check.pop("fit"), "fit_holdout.npz")
        summary["fit"]["holdout"] = {
            **check["holdout"],
            "n_train": check["n_train"],
            "n_holdout": check["n_holdout"],
            "holdout_start": check["holdout_start"],
        }
    # The model review's verdicts (sampler, predictive check, hold-out forecast,
    # baseline, ROAS, prior shift) travel with the numbers they qualify.
    summary = add_review(summary, review(fit, summary=summary))
    stage.write_summary(summary)
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
def _inside(path: Path, run: RunFolder) -> Path | None:
    """``path`` relative to the run folder when it lies inside it, else ``None``."""
    real = Path(os.path.realpath(path))
    root = run.root
    return real.relative_to(root) if root in real.parents else None


def _with_run(run_path: str, out: str | None, command: str, compute) -> tuple[dict, Path | None]:
    """Runs ``compute(verified_run) -> dict`` and writes its result as JSON to ``out``.

    A result written into the run folder (``out`` inside it) is computed and
    written holding the run's lock, so the fit cannot be replaced meanwhile;
    any other ``out`` is written atomically without it. ``out`` None: not written.

    Returns:
      ``(result, path written or None)``.
    """
    run = RunFolder(run_path)
    rel = None if out is None else _inside(Path(out), run)
    if rel is not None:
        with run.update(command=command) as live:
            result = compute(live.verify(holdout=False, alloc=False))
            live.write_json(str(rel), result)
        return result, Path(out)
    result = compute(run.load(holdout=False, alloc=False))
    if out is None:
        return result, None
    write_text(out, to_json(result))
    return result, Path(out)


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
    """``mmm-jax optimize``: the allocation maximising the posterior utility, as ``alloc.json``.

    ``alloc.json`` records the checksum of the fit it was computed from
    (``provenance.fit_checksum``); the default ``RUN/alloc.json`` is written
    holding the run folder's lock.
    """
    out = args.out or str(Path(args.run) / "alloc.json")
    alloc, path = _with_run(args.run, out, "optimize", lambda run: optimize_run(run, args))
    print(f"wrote {path}")
    return alloc


def optimize_run(run, args) -> dict:
    """The ``mmm-jax optimize`` computation on a verified run; prints its table.

    Args:
      run: A `mmm_jax.run_folder.VerifiedRun`.
      args: The parsed ``optimize`` arguments.

    Returns:
      The ``alloc.json`` dict, with ``provenance.fit_checksum``.
    """
    import numpy as np

    import jax

    from mmm_jax.diagnostics import estimate
    from mmm_jax.optimize import cvar, mean_profit, mean_revenue, optimize_budget, value_at_risk

    fit = run.fit
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
    alloc["provenance"] = {"fit_checksum": run.fit_checksum}
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
    return alloc


def _read_allocation(path: str, names: list[str]):
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"no allocation file at {p}")
    try:
        spec = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CLIError(f"{p} is not valid JSON ({err})") from None
    return _allocation_vector(spec, names, str(p))


def _allocation_vector(spec, names: list[str], p: str):
    """Spend per channel, in ``names`` order, from ``{channel: amount}`` or an alloc.json dict."""
    import numpy as np

    alloc = spec.get("allocation", spec) if isinstance(spec, dict) else None
    if not isinstance(alloc, dict):
        raise CLIError(
            f"{p} must hold {{channel: amount}} or {{'allocation': {{channel: amount}}}}"
        )
    alloc = {k: v for k, v in alloc.items() if k != "provenance"}
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
    """``mmm-jax simulate``: revenue and its credible interval for any allocation.

    The allocation is an input: an ``alloc.json`` of another run with the
    same channels is fine. The result records the checksum of the fit it
    was computed from (``provenance.fit_checksum``).
    """
    out, _ = _with_run(args.run, args.out, "simulate", lambda run: simulate_run(run, args))
    print(dumps(out))
    return out


def simulate_run(run, args) -> dict:
    """The ``mmm-jax simulate`` computation on a verified run (`mmm_jax.run_folder.VerifiedRun`)."""
    import numpy as np

    from mmm_jax.diagnostics import estimate

    fit = run.fit
    names = list(fit.data.channels)
    x = _read_allocation(args.allocation, names)
    hist = _historical(fit)
    response = _response(fit)
    base = _baseline_per_period(fit)
    media = np.asarray(response(x))
    media_hist = np.asarray(response(hist))
    return {
        "allocation": dict(zip(names, map(float, x))),
        "budget": float(x.sum()),
        "expected_revenue": estimate(base + media),
        "media_revenue": estimate(media),
        "historical_revenue": estimate(base + media_hist),
        "uplift": estimate(media - media_hist),
        "roas": estimate(media / max(float(x.sum()), 1e-12)),
        "note": "per period, steady state (constant spend)",
        "provenance": {"fit_checksum": run.fit_checksum},
    }


# ------------------------------------------------------------------ report
def write_run_report(run: str | Path, *, title: str | None = None) -> Path:
    """Writes ``RUN/report.html`` and ``RUN/figures/*.png`` for a run folder.

    Reads ``RUN/fit.npz`` and, when present, ``RUN/summary.json`` (else it is
    computed), ``RUN/alloc.json`` (adds the budget reallocation figure and an
    allocation note), ``RUN/fit_holdout.npz`` (``fit --holdout``: adds the
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


def report_into(files, *, title: str) -> None:
    """Writes ``report.html`` and ``figures/`` into a run being written or held.

    Args:
      files: A `mmm_jax.run_folder.StagedRun` or `mmm_jax.run_folder.LiveRun`.
      title: Page title.
    """
    from mmm_jax.diagnostics import summarize
    from mmm_jax.diagnostics.plots import plot_budget_reallocation
    from mmm_jax.diagnostics.report import figures_for_fit, render_report
    from mmm_jax.diagnostics.review import add_review, review

    run = files.verify()
    fit = run.fit
    names = list(fit.data.channels)
    summary = run.summary if run.summary is not None else summarize(fit)
    if list(summary["channels"]) != names:
        raise RunMismatchError(
            f"{files.label}/summary.json has channels {list(summary['channels'])}, the fit has "
            f"{names}: they come from different runs"
        )
    if not summary.get("review"):
        summary = add_review(dict(summary), review(fit, summary=summary))
    truth = _truth(files)
    holdout = summary["fit"].get("holdout")
    refit = run.holdout_fit if holdout else None
    if refit is not None:
        _check_refit(fit, refit, int(holdout["n_train"]))
    figures = figures_for_fit(fit, summary=summary, truth=truth)
    if refit is not None:
        figures = _with_holdout_figure(figures, fit, refit)
    notes = []
    if run.alloc is not None:
        notes += _budget_note(run.alloc, fit, names, figures, plot_budget_reallocation, files)
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


def _budget_note(alloc: dict, fit, names, figures: dict, plot, files) -> list[str]:
    """Adds the budget figure of a verified ``alloc.json``; returns its note."""
    import numpy as np

    rec = _allocation_vector(alloc, names, f"{files.label}/alloc.json")
    hist_map = alloc.get("historical_allocation") or {}
    try:
        hist = (
            np.array([float(hist_map[n]) for n in names])
            if isinstance(hist_map, dict) and set(hist_map) == set(names)
            else _historical(fit)
        )
        budget = float(alloc.get("budget", rec.sum()))
    except (TypeError, ValueError):
        raise RunFolderError(
            f"{files.label}/alloc.json: budget and historical_allocation must hold numbers; "
            f"rerun `mmm-jax optimize {files.label}`"
        ) from None
    figures["budget"] = plot(names, hist, rec).figure
    u = alloc.get("uplift") or {}
    if not (
        isinstance(u, dict)
        and all(isinstance(u.get(k), int | float) for k in ("mean", "hdi_low", "hdi_high"))
    ):
        return []
    return [
        f"Budget {budget:,.0f} per period: the recommended "
        f"allocation ({', '.join(f'{n} {v:,.0f}' for n, v in zip(names, rec))}) is "
        f"expected to add {u['mean']:,.0f} revenue per period over the historical mix "
        f"(90% HDI {u['hdi_low']:,.0f} to {u['hdi_high']:,.0f}), steady state."
    ]


def _truth(files) -> dict | None:
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
    parser = _Parser(
        prog="mmm-jax",
        description="Bayesian marketing mix modeling on JAX. Every failure ends with one line "
        "'error: ...' and exit status 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit the MMM to a CSV and write RUN/summary.json")
    fit.add_argument("data", help="CSV with a date column, the target and spend_* columns")
    fit.add_argument(
        "--out",
        required=True,
        help="run folder to write: checked and locked before the fit, written beside it and "
        "swapped in only when complete, so an earlier run there survives any failure; an "
        "existing folder must be empty or a run folder, and is replaced whole",
    )
    fit.add_argument("--date", default="date")
    fit.add_argument("--target", default="revenue")
    fit.add_argument("--channels", help="comma-separated channels (default: every spend_* column)")
    fit.add_argument("--controls", help="comma-separated control columns, e.g. organic_traffic")
    fit.add_argument("--geo", help="geo column for panel data")
    fit.add_argument(
        "--geo-pooling",
        nargs="?",
        const="auto",
        default="auto",
        choices=(*_CENTRING, "none"),
        help="on a panel, per-geo media effects tied to each geo's size (its population with "
        "--population, else its mean revenue), partially pooled across geos (the default; no "
        "effect on a single series). The form says how the per-geo offsets are sampled: "
        "'auto' (default) centres each as far as its geo's own data pin it, 'centred' or "
        "'noncentred' forces one form; 'none' fits one media effect shared by every geo",
    )
    fit.add_argument(
        "--population",
        help="column with each geo's population (or households, stores: any measure of its "
        "size), constant within a geo; it sets the geo sizes of the geo-pooled model",
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
    fit.add_argument("--seed", type=_seed(), default=0, help=f"0 to {MAX_SEED}")
    fit.add_argument("--chains", type=_count, default=4)
    fit.add_argument("--draws", type=_count, default=1000)
    fit.add_argument("--warmup", type=_count, default=1000)
    fit.add_argument("--svi-steps", type=_count, default=10_000)
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
    opt.add_argument("--seed", type=_seed(), default=0, help=f"0 to {MAX_SEED}")
    opt.add_argument(
        "--out",
        help="allocation JSON (default RUN/alloc.json); it records the checksum of the fit "
        "it comes from",
    )
    opt.set_defaults(func=run_optimize)

    sim = sub.add_parser(
        "simulate", help="what-if: revenue with credible interval for an allocation"
    )
    sim.add_argument("run", help="run folder written by `mmm-jax fit`")
    sim.add_argument(
        "--allocation",
        required=True,
        help="JSON {channel: spend per period} or an alloc.json (of any run with these channels)",
    )
    sim.add_argument("--out", help="also write the result here (atomically)")
    sim.set_defaults(func=run_simulate)

    rep = sub.add_parser(
        "report",
        help="write RUN/report.html with figures and tables, after checking that the run's "
        "files belong to one fit",
    )
    rep.add_argument("run", help="run folder written by `mmm-jax fit` or `mmm-jax demo`")
    rep.add_argument("--title", help="page title")
    rep.set_defaults(func=run_report)

    demo = sub.add_parser(
        "demo", help="synthetic data with known truth: fit, calibrate, optimise, report, compare"
    )
    demo.add_argument(
        "--out",
        default="mmm_demo",
        help="run folder to write (default ./mmm_demo), replaced whole when the demo completes",
    )
    demo.add_argument(
        "--seed",
        type=_seed(MAX_SEED - 2),
        default=0,
        help=f"seed of the data and the fit, 0 to {MAX_SEED - 2} (N+1 and N+2 seed later steps)",
    )
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


def _one_line(text: str) -> str:
    """A message on one line: a list of problems becomes ``a; b; c``."""
    lines = [line.strip().removeprefix("- ") for line in str(text).splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} " + "; ".join(lines[1:])
    return "; ".join(lines)


def _error_line(err: BaseException) -> str:
    """The one line ``main`` prints for an exception."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err) or type(err).__name__
    if isinstance(err, CLIError | ValueError | OSError):  # data, fit file, run folder errors
        return f"error: {_one_line(text)}"
    return (
        f"error: internal error: {type(err).__name__}: {_one_line(text)} "
        f"(rerun with {DEBUG_ENV}=1 for the traceback)"
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mmm-jax`` console script.

    Every failure ends with one line ``error: ...`` on stderr and exit status
    2, never a traceback: bad arguments, bad data, unusable run folders
    (locked, mismatched, unwritable), full disks. An unexpected exception (a
    bug) is reported as ``error: internal error: TYPE: message`` with the
    same status; ``MMM_JAX_DEBUG=1`` lets it raise with its traceback.
    Ctrl-C ends with ``error: interrupted`` and status 130; a run folder
    being written is then left as it was.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_devices(getattr(args, "chains", 4))
    enable_compilation_cache()
    try:
        args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(_error_line(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
