"""The workflow's input functions: settings and files in, library objects out, or one clear error.

`model_config`, `resolve_target`, `prepare_fit`, `allocation_settings` and
`read_allocation` are what ``mmm-jax`` calls with its flags; here they are
called directly (no command line, no fit), with their own argument names in
the messages and with a ``names`` function standing in for the flags.
"""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import numpyro.distributions as dist

from mmm_jax._cli_parser import GEO_POOLING_FORMS
from mmm_jax.data import load_csv
from mmm_jax.diagnostics.review import revenue_per_spend
from mmm_jax.models import Adstock, GeoPooling, ModelConfig, Saturation
from mmm_jax.models.config import Effect, Likelihood, config_to_dict
from mmm_jax.workflow.decisions import allocation_settings, read_allocation
from mmm_jax.workflow.fitting import (
    GEO_POOLING_CENTRING,
    model_config,
    prepare_fit,
    resolve_target,
)

DATA = Path(__file__).resolve().parent / "public_style" / "meridian_national.csv"
CHANNELS = ["Channel0_spend", "Channel1_spend", "Channel2_spend"]
READ = dict(date="time", target="conversions", channels=CHANNELS)


def flags(parameter: str) -> str:
    return f"<{parameter}>"


@pytest.fixture(scope="module")
def data():
    return load_csv(DATA, **READ)


# ------------------------------------------------------------------ model_config
def test_model_config_defaults_are_model_config_with_geo_pooling_on():
    want = dataclasses.replace(ModelConfig(), geo_pooling=GeoPooling())
    assert config_to_dict(model_config()) == config_to_dict(want)


def test_model_config_settings_replace_their_fields_as_values_or_members():
    config = model_config(
        adstock="geometric",
        saturation=Saturation.LOGISTIC,
        max_lag=5,
        likelihood="student_t",
        synergy=True,
        geo_pooling="noncentred",
    )
    assert config.adstock is Adstock.GEOMETRIC and config.saturation is Saturation.LOGISTIC
    assert config.max_lag == 5 and config.likelihood is Likelihood.STUDENT_T
    assert config.synergy is not None and config.geo_pooling.centred is False


@pytest.mark.parametrize(("form", "centred"), [*GEO_POOLING_CENTRING.items(), ("none", "off")])
def test_model_config_geo_pooling_forms(form, centred):
    pooling = model_config(geo_pooling=form).geo_pooling
    assert (pooling is None) if centred == "off" else (pooling.centred is centred)
    mine = GeoPooling(centred=True)
    assert model_config(geo_pooling=mine).geo_pooling is mine


def test_the_parser_offers_exactly_the_geo_pooling_forms_model_config_takes():
    assert GEO_POOLING_FORMS == (*GEO_POOLING_CENTRING, "none")


def test_model_config_starts_from_a_prior_config_file(tmp_path):
    path = tmp_path / "priors.json"
    path.write_text(json.dumps({"adstock": "geometric", "saturation": "logistic", "max_lag": 4}))
    config = model_config(prior_config=path, saturation="hill")
    assert config.adstock is Adstock.GEOMETRIC and config.max_lag == 4  # the file's
    assert config.saturation is Saturation.HILL  # the setting wins
    assert config.geo_pooling is None  # the file's own (ModelConfig's), not switched on
    pooling = model_config(prior_config=path, geo_pooling="auto").geo_pooling
    assert isinstance(pooling, GeoPooling) and pooling.centred is None


def test_model_config_puts_a_roas_prior_in_the_data_units(data):
    config = model_config(roas_prior="Channel1_spend=3,1", data=data)
    assert config.media.effect_kind is Effect.ROAS and isinstance(config.media.roas, dist.Gamma)
    mean, sd = np.asarray(config.media.roas.mean), np.sqrt(config.media.roas.variance)
    np.testing.assert_allclose([mean[1], sd[1]], [3.0, 1.0], rtol=1e-6)
    # the others keep Gamma(1, 2.5) on the relative ROAS, in revenue per unit of spend
    np.testing.assert_allclose(mean[[0, 2]], 0.4 * revenue_per_spend(data), rtol=1e-5)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"adstock": "hyperbolic"}, "adstock must be one of geometric, "),
        ({"saturation": "tanh"}, "saturation must be one of hill, "),
        ({"likelihood": "cauchy"}, "likelihood must be one of normal, student_t, lognormal"),
        ({"geo_pooling": "sideways"}, "geo_pooling must be one of auto, centred, noncentred, none"),
        ({"roas_prior": "2,1"}, "roas_prior needs the data"),
        ({"prior_config": "/no/such/priors.json"}, "prior_config no prior config file at"),
        ({"max_lag": 0}, "max_lag must be >= 1"),
    ],
)
def test_model_config_refuses_bad_settings_naming_them(settings, message):
    with pytest.raises(ValueError, match=message):
        model_config(**settings)


