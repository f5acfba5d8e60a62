"""Decisions that refuse bad fits, on a real unconverged fit (``unconverged_run/``, see make_run).

The checked-in run is NUTS with 2 chains x 30 draws: its review FAILs
``r_hat`` and ``ess_bulk`` and calls ``retail``'s ROAS not identified. Every
test works on a copy, so the checked-in files are never written.
"""

import json

import numpy as np
import pytest

import jax.numpy as jnp

from mmm_jax._format import fmt_sig
from mmm_jax.cli import main
from mmm_jax.diagnostics import analyse
from mmm_jax.diagnostics.summary import validate_summary
from mmm_jax.run_folder import RunFolder
from mmm_jax.workflow import allocate, simulate
from mmm_jax.workflow.verdicts import (
    NotConvergedError,
    refusal_message,
    unidentified_channels,
)
from tests._paths import TINY_RUN as RUN


@pytest.fixture
def run(tiny_run):
    return tiny_run


@pytest.fixture
def summary(tiny_summary):
    return tiny_summary


def _review(summary, check):
    return next(i for i in summary["review"] if i["check"] == check)


def test_checked_in_run_fails_convergence_and_leaves_retail_unidentified(summary):
    assert _review(summary, "r_hat")["status"] == "fail"
    assert _review(summary, "ess_bulk")["status"] == "fail"
    ident = _review(summary, "roas_identified")["value"]
    assert [n for n, v in ident.items() if not v["identified"]] == ["retail"]
    assert all(v["identified"] == (v["width_ratio"] < 0.5) for v in ident.values())
    assert list(unidentified_channels(summary["review"])) == ["retail"]


