"""Typed, frozen model configuration: options as Enums, priors as NumPyro distributions.

Every prior lives on the model's **scaled** data (spend divided by its
per-channel mean, revenue by its mean; see :class:`mmm_jax.data.dataset.Scaler`), so the
defaults are weakly informative whatever the currency.

Batch shapes a prior may have (checked by :func:`check_config` when the model
is built):

=====================  ======================  ================================
prior                  allowed batch shape     meaning (scaled units)
=====================  ======================  ================================
media.relative_roas    ``()`` or ``(channel,)``  ROAS / (revenue / spend)
media.roas_level       ``()``                    shared level of relative_roas
media.roas             ``()`` or ``(channel,)``  ROAS over the fit window
media.coef             ``()`` or ``(channel,)``  revenue at full saturation
media.retention        ``()`` or ``(channel,)``  geometric / delayed α
media.shape            ``()`` or ``(channel,)``  Weibull k (1 = geometric)
media.scale            ``()`` or ``(channel,)``  Weibull λ, in periods
media.peak_delay       ``()`` or ``(channel,)``  delayed adstock θ, in periods
media.half_saturation  ``()`` or ``(channel,)``  Hill / Michaelis-Menten K
media.slope            ``()`` or ``(channel,)``  Hill s
media.rate             ``()`` or ``(channel,)``  logistic λ
media.saturation_at_mean  ``()`` or ``(channel,)``  S(mean spend) in (0, 1)
baseline.*             ``()``                    intercept, trend, seasonality
controls               ``()`` or ``(control,)``  control coefficients
geo_pooling.*          ``()`` or ``(channel,)``  spreads of per-geo effects
=====================  ======================  ================================

Change a field with ``dataclasses.replace(config, max_lag=8)``.
"""

import dataclasses
import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import jax.numpy as jnp
import numpyro.distributions as dist

from mmm_jax._dists import distribution_from_dict, distribution_to_dict
from mmm_jax._enums import member as enum_member
from mmm_jax.data.dataset import MMMData
from mmm_jax.transforms.adstock import ADSTOCK_PARAMS, Adstock
from mmm_jax.transforms.saturation import SATURATION_PARAMS, Saturation

__all__ = [
    "Adstock",
    "Effect",
    "BaselinePriors",
    "GeoPooling",
    "GeoShapes",
    "GeoSize",
    "Likelihood",
    "MediaPriors",
    "ModelConfig",
    "Saturation",
    "SynergyPriors",
    "check_config",
    "config_from_dict",
    "config_to_dict",
    "distribution_from_dict",
    "distribution_to_dict",
    "roas_prior",
    "update_config",
]


def _as_enum(obj: Any, name: str, enum_type: type[enum.Enum], *, tuples: bool = False) -> None:
    """Set ``obj.name`` (a frozen dataclass) to its ``enum_type`` member, given the member or its value.

    Configurations accept the plain names (``likelihood="student_t"``) as well
    as the enums, and always hold the enums.
    """
    value = getattr(obj, name)
    if tuples and isinstance(value, tuple | list):
        items = tuple(value)
        if not items:
            raise TypeError(f"{name} must be one {enum_type.__name__} or a tuple of them, got ()")
        member = tuple(enum_member(enum_type, v, name) for v in items)
    else:
        member = enum_member(enum_type, value, name)
    object.__setattr__(obj, name, member)


class Effect(enum.Enum):
    r"""The quantity each channel's effect-size prior is placed on (:class:`MediaPriors`).

    ``RELATIVE_ROAS``: the ROAS in units of the data's own revenue per unit of
    spend, :math:`\rho_c = \mathrm{ROAS}_c / \bar R`, with
    :math:`\bar R` the mean revenue per period over the mean total spend per
    period (all channels). :math:`\rho_c` is the share of revenue media would
    drive if every channel returned what channel :math:`c` does; the
    channel's own share of revenue is :math:`\rho_c` times its share of spend.
    It is unit-free: the same data with spend in cents or in thousands give
    the same posterior of :math:`\rho` (and a ROAS in the data's units scaled
    accordingly), so the default prior means the same thing whatever the
    currencies of spend and revenue.

    ``ROAS``: the ROAS in the data's revenue per unit of spend, for a prior
    that states it (an experiment's result: :func:`roas_prior`).

    ``COEF``: the coefficient :math:`\beta_c`, revenue at full saturation in
    scaled units.
    """

    RELATIVE_ROAS = "relative_roas"
    ROAS = "roas"
    COEF = "coef"


