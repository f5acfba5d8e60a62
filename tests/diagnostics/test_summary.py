"""`validate_summary`: a summary.json read back is checked field by field, each error named."""

import json

import pytest

from mmm_jax.diagnostics.summary import validate_summary

EST = {"mean": 1.2, "median": 1.1, "hdi_low": 0.5, "hdi_high": None}  # null: not finite

SUMMARY = {
    "channels": {
        "search": {
            "spend": 1000.0,
            "contribution": EST,
            "roas": EST,
            "marginal_roas": EST,
            "prob_marginal_roas_below_1": 0.2,
            "saturation_spend": None,
            "wasteful": False,
        }
    },
    "baseline": {"contribution": EST, "share": EST},
    "synergy": {},
    "fit": {
        "r2": 0.9,
        "mape": 0.05,
        "nrmse": None,
        "holdout": {"n_train": 81, "n_holdout": 9, "holdout_start": "2024-03-22", "coverage": None},
    },
    "diagnostics": {"method": "nuts", "seconds": 3.0, "r_hat_max": None, "divergences": 0},
    "data": {"target": "revenue", "n_periods": 90},
    "review": [{"check": "ppc_coverage", "status": "warn", "message": "...", "value": [1, 2]}],
    "provenance": {"fit_checksum": "ab" * 32, "data_hash": "cd" * 32, "holdout_fit_checksum": None},
    "anything_else": {"passes": "unchecked"},
}


def test_a_valid_summary_passes_unchanged():
    summary = json.loads(json.dumps(SUMMARY))
    assert validate_summary(summary) is summary


def _set(path, value):
    summary = json.loads(json.dumps(SUMMARY))  # no shared sub-dicts
    *parents, last = path
    node = summary
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return summary


@pytest.mark.parametrize(
    "path, value, message",
    [
        (("channels", "search", "roas"), "abc", "channels.search.roas must be an estimate"),
        (
            ("channels", "search", "roas", "mean"),
            "1.2",
            "channels.search.roas.mean must be a number",
        ),
        (("channels", "search", "spend"), True, "channels.search.spend must be a number"),
        (
            ("channels", "search", "wasteful"),
            "no",
            "channels.search.wasteful must be true or false",
        ),
        (("channels", "search", "roas"), KeyError, "channels.search.roas must be present"),
        (("channels",), [], "channels must be an object"),
        (("channels",), {}, "channels must be a non-empty object"),
        (("baseline", "share"), 0.7, "baseline.share must be an estimate"),
        (("fit", "holdout", "n_train"), "81", "fit.holdout.n_train must be an integer"),
        (
            ("fit", "holdout", "holdout_start"),
            KeyError,
            "fit.holdout.holdout_start must be present",
        ),
        (("diagnostics",), [], "diagnostics must be an object"),
        (("diagnostics", "method"), None, "diagnostics.method must be a string"),
        (("diagnostics", "divergences"), 0.5, "diagnostics.divergences must be an integer"),
        (("review",), "fine", "review must be a list"),
        (("review", 0, "status"), "ok", 'review[0].status must be "pass", "warn" or "fail"'),
        (("synergy",), {"a:b": 0.3}, "synergy.a:b must be an estimate"),
        (("provenance", "fit_checksum"), 12, "provenance.fit_checksum must be a string"),
        (("fit",), KeyError, "field fit must be present"),
    ],
)
def test_each_wrongly_typed_field_is_named(path, value, message):
    with pytest.raises(ValueError, match="^run/summary.json: field ") as err:
        validate_summary(_set(path, value), where="run/summary.json")
    assert message in str(err.value)


def test_not_an_object_at_all():
    with pytest.raises(ValueError, match=r"field \(top level\) must be an object, got \[1, 2\]"):
        validate_summary([1, 2])
