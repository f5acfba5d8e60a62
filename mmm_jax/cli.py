"""The ``mmm-jax`` command line: parses arguments, calls `mmm_jax.workflow`, prints.

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
atomically. The library is imported when a command runs, after the CPU
devices are set up (`mmm_jax.runtime`).
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from mmm_jax._cli_parser import build_parser, one_line
from mmm_jax.run_folder import RunFolder, to_json
from mmm_jax.runtime import configure_devices, enable_compilation_cache

#: Set to 1 to see the traceback of an unexpected error instead of its one line.
DEBUG_ENV = "MMM_JAX_DEBUG"

#: Seconds between heartbeat lines on a stderr that is not a terminal.
HEARTBEAT_S = 30.0


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _show_progress(args) -> bool:
    """Progress bars only for a person at a terminal, never with ``--quiet``.

    A progress bar is a host callback inside the compiled sampling loop, and
    JAX cannot keep such a program in its persistent cache: with bars, every
    NUTS fit compiles afresh. Logs and pipelines get no bars and the cached program.
    """
    return not args.quiet and sys.stderr.isatty()


def _heartbeat(args, label: str):
    """A line every 30 s on stderr while a fit runs, when stderr is not a terminal (not ``--quiet``)."""
    from mmm_jax._heartbeat import Heartbeat

    return Heartbeat(label, every=HEARTBEAT_S, enabled=not args.quiet)


def _fit_label(args) -> str:
    """``fit: nuts, 4 chains x (1000 warmup + 1000 draws)`` or ``fit: svi, 10000 steps``."""
    if args.method == "nuts":
        label = f"fit: nuts, {args.chains} chains x ({args.warmup} warmup + {args.draws} draws)"
    else:
        label = f"fit: {args.method}, {args.svi_steps} steps"
    return label + (" and a hold-out refit" if args.holdout is not None else "")


def _parse_list(text: str | None) -> list[str] | None:
    items = [t.strip() for t in (text or "").split(",") if t.strip()]
    return items or None


def _flag(parameter: str) -> str:
    """How a workflow error names an argument: by its flag (``roas_prior`` -> ``--roas-prior``)."""
    return "--" + parameter.replace("_", "-")


#: The ``fit`` flags that set the model: `mmm_jax.workflow.fitting.model_config`'s arguments.
MODEL_FLAGS = ("prior_config", "adstock", "saturation", "max_lag", "likelihood", "synergy")
MODEL_FLAGS += ("geo_pooling", "roas_prior")


def _model_config(args, data=None):
    """The model the ``fit`` flags ask for (``data`` is needed for ``--roas-prior``)."""
    from mmm_jax.workflow.fitting import model_config

    settings = {name: getattr(args, name) for name in MODEL_FLAGS}
    return model_config(**settings, data=data, names=_flag)


# ------------------------------------------------------------------ commands
def run_fit(args) -> dict:
    """``mmm-jax fit``: checks and locks ``RUN`` first, then loads, fits and writes it whole."""
    from mmm_jax.workflow.text import summary_lines

    run = RunFolder(args.out)
    with (
        run.replace(command="fit", hint=" or choose another --out") as stage,
        _heartbeat(args, _fit_label(args)),
    ):
        summary = _fit_into(stage, args)
    print("\n".join(summary_lines(summary)))
    written = [run.path / "summary.json", run.path / "fit.npz"]
    written += [run.path / "fit_holdout.npz"] if args.holdout is not None else []
    print("wrote " + ", ".join(str(p) for p in written))
    return summary


def _fit_into(stage, args) -> dict:
    from mmm_jax.workflow import fit_run
    from mmm_jax.workflow.fitting import prepare_fit

    data, config, lift = prepare_fit(
        args.data,
        date=args.date,
        target=args.target,
        kpi=args.kpi,
        revenue_per_kpi=args.revenue_per_kpi,
        channels=_parse_list(args.channels),
        controls=_parse_list(args.controls) or (),
        geo=args.geo,
        spend_prefix=args.spend_prefix,
        population=args.population,
        lift_tests=args.lift_tests,
        lift_market_share=args.lift_market_share,
        lift_spread=args.lift_spread,
        config=lambda data: _model_config(args, data),
        method=args.method,
        target_accept=args.target_accept,
        holdout=args.holdout,
        names=_flag,
    )
    options = dict(num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains)
    options.update(num_steps=args.svi_steps, guide=args.guide, target_accept=args.target_accept)
    options.update(method=args.method, seed=args.seed, progress_bar=_show_progress(args))
    return fit_run(stage, data, config, lift_tests=lift, holdout=args.holdout, log=print, **options)


@contextlib.contextmanager
def _refusal_as_cli_error():
    """A decision refused for an unconverged fit, as one line naming ``--force``."""
    from mmm_jax.workflow.verdicts import NotConvergedError, refusal_message

    try:
        yield
    except NotConvergedError as err:
        raise CLIError(refusal_message(err.failed, err.action, "--force")) from None


def run_optimize(args) -> dict:
    """``mmm-jax optimize``: the allocation maximising the posterior utility, as ``alloc.json``.

    ``alloc.json`` records the checksum of the fit it was computed from
    (``provenance.fit_checksum``); the default ``RUN/alloc.json`` (with
    ``--per-geo``, ``RUN/alloc_per_geo.json``, so the national plan stays) is
    written holding the run folder's lock.
    """
    from mmm_jax.workflow.text import allocation_lines

    def compute(run) -> dict:
        from mmm_jax.workflow import allocate
        from mmm_jax.workflow.decisions import allocation_settings

        settings = allocation_settings(
            budget=args.budget,
            bounds=args.bounds,
            utility=args.utility,
            per_geo=args.per_geo,
            n_geo=run.fit.data.n_geo,
            names=_flag,
        )
        with _refusal_as_cli_error():
            alloc = allocate(
                run.fit,
                **settings,
                per_draw=args.per_draw,
                seed=args.seed,
                review=(run.summary or {}).get("review"),
                force=args.force,
                hold_unidentified=not args.free_unidentified,
            )
        alloc["provenance"] = {"fit_checksum": run.fit_checksum}
        print("\n".join(allocation_lines(alloc)))
        return alloc

    out = args.out or str(Path(args.run) / ("alloc_per_geo.json" if args.per_geo else "alloc.json"))
    alloc, path = RunFolder(args.run).derive(out, compute, command="optimize")
    print(f"wrote {path}")
    return alloc


def run_simulate(args) -> dict:
    """``mmm-jax simulate``: revenue and its credible interval for any allocation.

    The allocation is an input: an ``alloc.json`` of another run with the
    same channels is fine. The result records the checksum of the fit it
    was computed from (``provenance.fit_checksum``).
    """
    from mmm_jax import workflow

    def compute(run) -> dict:
        path = Path(args.allocation)
        spec = workflow.decisions.read_allocation(path)
        with _refusal_as_cli_error():
            result = workflow.simulate(
                run.fit,
                spec,
                where=str(path),
                review=(run.summary or {}).get("review"),
                force=args.force,
            )
        return {**result, "provenance": {"fit_checksum": run.fit_checksum}}

    out, _ = RunFolder(args.run).derive(args.out, compute, command="simulate")
    print(to_json(out))
    return out


def run_report(args) -> Path:
    """``mmm-jax report``: ``RUN/report.html`` with figures and tables."""
    from mmm_jax.workflow import report_run

    path = report_run(args.run, title=args.title)
    print(path)
    return path


def run_demo(args) -> dict:
    """``mmm-jax demo``: synthetic data with known truth, fit, optimise, report."""
    from mmm_jax.demo import run_demo as demo

    with _heartbeat(args, "demo: simulate, fit, calibrate, optimise, report"):
        return demo(args.out, seed=args.seed, quick=args.quick, progress=_show_progress(args))


def _error_line(err: BaseException) -> str:
    """The one line ``main`` prints for an exception."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err) or type(err).__name__
    if isinstance(err, CLIError | ValueError | OSError):  # data, fit file, run folder errors
        return f"error: {one_line(text)}"
    return (
        f"error: internal error: {type(err).__name__}: {one_line(text)} "
        f"(rerun with {DEBUG_ENV}=1 for the traceback)"
    )


#: The function running each command.
COMMANDS = {
    "fit": run_fit,
    "optimize": run_optimize,
    "simulate": run_simulate,
    "report": run_report,
    "demo": run_demo,
}


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
        COMMANDS[args.command](args)
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
