r"""Synthetic MMM data with known truth, for the demo and for recovery tests.

The data-generating process, per geo :math:`g` and period :math:`t`:

.. math::
    \mu_{gt} = \underbrace{b_g (1 + \tau\, t/(T-1))\, w_t\, y_t
        + \beta_{org}\, o_{gt}}_{\text{baseline}}
      + \sum_c \beta_{gc}\, S_c(A_c(x_{gc})_t)
      + \sum_{(i, j)} \gamma_{ij} \sqrt{\beta_{gi} \beta_{gj}}\, S_i S_j,
    \qquad
    \text{revenue}_{gt} = \mu_{gt}\, e^{\sigma z_{gt} - \sigma^2/2}

with :math:`A_c` a normalised adstock (weights sum to one, so a constant
spend :math:`x` has steady-state adstock :math:`x`), :math:`S_c` a saturation
in :math:`[0, 1)` with parameters in currency, :math:`\beta_{gc}` the revenue
per period at full saturation, :math:`w_t` weekly and :math:`y_t` yearly
seasonality factors, :math:`o_{gt}` organic traffic and :math:`z_{gt}` standard
normal noise (so :math:`E[\text{revenue}] = \mu`).

The adstock and saturation curves are the NumPy reference kernels of
:mod:`mmm_jax.synthetic.kernels`, written from the same formulas as the
model's :mod:`mmm_jax.transforms` but not sharing its code, so a kernel bug
cannot hide in the truth and the fit alike (tests check that the two agree).
Everything is float64 NumPy: JAX, its precision and its backend play no part
in the data or the truth.

The truth is counterfactual, as a lift test measures it: a channel's
contribution is :math:`\sum_{gt} \mu_{gt}(\text{all}) - \mu_{gt}(\text{channel
zeroed})` over the window, on the expected revenue :math:`\mu` (noise-free).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mmm_jax.data.dataset import periods_per_year
from mmm_jax.synthetic import kernels
from mmm_jax.transforms.adstock import ADSTOCK_PARAMS, Adstock
from mmm_jax.transforms.saturation import SATURATION_PARAMS, Saturation


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """True mechanics of one simulated media channel.

    Attributes:
      name: Channel name; the frame's spend column is ``spend_<name>``.
      spend_mean: Mean spend per period (and per geo) in currency when the
        channel is on air, > 0.
      spend_cv: Coefficient of variation of spend around its mean, >= 0
        (log-normal, autocorrelated from period to period).
      adstock: Adstock family.
      adstock_params: Its parameters (`mmm_jax.transforms.ADSTOCK_PARAMS`),
        in periods where they are times.
      saturation: Saturation family.
      saturation_params: Its parameters (`mmm_jax.transforms.SATURATION_PARAMS`)
        in currency units: ``half_saturation`` in spend per period, ``rate``
        per unit of currency.
      beta: Revenue per period at full saturation, >= 0.
      dark_prob: Probability that a period has no spend (off air), in [0, 1).
    """

    name: str
    spend_mean: float
    spend_cv: float
    adstock: Adstock
    adstock_params: Mapping[str, float]
    saturation: Saturation
    saturation_params: Mapping[str, float]
    beta: float
    dark_prob: float = 0.03

    def __post_init__(self):
        adstock = Adstock(self.adstock)
        saturation = Saturation(self.saturation)
        object.__setattr__(self, "adstock", adstock)
        object.__setattr__(self, "saturation", saturation)
        for what, kind, params, names in (
            ("adstock", adstock, self.adstock_params, ADSTOCK_PARAMS),
            ("saturation", saturation, self.saturation_params, SATURATION_PARAMS),
        ):
            if set(params) != set(names[kind]):
                raise ValueError(
                    f"channel {self.name!r}: {kind.value} {what} takes parameters "
                    f"{names[kind]}, got {sorted(params)}"
                )
            object.__setattr__(self, f"{what}_params", {k: float(params[k]) for k in names[kind]})
        if not self.spend_mean > 0:
            raise ValueError(
                f"channel {self.name!r}: spend_mean must be > 0, got {self.spend_mean}"
            )
        if not self.spend_cv >= 0:
            raise ValueError(f"channel {self.name!r}: spend_cv must be >= 0, got {self.spend_cv}")
        if not self.beta >= 0:
            raise ValueError(f"channel {self.name!r}: beta must be >= 0, got {self.beta}")
        if not 0 <= self.dark_prob < 1:
            raise ValueError(
                f"channel {self.name!r}: dark_prob must be in [0, 1), got {self.dark_prob}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the spec.

        Returns:
          Kinds as their string values, parameters as plain dicts.
        """
        d = dataclasses.asdict(self)
        d["adstock"] = self.adstock.value
        d["saturation"] = self.saturation.value
        d["adstock_params"] = dict(self.adstock_params)
        d["saturation_params"] = dict(self.saturation_params)
        return d