class Likelihood(enum.Enum):
    r"""Observation noise on the scaled target.

    ``NORMAL`` and ``STUDENT_T`` are additive with scale ``sigma``;
    ``LOGNORMAL`` is multiplicative, :math:`y = \mu e^{\varepsilon - \sigma^2/2}`,
    :math:`\varepsilon \sim N(0, \sigma)`, so ``sigma`` is the relative noise,
    :math:`E[y] = \mu`, and days with more revenue are allowed more noise.
    """

    NORMAL = "normal"
    STUDENT_T = "student_t"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, kw_only=True)
class MediaPriors:
    r"""Media-term priors. Each batch shape must be ``()`` or ``(channel,)`` (``roas_level``: ``()``).

    **Effect size.** By default the prior is on each channel's **relative
    ROAS** (:class:`Effect`), :math:`\rho_c = \mathrm{ROAS}_c / \bar R`, with
    :math:`\bar R` the data's mean revenue per period over its mean total
    spend per period; the coefficient follows,
    ``coef = rho * share_c * sum_t x_t / sum_t S(adstock(x_t))`` on the scaled
    data (``share_c`` the channel's share of spend), and the site ``roas``
    records :math:`\rho_c \bar R`, the ROAS over the fit window in the data's
    revenue per unit of spend. Three reasons:

    - *Neutral across channels*: the same prior on every channel's return,
      however much each spent (a prior on ``coef`` would imply a higher ROAS
      for a channel with less spend).
    - *Unit-free*: spend in cents, in thousands or on a 0-1 scale gives the
      same posterior of :math:`\rho` (a ROAS prior in currency per currency
      would mean nothing when spend and revenue are in different units).
    - *Room for a worthless channel*: the default
      ``relative_roas = Gamma(1, 2.5)`` (exponential, mean 0.4: on average a
      channel returns as if media drove 40% of revenue) has a finite density
      at zero and no spike, 5% of its mass below 0.02 and 8% above 1. A
      channel the data cannot see keeps a posterior that reaches down to
      zero instead of one pinned near 1 (a log-normal ROAS prior puts
      almost no mass below a tenth of its median, so such a channel read
      as worth about 1 whatever its truth). Its 90% interval is
      ``[0, 0.92]`` in :math:`\rho`.

    ``roas_level`` (``None`` by default) multiplies every channel's
    :math:`\rho_c` by one shared, sampled level (then give ``relative_roas``
    mean 1), so the data set the overall effectiveness and channels vary
    around it.

    Pass ``roas=`` (a prior on the ROAS in the data's units, e.g. from an
    experiment: :func:`roas_prior`) to use it instead;
    ``effect=Effect.COEF`` puts the prior on ``coef`` (revenue at full
    saturation, scaled units).

    With ``saturation_at_mean`` set (e.g. ``Beta(2, 2)``), each curve is
    parametrised by how saturated the channel is at its mean spend,
    :math:`\bar S = S(\bar x) \in (0, 1)`, instead of by ``half_saturation``
    (Hill, Michaelis-Menten) or ``rate`` (logistic), which become deterministic
    sites. Since ``mROAS / ROAS`` is about ``slope * (1 - S̄)``, the data's
    well-measured marginal ROAS then ties ``roas`` and ``S̄`` along a nearly
    straight line in log space, which NUTS's dense mass matrix absorbs.

    The Hill ``slope`` is at least 1 by default (a half-normal of scale 1.5
    from 1): concave like Michaelis-Menten at 1, S-shaped above. A slope below
    1 would make the first dollar's return infinite (:math:`S'(0) = \infty`)
    and let the model claim any ROAS for a channel whose marginal ROAS the
    data pin; the bound also cuts NUTS's leapfrog steps. A posterior piled
    against the bound mixed slowly in NumPyro's logit coordinates, so a slope
    prior on a bounded interval is sampled as its normal score instead
    (site ``slope_normal``, ``slope`` deterministic:
    :func:`mmm_jax.models.terms.sample_slope_normal`; a bounded prior without a
    quantile function in probit coordinates, site ``slope_probit``); the prior
    is unchanged (CHANGELOG.md has the measurements).

    It is also at most 10, where the curve is a step already: the prior puts
    2e-9 of its mass above 10, but the bound changes what NUTS samples, from
    :math:`\log(s - 1)`, which a chain thrown far in early warmup can push
    to a flat step curve whose log density float32 no longer resolves, to a
    logit that cannot run away.
    Pass ``slope=LogNormal(0.3, 0.5)`` for an unbounded prior.
    """

    effect: Effect | None = None
    relative_roas: dist.Distribution = field(default_factory=lambda: dist.Gamma(1.0, 2.5))
    roas_level: dist.Distribution | None = None
    roas: dist.Distribution | None = None
    coef: dist.Distribution = field(default_factory=lambda: dist.HalfNormal(0.5))
    retention: dist.Distribution = field(default_factory=lambda: dist.Beta(2.0, 2.0))
    shape: dist.Distribution = field(default_factory=lambda: dist.LogNormal(0.0, 0.5))
    scale: dist.Distribution = field(default_factory=lambda: dist.LogNormal(0.7, 0.8))
    peak_delay: dist.Distribution = field(default_factory=lambda: dist.HalfNormal(3.0))
    half_saturation: dist.Distribution = field(default_factory=lambda: dist.LogNormal(0.0, 0.7))
    slope: dist.Distribution = field(
        default_factory=lambda: dist.TruncatedNormal(1.0, 1.5, low=1.0, high=10.0)
    )
    rate: dist.Distribution = field(default_factory=lambda: dist.LogNormal(0.0, 1.0))
    saturation_at_mean: dist.Distribution | None = None

    def __post_init__(self):
        if self.effect is not None:
            _as_enum(self, "effect", Effect)
        if self.effect is Effect.ROAS and self.roas is None:
            raise ValueError("effect=Effect.ROAS needs a roas prior")

    @property
    def effect_kind(self) -> Effect:
        """The effect parametrisation in use: ``effect``, else ROAS if ``roas`` is given."""
        if self.effect is not None:
            return self.effect
        return Effect.ROAS if self.roas is not None else Effect.RELATIVE_ROAS


