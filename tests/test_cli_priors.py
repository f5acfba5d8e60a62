"""``mmm-jax fit``'s prior and sampler flags: --roas-prior, --prior-config, --target-accept.

No test here fits a model: a stand-in for NUTS records what the command line
hands it, and bad flags must end in one ``error:`` line with exit status 2
before any fit starts.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import numpyro.distributions as dist

from mmm_jax import inference
from mmm_jax._cli_parser import build_parser
from mmm_jax.cli import _model_config, main
from mmm_jax.data import load_csv
from mmm_jax.diagnostics.review import revenue_per_spend
from mmm_jax.models import Adstock, GeoPooling, ModelConfig, Saturation
from mmm_jax.models.config import Effect, Likelihood, config_to_dict, update_config
from mmm_jax.workflow.fitting import parse_roas_prior

DATA = Path(__file__).resolve().parent / "public_style" / "meridian_national.csv"
CHANNELS = ["Channel0_spend", "Channel1_spend", "Channel2_spend"]
BASE = [str(DATA), "--date", "time", "--target", "conversions", "--channels", ",".join(CHANNELS)]


@pytest.fixture(scope="module")
def data():
    return load_csv(DATA, date="time", target="conversions", channels=CHANNELS)


def _args(*flags: str):
    return build_parser().parse_args(["fit", *BASE, "--out", "unused", *flags])


# ------------------------------------------------------------------ --roas-prior
def test_parse_roas_prior_for_all_and_for_some_channels():
    assert parse_roas_prior("2,1", CHANNELS) == {c: (2.0, 1.0) for c in CHANNELS}
    some = parse_roas_prior(" Channel0_spend=1.5,0.5; Channel2_spend=3,2;", CHANNELS)
    assert some == {"Channel0_spend": (1.5, 0.5), "Channel2_spend": (3.0, 2.0)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2", "expected MEAN,SD"),
        ("2,1,3", "expected MEAN,SD"),
        ("-1,1", "must be finite and > 0"),
        ("2,nan", "must be finite and > 0"),
        ("tv=2,1", "unknown channel 'tv'"),
        ("Channel0_spend=2,1;Channel0_spend=3,1", "given twice"),
    ],
)
def test_parse_roas_prior_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        parse_roas_prior(text, CHANNELS)


def test_roas_prior_flag_is_a_gamma_of_that_mean_and_sd(data):
    config = _model_config(_args("--roas-prior", "2,0.5"), data)
    prior = config.media.roas
    assert config.media.effect_kind is Effect.ROAS and isinstance(prior, dist.Gamma)
    np.testing.assert_allclose(prior.mean, [2.0] * 3, rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(prior.variance), [0.5] * 3, rtol=1e-6)


def test_roas_prior_for_one_channel_keeps_the_default_for_the_others(data):
    config = _model_config(_args("--roas-prior", "Channel1_spend=3,1"), data)
    mean, sd = np.asarray(config.media.roas.mean), np.sqrt(config.media.roas.variance)
    np.testing.assert_allclose([mean[1], sd[1]], [3.0, 1.0], rtol=1e-6)
    # Gamma(1, 2.5) on the relative ROAS, in the data's revenue per unit of spend
    unit = revenue_per_spend(data)
    np.testing.assert_allclose(mean[[0, 2]], 0.4 * unit, rtol=1e-5)
    np.testing.assert_allclose(sd[[0, 2]], 0.4 * unit, rtol=1e-5)


# ------------------------------------------------------------------ --prior-config
def test_update_config_replaces_only_the_named_fields():
    spec = {
        "adstock": "geometric",
        "max_lag": 6,
        "media": {"relative_roas": {"dist": "Gamma", "params": {"concentration": 2, "rate": 4}}},
        "baseline": {"trend": {"dist": "Normal", "params": {"loc": 0.0, "scale": 0.1}}},
    }
    config = update_config(ModelConfig(), spec)
    assert config.adstock is Adstock.GEOMETRIC and config.max_lag == 6
    assert float(config.media.relative_roas.mean) == pytest.approx(0.5)
    assert float(config.baseline.trend.scale) == pytest.approx(0.1)
    default = config_to_dict(ModelConfig())
    changed = config_to_dict(config)
    assert {k for k in default if default[k] != changed[k]} == {
        "adstock",
        "max_lag",
        "media",
        "baseline",
    }
    assert changed["media"]["retention"] == default["media"]["retention"]
    # a whole saved config reads back as itself
    assert config_to_dict(update_config(ModelConfig(), changed)) == changed


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"adstok": "geometric"}, "config.adstok: unknown field of ModelConfig"),
        ({"media": {"relative_ros": {}}}, "media.relative_ros: unknown field of MediaPriors"),
        ({"media": {"relative_roas": {"dist": "Gama", "params": {}}}}, "media.relative_roas: "),
        (
            {"media": {"relative_roas": {"dist": "Gamma", "params": {"concentration": -1}}}},
            "media.relative_roas: Gamma",
        ),
        ({"media": {"slope": {"dist": "LogNormal", "params": {"mu": 0}}}}, "media.slope: "),
        ({"noise": None}, "noise: a distribution is needed"),
        ({"likelihood": "cauchy"}, "likelihood: must be one of normal"),
        ({"saturation": ["hill", "tanh"]}, "saturation[1]: must be one of"),
        ({"max_lag": 2.5}, "max_lag: must be a whole number"),
        ({"max_lag": 0}, "config: max_lag must be >= 1"),
        ({"geo_pooling": {"centred": "yes"}}, "geo_pooling.centred: must be true or false"),
        ([1, 2], "config: must be an object"),
    ],
)
def test_update_config_names_the_bad_field(spec, message):
    with pytest.raises(ValueError) as err:
        update_config(ModelConfig(), spec)
    assert str(err.value).startswith(message.split(":")[0]), str(err.value)
    assert message in str(err.value)


def test_prior_config_file_is_the_base_and_flags_override_it(tmp_path, data):
    path = tmp_path / "priors.json"
    spec = {"adstock": "geometric", "saturation": "logistic", "likelihood": "student_t"}
    path.write_text(json.dumps(spec))
    config = _model_config(_args("--prior-config", str(path), "--saturation", "hill"), data)
    assert config.adstock is Adstock.GEOMETRIC  # from the file
    assert config.likelihood is Likelihood.STUDENT_T  # from the file
    assert config.saturation is Saturation.HILL  # the flag wins
    # without the file, the defaults are ModelConfig's with geo pooling on (which leaves a
    # single series alone: the pinned national CLI numbers rest on it)
    want = dataclasses.replace(ModelConfig(), geo_pooling=GeoPooling())
    assert config_to_dict(_model_config(_args(), data)) == config_to_dict(want)
    # a file's own geo pooling is kept unless the flag is given
    assert _model_config(_args("--prior-config", str(path)), data).geo_pooling is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"media": {"relative_roas": {"dist": "Gama", "params": {}}}}', "media.relative_roas"),
        ("{not json", "is not valid JSON"),
        (None, "no prior config file at"),
    ],
)
def test_bad_prior_config_is_one_line_exit_2(content, message, tmp_path, capsys):
    path = tmp_path / "priors.json"
    if content is not None:
        path.write_text(content)
    argv = ["fit", *BASE, "--out", str(tmp_path / "run"), "--prior-config", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --prior-config") and "\n" not in err and message in err, err
    assert not (tmp_path / "run" / "summary.json").exists()


# ------------------------------------------------------------------ reaching the sampler
class _Stop(ValueError):
    pass


@pytest.fixture
def nuts_calls(monkeypatch):
    """Stands in for `fit_nuts`: records its arguments and stops the command (exit 2)."""
    calls = []

    def stand_in(data, config, **kwargs):
        calls.append({"data": data, "config": config, **kwargs})
        raise _Stop("stand-in for NUTS")

    monkeypatch.setattr(inference, "fit_nuts", stand_in)
    return calls


def test_target_accept_and_roas_prior_reach_nuts(nuts_calls, tmp_path, capsys):
    argv = ["fit", *BASE, "--out", str(tmp_path / "run"), "--target-accept", "0.95"]
    assert main([*argv, "--roas-prior", "Channel0_spend=2,1"]) == 2
    assert "stand-in for NUTS" in capsys.readouterr().err
    (call,) = nuts_calls
    assert call["target_accept"] == 0.95
    assert call["config"].media.effect_kind is Effect.ROAS
    assert float(call["config"].media.roas.mean[0]) == pytest.approx(2.0)


def test_without_target_accept_nuts_keeps_its_default(nuts_calls, tmp_path):
    assert main(["fit", *BASE, "--out", str(tmp_path / "run")]) == 2
    assert "target_accept" not in nuts_calls[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--target-accept", "0.9", "--method", "svi"], "--target-accept is a NUTS setting"),
        (["--target-accept", "1.2"], "between 0 and 1"),
        (["--roas-prior", "tv=2,1"], "--roas-prior: roas prior: unknown channel 'tv'"),
        (["--roas-prior", "2"], "--roas-prior: roas prior: expected MEAN,SD"),
    ],
)
def test_bad_sampler_and_roas_flags_are_one_line_exit_2(
    flags, message, nuts_calls, tmp_path, capsys
):
    try:
        status = main(["fit", *BASE, "--out", str(tmp_path / "run"), *flags])
    except SystemExit as stop:  # the argument parser's own refusals
        status = stop.code
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and message in err, err
    assert nuts_calls == []  # refused before any fit


# ------------------------------------------------------------------ channels and help
def test_spend_prefix_default_and_custom(tmp_path, nuts_calls, capsys):
    frame = load_csv(DATA, date="time", target="conversions", channels=CHANNELS).to_frame()
    assert [c for c in frame.columns if c.startswith("spend_")] == [f"spend_{c}" for c in CHANNELS]
    path = tmp_path / "data.csv"
    frame.rename(columns=lambda c: c.replace("spend_", "cost_")).to_csv(path, index=False)
    argv = ["fit", str(path), "--target", "conversions", "--out", str(tmp_path / "run")]
    assert main(argv) == 2  # the default prefix finds nothing
    assert "no column starts with 'spend_'" in capsys.readouterr().err
    assert main([*argv, "--spend-prefix", "cost_"]) == 2  # stopped at the stand-in NUTS
    assert nuts_calls[0]["data"].channels == tuple(CHANNELS)
    assert main([*argv, "--spend-prefix", ""]) == 2
    assert "name the spend columns with --channels" in capsys.readouterr().err


def test_every_fit_flag_has_help():
    fit = build_parser()._subparsers._group_actions[0].choices["fit"]
    missing = [a.dest for a in fit._actions if a.dest != "help" and not a.help]
    assert missing == []
    text = fit.format_help()
    for flag in ("--date", "--target", "--kpi", "--revenue-per-kpi", "--spend-prefix"):
        assert flag in text
    for flag in ("--roas-prior", "--prior-config", "--target-accept"):
        assert flag in text