def _default_channels() -> tuple[ChannelSpec, ...]:
    return (
        ChannelSpec(
            name="search",
            spend_mean=40_000.0,
            spend_cv=0.35,
            adstock=Adstock.GEOMETRIC,
            adstock_params={"retention": 0.35},
            saturation=Saturation.HILL,
            saturation_params={"half_saturation": 45_000.0, "slope": 1.3},
            beta=160_000.0,
        ),
        ChannelSpec(
            name="social",
            spend_mean=25_000.0,
            spend_cv=0.5,
            adstock=Adstock.WEIBULL_PDF,
            adstock_params={"shape": 2.4, "scale": 5.0},
            saturation=Saturation.HILL,
            saturation_params={"half_saturation": 30_000.0, "slope": 1.8},
            beta=80_000.0,
        ),
        ChannelSpec(
            name="video",
            spend_mean=18_000.0,
            spend_cv=0.7,
            adstock=Adstock.WEIBULL_CDF,
            adstock_params={"shape": 1.6, "scale": 9.0},
            saturation=Saturation.LOGISTIC,
            saturation_params={"rate": 6.0e-5},
            beta=50_000.0,
        ),
        ChannelSpec(
            name="retail",
            spend_mean=30_000.0,
            spend_cv=0.3,
            adstock=Adstock.DELAYED,
            adstock_params={"retention": 0.5, "peak_delay": 1.0},
            saturation=Saturation.MICHAELIS_MENTEN,
            saturation_params={"half_saturation": 50_000.0},
            beta=90_000.0,
        ),
    )


