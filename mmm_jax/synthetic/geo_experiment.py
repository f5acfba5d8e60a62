r"""Geo experiments with known truth, and estimators of their lift.

A market of ``G`` regions ("Melbourne", "Sydney", ...) is simulated with
:func:`mmm_jax.synthetic.simulate` (one geo per region, the same mechanics and
kernels). During a test window one channel's spend in the test region(s) is
raised by ``spend_lift`` (+50% by default); the expected revenue of those
regions rises by

.. math::
    \Delta\mu_{gt} = m_g(x + \Delta x)_t - m_g(x)_t,

the change of the media response (adstock, saturation and synergy of the
simulation), which continues after the window through carry-over. The
observed revenue of the experiment is the business-as-usual revenue plus
:math:`\Delta\mu` (the noise of the business-as-usual world is kept, so the
increment is exact in expectation). The **true lift** is
:math:`\sum_{g \in \text{test}} \sum_{t \ge t_0} \Delta\mu_{gt}` over the window
and the cool-down periods after it.

Two estimators, each with a standard error that allows for autocorrelated
residuals (Newey-West long-run variance of the pre-period residuals):

* :func:`did_estimate`, difference-in-differences: the test-minus-control
  revenue gap after the start, minus its pre-period mean;
* :func:`regression_estimate`, regression adjustment: the test regions'
  revenue regressed on the controls' in the pre-period predicts the
  counterfactual after it (handles regions of different sizes, which DiD's
  parallel-trends assumption does not when the baseline has a trend or
  seasonality).

:func:`lift_rows` writes the estimates as rows of the lift-test CSV format
(:mod:`mmm_jax.calibration`), with the true lift beside them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mmm_jax.synthetic.simulate import Simulation, SimulationConfig, media_revenue, simulate

__all__ = [
    "GeoExperiment",
    "GeoExperimentConfig",
    "LiftEstimate",
    "did_estimate",
    "lift_rows",
    "regression_estimate",
    "simulate_geo_experiment",
]


def _default_market() -> SimulationConfig:
    # Regions of equal size (parallel trends hold for DiD); their media
    # effectiveness still differs (geo_beta_sd).
    return SimulationConfig(geo_size_sd=0.0, geo_beta_sd=0.15)


@dataclass(frozen=True, kw_only=True)
class GeoExperimentConfig:
    """Settings of a simulated geo experiment.

    Attributes:
      market: Mechanics of every region (channels, baseline, noise); its
        ``n_geos`` and ``n_periods`` are replaced by the experiment's.
      regions: Region names, at least two.
      test_regions: Regions whose spend is raised; the others are controls.
      channel: The tested channel (a name in ``market.channels``).
      spend_lift: Relative spend change in the test regions, > -1, non-zero
        (0.5 = +50%).
      n_pre: Periods before the test (the estimators' training window), >= 2.
      n_test: Periods of the test window, >= 1.
      n_post: Cool-down periods after the window in which carry-over is still
        counted, >= 0.
      shared_plan: Every region follows the first region's spend pattern
        (one national media plan, as usual), rather than its own random one;
        the regions' revenue then moves together and the estimators are
        tighter.
    """

    market: SimulationConfig = field(default_factory=_default_market)
    regions: tuple[str, ...] = ("Melbourne", "Sydney")
    test_regions: tuple[str, ...] = ("Melbourne",)
    channel: str = "search"
    spend_lift: float = 0.5
    n_pre: int = 182
    n_test: int = 28
    n_post: int = 28
    shared_plan: bool = True

    def __post_init__(self):
        object.__setattr__(self, "regions", tuple(str(r) for r in self.regions))
        object.__setattr__(self, "test_regions", tuple(str(r) for r in self.test_regions))
        names = [c.name for c in self.market.channels]
        checks = [
            (len(self.regions) >= 2, f"at least two regions are needed, got {self.regions}"),
            (len(set(self.regions)) == len(self.regions), f"duplicate regions: {self.regions}"),
            (
                0 < len(self.test_regions) < len(self.regions)
                and set(self.test_regions) <= set(self.regions),
                f"test_regions must be a proper, non-empty subset of {self.regions}, "
                f"got {self.test_regions}",
            ),
            (self.channel in names, f"channel {self.channel!r} not in the market's {names}"),
            (
                self.spend_lift > -1 and self.spend_lift != 0,
                f"spend_lift must be > -1 and non-zero, got {self.spend_lift}",
            ),
            (self.n_pre >= 2, f"n_pre must be >= 2, got {self.n_pre}"),
            (self.n_test >= 1, f"n_test must be >= 1, got {self.n_test}"),
            (self.n_post >= 0, f"n_post must be >= 0, got {self.n_post}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def n_periods(self) -> int:
        """All periods: pre, test and cool-down."""
        return self.n_pre + self.n_test + self.n_post


@dataclass(frozen=True, eq=False)
class GeoExperiment:
    """A simulated geo experiment.

    Attributes:
      frame: The observed panel with the experiment: ``date``, ``geo`` (region
        names), ``spend_<channel>`` (raised in the test regions during the
        window), ``organic_traffic``, ``revenue``.
      business_as_usual: The same world without the experiment (same layout).
      truth: ``true_lift`` (window plus cool-down, test regions, expected
        revenue), ``spend_delta`` (extra spend), ``lift_by_period`` (summed
        over test regions, from the start of the window), ``test_share`` (the
        test regions' share of pre-period revenue), ``roas`` (each channel's
        true ROAS over all regions under the business-as-usual plan) and the
        market's truth (``market``, drawn before the shared plan replaced
        the regions' own spend).
      config: The settings.
    """

    frame: pd.DataFrame
    business_as_usual: pd.DataFrame
    truth: dict[str, Any]
    config: GeoExperimentConfig

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Period dates."""
        return pd.DatetimeIndex(self.frame["date"].drop_duplicates())

    def revenue(self) -> tuple[np.ndarray, np.ndarray]:
        """Revenue per period summed over the test and the control regions, ``(time,)`` each."""
        wide = self.frame.pivot(index="date", columns="geo", values="revenue")
        test = list(self.config.test_regions)
        control = [r for r in self.config.regions if r not in test]
        return wide[test].sum(axis=1).to_numpy(), wide[control].sum(axis=1).to_numpy()


def simulate_geo_experiment(
    config: GeoExperimentConfig, *, seed: int, plan: np.ndarray | None = None
) -> GeoExperiment:
    """Simulates a market of regions and a spend test on one channel.

    Args:
      config: The experiment.
      seed: Seed of the market simulation.
      plan: The whole market's spend per period, ``(n_periods, channel)`` in
        the order of ``config.market.channels`` (an MMM's own data, say).
        With ``shared_plan`` every region then spends ``plan / len(regions)``
        instead of the first region's random plan, so the test cuts what the
        MMM's data spent in that window. Needs ``shared_plan``.

    Returns:
      The `GeoExperiment`.

    Raises:
      ValueError: ``plan`` without ``shared_plan``, of the wrong shape, or
        negative or not finite.
    """
    market = dataclasses.replace(
        config.market, n_geos=len(config.regions), n_periods=config.n_periods
    )
    names = [c.name for c in market.channels]
    c = names.index(config.channel)
    n_geo, n_time = len(config.regions), config.n_periods
    if plan is not None:
        plan = np.asarray(plan, dtype=float)
        if not config.shared_plan:
            raise ValueError("plan is every region's spend plan: it needs shared_plan=True")
        if plan.shape != (n_time, len(names)):
            raise ValueError(f"plan must have shape {(n_time, len(names))}, got {plan.shape}")
        if not (np.all(np.isfinite(plan)) and np.all(plan >= 0)):
            raise ValueError("plan must be finite and non-negative")
    sim: Simulation = simulate(market, seed=seed)
    bau = sim.frame.copy()
    bau["geo"] = np.tile(list(config.regions), n_time)
    spend_cols = [f"spend_{n}" for n in names]
    media = bau[spend_cols].to_numpy().reshape(n_time, n_geo, len(names)).transpose(1, 0, 2)
    beta = np.array([sim.truth["channels"][n]["beta_geo"] for n in names]).T[:, None, :]

    def response(m):
        return media_revenue(market, m, beta)

    if config.shared_plan:
        # Expected revenue moves by exactly the media change; the noise is kept.
        first = media[:1] if plan is None else plan[None] / n_geo
        shared = np.broadcast_to(first, media.shape).copy()
        change = response(shared) - response(media)
        bau["revenue"] = bau["revenue"].to_numpy() + change.T.reshape(-1)
        bau[spend_cols] = shared.transpose(1, 0, 2).reshape(n_time * n_geo, len(names))
        media = shared
    test = np.array([r in config.test_regions for r in config.regions])
    window = np.zeros(n_time, bool)
    window[config.n_pre : config.n_pre + config.n_test] = True
    bumped = media.copy()
    bumped[np.ix_(test, window, [c])] *= 1.0 + config.spend_lift

    delta_mu = response(bumped) - response(media)  # (geo, time), zero in controls
    out = bau.copy()
    out[spend_cols] = bumped.transpose(1, 0, 2).reshape(n_time * n_geo, len(names))
    out["revenue"] = bau["revenue"].to_numpy() + delta_mu.T.reshape(-1)
    base = response(media)
    roas = {}
    for k, name in enumerate(names):  # national truth of the business-as-usual plan
        zeroed = media.copy()
        zeroed[..., k] = 0.0
        roas[name] = float((base - response(zeroed)).sum() / media[..., k].sum())
    after = np.arange(n_time) >= config.n_pre
    by_period = delta_mu[test].sum(axis=0)
    pre_revenue = bau["revenue"].to_numpy().reshape(n_time, n_geo)[: config.n_pre]
    truth = {
        "true_lift": float(by_period[after].sum()),
        "spend_delta": float((bumped - media)[..., c].sum()),
        "lift_by_period": by_period[after].tolist(),
        "test_share": float(pre_revenue[:, test].sum() / pre_revenue.sum()),
        "roas": roas,
        "channel": config.channel,
        "seed": int(seed),
        "market": sim.truth,
    }
    return GeoExperiment(frame=out, business_as_usual=bau, truth=truth, config=config)


# --------------------------------------------------------------------------- estimators


@dataclass(frozen=True)
class LiftEstimate:
    """A lift estimate over the window and cool-down, in currency.

    Attributes:
      lift: The estimate.
      se: Its standard error.
      method: ``"did"`` or ``"regression"``.
    """

    lift: float
    se: float
    method: str

    def interval(self, prob: float = 0.9) -> tuple[float, float]:
        """Normal ``prob`` interval, ``lift ± z se``."""
        z = _normal_quantile(0.5 + prob / 2)
        return self.lift - z * self.se, self.lift + z * self.se


def _normal_quantile(p: float) -> float:
    # Bisection on the normal CDF (erf), enough for interval widths.
    lo, hi = -10.0, 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def long_run_variance(resid: np.ndarray, order: int = 7) -> float:
    r"""Long-run variance of a residual series from an AR(p) fit.

    .. math::
        \hat\Omega = \frac{\hat\sigma_\varepsilon^2}{(1 - \sum_j \hat\phi_j)^2},

    the spectral density at frequency zero of the fitted AR(p) (least squares),
    i.e. the variance of :math:`\sqrt{n}` times the mean of the series.
    Revenue residuals carry long, positive autocorrelation (carry-over,
    organic traffic, spend plans) that a kernel estimator with the usual
    bandwidth misses in a short pre-period. The result is floored at the
    plain variance :math:`\hat\gamma_0`.

    Args:
      resid: Mean-zero residuals, ``(time,)``, longer than ``3 * order``.
      order: AR order p (7: a week of daily data).

    Returns:
      :math:`\hat\Omega`.
    """
    r = np.asarray(resid, float)
    n = r.shape[0]
    gamma0 = float(r @ r) / n
    p = min(order, max(1, n // 3))
    lags = np.stack([r[p - j : n - j] for j in range(1, p + 1)], axis=1)
    phi, *_ = np.linalg.lstsq(lags, r[p:], rcond=None)
    innovation = float(np.mean((r[p:] - lags @ phi) ** 2))
    denom = max(1.0 - float(phi.sum()), 0.05)
    return max(innovation / denom**2, gamma0)


def _masks(config: GeoExperimentConfig) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(config.n_periods)
    return t < config.n_pre, t >= config.n_pre


def did_estimate(experiment: GeoExperiment) -> LiftEstimate:
    r"""Difference-in-differences with a pre-period.

    With :math:`d_t = y^{test}_t - y^{control}_t` (sums over regions),

    .. math::
        \widehat{\Delta} = \sum_{t \in post} d_t - n_{post}\, \bar d_{pre},
        \qquad
        \widehat{se}^2 = \hat\Omega\, (n_{post} + n_{post}^2 / n_{pre}),

    :math:`\hat\Omega` the long-run variance of the pre-period :math:`d_t`.
    Unbiased when the gap would have stayed level (parallel trends).
    """
    y_test, y_control = experiment.revenue()
    pre, post = _masks(experiment.config)
    d = y_test - y_control
    n_pre, n_post = int(pre.sum()), int(post.sum())
    lift = float(d[post].sum() - n_post * d[pre].mean())
    omega = long_run_variance(d[pre] - d[pre].mean())
    return LiftEstimate(lift, math.sqrt(omega * (n_post + n_post**2 / n_pre)), "did")


def regression_estimate(experiment: GeoExperiment) -> LiftEstimate:
    r"""Regression-adjusted counterfactual from the control regions.

    Fits :math:`y^{test}_t = \sum_g b_g\, y^{g}_t + e_t` over the control
    regions :math:`g` on the pre-period by least squares (through the origin,
    so a test region of another size is a scaled copy of the controls and a
    multiplicative trend or seasonality carries over), then sums the
    post-period gap to the prediction:

    .. math::
        \widehat{\Delta} = \sum_{t \in post} (y^{test}_t - z_t^\top \hat b),
        \qquad
        \widehat{se}^2 = \hat\Omega \big(n_{post} + n_{post}^2\,
            \bar z^\top (Z^\top Z)^{-1} \bar z\big)

    with :math:`Z` the pre-period controls, :math:`\bar z` their post-period
    mean and :math:`\hat\Omega` the long-run variance of the residuals.
    """
    y_test, _ = experiment.revenue()
    wide = experiment.frame.pivot(index="date", columns="geo", values="revenue")
    control = [r for r in experiment.config.regions if r not in experiment.config.test_regions]
    z = wide[control].to_numpy()
    pre, post = _masks(experiment.config)
    coef, *_ = np.linalg.lstsq(z[pre], y_test[pre], rcond=None)
    resid = y_test[pre] - z[pre] @ coef
    n_post = int(post.sum())
    lift = float((y_test[post] - z[post] @ coef).sum())
    zbar = z[post].mean(axis=0)
    leverage = float(zbar @ np.linalg.solve(z[pre].T @ z[pre], zbar))
    omega = long_run_variance(resid - resid.mean())
    return LiftEstimate(lift, math.sqrt(omega * (n_post + n_post**2 * leverage)), "regression")


def lift_rows(
    experiment: GeoExperiment,
    estimates: list[LiftEstimate] | LiftEstimate,
    *,
    geo: str | None = None,
    market_share: float | None = None,
) -> pd.DataFrame:
    """Estimates as rows of the lift-test CSV format, plus ``method`` and ``true_lift``.

    The window is the test's (``start`` .. ``end``); ``lift`` counts it and the
    cool-down after it, as the lift-test calibration expects.

    Args:
      experiment: The experiment.
      estimates: One estimate or several (one row each).
      geo: The MMM data's geo the test ran in (``None``: a national MMM).
      market_share: The test regions' share of that geo's market; default
        their share of pre-period revenue (``truth["test_share"]``).

    Returns:
      Columns ``channel, start, end, spend_delta, lift, lift_se, [geo,]
      market_share, method, true_lift``.
    """
    if isinstance(estimates, LiftEstimate):
        estimates = [estimates]
    cfg = experiment.config
    dates = experiment.dates
    share = experiment.truth["test_share"] if market_share is None else float(market_share)
    rows = []
    for est in estimates:
        row = {
            "channel": cfg.channel,
            "start": dates[cfg.n_pre].strftime("%Y-%m-%d"),
            "end": dates[cfg.n_pre + cfg.n_test - 1].strftime("%Y-%m-%d"),
            "spend_delta": experiment.truth["spend_delta"],
            "lift": est.lift,
            "lift_se": est.se,
        }
        if geo is not None:
            row["geo"] = geo
        row.update(market_share=share, method=est.method, true_lift=experiment.truth["true_lift"])
        rows.append(row)
    return pd.DataFrame(rows)
