"""The arguments of ``mmm-jax``: one parser, every error a single line.

Declarations only (flags, defaults, help); `mmm_jax.cli` runs the commands,
named by ``args.command``.
"""

from __future__ import annotations

import argparse

#: Largest seed: ``jax.random.PRNGKey`` keeps 32 bits, so larger seeds would repeat smaller ones.
MAX_SEED = 2**32 - 1


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other ``mmm-jax`` error."""

    def error(self, message: str):
        """Prints ``error: PROG: MESSAGE (see PROG --help)`` and exits with status 2."""
        self.exit(2, f"error: {self.prog}: {one_line(message)} (see {self.prog} --help)\n")


#: ``--geo-pooling FORM``: `mmm_jax.workflow.fitting.GEO_POOLING_CENTRING`'s forms and
#: ``none`` (one effect for every geo), written out so that parsing imports no JAX.
GEO_POOLING_FORMS = ("auto", "centred", "noncentred", "none")


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


def _probability(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return value


def one_line(text: str) -> str:
    """A message on one line: a list of problems becomes ``a; b; c``."""
    lines = [line.strip().removeprefix("- ") for line in str(text).splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > 1 and lines[0].endswith(":"):
        return f"{lines[0]} " + "; ".join(lines[1:])
    return "; ".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mmm-jax``."""
    parser = _Parser(
        prog="mmm-jax",
        description="Bayesian marketing mix modeling on JAX. Every failure ends with one line "
        "'error: ...' and exit status 2.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    fit = sub.add_parser("fit", help="fit the MMM to a CSV and write RUN/summary.json")
    fit.add_argument(
        "data",
        help="CSV, one row per period (and geo): a date column, the target, one spend column "
        "per channel in currency, optional controls",
    )
    fit.add_argument(
        "--out",
        required=True,
        help="run folder to write: checked and locked before the fit, written beside it and "
        "swapped in only when complete, so an earlier run there survives any failure; an "
        "existing folder must be empty or a run folder, and is replaced whole",
    )
    fit.add_argument(
        "--date",
        default="date",
        metavar="COLUMN",
        help="column of period start dates, evenly spaced (daily, weekly, ...; default 'date')",
    )
    fit.add_argument(
        "--target",
        metavar="COLUMN",
        help="column the model explains, in currency: contributions and ROAS are in its units "
        "per unit of spend (default 'revenue'; see --kpi for conversions and the like)",
    )
    fit.add_argument(
        "--kpi",
        metavar="COLUMN",
        help="a KPI column to fit instead of revenue (e.g. conversions), with "
        "--revenue-per-kpi: the model is fitted to revenue = KPI x revenue per KPI, so ROAS is "
        "in currency; summary.json's data.target reads 'revenue (KPI x VALUE)'",
    )
    fit.add_argument(
        "--revenue-per-kpi",
        metavar="VALUE|COLUMN",
        help="revenue one unit of --kpi brings: a number, or a column holding it per period "
        "(each period's KPI then weighted by its value)",
    )
    fit.add_argument(
        "--channels",
        help="comma-separated channels: names (meta for column spend_meta) or whole column "
        "names (tv_S) (default: every column starting with --spend-prefix)",
    )
    fit.add_argument(
        "--spend-prefix",
        default="spend_",
        metavar="PREFIX",
        help="spend columns start with it; it is stripped from channel names (default 'spend_')",
    )
    fit.add_argument(
        "--controls",
        help="comma-separated control columns, e.g. organic_traffic; a text column (events: "
        "'na', 'black_friday') becomes one 0/1 control per value, its most frequent left out",
    )
    fit.add_argument("--geo", help="geo column for panel data")
    fit.add_argument(
        "--geo-pooling",
        nargs="?",
        const="noncentred",
        default=None,
        choices=GEO_POOLING_FORMS,
        help="on a panel, per-geo media effects tied to each geo's size (its population with "
        "--population, else its mean revenue), partially pooled across geos (the default; no "
        "effect on a single series). The form says how the per-geo offsets are sampled: "
        "'noncentred' (default) or 'centred' for every offset, 'auto' centres each as far as "
        "its geo's own data pin it; 'none' fits one media effect shared by every geo",
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
    fit.add_argument(
        "--method",
        choices=["nuts", "svi", "map"],
        default="nuts",
        help="posterior by NUTS sampling (default), SVI (an approximation, faster) or MAP "
        "(a point estimate)",
    )
    fit.add_argument(
        "--adstock",
        choices=["geometric", "weibull_cdf", "weibull_pdf", "delayed"],
        help="carryover kernel (default weibull_pdf, or --prior-config's)",
    )
    fit.add_argument(
        "--saturation",
        choices=["hill", "michaelis_menten", "logistic"],
        help="response curve (default hill, or --prior-config's)",
    )
    fit.add_argument(
        "--max-lag",
        type=int,
        default=None,
        help="adstock window (default by frequency, or --prior-config's)",
    )
    fit.add_argument(
        "--likelihood",
        choices=["normal", "student_t", "lognormal"],
        help="noise of the target (default normal, or --prior-config's)",
    )
    fit.add_argument("--synergy", action="store_true", help="add pairwise channel interactions")
    fit.add_argument(
        "--roas-prior",
        metavar="MEAN,SD",
        help="prior of each channel's ROAS in the data's revenue per unit of spend, a Gamma "
        "of that mean and sd: 'MEAN,SD' for every channel, or 'meta=1.5,0.5;google=3,2' for "
        "some (the others keep the default, unit-free relative-ROAS prior); quote it in a shell",
    )
    fit.add_argument(
        "--prior-config",
        metavar="FILE",
        help="JSON of model settings and priors to change, in the form of "
        'mmm_jax.models.config.config_to_dict (e.g. {"media": {"relative_roas": '
        '{"dist": "Gamma", "params": {"concentration": 2, "rate": 4}}}}); '
        "fields it leaves out keep their defaults, and the flags above override it",
    )
    fit.add_argument(
        "--target-accept",
        type=_probability,
        default=None,
        metavar="P",
        help="NUTS's target acceptance probability in (0, 1) (default 0.85); raise it "
        "(e.g. 0.95) when the review reports divergences: smaller steps, slower fit",
    )
    fit.add_argument("--seed", type=_seed(), default=0, help=f"0 to {MAX_SEED}")
    fit.add_argument("--chains", type=_count, default=4, help="NUTS chains (default 4)")
    fit.add_argument(
        "--draws", type=_count, default=1000, help="NUTS draws kept per chain (default 1000)"
    )
    fit.add_argument(
        "--warmup", type=_count, default=1000, help="NUTS warmup steps per chain (default 1000)"
    )
    fit.add_argument(
        "--svi-steps", type=_count, default=10_000, help="SVI or MAP steps (default 10000)"
    )
    fit.add_argument(
        "--holdout",
        type=float,
        default=None,
        metavar="FRAC",
        help="also refit on the first 1-FRAC of the periods and score the last FRAC out of "
        "sample (e.g. 0.1): summary.json's fit.holdout, RUN/fit_holdout.npz; twice the time",
    )
    fit.add_argument(
        "--guide",
        choices=["auto_normal", "auto_mvn", "auto_lowrank"],
        default="auto_mvn",
        help="SVI's approximating family (default auto_mvn, a full-covariance normal)",
    )
    fit.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the default when stderr is not a terminal) and no "
        "heartbeat (a line on stderr every 30 s while fitting, when it is not a terminal)",
    )

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
        "bounds per (geo, channel); written to RUN/alloc_per_geo.json (beside the national "
        "RUN/alloc.json) with allocation_by_geo added",
    )
    opt.add_argument("--seed", type=_seed(), default=0, help=f"0 to {MAX_SEED}")
    opt.add_argument(
        "--force",
        action="store_true",
        help="optimise a fit whose review FAILs convergence (R-hat, ESS, divergences, SVI "
        "loss) instead of refusing it; alloc.json records forced and the failed checks",
    )
    opt.add_argument(
        "--free-unidentified",
        action="store_true",
        help="let the optimiser move channels whose ROAS the review calls not identified "
        "(default: held at historical spend, listed under held in alloc.json)",
    )
    opt.add_argument(
        "--out",
        help="allocation JSON (default RUN/alloc.json); it records the checksum of the fit "
        "it comes from",
    )

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
    sim.add_argument(
        "--force",
        action="store_true",
        help="simulate on a fit whose review FAILs convergence instead of refusing it; the "
        "result records forced and the failed checks",
    )

    rep = sub.add_parser(
        "report",
        help="write RUN/report.html with figures and tables, after checking that the run's "
        "files belong to one fit",
    )
    rep.add_argument("run", help="run folder written by `mmm-jax fit` or `mmm-jax demo`")
    rep.add_argument("--title", help="page title")

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
        help="no progress bars (the default when stderr is not a terminal) and no "
        "heartbeat (a line on stderr every 30 s while fitting, when it is not a terminal)",
    )
    return parser
