"""Fitting a model, and writing a fitted run: the ``mmm-jax fit`` workflow as library calls.

`prepare_fit` reads what a fit needs from a front end's values (a CSV path,
column names, a lift-test file, `model_config`'s settings) and checks them
before any fit starts; it raises `ValueError` with messages that name each
argument as the caller asks (``names``: ``mmm-jax`` passes its flags).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import jax

from mmm_jax._enums import member as enum_member
from mmm_jax.data import MMMData
from mmm_jax.models import Adstock, GeoPooling, ModelConfig, Saturation, SynergyPriors
from mmm_jax.models.config import Likelihood

if TYPE_CHECKING:
    from mmm_jax.calibration import LiftSpread, LiftTests
    from mmm_jax.inference import Fit
    from mmm_jax.run_folder import StagedRun

__all__ = [
    "GEO_POOLING_CENTRING",
    "METHODS",
    "FitInputs",
    "check_holdout",
    "fit",
    "fit_run",
    "load_prior_config",
    "model_config",
    "parse_roas_prior",
    "prepare_fit",
    "resolve_target",
    "roas_prior_config",
]

#: Inference methods `fit` knows, by name.
METHODS: tuple[str, ...] = ("nuts", "svi", "map")

#: `model_config`'s ``geo_pooling`` forms -> ``GeoPooling(centred=...)``; ``"none"``
#: (not listed) fits one media effect shared by every geo. ``mmm-jax``'s parser
#: writes the same names out, so that parsing imports no JAX.
GEO_POOLING_CENTRING: dict[str, bool | None] = {"auto": None, "centred": True, "noncentred": False}


def _naming(names: Callable[[str], str] | None) -> Callable[[str], str]:
    """How messages name an argument: by ``names(parameter)``, else by the parameter itself."""
    return names if names is not None else (lambda parameter: parameter)


def fit(
    data: MMMData,
    config: ModelConfig | None = None,
    *,
    method: str = "nuts",
    seed: int = 0,
    lift_tests: LiftTests | None = None,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    num_steps: int = 10_000,
    guide: str = "auto_mvn",
    target_accept: float | None = None,
    progress_bar: bool = False,
) -> Fit:
    """Fits the model with NUTS, SVI or MAP (`mmm_jax.inference`), from a seed.

    Args:
      data: The data (`mmm_jax.data.load_csv`).
      config: The model (default ``ModelConfig()``).
      method: ``"nuts"``, ``"svi"`` or ``"map"``.
      seed: Seed of the PRNG key, 0 to 2**32 - 1.
      lift_tests: Lift tests to calibrate with.
      num_warmup: NUTS warmup steps per chain.
      num_samples: NUTS draws kept per chain.
      num_chains: NUTS chains.
      num_steps: SVI or MAP optimisation steps.
      guide: SVI guide by name (a `mmm_jax.inference.svi.Guide` value).
      target_accept: NUTS's target acceptance probability in (0, 1)
        (``None``: `mmm_jax.inference.fit_nuts`'s default); a NUTS setting only.
      progress_bar: Show progress bars (they keep JAX from caching the
        compiled sampler; see `mmm_jax.enable_compilation_cache`).

    Returns:
      The `mmm_jax.inference.Fit`.

    Raises:
      ValueError: An unknown method, ``target_accept`` with SVI or MAP, or
        data or settings the fit refuses.
    """
    from mmm_jax import inference  # looked up per call, so tests can stand in for a fit

    config = ModelConfig() if config is None else config
    common = dict(key=jax.random.PRNGKey(seed), progress_bar=progress_bar, lift_tests=lift_tests)
    if target_accept is not None and method != "nuts":
        raise ValueError(f"target_accept is a NUTS setting; method {method!r} has none")
    if method == "nuts":
        nuts = {} if target_accept is None else {"target_accept": target_accept}
        return inference.fit_nuts(
            data,
            config,
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            **nuts,
            **common,
        )
    if method == "svi":
        return inference.fit_svi(data, config, num_steps=num_steps, guide=guide, **common)
    if method == "map":
        return inference.fit_map(data, config, num_steps=num_steps, **common)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")


def parse_roas_prior(text: str, channels: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Reads a ROAS prior given as text: ``MEAN,SD`` for every channel, or per channel.

    ``"2,1"`` gives every channel mean 2 and sd 1; ``"meta=1.5,0.5;google=3,2"``
    gives those channels theirs (the others keep the default prior). Means
    and sds are in the data's revenue per unit of spend.

    Args:
      text: The prior, as above.
      channels: The data's channel names.

    Returns:
      Channel -> ``(mean, sd)``, both > 0.

    Raises:
      ValueError: Text of another form, a non-positive or non-finite number,
        an unknown or repeated channel.
    """
    form = "MEAN,SD or CHANNEL=MEAN,SD;CHANNEL=MEAN,SD"

    def moments(part: str, where: str) -> tuple[float, float]:
        try:
            mean, sd = (float(v) for v in part.split(","))
        except ValueError:
            raise ValueError(f"{where}: expected {form}, got {part!r}") from None
        if not (math.isfinite(mean) and math.isfinite(sd) and mean > 0 and sd > 0):
            raise ValueError(f"{where}: mean and sd must be finite and > 0, got {mean}, {sd}")
        return mean, sd

    text = text.strip()
    if "=" not in text:
        both = moments(text, "roas prior")
        return {c: both for c in channels}
    out: dict[str, tuple[float, float]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        name, _, rest = part.partition("=")
        name = name.strip()
        if name not in channels:
            raise ValueError(
                f"roas prior: unknown channel {name!r}; channels are {', '.join(channels)}"
            )
        if name in out:
            raise ValueError(f"roas prior: channel {name!r} is given twice")
        out[name] = moments(rest, f"roas prior for {name}")
    return out


def roas_prior_config(
    data: MMMData, config: ModelConfig, known: dict[str, tuple[float, float]]
) -> ModelConfig:
    r"""``config`` with a ROAS prior on the channels of ``known`` (`Effect.ROAS`).

    A channel with mean :math:`m` and sd :math:`s` gets
    :math:`\mathrm{Gamma}(m^2/s^2,\; m/s^2)`, whose mean is :math:`m` and
    sd :math:`s` (`mmm_jax.models.roas_prior`); the other channels keep
    ``config``'s relative-ROAS prior put in the data's units, so they are a
    priori what they were.

    Args:
      data: The data (channels, revenue per unit of spend).
      config: The configuration; its ``media.relative_roas`` must be a Gamma.
      known: Channel -> ``(mean, sd)`` of the ROAS in the data's revenue per
        unit of spend (`parse_roas_prior`).

    Returns:
      The configuration with ``media.effect = Effect.ROAS`` and the prior.

    Raises:
      ValueError: An unknown channel, a non-positive moment, or a
        relative-ROAS prior that is not a Gamma.
    """
    from mmm_jax.models import roas_prior
    from mmm_jax.models.config import Effect

    try:
        prior = roas_prior(
            data, {c: (m, s / m) for c, (m, s) in known.items()}, config.media.relative_roas
        )
    except TypeError as err:
        raise ValueError(f"roas prior: the other channels' {err}") from None
    media = dataclasses.replace(config.media, effect=Effect.ROAS, roas=prior)
    return dataclasses.replace(config, media=media)


def load_prior_config(path: str | os.PathLike, base: ModelConfig | None = None) -> ModelConfig:
    """A configuration from a JSON file of `mmm_jax.models.config.update_config`'s form.

    Args:
      path: The file: a JSON object naming the fields to change (a whole
        saved config, ``config_to_dict``'s output, works too).
      base: Where the other fields come from (default ``ModelConfig()``).

    Returns:
      The configuration.

    Raises:
      ValueError: No such file, not JSON, or a bad field (named, with the file).
    """
    from mmm_jax.models.config import update_config

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no prior config file at {path}")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not valid JSON ({err})") from None
    try:
        return update_config(ModelConfig() if base is None else base, spec)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None


def check_holdout(data: MMMData, config: ModelConfig | None, frac: float) -> int:
    """Checks that a hold-out refit on the first ``1 - frac`` of the periods can run.

    Cheap (no fit): the training window must be long enough and scalable on
    its own (a channel with no spend in it cannot be).

    Args:
      data: The full data.
      config: The model (default ``ModelConfig()``).
      frac: Share of periods held out at the end, in (0, 1).

    Returns:
      The number of held-out periods.

    Raises:
      ValueError: What would stop the refit (`DataValidationError` included).
    """
    from mmm_jax.diagnostics.validation import holdout_periods
    from mmm_jax.models import build_inputs

    n_hold = holdout_periods(data.n_time, frac)
    train = data.time_slice(0, data.n_time - n_hold, rescale=True)
    build_inputs(train, ModelConfig() if config is None else config)
    return n_hold


def model_config(
    *,
    prior_config: str | os.PathLike | None = None,
    adstock: Adstock | str | None = None,
    saturation: Saturation | str | None = None,
    max_lag: int | None = None,
    likelihood: Likelihood | str | None = None,
    synergy: bool = False,
    geo_pooling: GeoPooling | str | None = None,
    roas_prior: str | None = None,
    data: MMMData | None = None,
    names: Callable[[str], str] | None = None,
) -> ModelConfig:
    """The model ``mmm-jax fit``'s settings ask for.

    ``prior_config`` (if given) is the base, else ``ModelConfig()``; each
    other setting given replaces its field; the ROAS prior (which needs
    ``data``: its channels and units) comes last. Unlike ``ModelConfig()``,
    geo pooling is on by default: ``geo_pooling=None`` keeps the prior-config
    file's, or without a file is ``GeoPooling()`` (which leaves a single
    series alone, so a national model is unchanged).

    Args:
      prior_config: JSON file of settings and priors to change (`load_prior_config`).
      adstock: Carryover kernel: an `Adstock` or its value (``"geometric"``, ...).
      saturation: Response curve: a `Saturation` or its value.
      max_lag: Adstock window.
      likelihood: Noise of the target: a `Likelihood` or its value.
      synergy: Add pairwise channel interactions (with the base's priors, if it has them).
      geo_pooling: A `GeoPooling`, one of its forms ``"auto"``, ``"centred"``
        or ``"noncentred"`` (`GEO_POOLING_CENTRING`), or ``"none"``: one
        media effect shared by every geo.
      roas_prior: The channels' ROAS prior as text (`parse_roas_prior`); needs ``data``.
      data: The data, for ``roas_prior``.
      names: How messages name each argument, from its parameter name
        (default: the parameter name itself); ``mmm-jax`` passes its flags.

    Returns:
      The configuration.

    Raises:
      ValueError: A bad prior-config file, an unknown choice, a bad ROAS
        prior or one without ``data``, or settings `ModelConfig` refuses.
    """
    name = _naming(names)
    config = ModelConfig()
    if prior_config:
        try:
            config = load_prior_config(prior_config)
        except ValueError as err:
            raise ValueError(f"{name('prior_config')} {err}") from None
    changes: dict[str, Any] = {}
    if adstock is not None:
        changes["adstock"] = enum_member(Adstock, adstock, name("adstock"))
    if saturation is not None:
        changes["saturation"] = enum_member(Saturation, saturation, name("saturation"))
    if max_lag is not None:
        changes["max_lag"] = max_lag
    if likelihood is not None:
        changes["likelihood"] = enum_member(Likelihood, likelihood, name("likelihood"))
    if synergy:
        changes["synergy"] = config.synergy or SynergyPriors()
    if geo_pooling is None and not prior_config:
        geo_pooling = GeoPooling()  # with one geo it leaves its terms out: the national model
    if isinstance(geo_pooling, GeoPooling) or geo_pooling == "none":
        changes["geo_pooling"] = None if geo_pooling == "none" else geo_pooling
    elif geo_pooling is not None:
        if geo_pooling not in GEO_POOLING_CENTRING:
            forms = ", ".join([*GEO_POOLING_CENTRING, "none"])
            raise ValueError(f"{name('geo_pooling')} must be one of {forms}, got {geo_pooling!r}")
        changes["geo_pooling"] = GeoPooling(centred=GEO_POOLING_CENTRING[geo_pooling])
    config = dataclasses.replace(config, **changes)
    if roas_prior:
        if data is None:
            raise ValueError(f"{name('roas_prior')} needs the data: its channels and units")
        try:
            config = roas_prior_config(data, config, parse_roas_prior(roas_prior, data.channels))
        except ValueError as err:
            raise ValueError(f"{name('roas_prior')}: {err}") from None
    return config


def resolve_target(
    *,
    target: str | None = None,
    kpi: str | None = None,
    revenue_per_kpi: float | str | None = None,
    names: Callable[[str], str] | None = None,
) -> tuple[str, float | str | None]:
    """The column to fit and the revenue per unit of it: a target, or a KPI and its value.

    Either ``target`` (default ``"revenue"``) is fitted as it is, or ``kpi``
    with ``revenue_per_kpi``: the model is then fitted to the KPI's revenue,
    so ROAS is in currency (`mmm_jax.data.load_csv`'s ``revenue_per_kpi``).

    Args:
      target: Column the model explains, in currency.
      kpi: A KPI column (conversions, say) to fit as revenue instead.
      revenue_per_kpi: Revenue one unit of the KPI brings: a number, or the
        name of a column holding it per period (text that reads as a number
        is the number).
      names: How messages name each argument (as `model_config`).

    Returns:
      ``(column, revenue_per_kpi)``: ``revenue_per_kpi`` is ``None`` for a
      target, else a number or a column name.

    Raises:
      ValueError: ``revenue_per_kpi`` without ``kpi``, ``kpi`` with
        ``target``, or ``kpi`` without ``revenue_per_kpi``.
    """
    name = _naming(names)
    if kpi is None:
        if revenue_per_kpi is not None:
            raise ValueError(
                f"{name('revenue_per_kpi')} needs {name('kpi')}, the KPI column it values"
            )
        return target or "revenue", None
    if target is not None:
        raise ValueError(
            f"{name('kpi')} and {name('target')} both name the column to fit; give one "
            f"({name('kpi')} with {name('revenue_per_kpi')} fits the KPI's revenue)"
        )
    if revenue_per_kpi is None:
        raise ValueError(
            f"{name('kpi')} needs {name('revenue_per_kpi')} (a value or a column), so that ROAS "
            "is in currency; to fit the KPI itself (effects in KPI per unit of spend) name it "
            f"with {name('target')}"
        )
    try:
        value: float | str = float(revenue_per_kpi)
    except ValueError:
        value = str(revenue_per_kpi)  # a column
    return kpi, value


class FitInputs(NamedTuple):
    """What `fit_run` takes, read and checked by `prepare_fit`.

    Attributes:
      data: The validated data.
      config: The model.
      lift_tests: The lift tests to calibrate with, or ``None``.
    """

    data: MMMData
    config: ModelConfig
    lift_tests: LiftTests | None


def prepare_fit(
    path: str | os.PathLike,
    *,
    date: str = "date",
    target: str | None = None,
    kpi: str | None = None,
    revenue_per_kpi: float | str | None = None,
    channels: Sequence[str] | None = None,
    controls: Sequence[str] = (),
    geo: str | None = None,
    spend_prefix: str = "spend_",
    population: str | None = None,
    lift_tests: str | os.PathLike | None = None,
    lift_market_share: float | None = None,
    lift_spread: LiftSpread | str = "proportional",
    config: ModelConfig | Callable[[MMMData], ModelConfig] | None = None,
    method: str = "nuts",
    target_accept: float | None = None,
    holdout: float | None = None,
    names: Callable[[str], str] | None = None,
) -> FitInputs:
    """Reads and checks what a fit needs, before any fit starts: ``mmm-jax fit``'s inputs.

    In order: the sampler settings, the data (`resolve_target`,
    `mmm_jax.data.load_csv`), the model, the lift tests
    (`mmm_jax.calibration.load_lift_csv`) and the hold-out refit
    (`check_holdout`), so a setting that would stop `fit_run` half-way, as
    a hold-out the data cannot give, is refused before the main fit::

        data, config, lift = prepare_fit("data.csv", lift_tests="lift.csv")
        with RunFolder("runs/x").replace() as stage:
            fit_run(stage, data, config, lift_tests=lift)

    Args:
      path: The data's CSV file.
      date: Column of period start dates.
      target: Column to fit (see `resolve_target`).
      kpi: KPI column to fit as revenue (see `resolve_target`).
      revenue_per_kpi: Revenue per unit of ``kpi``: a number or a column.
      channels: Channel names or spend columns (default: every column
        starting with ``spend_prefix``).
      controls: Control columns.
      geo: Geo column, for panel data.
      spend_prefix: Spend columns start with it.
      population: Column with each geo's size.
      lift_tests: CSV file of lift tests.
      lift_market_share: Market share of the tests' regions, for rows without one.
      lift_spread: How a test's spend is spread over its window
        (a `mmm_jax.calibration.LiftSpread` or its value).
      config: The model, or a function making it from the loaded data
        (``lambda d: model_config(roas_prior="2,1", data=d)``; a ROAS prior
        needs the data's units); default ``ModelConfig()``.
      method: The inference method the fit will use.
      target_accept: NUTS's target acceptance probability (NUTS only).
      holdout: Share of periods the fit will hold out, in (0, 1), or ``None``.
      names: How messages name each argument (as `model_config`).

    Returns:
      ``FitInputs(data, config, lift_tests)``.

    Raises:
      ValueError: ``target_accept`` with another method than NUTS, an empty
        ``spend_prefix`` without ``channels``, data, lift tests or settings
        the library refuses (`DataValidationError` included), ``holdout``
        with lift tests, or a hold-out the data cannot give.
      FileNotFoundError: No file at ``path``.
    """
    from mmm_jax.calibration import LiftSpread, load_lift_csv
    from mmm_jax.data import load_csv

    name = _naming(names)
    if target_accept is not None and method != "nuts":
        raise ValueError(
            f"{name('target_accept')} is a NUTS setting; {name('method')} {method} has none"
        )
    if not spend_prefix and not channels:
        raise ValueError(
            f"{name('spend_prefix')} is empty: name the spend columns with {name('channels')}"
        )
    column, value = resolve_target(
        target=target, kpi=kpi, revenue_per_kpi=revenue_per_kpi, names=names
    )
    data = load_csv(
        path,
        date=date,
        target=column,
        channels=None if channels is None else list(channels),
        controls=tuple(controls),
        geo=geo,
        spend_prefix=spend_prefix,
        revenue_per_kpi=value,
        population=population,
    )
    if config is None:
        config = ModelConfig()
    elif callable(config):
        config = config(data)
    lift = None
    if lift_tests:
        if not Path(lift_tests).is_file():
            raise ValueError(f"no lift-test file at {lift_tests}")
        spread = enum_member(LiftSpread, lift_spread, name("lift_spread"))
        lift = load_lift_csv(lift_tests, data, market_share=lift_market_share, spread=spread)
    if holdout is not None:
        if lift is not None:
            raise ValueError(
                f"{name('holdout')} with {name('lift_tests')} is not supported: the lift tests "
                "are not split with the periods; fit without one of them"
            )
        try:  # refuse what would stop the refit before spending the main fit, not after it
            check_holdout(data, config, holdout)
        except ValueError as err:  # DataValidationError included
            raise ValueError(f"{name('holdout')} {holdout}: {err}") from None
    return FitInputs(data, config, lift)


def fit_run(
    stage: StagedRun,
    data: MMMData,
    config: ModelConfig | None = None,
    *,
    seed: int = 0,
    lift_tests: LiftTests | None = None,
    holdout: float | None = None,
    log: Callable[[str], Any] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Fits and writes a run: ``fit.npz``, ``summary.json`` (and ``fit_holdout.npz``).

    The summary is read off the fit's `mmm_jax.diagnostics.Analysis` and
    carries the model review's verdicts; with ``holdout`` a second fit on
    the first ``1 - holdout`` of the periods forecasts the rest, scored under
    the summary's ``fit.holdout``. Use it inside `RunFolder.replace`, so a
    failure leaves an earlier run in place::

        with RunFolder("runs/beauty").replace() as stage:
            summary = fit_run(stage, data, config, method="svi", holdout=0.1)

    Args:
      stage: The run being written.
      data: The data.
      config: The model (default ``ModelConfig()``).
      seed: Seed of both fits; the hold-out forecast's draws use a key derived from it.
      lift_tests: Lift tests to calibrate with (not with ``holdout``: the
        tests are not split with the periods).
      holdout: Share of periods to hold out, in (0, 1), or ``None``.
      log: Called with a line of progress (the hold-out refit), e.g. ``print``.
      **options: Settings of `fit` (``method``, ``num_samples``, ...).

    Returns:
      The ``summary.json`` dict with its ``review`` (the file adds ``provenance``).

    Raises:
      ValueError: ``holdout`` with ``lift_tests``, or a hold-out the data cannot give.
    """
    from mmm_jax.diagnostics import analyse, review, summarize
    from mmm_jax.diagnostics.review import add_review
    from mmm_jax.diagnostics.validation import holdout_metrics

    config = ModelConfig() if config is None else config
    if holdout is not None:
        if lift_tests is not None:
            raise ValueError(
                "a hold-out refit with lift tests is not supported: the lift tests are not "
                "split with the periods"
            )
        n_hold = check_holdout(data, config, holdout)
    fitted = fit(data, config, seed=seed, lift_tests=lift_tests, **options)
    stage.save_fit(fitted)
    analysis = analyse(fitted)
    summary = summarize(analysis)
    if holdout is not None:
        if log is not None:
            log(
                f"hold-out: refitting on the first {data.n_time - n_hold} periods "
                f"to forecast the last {n_hold}"
            )
        check = holdout_metrics(
            data,
            lambda d: fit(d, config, seed=seed, **options),
            frac=holdout,
            key=jax.random.fold_in(jax.random.PRNGKey(seed), 1),
            return_fit=True,
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
    summary = add_review(summary, review(fitted, summary=summary, analysis=analysis))
    stage.write_summary(summary)
    return summary
