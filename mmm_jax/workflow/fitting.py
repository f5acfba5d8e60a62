"""Fitting a model, and writing a fitted run: the ``mmm-jax fit`` workflow as library calls."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax

from mmm_jax.data import MMMData
from mmm_jax.models import ModelConfig

if TYPE_CHECKING:
    from mmm_jax.calibration import LiftTests
    from mmm_jax.inference import Fit
    from mmm_jax.run_folder import StagedRun

__all__ = [
    "METHODS",
    "check_holdout",
    "fit",
    "fit_run",
    "load_prior_config",
    "parse_roas_prior",
    "roas_prior_config",
]

#: Inference methods `fit` knows, by name.
METHODS: tuple[str, ...] = ("nuts", "svi", "map")


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
      guide: SVI guide (`mmm_jax.inference.Guide` value).
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
    from mmm_jax.models import Effect, roas_prior

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