#: The default channel set: search (geometric, Hill), social (Weibull PDF
#: delayed peak, Hill), video (Weibull CDF, logistic), retail (delayed,
#: Michaelis-Menten).
DEFAULT_CHANNELS: tuple[ChannelSpec, ...] = _default_channels()


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """Settings of the data-generating process (see the module docstring).

    Attributes:
      n_periods: Number of periods T, >= 2.
      freq: pandas offset alias of the periods, e.g. ``"D"`` or ``"W-MON"``.
      start: First date.
      n_geos: Number of geos; 1 gives a national frame without a geo column.
      max_lag: Adstock window in periods, >= 1.
      intercept: Baseline revenue per period (and per geo) before trend and
        seasonality, > 0.
      trend: Relative growth of the baseline over the window (0.1 = +10%).
      weekly_amp: Amplitude of the day-of-week factor (sub-weekly data only).
      yearly_amp: Amplitude of the yearly factor, in [0, 1).
      organic_mean: Mean organic traffic per period (and per geo), > 0.
      organic_sd: Standard deviation of organic traffic, >= 0.
      organic_beta: Revenue per unit of organic traffic.
      noise_sd: Log-scale sd of the multiplicative revenue noise, >= 0.
      channels: The media channels.
      synergy: ``(a, b, gamma)`` channel pairs adding
        ``gamma * sqrt(beta_a beta_b) * S_a * S_b``.
      geo_beta_sd: Log-scale sd of each geo's beta around the channel's beta.
      geo_size_sd: Log-scale sd of each geo's baseline size (intercept and
        organic traffic).
    """

    n_periods: int = 730
    freq: str = "D"
    start: str = "2023-01-01"
    n_geos: int = 1
    max_lag: int = 28
    intercept: float = 250_000.0
    trend: float = 0.1
    weekly_amp: float = 0.08
    yearly_amp: float = 0.12
    organic_mean: float = 40_000.0
    organic_sd: float = 5_000.0
    organic_beta: float = 2.0
    noise_sd: float = 0.05
    channels: tuple[ChannelSpec, ...] = DEFAULT_CHANNELS
    synergy: tuple[tuple[str, str, float], ...] = ()
    geo_beta_sd: float = 0.2
    geo_size_sd: float = 0.3

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(
            self, "synergy", tuple((str(a), str(b), float(g)) for a, b, g in self.synergy)
        )
        periods_per_year(self.freq)  # raises ValueError on an irregular alias
        names = [c.name for c in self.channels]
        checks = [
            (self.n_periods >= 2, f"n_periods must be >= 2, got {self.n_periods}"),
            (self.n_geos >= 1, f"n_geos must be >= 1, got {self.n_geos}"),
            (self.max_lag >= 1, f"max_lag must be >= 1, got {self.max_lag}"),
            (self.intercept > 0, f"intercept must be > 0, got {self.intercept}"),
            (self.organic_mean > 0, f"organic_mean must be > 0, got {self.organic_mean}"),
            (self.organic_sd >= 0, f"organic_sd must be >= 0, got {self.organic_sd}"),
            (self.noise_sd >= 0, f"noise_sd must be >= 0, got {self.noise_sd}"),
            (0 <= self.yearly_amp < 1, f"yearly_amp must be in [0, 1), got {self.yearly_amp}"),
            (0 <= self.weekly_amp < 1, f"weekly_amp must be in [0, 1), got {self.weekly_amp}"),
            (self.trend > -1, f"trend must be > -1, got {self.trend}"),
            (self.geo_beta_sd >= 0, f"geo_beta_sd must be >= 0, got {self.geo_beta_sd}"),
            (self.geo_size_sd >= 0, f"geo_size_sd must be >= 0, got {self.geo_size_sd}"),
            (len(names) >= 1, "at least one channel is needed"),
            (len(set(names)) == len(names), f"channel names must be unique, got {names}"),
        ]
        for a, b, _ in self.synergy:
            checks.append((a in names and b in names, f"synergy pair ({a}, {b}) not in {names}"))
            checks.append((a != b, f"synergy pair ({a}, {b}) must name two channels"))
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the configuration.

        Returns:
          Scalars, with ``channels`` as a list of `ChannelSpec.to_dict`.
        """
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["channels"] = [c.to_dict() for c in self.channels]
        d["synergy"] = [list(s) for s in self.synergy]
        return d


@dataclass(frozen=True, eq=False)
class Simulation:
    """Simulated data and the truth that generated it.

    Attributes:
      frame: Long frame in the `mmm_jax.data.from_frame` layout: ``date``,
        ``geo`` (only when ``n_geos > 1``), ``spend_<channel>`` in currency,
        ``organic_traffic`` and ``revenue``.
      truth: JSON-safe dict. ``channels[name]`` holds ``spend_total``,
        ``contribution`` (counterfactual, over the window, on expected
        revenue), ``roas`` (contribution / spend), ``marginal_roas`` (extra
        revenue per extra currency from a 1% bump of the channel's spend over
        the window), ``media_scale`` (mean spend per period), the true
        ``adstock``/``saturation`` kinds and parameters, ``beta`` and
        ``beta_geo``. Top level: ``synergy`` (``"a:b"`` -> gamma),
        ``baseline_total``, ``baseline_share``, ``media_share``,
        ``revenue_total`` (expected), ``observed_revenue_total``,
        ``intercept_geo``, ``seed`` and ``config``.
      config: The `SimulationConfig` used.
    """

    frame: pd.DataFrame
    truth: dict[str, Any]
    config: SimulationConfig

    def true_steady_response(self, spend_per_period: Any) -> np.ndarray:
        r"""Steady-state expected media revenue per period for a constant spend.

        With normalised adstock the steady adstock of a constant spend is the
        spend itself, so the response is
        :math:`\sum_g [\sum_c \beta_{gc} S_c(x_c / G) + \text{synergy}]`.

        Args:
          spend_per_period: Spend per period summed over geos (split evenly
            across the ``G`` geos), shape ``(..., channel)`` in the order of
            ``config.channels``; non-negative.

        Returns:
          Media revenue per period summed over geos, shape ``(...,)``.
        """
        x = np.asarray(spend_per_period, dtype=np.float64)
        n_channel = len(self.config.channels)
        if x.ndim == 0 or x.shape[-1] != n_channel:
            raise ValueError(f"spend_per_period must have shape (..., {n_channel}), got {x.shape}")
        if np.any(x < 0):
            raise ValueError("spend_per_period must be non-negative")
        beta = np.array(
            [self.truth["channels"][c.name]["beta_geo"] for c in self.config.channels]
        ).T  # (geo, channel)
        saturated = _saturate(self.config, x / beta.shape[0])  # (..., channel)
        per_geo = _media_effect(self.config, saturated[..., None, :], beta)  # (..., geo)
        return per_geo.sum(axis=-1)


def _adstock(config: SimulationConfig, media: np.ndarray) -> np.ndarray:
    """Normalised adstock of ``(geo, time, channel)`` spend, channel by channel."""
    out = np.empty(np.shape(media), dtype=np.float64)
    for c, spec in enumerate(config.channels):
        weights = kernels.adstock_weights(spec.adstock, spec.adstock_params, config.max_lag)
        out[..., c] = kernels.adstock(media[..., c], weights)
    return out


def _saturate(config: SimulationConfig, x: np.ndarray) -> np.ndarray:
    """Saturation of ``(..., channel)`` adstocked spend in currency, channel by channel."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty(x.shape, dtype=np.float64)
    for c, spec in enumerate(config.channels):
        out[..., c] = kernels.saturate(spec.saturation, x[..., c], spec.saturation_params)
    return out


