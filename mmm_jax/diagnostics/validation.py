"""Out-of-sample checks: hold-out fit quality, rolling-origin CV, PSIS-LOO model comparison.

Refits go through an injected ``fit_fn: Callable[[MMMData], FitLike]`` (for
example ``functools.partial(fit_nuts, config=..., key=...)`` wrapped to take the
data first), so this module never imports the inference layer (DESIGN.md).

Each training window is scaled on its own (``time_slice(..., rescale=True)``):
the means that set the model's units, and with them what its priors mean, come
from the training periods alone, never from the periods it forecasts.
Forecasts are made from the **full** data put on the training window's scale
(``full.with_scaler(train.scaler)``), with the fit's own time frame and its fit
window as the ROAS reference, so spend in the training window carries over into
the forecast window through adstock; only the forecast periods are scored.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import jax

from mmm_jax.diagnostics.metrics import FitLike, fit_metrics

__all__ = [
    "INTERVAL_PROB",
    "MIN_DRAWS_FOR_COVERAGE",
    "compare_models",
    "holdout_metrics",
    "holdout_periods",
    "rolling_origin",
    "window_metrics",
]

INTERVAL_PROB = 0.9
PARETO_K_BAD = 0.7
#: Fewest posterior draws from which a predictive interval's coverage is reported.
MIN_DRAWS_FOR_COVERAGE = 20

FitFn = Callable[[Any], FitLike]


def window_metrics(
    fit: FitLike,
    data,
    start: int,
    stop: int,
    *,
    key: jax.Array,
    prob: float = INTERVAL_PROB,
) -> dict[str, float]:
    r"""Fit quality of ``fit`` on periods ``[start, stop)`` of ``data``, in currency.

    The point prediction is the posterior mean of ``mu``; the interval is the
    equal-tailed ``prob`` interval of posterior predictive ``y`` draws.

    .. math::
        \mathrm{coverage} = \frac{1}{GT} \sum_{g,t}
            \mathbf{1}\{q_{(1-p)/2}(y^{rep}_{gt}) \le y_{gt} \le q_{(1+p)/2}(y^{rep}_{gt})\}

    Args:
      fit: A fitted model (fitted on a prefix of ``data``, or on ``data``).
      data: The data to predict on, with the fit's scaler; its full history
        feeds the adstock carry-over into the window.
      start: First scored period (position along time).
      stop: End of the scored window (excluded).
      key: PRNG key for the predictive draws.
      prob: Interval mass in (0, 1).

    Returns:
      ``{"r2", "mape", "nrmse", "coverage"}``; ``coverage`` is ``None`` for a
      fit of fewer than ``MIN_DRAWS_FOR_COVERAGE`` draws (a MAP fit has one, and
      one draw gives no interval).
    """
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be in (0, 1), got {prob}")
    if not 0 <= start < stop <= data.n_time:
        raise ValueError(f"need 0 <= start < stop <= {data.n_time}, got start={start}, stop={stop}")
    scale = float(data.scaler.target_scale)
    pred = fit.predict(data, sites=("mu", "y"), key=key)
    mu = np.asarray(pred["mu"])[..., start:stop] * scale  # (sample, geo, time)
    y_rep = np.asarray(pred["y"])[..., start:stop] * scale
    actual = np.asarray(data.target, dtype=float)[..., start:stop]  # (geo, time)
    coverage = None
    if y_rep.shape[0] >= MIN_DRAWS_FOR_COVERAGE:
        low, high = np.quantile(y_rep, [(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], axis=0)
        coverage = float(((actual >= low) & (actual <= high)).mean())
    return {**fit_metrics(actual, mu.mean(axis=0)), "coverage": coverage}


def holdout_periods(n_time: int, frac: float) -> int:
    """Periods :func:`holdout_metrics` holds out: ``round(frac * n_time)``, at least 1.

    Raises:
      ValueError: ``frac`` outside (0, 1), or fewer than two training periods left.
    """
    if not 0.0 < frac < 1.0:
        raise ValueError(f"frac must be in (0, 1), got {frac}")
    n = max(1, int(round(frac * n_time)))
    if n >= n_time - 1:
        raise ValueError(
            f"frac={frac} leaves {n_time - n} training period(s) of {n_time}; need at least 2"
        )
    return n


def holdout_metrics(
    data,
    fit_fn: FitFn,
    *,
    frac: float = 0.1,
    key: jax.Array | None = None,
    prob: float = INTERVAL_PROB,
    return_fit: bool = False,
) -> dict[str, Any]:
    """Fits on the first ``1 - frac`` of the periods and scores the final ``frac``.

    The training window is scaled on its own, so nothing about the held-out
    periods reaches the fit (see the module's docstring).

    Args:
      data: The full :class:`~mmm_jax.data.MMMData`.
      fit_fn: Fits a model to an ``MMMData`` and returns a fit (``Fit``).
      frac: Share of periods held out at the end, in (0, 1); at least one period.
      key: PRNG key for the predictive draws (default ``PRNGKey(0)``).
      prob: Predictive interval mass for the coverage.
      return_fit: Also return the training fit, under ``"fit"``.

    Returns:
      ``{"train": metrics, "holdout": metrics, "n_train", "n_holdout",
      "holdout_start"}`` where metrics are those of :func:`window_metrics`
      (``r2``, ``mape``, ``nrmse``, ``coverage``) and ``holdout_start`` is the
      first held-out date (ISO); with ``return_fit``, ``"fit"`` too.

    Raises:
      ValueError: ``frac`` outside (0, 1) or leaving fewer than two training periods.
      DataValidationError: The training window cannot be scaled on its own
        (a channel with no spend in it, say); the message names what.
    """
    n_hold = holdout_periods(data.n_time, frac)
    n_train = data.n_time - n_hold
    key = jax.random.PRNGKey(0) if key is None else key
    train = data.time_slice(0, n_train, rescale=True)
    fit = fit_fn(train)
    view = data.with_scaler(train.scaler)
    k_train, k_hold = jax.random.split(key)
    out = {
        "train": window_metrics(fit, view, 0, n_train, key=k_train, prob=prob),
        "holdout": window_metrics(fit, view, n_train, data.n_time, key=k_hold, prob=prob),
        "n_train": n_train,
        "n_holdout": n_hold,
        "holdout_start": str(data.dates[n_train].date()),
    }
    if return_fit:
        out["fit"] = fit
    return out


def rolling_origin(
    data,
    fit_fn: FitFn,
    *,
    n_folds: int = 3,
    horizon: int | None = None,
    key: jax.Array | None = None,
    prob: float = INTERVAL_PROB,
) -> list[dict[str, Any]]:
    """Time-slice cross-validation with expanding training windows.

    Fold ``k`` (``k = 0 .. n_folds - 1``) trains on periods ``[0, e_k)`` and
    scores the next ``horizon`` periods ``[e_k, e_k + horizon)``, with
    ``e_k = T - (n_folds - k) * horizon``; the forecast windows tile the last
    ``n_folds * horizon`` periods without overlap, and no fold sees its future,
    its scale included (each training window is scaled on its own).

    Args:
      data: The full :class:`~mmm_jax.data.MMMData`.
      fit_fn: Fits a model to an ``MMMData`` and returns a fit.
      n_folds: Number of folds, >= 1.
      horizon: Periods per forecast window; default ``T // (2 * n_folds)``, so
        the first training window holds half the data.
      key: PRNG key for the predictive draws (default ``PRNGKey(0)``).
      prob: Predictive interval mass for the coverage.

    Returns:
      One dict per fold, ``{"fold", "n_train", "n_holdout", "train_end",
      "holdout_start", "holdout_end", "train": metrics, "holdout": metrics}``
      (dates ISO, ``train_end`` the last training date, ``holdout_end`` the
      last scored date), followed by one row ``{"fold": "mean", "train": ...,
      "holdout": ...}`` averaging each metric over the folds.

    Raises:
      ValueError: Non-positive ``n_folds`` or ``horizon``, or fewer than two
        training periods left for the first fold.
      DataValidationError: A training window cannot be scaled on its own.
    """
    if n_folds < 1:
        raise ValueError(f"n_folds must be >= 1, got {n_folds}")
    horizon = data.n_time // (2 * n_folds) if horizon is None else int(horizon)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon} (data has {data.n_time} periods)")
    first_end = data.n_time - n_folds * horizon
    if first_end < 2:
        raise ValueError(
            f"{n_folds} folds of {horizon} periods leave {first_end} training period(s) "
            f"of {data.n_time}; need at least 2"
        )
    key = jax.random.PRNGKey(0) if key is None else key
    folds: list[dict[str, Any]] = []
    for k in range(n_folds):
        end = first_end + k * horizon
        stop = end + horizon
        train = data.time_slice(0, end, rescale=True)
        fit = fit_fn(train)
        view = data.with_scaler(train.scaler)
        key, k_train, k_hold = jax.random.split(key, 3)
        folds.append(
            {
                "fold": k,
                "n_train": end,
                "n_holdout": horizon,
                "train_end": str(data.dates[end - 1].date()),
                "holdout_start": str(data.dates[end].date()),
                "holdout_end": str(data.dates[stop - 1].date()),
                "train": window_metrics(fit, view, 0, end, key=k_train, prob=prob),
                "holdout": window_metrics(fit, view, end, stop, key=k_hold, prob=prob),
            }
        )
    mean = {
        "fold": "mean",
        "n_train": float(np.mean([f["n_train"] for f in folds])),
        "n_holdout": horizon,
    }
    for part in ("train", "holdout"):
        values = {m: [f[part][m] for f in folds] for m in folds[0][part]}
        mean[part] = {
            m: None if any(v is None for v in vs) else float(np.mean(vs))
            for m, vs in values.items()
        }
    return [*folds, mean]


def _loo(idata) -> tuple[Any, list[str]]:
    """``az.loo`` with its warnings recorded (not raised, not hidden)."""
    import arviz as az

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loo = az.loo(idata, pointwise=True)
    return loo, _messages(caught)


def _messages(caught) -> list[str]:
    out: list[str] = []
    for w in caught:
        text = f"{w.category.__name__}: {w.message}"
        if text not in out:
            out.append(text)
    return out


def compare_models(fits: Mapping[str, FitLike]) -> dict[str, Any]:
    r"""Ranks fits of the same target by PSIS-LOO expected log predictive density.

    Each fit's pointwise log-likelihood (one point per geo and period) goes to
    ``arviz.loo``; ``arviz.compare`` ranks them and gives stacking weights.
    Warnings ArviZ raises (a single chain, as from SVI or MAP; large Pareto
    :math:`\hat k`) are recorded per model under ``"warnings"`` instead of
    being raised or silenced.

    Args:
      fits: Name -> fit, all on the same observations. Each fit needs
        ``to_arviz(posterior_predictive=False)`` with a ``log_likelihood`` group.

    Returns:
      ``{"models": {name: {"elpd_loo", "se", "p_loo", "pareto_k_bad_share",
      "n_points", "warnings"}}, "ranking": [names, best first],
      "compare": {name: {"rank", "elpd_diff", "dse", "weight"}},
      "warnings": [...]}`` where ``pareto_k_bad_share`` is the share of points
      with :math:`\hat k > 0.7` (their LOO estimate is unreliable) and the
      top-level ``warnings`` are those of ``arviz.compare``.

    Raises:
      ValueError: Fewer than one fit, or fits with different numbers of points.
    """
    import arviz as az

    if not fits:
        raise ValueError("fits must hold at least one named fit")
    models: dict[str, dict[str, Any]] = {}
    loos = {}
    for name, fit in fits.items():
        idata = fit.to_arviz(posterior_predictive=False)
        loo, msgs = _loo(idata)
        k = np.asarray(loo.pareto_k).reshape(-1)
        loos[name] = loo
        models[name] = {
            "elpd_loo": float(loo.elpd_loo),
            "se": float(loo.se),
            "p_loo": float(loo.p_loo),
            "pareto_k_bad_share": float(np.mean(k > PARETO_K_BAD)),
            "n_points": int(k.size),
            "warnings": msgs,
        }
    sizes = {m["n_points"] for m in models.values()}
    if len(sizes) > 1:
        raise ValueError(
            f"fits must share the same observations; point counts differ: {sorted(sizes)}"
        )
    compare_msgs: list[str] = []
    if len(loos) == 1:
        name = next(iter(loos))
        table = {name: {"rank": 0, "elpd_diff": 0.0, "dse": 0.0, "weight": 1.0}}
    else:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            frame = az.compare(loos, ic="loo")
        compare_msgs = _messages(caught)
        table = {
            str(name): {
                "rank": int(row["rank"]),
                "elpd_diff": float(row["elpd_diff"]),
                "dse": float(row["dse"]),
                "weight": float(row["weight"]),
            }
            for name, row in frame.iterrows()
        }
    ranking = sorted(table, key=lambda n: table[n]["rank"])
    return {"models": models, "ranking": ranking, "compare": table, "warnings": compare_msgs}
