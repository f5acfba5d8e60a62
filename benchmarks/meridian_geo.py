#!/usr/bin/env python
r"""Google Meridian's geo model on the geo panel of ``benchmarks/scale.py``, for a side-by-side ratio.

Meridian is not a dependency of mmm_jax: install it in a virtual environment
of its own and run this script with that environment's Python, e.g.::

    python3 -m venv /tmp/meridian && /tmp/meridian/bin/pip install google-meridian
    /tmp/meridian/bin/python benchmarks/meridian_geo.py \
        --ours benchmarks/results/scale_cpu.json --out benchmarks/results/meridian_geo_cpu.json

Data: ``../shared/benchdata/beauty_geo_weekly`` (50 geos x 156 weeks, the
data of scale.py at G = 50), read from its ``data.csv`` and ``truth.json``.

Model: Meridian's defaults for a geo panel (``ModelSpec()``: ROI prior,
geometric adstock, Hill saturation, one knot per period for the time
effects), KPI revenue, media = spend, control ``organic_traffic``.
Meridian needs each geo's population; the data have none, so it is each
geo's mean revenue, which is what mmm_jax's geo model sizes geos by when no
population is given (``GeoSize.REVENUE``), and what the issue's plain model
scaled by.

Sampling matches scale.py's NUTS: ``--chains`` chains, ``--warmup`` warm-up
steps (Meridian's ``n_adapt``; ``n_burnin`` 0) and ``--draws`` kept draws.

Measured: build and sampling seconds (Meridian's sampling time includes its
TensorFlow tracing, so the comparison with mmm_jax uses mmm_jax's wall time,
compile included, as well as its run time); min bulk ESS and max R-hat over
the national channel parameters and over every sampled parameter, per-geo ones
included; divergences; posterior mean and 90% interval of each channel's ROI
(Meridian's ``Analyzer.summary_metrics``, over all geos and weeks) against the
true ROAS. With ``--ours`` (a scale.py JSON holding a NUTS row at G = 50) the
ESS/s ratio of the two is printed and saved.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "benchdata" / "beauty_geo_weekly"
#: Meridian's national, channel-level parameters.
CHANNEL_PARAMS = ("roi_m", "alpha_m", "ec_m", "slope_m")


def _processor() -> str:
    """The CPU's model name, family and model numbers (timings differ ~2x between them)."""
    info = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        return "unknown"
    return f"{info.get('model name', '?')} (family {info.get('cpu family', '?')}, model {info.get('model', '?')})"