def test_model_config_errors_name_arguments_as_the_caller_asks(data, tmp_path):
    with pytest.raises(ValueError, match=r"^<roas_prior>: roas prior: unknown channel 'tv'"):
        model_config(roas_prior="tv=2,1", data=data, names=flags)
    bad = tmp_path / "priors.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match=r"^<prior_config> .*priors.json is not valid JSON"):
        model_config(prior_config=bad, names=flags)
    with pytest.raises(ValueError, match=r"^<adstock> must be one of"):
        model_config(adstock="x", names=flags)


# ------------------------------------------------------------------ resolve_target
def test_resolve_target_reads_a_target_or_a_kpi_with_its_value():
    assert resolve_target() == ("revenue", None)
    assert resolve_target(target="sales") == ("sales", None)
    assert resolve_target(kpi="conversions", revenue_per_kpi="35") == ("conversions", 35.0)
    assert resolve_target(kpi="conversions", revenue_per_kpi=35) == ("conversions", 35.0)
    column = resolve_target(kpi="conversions", revenue_per_kpi="revenue_per_conversion")
    assert column == ("conversions", "revenue_per_conversion")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"revenue_per_kpi": 35}, "<revenue_per_kpi> needs <kpi>, the KPI column it values"),
        ({"kpi": "k", "target": "t"}, "<kpi> and <target> both name the column to fit"),
        ({"kpi": "k"}, "<kpi> needs <revenue_per_kpi> (a value or a column)"),
    ],
)
def test_resolve_target_refuses_what_it_cannot_use(settings, message):
    with pytest.raises(ValueError) as err:
        resolve_target(**settings, names=flags)
    assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(ValueError, match=message.split()[0].strip("<>")):
        resolve_target(**settings)  # by default, by the parameter names


# ------------------------------------------------------------------ prepare_fit
def _lift_csv(tmp_path) -> Path:
    path = tmp_path / "lift.csv"
    row = "Channel0_spend,2021-03-01,2021-03-14,5000,20000,5000"
    path.write_text(f"channel,start,end,spend_delta,lift,lift_se\n{row}\n")
    return path


def test_prepare_fit_loads_the_data_the_model_and_the_lift_tests(data, tmp_path):
    seen = []

    def config(loaded):
        seen.append(loaded)
        return model_config(roas_prior="2,1", data=loaded)

    inputs = prepare_fit(
        DATA, **READ, lift_tests=_lift_csv(tmp_path), lift_spread="uniform", config=config
    )
    assert inputs.data.channels == tuple(CHANNELS) and inputs.data.n_time == data.n_time
    np.testing.assert_allclose(inputs.data.target, data.target)
    assert seen == [inputs.data] and inputs.config.media.effect_kind is Effect.ROAS
    assert inputs.lift_tests is not None and inputs.lift_tests.channel == ("Channel0_spend",)
    plain = prepare_fit(DATA, **READ, holdout=0.1)
    assert config_to_dict(plain.config) == config_to_dict(ModelConfig())
    assert plain.lift_tests is None
    mine = ModelConfig(max_lag=4)
    assert prepare_fit(DATA, **READ, config=mine).config is mine
    # a KPI and its revenue: the model is fitted to the KPI's revenue
    kpi = prepare_fit(DATA, date="time", kpi="conversions", revenue_per_kpi="35", channels=CHANNELS)
    np.testing.assert_allclose(kpi.data.target, 35.0 * data.target, rtol=1e-6)