def test_optimize_refuses_an_unconverged_fit_in_one_line(run, summary, capsys):
    assert main(["optimize", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    r_hat = _review(summary, "r_hat")["value"]
    ess = _review(summary, "ess_bulk")["value"]
    assert err == (
        f"error: fit has not converged (R-hat {r_hat:.3g}, ESS {ess:.0f}): refit with more "
        "warmup or --target-accept 0.95; --force to optimise anyway"
    )
    assert not (run / "alloc.json").exists()


def test_forced_optimize_records_the_failures_and_holds_unidentified(run, summary, capsys):
    assert main(["optimize", str(run), "--force"]) == 0
    out = capsys.readouterr().out
    alloc = json.loads((run / "alloc.json").read_text())
    assert alloc["forced"] is True
    assert [i["check"] for i in alloc["failed_checks"]] == ["r_hat", "ess_bulk"]
    assert alloc["failed_checks"][0]["value"] == pytest.approx(_review(summary, "r_hat")["value"])
    assert list(alloc["held"]) == ["retail"] and "not identified" in alloc["held"]["retail"]
    hist, x = alloc["historical_allocation"], alloc["allocation"]
    assert x["retail"] == pytest.approx(hist["retail"], rel=1e-9)
    assert sum(x.values()) == pytest.approx(alloc["budget"], rel=1e-6)
    assert alloc["budget"] == pytest.approx(sum(hist.values()), rel=1e-9)
    # the other channels are still optimised within 0.5x-2x
    for n in ("search", "social", "video"):
        assert 0.5 * hist[n] * (1 - 1e-6) <= x[n] <= 2 * hist[n] * (1 + 1e-6)
    assert any(abs(x[n] / hist[n] - 1) > 0.05 for n in ("search", "social", "video"))
    assert "retail" not in alloc["at_lower_bound"] + alloc["at_upper_bound"]
    assert out.startswith("FORCED: the fit FAILs convergence (r_hat, ess_bulk)")
    assert "held retail at historical spend" in out


def test_free_unidentified_lets_the_optimiser_move_retail(run, capsys):
    assert main(["optimize", str(run), "--force", "--free-unidentified"]) == 0
    alloc = json.loads((run / "alloc.json").read_text())
    assert alloc["held"] == {}
    assert alloc["allocation"]["retail"] != pytest.approx(
        alloc["historical_allocation"]["retail"], rel=1e-3
    )


def test_a_budget_the_held_channel_makes_infeasible_says_why(run, capsys):
    hist = json.loads((RUN / "summary.json").read_text())["channels"]["retail"]["spend"] / 90
    others = sum(
        c["spend"] / 90
        for n, c in json.loads((RUN / "summary.json").read_text())["channels"].items()
        if n != "retail"
    )
    budget = hist + 0.4 * others  # below 0.5x for the others once retail is pinned
    assert main(["optimize", str(run), "--force", "--budget", repr(budget)]) == 2
    err = capsys.readouterr().err
    assert "retail held at historical spend" in err and "--free-unidentified" in err


def test_simulate_refuses_unless_forced(run, tmp_path, capsys):
    plan = tmp_path / "plan.json"
    spend = {
        n: c["spend"] / 90
        for n, c in json.loads((RUN / "summary.json").read_text())["channels"].items()
    }
    plan.write_text(json.dumps(spend))
    assert main(["simulate", str(run), "--allocation", str(plan)]) == 2
    assert "to simulate anyway" in capsys.readouterr().err
    assert main(["simulate", str(run), "--allocation", str(plan), "--force"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["forced"] is True
    assert [i["check"] for i in result["failed_checks"]] == ["r_hat", "ess_bulk"]
    # the historical plan's uplift over the historical plan is zero in every draw
    assert result["uplift"]["mean"] == pytest.approx(
        0.0, abs=1e-6 * result["media_revenue"]["mean"]
    )


def test_library_computes_the_verdicts_when_given_no_review(run):
    fit = RunFolder(run).load().fit
    a = analyse(fit, with_saturation=False)
    with pytest.raises(NotConvergedError, match=r"R-hat 1\.\d+.*force=True to optimise anyway"):
        allocate(a)
    with pytest.raises(NotConvergedError, match="force=True to simulate anyway"):
        simulate(a, a.historical_spend.sum(axis=0))
    alloc = allocate(a, force=True)
    assert alloc["forced"] is True and "r_hat" in [i["check"] for i in alloc["failed_checks"]]
    assert list(alloc["held"]) == ["retail"]  # roas_identified recomputed from the fit


def test_steady_state_marginal_roas_is_the_slope_of_the_optimisers_curve(run, summary):
    a = analyse(RunFolder(run).load().fit, with_saturation=False)
    hist = a.historical_spend.sum(axis=0)
    steady = a.steady_marginal_roas
    for c in range(len(hist)):
        h = 1e-3 * hist[c]
        up, down = hist.copy(), hist.copy()
        up[c] += h
        down[c] -= h
        fd = (
            np.asarray(a.response_fn(jnp.asarray(up)))
            - np.asarray(a.response_fn(jnp.asarray(down)))
        ) / (2 * h)
        np.testing.assert_allclose(steady[:, c], fd, rtol=2e-3, atol=1e-3)
        name = a.channels[c]
        assert summary["channels"][name]["steady_state_marginal_roas"]["mean"] == pytest.approx(
            steady[:, c].mean(), rel=1e-5
        )


def test_refusal_message_names_each_failure_and_its_remedy():
    svi = [{"check": "svi_converged", "status": "fail", "value": False}]
    assert refusal_message(svi, "optimise", "--force") == (
        "fit has not converged (the SVI loss was still falling): refit with more "
        "--svi-steps; --force to optimise anyway"
    )
    div = [{"check": "divergences", "status": "fail", "value": 12}]
    assert refusal_message(div, "simulate", "force=True").startswith(
        "fit has not converged (12 divergent transitions): refit with more warmup"
    )


def test_identified_flags_are_validated(summary):
    bad = json.loads(json.dumps(summary))
    _review(bad, "roas_identified")["value"]["retail"]["identified"] = "no"
    with pytest.raises(ValueError, match=r"value\.retail\.identified must be true or false"):
        validate_summary(bad)
    old = json.loads(json.dumps(summary))  # a review written before the flag: judged by width
    for v in _review(old, "roas_identified")["value"].values():
        del v["identified"]
    validate_summary(old)
    assert list(unidentified_channels(old["review"])) == ["retail"]


@pytest.mark.parametrize(
    "x, want",
    [
        (0.0123, "0.0123"),
        (1234567, "1,234,567"),
        (0, "0"),
        (0.0, "0"),
        (-0.0123, "-0.0123"),
        (-1234567.4, "-1,234,567"),
        (1.234, "1.23"),
        (9.996, "10.0"),
        (0.456, "0.456"),
        (2.01, "2.01"),
        (123.4, "123"),
        (1.5e-7, "1.50e-07"),
        (float("nan"), "—"),
        (None, "—"),
    ],
)
def test_fmt_sig_keeps_significant_digits(x, want):
    assert fmt_sig(x) == want


def test_fmt_sig_digits():
    assert fmt_sig(0.012345, 2) == "0.012"
    assert fmt_sig(3.14159, 5) == "3.1416"
    with pytest.raises(ValueError, match="digits must be >= 1"):
        fmt_sig(1.0, 0)