@dataclass(frozen=True, kw_only=True)
class BaselinePriors:
    """Organic baseline priors (scaled revenue; time runs from 0 to 1 over the fit window)."""

    intercept: dist.Distribution = field(default_factory=lambda: dist.Normal(0.5, 0.5))
    trend: dist.Distribution = field(default_factory=lambda: dist.Normal(0.0, 0.5))
    changepoint: dist.Distribution = field(default_factory=lambda: dist.Laplace(0.0, 0.2))
    seasonality: dist.Distribution = field(default_factory=lambda: dist.Normal(0.0, 0.2))
    controls: dist.Distribution = field(default_factory=lambda: dist.Normal(0.0, 1.0))


@dataclass(frozen=True, kw_only=True)
class SynergyPriors:
    r"""Pairwise-interaction priors, :math:`z_{ij} \sim N(0, 1)` and a shared scale :math:`\tau`.

    With ``relative=True`` (default) a pair's interaction is a fraction of the
    geometric mean of the two channels' coefficients,

    .. math::
        \gamma_{ij} = \tau\, z_{ij} \sqrt{\beta_i \beta_j},

    so :math:`\tau` is dimensionless ("interactions are about :math:`\tau` of
    the main effects"), the same for two large channels as for two small ones.
    ``relative=False`` is the absolute form of earlier versions,
    :math:`\gamma_{ij} = \tau z_{ij}` in scaled-revenue units (configs saved
    before this field existed read back as absolute). Either way the site
    ``synergy/gamma`` holds :math:`\gamma_{ij}` in scaled-revenue units, and the
    shared scale shrinks every pair towards zero unless the data insist
    (non-centred).

    Why relative: in the absolute form an interaction can stand in for the
    main effects along a curved ridge; tying it to them straightens the
    ridge, and NUTS needs a fraction of the leapfrog steps (CHANGELOG.md has
    the measurements). The cost: the shrinkage is stronger for pairs of small
    channels.
    """

    scale: dist.Distribution = field(default_factory=lambda: dist.HalfNormal(0.1))
    relative: bool = True

    def __post_init__(self):
        if not isinstance(self.relative, bool):
            raise TypeError(f"relative must be a bool, got {self.relative!r}")


class GeoShapes(enum.Enum):
    """Whether adstock and saturation shapes are shared by every geo or sampled per geo.

    ``SHARED`` (default): one curve per channel, the same in every geo (spend is
    scaled by one national per-channel mean, so a half-saturation is the same
    amount of currency everywhere). ``PER_GEO``: each geo draws its own shape
    parameters from the same priors (no pooling of shapes; needs a lot of data
    per geo).
    """

    SHARED = "shared"
    PER_GEO = "per_geo"


class GeoSize(enum.Enum):
    """What sets each geo's size :math:`n_g` in :class:`GeoPooling` (mean one over geos).

    ``AUTO`` (default): the data's population when it has one
    (``from_frame(..., population=COLUMN)``, ``mmm-jax fit --population``),
    else the geo's mean revenue. ``POPULATION``: the population (an error
    without one). ``REVENUE``: the geo's mean revenue over the fit window
    divided by the mean over geos. ``EQUAL``: every geo size one (each geo's
    multipliers then carry its size themselves, as before geo sizes existed).

    Revenue needs no extra column and measures what the model scales (revenue
    and, through spend that follows it, media effects); it is the data's own
    summary, used only to centre each geo's effects and noise, which the
    multipliers and intercepts then adjust. A population, when given, is
    outside the revenue the model explains, and is what Meridian scales by.
    """

    AUTO = "auto"
    POPULATION = "population"
    REVENUE = "revenue"
    EQUAL = "equal"