def test_prepare_fit_refuses_sampler_settings_before_reading_any_file():
    nowhere = "/no/such/data.csv"
    with pytest.raises(ValueError, match=r"^<target_accept> is a NUTS setting; <method> svi"):
        prepare_fit(nowhere, method="svi", target_accept=0.9, names=flags)
    with pytest.raises(ValueError, match="^spend_prefix is empty: name the spend columns with"):
        prepare_fit(nowhere, spend_prefix="")
    with pytest.raises(ValueError, match="^<kpi> needs <revenue_per_kpi>"):
        prepare_fit(nowhere, kpi="conversions", names=flags)
    with pytest.raises(FileNotFoundError):
        prepare_fit(nowhere)


def test_prepare_fit_refuses_lift_tests_and_holdouts_it_cannot_use(tmp_path):
    with pytest.raises(ValueError, match="no lift-test file at /no/lift.csv"):
        prepare_fit(DATA, **READ, lift_tests="/no/lift.csv")
    lift = _lift_csv(tmp_path)
    with pytest.raises(
        ValueError, match="^lift_spread must be one of .*proportional, got 'sideways'"
    ):
        prepare_fit(DATA, **READ, lift_tests=lift, lift_spread="sideways")
    with pytest.raises(ValueError, match="^<holdout> with <lift_tests> is not supported"):
        prepare_fit(DATA, **READ, lift_tests=lift, holdout=0.1, names=flags)
    with pytest.raises(ValueError, match=r"^<holdout> 1.5: frac must be in \(0, 1\)"):
        prepare_fit(DATA, **READ, holdout=1.5, names=flags)
    with pytest.raises(ValueError, match="^holdout 0.99: .*need at least 2"):
        prepare_fit(DATA, **READ, holdout=0.99)


# ------------------------------------------------------------------ allocation_settings
def test_allocation_settings_read_bounds_from_text_or_a_pair():
    got = allocation_settings(budget=10.0, bounds="0.5, 2", utility="cvar:0.1")
    assert got == {"budget": 10.0, "bounds": (0.5, 2.0), "utility": "cvar:0.1", "per_geo": False}
    assert allocation_settings(bounds=(0, 1), per_geo=True, n_geo=3)["bounds"] == (0.0, 1.0)
    assert allocation_settings(per_geo=True)["per_geo"] is True  # n_geo unknown: not checked


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"per_geo": True, "n_geo": 1}, "<per_geo> needs a run fitted on a geo panel"),
        ({"budget": 0.0}, "<budget> must be positive, got 0.0"),
        ({"budget": float("nan")}, "<budget> must be positive, got nan"),
        ({"bounds": "abc"}, "<bounds> must be LO,HI multiples of historical spend, got 'abc'"),
        ({"bounds": "1,2,3"}, "<bounds> must be LO,HI multiples"),
        ({"bounds": (1.0,)}, "<bounds> must be LO,HI multiples"),
        ({"bounds": "2,1"}, "<bounds> needs 0 <= LO <= HI, got 2.0, 1.0"),
        ({"bounds": "-1,1"}, "<bounds> needs 0 <= LO <= HI, got -1.0, 1.0"),
        ({"utility": "median"}, "<utility> must be mean, profit, var:Q or cvar:Q, got 'median'"),
        ({"utility": "var:1.5"}, "<utility> must be mean, profit, var:Q or cvar:Q"),
    ],
)
def test_allocation_settings_refuse_naming_the_argument(settings, message):
    with pytest.raises(ValueError) as err:
        allocation_settings(**settings, names=flags)
    assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(ValueError, match="^" + message.split()[0].strip("<>")):
        allocation_settings(**settings)


# ------------------------------------------------------------------ read_allocation
def test_read_allocation_reads_json_or_says_why_not(tmp_path):
    path = tmp_path / "alloc.json"
    path.write_text(json.dumps({"allocation": {"a": 1.0}, "budget": 1.0}))
    assert read_allocation(path) == {"allocation": {"a": 1.0}, "budget": 1.0}
    with pytest.raises(ValueError, match="no allocation file at .*missing.json"):
        read_allocation(tmp_path / "missing.json")
    path.write_text("{not json")
    with pytest.raises(ValueError, match=r"alloc.json is not valid JSON \("):
        read_allocation(path)