def _ours(path: Path | None, n_geo: int) -> dict | None:
    """scale.py's NUTS row for ``n_geo`` geos, or None."""
    if path is None:
        return None
    report = json.loads(path.read_text())
    rows = [
        r
        for r in report["results"]
        if r.get("method") == "nuts" and r.get("G") == n_geo and "min_ess_bulk" in r
    ]
    if not rows:
        raise SystemExit(f"{path} has no NUTS result at G = {n_geo}")
    r = rows[0]
    return {
        "file": str(path),
        "settings": report["settings"],
        "cpu": report.get("device"),
        "wall_s": r["wall_s"],
        "run_s": r["run_s"],
        "min_ess_bulk": r["min_ess_bulk"],
        "min_ess_site": r.get("min_ess_site"),
        "min_ess_bulk_global": r.get("min_ess_bulk_global"),
        "r_hat_max": r["r_hat_max"],
        "divergences": r.get("divergences"),
        "steps_per_draw": r.get("steps_per_draw"),
        "max_abs_roas_rel_error": max(abs(v["rel_error"]) for v in r["roas"].values()),
        "ess_per_s_run": r["min_ess_bulk"] / r["run_s"],
        "ess_per_s_wall": r["min_ess_bulk"] / r["wall_s"],
        "all_true_roas_in_hdi": r["all_true_roas_in_hdi"],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", default=str(DATA), help="folder with data.csv and truth.json")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ours", default=None, help="scale.py JSON with mmm_jax's NUTS row")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "meridian_geo_cpu.json"))
    args = p.parse_args(argv)

    t0 = time.perf_counter()
    import arviz as az
    import meridian
    import tensorflow as tf
    from meridian.analysis import analyzer
    from meridian.data import data_frame_input_data_builder as dfb
    from meridian.model import model as mmodel
    from meridian.model import spec

    import_s = time.perf_counter() - t0
    warnings.filterwarnings("ignore")

    folder = Path(args.data)
    truth = json.loads((folder / "truth.json").read_text())
    df = pd.read_csv(folder / "data.csv")
    names = list(truth["channels"])
    spend = [f"spend_{c}" for c in names]
    n_geo = df["geo"].nunique()
    df["population"] = df.groupby("geo")["revenue"].transform("mean")

    t0 = time.perf_counter()
    builder = dfb.DataFrameInputDataBuilder(
        kpi_type="revenue",
        default_kpi_column="revenue",
        default_time_column="date",
        default_geo_column="geo",
        default_population_column="population",
    )
    builder = (
        builder.with_kpi(df)
        .with_population(df)
        .with_controls(df, control_cols=["organic_traffic"])
        .with_media(df, media_cols=spend, media_spend_cols=spend, media_channels=names)
    )
    model = mmodel.Meridian(input_data=builder.build(), model_spec=spec.ModelSpec())
    build_s = time.perf_counter() - t0
    print(f"Meridian {meridian.__version__}: {n_geo} geos, built in {build_s:.1f} s", flush=True)

    t0 = time.perf_counter()
    model.sample_posterior(
        n_chains=args.chains, n_adapt=args.warmup, n_burnin=0, n_keep=args.draws, seed=args.seed
    )
    fit_s = time.perf_counter() - t0
    print(f"sampled in {fit_s:.1f} s", flush=True)

    idata = model.inference_data
    post = idata.posterior
    free = [
        v
        for v in post.data_vars
        if post[v].ndim >= 2 and float(post[v].std()) > 0 and np.isfinite(post[v].values).all()
    ]
    channel = [v for v in CHANNEL_PARAMS if v in free]
    ess, rhat = az.ess(idata, var_names=free, method="bulk"), az.rhat(idata, var_names=free)
    min_ess = {v: float(np.nanmin(ess[v].values)) for v in free}
    worst = min(min_ess, key=min_ess.get)
    stats = idata.sample_stats
    diverging = np.asarray(stats["diverging"]) if "diverging" in stats else None
    steps = None
    for name in ("n_steps", "tree_size", "n_leapfrog"):
        if name in stats:
            steps = float(np.mean(np.asarray(stats[name])))
            break

    t0 = time.perf_counter()
    model.sample_prior(500, seed=args.seed)  # Analyzer.summary_metrics needs it; not timed as fit
    prior_s = time.perf_counter() - t0
    sm = analyzer.Analyzer(model).summary_metrics(confidence_level=0.9)
    roas = {}
    for c in names:
        r = sm["roi"].sel(channel=c)
        if "distribution" in r.dims:
            r = r.sel(distribution="posterior")
        mean, lo, hi = (float(r.sel(metric=m)) for m in ("mean", "ci_lo", "ci_hi"))
        true = truth["channels"][c]["roas"]
        roas[c] = {
            "mean": mean,
            "ci90": [lo, hi],
            "true": true,
            "rel_error": mean / true - 1,
            "in_ci": bool(lo <= true <= hi),
        }

    min_all = min_ess[worst]
    report = {
        "benchmark": "meridian_geo",
        "data": str(folder),
        "n_geo": n_geo,
        "processor": _processor(),
        "settings": {
            "chains": args.chains,
            "n_adapt": args.warmup,
            "n_burnin": 0,
            "n_keep": args.draws,
            "seed": args.seed,
            "model_spec": "ModelSpec() defaults",
            "population": "each geo's mean revenue",
        },
        "versions": {
            "google-meridian": meridian.__version__,
            "tensorflow": tf.__version__,
            "python": sys.version.split()[0],
        },
        "import_s": import_s,
        "build_s": build_s,
        "fit_s": fit_s,
        "sample_prior_500_s": prior_s,
        "sampled_params": free,
        "n_sampled_values": int(sum(int(np.prod(post[v].shape[2:])) for v in free)),
        "per_site": {
            v: {"min_ess_bulk": min_ess[v], "r_hat_max": float(np.nanmax(rhat[v].values))}
            for v in free
        },
        "min_ess_bulk": min_all,
        "min_ess_site": worst,
        "min_ess_bulk_channel": min(min_ess[v] for v in channel),
        "r_hat_max": float(max(np.nanmax(rhat[v].values) for v in free)),
        "r_hat_max_channel": float(max(np.nanmax(rhat[v].values) for v in channel)),
        "ess_per_s": min_all / fit_s,
        "steps_per_draw": steps,
        "divergences": None if diverging is None else int(diverging.sum()),
        "roas": roas,
        "all_true_roas_in_ci": all(v["in_ci"] for v in roas.values()),
        "max_abs_roas_rel_error": max(abs(v["rel_error"]) for v in roas.values()),
    }
    ours = _ours(Path(args.ours) if args.ours else None, n_geo)
    if ours is not None:
        report["mmm_jax"] = ours
        report["ratio_ess_per_s"] = {
            "mmm_jax_run_over_meridian": ours["ess_per_s_run"] / report["ess_per_s"],
            "mmm_jax_wall_over_meridian": ours["ess_per_s_wall"] / report["ess_per_s"],
        }
        if ours.get("min_ess_bulk_global"):
            # national parameters only: Meridian's channel parameters, mmm_jax's global ones
            wall = build_s + fit_s
            report["ratio_ess_per_s_national"] = {
                "mmm_jax_run_over_meridian": (ours["min_ess_bulk_global"] / ours["run_s"])
                / (report["min_ess_bulk_channel"] / fit_s),
                "mmm_jax_wall_over_meridian": (ours["min_ess_bulk_global"] / ours["wall_s"])
                / (report["min_ess_bulk_channel"] / wall),
            }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))

    print(
        f"min bulk ESS {min_all:.0f} ({worst}), channel params {report['min_ess_bulk_channel']:.0f}; "
        f"max R-hat {report['r_hat_max']:.3f} (channel params {report['r_hat_max_channel']:.3f}); "
        f"divergences {report['divergences']}; {report['ess_per_s']:.3f} ESS/s"
    )
    for c, v in roas.items():
        print(
            f"  {c:8s} ROI {v['mean']:.2f} [{v['ci90'][0]:.2f}, {v['ci90'][1]:.2f}] "
            f"true {v['true']:.2f} ({'in' if v['in_ci'] else 'OUT'})"
        )
    worst_sites = sorted(report["per_site"].items(), key=lambda kv: kv[1]["min_ess_bulk"])
    for v, st in worst_sites[:5]:
        print(f"  {v:14s} min ESS {st['min_ess_bulk']:8.1f}  max R-hat {st['r_hat_max']:.3f}")
    if ours is not None:
        r = report["ratio_ess_per_s"]
        print(
            f"mmm_jax {ours['ess_per_s_run']:.2f} ESS/s of run time, {ours['ess_per_s_wall']:.2f} "
            f"of wall time: {r['mmm_jax_run_over_meridian']:.1f}x and "
            f"{r['mmm_jax_wall_over_meridian']:.1f}x Meridian's"
        )
        if "ratio_ess_per_s_national" in report:
            r = report["ratio_ess_per_s_national"]
            print(
                f"national parameters only: {r['mmm_jax_wall_over_meridian']:.1f}x on wall time, "
                f"{r['mmm_jax_run_over_meridian']:.1f}x on sampling time"
            )
    print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