def _media_effect(config: SimulationConfig, saturated: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Media revenue ``(...)`` from saturated media and betas, both ``(..., channel)``.

    The two broadcast against each other, e.g. ``(geo, time, channel)`` with
    ``(geo, 1, channel)``.
    """
    effect = (saturated * beta).sum(axis=-1)
    index = {c.name: i for i, c in enumerate(config.channels)}
    for a, b, gamma in config.synergy:
        i, j = index[a], index[b]
        scale = gamma * np.sqrt(beta[..., i] * beta[..., j])
        effect = effect + scale * saturated[..., i] * saturated[..., j]
    return effect


def media_revenue(config: SimulationConfig, media: np.ndarray, beta: np.ndarray) -> np.ndarray:
    r"""Expected media revenue per geo and period: :math:`\sum_c \beta_{gc} S_c(A_c(x_{gc})_t)` plus synergy.

    Args:
      config: The data-generating process (kernels, synergy pairs, ``max_lag``).
      media: Spend in currency, shape ``(geo, time, channel)``.
      beta: Revenue at full saturation, shape ``(geo, 1, channel)`` (or
        anything that broadcasts against ``media``).

    Returns:
      Shape ``(geo, time)``.
    """
    return _media_effect(config, _saturate(config, _adstock(config, media)), beta)


def _ar1(rng: np.random.Generator, shape: tuple[int, ...], phi: float) -> np.ndarray:
    """Stationary AR(1) with unit marginal variance along axis 1 of ``(geo, time, ...)``."""
    z = rng.standard_normal(shape)
    out = np.empty(shape)
    out[:, 0] = z[:, 0]
    innovation = math.sqrt(1.0 - phi**2)
    for t in range(1, shape[1]):
        out[:, t] = phi * out[:, t - 1] + innovation * z[:, t]
    return out


def simulate(config: SimulationConfig = SimulationConfig(), *, seed: int) -> Simulation:  # noqa: B008
    """Draws a data set with known truth.

    Args:
      config: The data-generating process.
      seed: Seed of the numpy generator; the same seed and config give the
        same frame and truth.

    Returns:
      The `Simulation`: the frame, the truth and the config.
    """
    rng = np.random.default_rng(seed)
    n_geo, n_time, specs = config.n_geos, config.n_periods, config.channels
    n_channel = len(specs)
    dates = pd.date_range(config.start, periods=n_time, freq=config.freq)

    # Geo heterogeneity: baseline size and per-channel effectiveness.
    size = np.exp(config.geo_size_sd * rng.standard_normal(n_geo))
    size = size / size.mean() if n_geo > 1 else np.ones(1)
    beta = np.array([s.beta for s in specs])[None, :] * (
        np.exp(config.geo_beta_sd * rng.standard_normal((n_geo, n_channel)))
        if n_geo > 1
        else np.ones((1, n_channel))
    )  # (geo, channel)

    # Spend: log-normal around the mean, autocorrelated, with dark periods.
    mean = np.array([s.spend_mean for s in specs])
    sigma = np.sqrt(np.log1p(np.array([s.spend_cv for s in specs]) ** 2))
    log_mult = sigma * _ar1(rng, (n_geo, n_time, n_channel), phi=0.6) - sigma**2 / 2
    dark = rng.random((n_geo, n_time, n_channel)) < np.array([s.dark_prob for s in specs])
    media = np.where(dark, 0.0, mean * np.exp(log_mult))  # (geo, time, channel)

    # Baseline: intercept x trend x seasonality + organic traffic.
    t = np.arange(n_time) / (n_time - 1)
    day_of_year = dates.day_of_year.to_numpy()
    yearly = 1.0 + config.yearly_amp * np.cos(2 * np.pi * (day_of_year - 335) / 365.25)
    weekly = np.ones(n_time)
    if periods_per_year(config.freq) > 2 * 365.25 / 7:  # a weekly cycle is visible
        weekly = 1.0 + config.weekly_amp * np.sin(2 * np.pi * dates.day_of_week.to_numpy() / 7)
    level = config.intercept * (1.0 + config.trend * t) * weekly * yearly  # (time,)
    organic = size[:, None] * (
        config.organic_mean + config.organic_sd * _ar1(rng, (n_geo, n_time), phi=0.8)
    )
    organic = np.maximum(organic, 0.0)
    baseline = size[:, None] * level[None, :] + config.organic_beta * organic  # (geo, time)

    def expected(m: np.ndarray) -> np.ndarray:
        return baseline + media_revenue(config, m, beta[:, None])

    mu = expected(media)
    noise = np.exp(config.noise_sd * rng.standard_normal((n_geo, n_time)) - config.noise_sd**2 / 2)
    revenue = mu * noise

    # Counterfactual truth over the window.
    total = mu.sum()
    channels: dict[str, Any] = {}
    for c, spec in enumerate(specs):
        zeroed = media.copy()
        zeroed[..., c] = 0.0
        bumped = media.copy()
        bumped[..., c] *= 1.01
        spend_total = float(media[..., c].sum())
        contribution = float(total - expected(zeroed).sum())
        channels[spec.name] = {
            "spend_total": spend_total,
            "contribution": contribution,
            "roas": contribution / spend_total,
            "marginal_roas": float(expected(bumped).sum() - total) / (0.01 * spend_total),
            "media_scale": spend_total / (n_geo * n_time),
            "adstock": {"kind": spec.adstock.value, "params": dict(spec.adstock_params)},
            "saturation": {"kind": spec.saturation.value, "params": dict(spec.saturation_params)},
            "beta": spec.beta,
            "beta_geo": beta[:, c].tolist(),
        }
    baseline_total = float(baseline.sum())
    truth = {
        "seed": int(seed),
        "target": "revenue",
        "channels": channels,
        "synergy": {f"{a}:{b}": g for a, b, g in config.synergy},
        "baseline_total": baseline_total,
        "baseline_share": baseline_total / float(total),
        "media_share": 1.0 - baseline_total / float(total),
        "revenue_total": float(total),
        "observed_revenue_total": float(revenue.sum()),
        "intercept_geo": (config.intercept * size).tolist(),
        "organic_beta": config.organic_beta,
        "noise_sd": config.noise_sd,
        "config": config.to_dict(),
    }

    # Long frame, date-major like the benchmark data.
    out: dict[str, Any] = {"date": np.repeat(dates.values, n_geo)}
    if n_geo > 1:
        out["geo"] = np.tile([f"geo_{g:03d}" for g in range(n_geo)], n_time)
    for c, spec in enumerate(specs):
        out[f"spend_{spec.name}"] = media[..., c].T.reshape(-1)
    out["organic_traffic"] = organic.T.reshape(-1)
    out["revenue"] = revenue.T.reshape(-1)
    return Simulation(frame=pd.DataFrame(out), truth=truth, config=config)