@dataclass(frozen=True, kw_only=True)
class GeoPooling:
    r"""Per-geo media effects tied to geo size, partially pooled across geos.

    Geo :math:`g` has a **size** :math:`n_g` (mean one over geos; by default
    its population when the data have one, else its mean revenue:
    :class:`GeoSize`). Its baseline and media effects scale with it, and its
    media coefficients deviate from that by a log-normal multiplier pooled
    across geos:

    .. math::
        \beta_{gc} = \beta_c\, n_g\, e^{u_{gc} - \bar u_c}, \quad
        u_{gc} \sim N(0, \tau_c), \quad \tau_c \sim \text{media\_spread},

    :math:`\bar u_c` the mean over geos, so the deviations have geometric mean
    one and :math:`\beta_c` is the coefficient of a geo of size one. The
    baseline is :math:`n_g (\alpha_g + \text{trend}_t + \text{season}_t)` plus
    the controls (:func:`mmm_jax.models.terms.baseline_term`), linear in its
    coefficients, so fits integrate it out; the noise scale is
    :math:`\sigma n_g` with ``noise_by_size`` (the default), as when each
    geo's revenue is divided by its size, the scaling Meridian applies with
    population. The prior on ROAS stays a prior on the **national** ROAS: its
    normaliser sums :math:`\beta_{gc} S_c` over every geo and period.

    The site ``geo/media_offset`` is
    :math:`v_{gc} \sim N(0, \tau_c^{w_{gc}})` and
    :math:`u_{gc} = \tau_c^{1 - w_{gc}} v_{gc}`, so :math:`w = 1` is the
    centred form (best when a geo's own data pin its effect) and :math:`w = 0`
    the non-centred one (best when they say little); every form is the same
    model, only NUTS's geometry differs. By default (``centred=False``) every
    offset is non-centred: on beauty_geo_weekly's generator at G = 50 (two
    datasets) it gave 1.8x the minimum ESS of partial centring for 11-28%
    more leapfrog steps, and no divergences at G = 5 where partial centring
    had 2.4% (``benchmarks/scale.py --centring``; CHANGELOG.md has the
    figures, G = 10 and 25 included, where neither form always wins). With
    ``centred=None`` the offsets are **partially centred** per geo and
    channel (Papaspiliopoulos, Roberts and Sköld, 2007),
    :math:`w_{gc} = \hat\tau^2 / (\hat\tau^2 + s_{gc}^2)`, the weight
    that makes the offset's conditional spread independent of :math:`\tau` in
    a normal model, with :math:`s_{gc}` the standard error of geo
    :math:`g`'s own least-squares estimate of channel :math:`c`'s effect
    relative to the effect (:func:`mmm_jax.models.geo.geo_inputs`) and
    :math:`\hat\tau` the mean of ``media_spread``.

    Attributes:
      media_spread: Prior of :math:`\tau_c`, the log-scale sd of the per-geo
        deviations; batch shape ``()`` or ``(channel,)``.
      seasonality_spread: Prior of :math:`\omega`, the spread of a per-geo
        amplitude of the seasonal pattern, :math:`s_g = e^{\omega z_g -
        \omega^2/2}`; ``None`` (default) keeps one relative amplitude in
        every geo. Set, it makes the baseline non-linear, so it is sampled.
      shapes: Adstock and saturation shapes shared by every geo (default) or
        sampled per geo.
      centred: ``False`` (default) samples every offset non-centred
        (:math:`w = 0`), ``True`` centred (:math:`w = 1`); ``None`` centres
        each offset as far as its geo's own data pin it.
      size: What sets each geo's size (:class:`GeoSize`).
      noise_by_size: Noise scale :math:`\sigma n_g` in geo :math:`g` (revenue
        noise grows with the geo); ``False`` gives every geo the same
        :math:`\sigma`.
    """

    media_spread: dist.Distribution = field(default_factory=lambda: dist.HalfNormal(0.3))
    seasonality_spread: dist.Distribution | None = None
    shapes: GeoShapes = GeoShapes.SHARED
    centred: bool | None = False
    size: GeoSize = GeoSize.AUTO
    noise_by_size: bool = True

    def __post_init__(self):
        _as_enum(self, "shapes", GeoShapes)
        if self.centred is not None and not isinstance(self.centred, bool):
            raise TypeError(f"centred must be a bool or None, got {self.centred!r}")
        _as_enum(self, "size", GeoSize)
        if not isinstance(self.noise_by_size, bool):
            raise TypeError(f"noise_by_size must be a bool, got {self.noise_by_size!r}")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """What the model contains and its priors.

    Attributes:
      adstock: One kind for every channel, or a tuple with one per channel.
      saturation: One kind for every channel, or a tuple with one per channel.
      max_lag: Adstock window in periods; ``None`` picks 28 for daily data,
        8 for weekly and 3 otherwise.
      yearly_order: Fourier order of yearly seasonality (0 switches it off).
      weekly_order: Fourier order of weekly seasonality, used for daily data only.
      n_changepoints: Piecewise-linear trend knots (0 = straight line).
      likelihood: Normal or Student-t noise on the scaled target.
      media: Media priors.
      baseline: Baseline priors.
      synergy: Pairwise channel interactions; ``None`` switches them off.
      noise: Prior of the noise scale on the scaled target.
      nu: Prior of the Student-t degrees of freedom.
      geo_pooling: Per-geo media effects tied to geo size, partially pooled
        across geos (:class:`GeoPooling`). ``None`` (default) keeps one set of
        media effects for every geo, which is the national model when there
        is one geo; for a geo panel ``GeoPooling()`` is the recommended
        setting (each geo's baseline, effects and noise scaled by its size,
        shared curve shapes, per-geo deviations with a HalfNormal(0.3)
        log-scale spread). With one geo the pooled terms are left out, so
        ``GeoPooling()`` on national data is the national model.
    """

    adstock: Adstock | tuple[Adstock, ...] = Adstock.WEIBULL_PDF
    saturation: Saturation | tuple[Saturation, ...] = Saturation.HILL
    max_lag: int | None = None
    yearly_order: int = 3
    weekly_order: int = 3
    n_changepoints: int = 0
    likelihood: Likelihood = Likelihood.NORMAL
    media: MediaPriors = field(default_factory=MediaPriors)
    baseline: BaselinePriors = field(default_factory=BaselinePriors)
    synergy: SynergyPriors | None = None
    noise: dist.Distribution = field(default_factory=lambda: dist.HalfNormal(0.2))
    nu: dist.Distribution = field(default_factory=lambda: dist.Gamma(4.0, 0.2))
    geo_pooling: GeoPooling | None = None

    def __post_init__(self):
        _as_enum(self, "adstock", Adstock, tuples=True)
        _as_enum(self, "saturation", Saturation, tuples=True)
        if self.max_lag is not None and self.max_lag < 1:
            raise ValueError(f"max_lag must be >= 1 or None, got {self.max_lag}")
        for name in ("yearly_order", "weekly_order", "n_changepoints"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        _as_enum(self, "likelihood", Likelihood)
        if self.geo_pooling is not None and not isinstance(self.geo_pooling, GeoPooling):
            raise TypeError(f"geo_pooling must be a GeoPooling or None, got {self.geo_pooling!r}")

    def adstock_kinds(self, n_channel: int) -> tuple[Adstock, ...]:
        """The adstock kind of every channel."""
        return _per_channel(self.adstock, n_channel, "adstock")

    def saturation_kinds(self, n_channel: int) -> tuple[Saturation, ...]:
        """The saturation kind of every channel."""
        return _per_channel(self.saturation, n_channel, "saturation")

    def lag_window(self, periods_per_year: float) -> int:
        """The adstock window in periods for data with this many periods a year."""
        if self.max_lag is not None:
            return self.max_lag
        if periods_per_year > 300:
            return 28
        if periods_per_year > 40:
            return 8
        return 3


def _per_channel(kinds, n_channel: int, name: str) -> tuple:
    if not isinstance(kinds, tuple):
        return (kinds,) * n_channel
    if len(kinds) != n_channel:
        raise ValueError(f"{name} has {len(kinds)} kinds for {n_channel} channels")
    return kinds


def media_param_names(
    config: ModelConfig, n_channel: int
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Adstock and saturation parameter names used by at least one channel, in a fixed order."""
    ad = {p for k in config.adstock_kinds(n_channel) for p in ADSTOCK_PARAMS[k]}
    sat = {p for k in config.saturation_kinds(n_channel) for p in SATURATION_PARAMS[k]}
    if config.media.saturation_at_mean is not None:
        sat = (sat - {"half_saturation", "rate"}) | {"saturation_at_mean"}
    order = (
        "retention",
        "shape",
        "scale",
        "peak_delay",
        "half_saturation",
        "slope",
        "rate",
        "saturation_at_mean",
    )
    return tuple(p for p in order if p in ad), tuple(p for p in order if p in sat)


def check_config(config: ModelConfig, n_channel: int, n_control: int) -> None:
    """Checks per-channel kinds and prior batch shapes against the data's sizes.

    Raises:
      ValueError: A tuple of kinds of the wrong length or a prior whose batch
        shape is neither ``()`` nor the matching ``(channel,)``/``(control,)``.
    """
    config.adstock_kinds(n_channel)
    config.saturation_kinds(n_channel)
    for f in dataclasses.fields(MediaPriors):
        prior = getattr(config.media, f.name)
        if prior is not None and f.name != "effect":
            _check_batch(f"media.{f.name}", prior, None if f.name == "roas_level" else n_channel)
    for f in dataclasses.fields(BaselinePriors):
        prior = getattr(config.baseline, f.name)
        _check_batch(f"baseline.{f.name}", prior, n_control if f.name == "controls" else None)
    pooling = config.geo_pooling
    if pooling is not None:
        _check_batch("geo_pooling.media_spread", pooling.media_spread, n_channel)
        if pooling.seasonality_spread is not None:
            _check_batch("geo_pooling.seasonality_spread", pooling.seasonality_spread, None)


def _check_batch(name: str, prior: dist.Distribution, size: int | None) -> None:
    if not isinstance(prior, dist.Distribution):
        raise TypeError(f"{name} must be a numpyro Distribution, got {type(prior).__name__}")
    allowed = [()] if size is None else [(), (size,)]
    if tuple(prior.batch_shape) not in allowed:
        raise ValueError(
            f"prior {name} has batch shape {prior.batch_shape}, expected one of {allowed}"
        )


# ------------------------------------------------------------------ priors from experiments


def roas_prior(
    data: MMMData,
    known: Mapping[str, tuple[float, float]] | None = None,
    default: dist.Distribution | None = None,
) -> dist.Gamma:
    r"""A per-channel ROAS prior from known experiment results, for ``MediaPriors(roas=...)``.

    A known channel with mean ROAS :math:`r` (the data's revenue per unit of
    spend) and relative sd :math:`v` gets
    :math:`\mathrm{Gamma}(1/v^2,\; 1/(v^2 r))`, whose mean is :math:`r` and
    whose sd is :math:`v r`. The other channels keep the default relative-ROAS
    prior put in the data's units: :math:`\rho \sim \mathrm{Gamma}(a, b)`
    is :math:`\mathrm{ROAS} = \rho \bar R \sim \mathrm{Gamma}(a, b / \bar R)`,
    :math:`\bar R` the data's mean revenue per period over its mean total
    spend per period (:class:`mmm_jax.models.config.Effect`), so they are a priori
    what they would be without the experiments.

    Args:
      data: The data the model is fitted on (channels, revenue per spend).
      known: Channel -> ``(mean_roas, relative_sd)``, both > 0.
      default: A ``Gamma`` prior of the relative ROAS, batch shape ``()`` or
        ``(channel,)``, for the other channels; ``None`` takes the default of
        :class:`mmm_jax.models.MediaPriors`.

    Returns:
      ``Gamma`` with batch shape ``(channel,)``.

    Raises:
      ValueError: An unknown channel or a non-positive mean or sd.
      TypeError: ``default`` is not a ``Gamma``.
    """
    channels = list(data.channels)
    known = dict(known or {})
    if default is None:
        default = MediaPriors().relative_roas
    if not isinstance(default, dist.Gamma):
        raise TypeError(f"default must be a Gamma, got {type(default).__name__}")
    n = len(channels)
    # As the model has it: mean revenue per period / mean total spend per period.
    revenue_per_spend = float(data.scaler.target_scale / np.sum(data.scaler.media_scale))
    shape = np.broadcast_to(np.asarray(default.concentration, dtype=float), (n,)).copy()
    rate = np.broadcast_to(np.asarray(default.rate, dtype=float), (n,)) / revenue_per_spend
    for name, (mean, rel_sd) in known.items():
        if name not in channels:
            raise ValueError(f"roas_prior: unknown channel {name!r}; channels are {channels}")
        if not (mean > 0 and rel_sd > 0):
            raise ValueError(
                f"roas_prior: channel {name!r} needs mean > 0 and relative sd > 0, "
                f"got ({mean}, {rel_sd})"
            )
        c = channels.index(name)
        shape[c] = 1.0 / rel_sd**2
        rate[c] = shape[c] / mean
    return dist.Gamma(jnp.asarray(shape), jnp.asarray(rate))


# ------------------------------------------------------------------ JSON round trip


def _encode(value):
    if isinstance(value, dist.Distribution):
        return distribution_to_dict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(v) for v in value]
    if dataclasses.is_dataclass(value):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _check_fields(cls, spec: dict[str, Any], what: str) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(spec) - names)
    required = {
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    }
    missing = sorted(required - set(spec))
    if unknown or missing:
        raise ValueError(
            f"the saved {what} was written by another version of mmm_jax: "
            f"unknown fields {unknown}, missing fields {missing}; refit with this version"
        )


def _synergy_from_dict(spec: dict[str, Any]) -> SynergyPriors:
    _check_fields(SynergyPriors, spec, "synergy priors")
    return SynergyPriors(
        scale=distribution_from_dict(spec["scale"]),
        relative=bool(spec.get("relative", False)),  # absent in files of the absolute form
    )


def config_to_dict(config: ModelConfig) -> dict[str, Any]:
    """A JSON-safe dict of the whole configuration (``json.dumps`` works on it)."""
    out = _encode(config)
    json.dumps(out)  # fail here, not when writing a file
    return out


def config_from_dict(spec: dict[str, Any]) -> ModelConfig:
    """Rebuilds a :class:`ModelConfig` written by :func:`config_to_dict`.

    Raises:
      ValueError: The dict names fields this version of mmm_jax does not have,
        or lacks fields it needs (it was written by another version).
    """
    _check_fields(ModelConfig, spec, "model config")
    _check_fields(MediaPriors, spec.get("media", {}), "media priors")
    _check_fields(BaselinePriors, spec.get("baseline", {}), "baseline priors")
    pooling = spec.get("geo_pooling")
    if pooling is not None:
        _check_fields(GeoPooling, pooling, "geo pooling")
        if "size" not in pooling:
            raise ValueError(
                "the saved geo pooling was written by an earlier version of mmm_jax, whose "
                "geo model had no geo sizes (its parameters mean other things); "
                "refit with this version"
            )

    def kinds(value, enum_type):
        if isinstance(value, list):
            return tuple(enum_type(v) for v in value)
        return enum_type(value)

    def priors(cls, value):
        return cls(
            **{k: None if v is None else distribution_from_dict(v) for k, v in value.items()}
        )

    def media_priors(value):
        value = dict(value)
        effect = value.pop("effect", "absent")
        if effect == "absent":  # written before the relative ROAS: roas or coef
            effect = Effect.ROAS.value if value.get("roas") is not None else Effect.COEF.value
        out = priors(MediaPriors, value)
        return dataclasses.replace(out, effect=None if effect is None else Effect(effect))

    return ModelConfig(
        adstock=kinds(spec["adstock"], Adstock),
        saturation=kinds(spec["saturation"], Saturation),
        max_lag=spec["max_lag"],
        yearly_order=spec["yearly_order"],
        weekly_order=spec["weekly_order"],
        n_changepoints=spec["n_changepoints"],
        likelihood=Likelihood(spec["likelihood"]),
        media=media_priors(spec["media"]),
        baseline=priors(BaselinePriors, spec["baseline"]),
        synergy=None if spec["synergy"] is None else _synergy_from_dict(spec["synergy"]),
        noise=distribution_from_dict(spec["noise"]),
        nu=distribution_from_dict(spec["nu"]),
        geo_pooling=None
        if pooling is None
        else GeoPooling(
            media_spread=distribution_from_dict(pooling["media_spread"]),
            seasonality_spread=None
            if pooling["seasonality_spread"] is None
            else distribution_from_dict(pooling["seasonality_spread"]),
            shapes=GeoShapes(pooling["shapes"]),
            centred=None if pooling["centred"] is None else bool(pooling["centred"]),
            size=GeoSize(pooling["size"]),
            noise_by_size=bool(pooling["noise_by_size"]),
        ),
    )


# ------------------------------------------------------------------ a config written by hand


def _field_names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _spec_distribution(value: Any, path: str, *, optional: bool = False):
    """A distribution from its JSON description, every error naming ``path``."""
    if value is None:
        if optional:
            return None
        raise ValueError(f"{path}: a distribution is needed here, got null")
    if not isinstance(value, Mapping):
        raise ValueError(
            f'{path}: must be a distribution such as {{"dist": "Gamma", "params": '
            f'{{"concentration": 2, "rate": 1}}}}, got {value!r}'
        )
    kind = value.get("dist")
    if kind in ("Expanded", "Truncated"):
        if "base" not in value:
            raise ValueError(f"{path}: a {kind} distribution needs a 'base' distribution")
        _spec_distribution(value["base"], f"{path}.base")
    else:
        cls = getattr(dist, kind, None) if isinstance(kind, str) else None
        if cls is None or not isinstance(cls, type) or not issubclass(cls, dist.Distribution):
            raise ValueError(f"{path}: unknown distribution {kind!r} (a numpyro distribution name)")
        params = value.get("params")
        if not isinstance(params, Mapping):
            raise ValueError(f"{path}: 'params' must be an object of {kind}'s arguments")
        try:  # once with checks, so a negative scale is refused here and named
            cls(**{k: np.asarray(v, dtype=float) for k, v in params.items()}, validate_args=True)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {kind}{dict(params)} is not valid: {err}") from None
    try:
        return distribution_from_dict(dict(value))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: not a valid distribution ({err})") from None


def _spec_enum(value: Any, enum_type: type[enum.Enum], path: str, *, tuples: bool = False):
    if tuples and isinstance(value, list):
        return tuple(_spec_enum(v, enum_type, f"{path}[{i}]") for i, v in enumerate(value))
    try:
        return enum_member(enum_type, value, f"{path}:")
    except TypeError as err:  # a JSON number or list where a name belongs
        raise ValueError(str(err)) from None


def _spec_int(value: Any, path: str, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{path}: must be a whole number{' or null' if nullable else ''}, got {value!r}"
        )
    return value


def _spec_object(value: Any, cls, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: must be an object of {cls.__name__} fields, got {value!r}")
    unknown = sorted(set(value) - set(_field_names(cls)))
    if unknown:
        raise ValueError(
            f"{path}.{unknown[0]}: unknown field of {cls.__name__}; fields are "
            f"{', '.join(_field_names(cls))}"
        )
    return dict(value)


def _spec_flag(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{path}: must be true or false, got {value!r}")
    return value


def update_config(config: ModelConfig, spec: Mapping[str, Any]) -> ModelConfig:
    r"""``config`` with the fields a (partial) JSON dict gives replaced, each one checked.

    ``spec`` has the form :func:`config_to_dict` writes, and may name only the
    fields to change (a prior written by hand, or a whole saved config)::

        {"media": {"relative_roas": {"dist": "Gamma",
                                     "params": {"concentration": 2, "rate": 4}}},
         "adstock": "geometric", "max_lag": 6}

    Priors are ``{"dist": NAME, "params": {...}}`` (a numpyro distribution and
    its arguments; a list gives one value per channel), or
    ``{"dist": "Truncated", "base": ..., "low": ..., "high": ...}``. Batch
    shapes are checked against the data when the model is built
    (:func:`check_config`).

    Args:
      config: The configuration the fields not in ``spec`` come from.
      spec: The fields to replace; nested objects (``media``, ``baseline``,
        ``synergy``, ``geo_pooling``) replace only the fields they name.

    Returns:
      The new `ModelConfig`.

    Raises:
      ValueError: An unknown field, a value of the wrong kind, an unknown
        distribution or invalid parameters; the message starts with the
        field's dotted path (``media.relative_roas: ...``).
    """
    spec = _spec_object(spec, ModelConfig, "config")
    changes: dict[str, Any] = {}
    for name, value in spec.items():
        if name in ("adstock", "saturation"):
            kind = Adstock if name == "adstock" else Saturation
            changes[name] = _spec_enum(value, kind, name, tuples=True)
        elif name == "max_lag":
            changes[name] = _spec_int(value, name, nullable=True)
        elif name in ("yearly_order", "weekly_order", "n_changepoints"):
            changes[name] = _spec_int(value, name)
        elif name == "likelihood":
            changes[name] = _spec_enum(value, Likelihood, name)
        elif name in ("noise", "nu"):
            changes[name] = _spec_distribution(value, name)
        elif name == "media":
            media = {}
            for key, v in _spec_object(value, MediaPriors, "media").items():
                if key == "effect":
                    media[key] = None if v is None else _spec_enum(v, Effect, "media.effect")
                else:
                    optional = key in ("roas_level", "roas", "saturation_at_mean")
                    media[key] = _spec_distribution(v, f"media.{key}", optional=optional)
            changes[name] = _replace(config.media, media, "media")
        elif name == "baseline":
            base = {
                key: _spec_distribution(v, f"baseline.{key}")
                for key, v in _spec_object(value, BaselinePriors, "baseline").items()
            }
            changes[name] = _replace(config.baseline, base, "baseline")
        elif name == "synergy":
            if value is None:
                changes[name] = None
                continue
            syn = {}
            for key, v in _spec_object(value, SynergyPriors, "synergy").items():
                syn[key] = (
                    _spec_flag(v, "synergy.relative")
                    if key == "relative"
                    else _spec_distribution(v, f"synergy.{key}")
                )
            changes[name] = _replace(config.synergy or SynergyPriors(), syn, "synergy")
        elif name == "geo_pooling":
            if value is None:
                changes[name] = None
                continue
            pool = {}
            for key, v in _spec_object(value, GeoPooling, "geo_pooling").items():
                path = f"geo_pooling.{key}"
                if key == "shapes":
                    pool[key] = _spec_enum(v, GeoShapes, path)
                elif key == "centred":
                    pool[key] = _spec_flag(v, path)
                else:
                    optional = key == "seasonality_spread"
                    pool[key] = _spec_distribution(v, path, optional=optional)
            changes[name] = _replace(config.geo_pooling or GeoPooling(), pool, "geo_pooling")
    return _replace(config, changes, "config")


def _replace(obj, changes: dict[str, Any], path: str):
    """``dataclasses.replace`` whose errors (from ``__post_init__``) name ``path``."""
    try:
        return dataclasses.replace(obj, **changes)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
