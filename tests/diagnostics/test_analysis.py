"""`Analysis`: one set of numbers per fit, each computed once, on one response surface."""

import numpy as np
import pytest

import jax
import jax.numpy as jnp
from numpyro.infer import Predictive

from mmm_jax.data import from_frame
from mmm_jax.diagnostics import analyse, summarize
from mmm_jax.diagnostics.metrics import contributions, marginal_roas
from mmm_jax.diagnostics.report import figures_for_fit
from mmm_jax.diagnostics.review import review
from mmm_jax.inference import Fit
from mmm_jax.models import GeoPooling, ModelConfig, build_inputs, mmm
from mmm_jax.models.config import GeoShapes
from mmm_jax.models.mmm import time_frame
from tests.diagnostics.test_metrics import data as data  # noqa: F401  (module fixture)
from tests.diagnostics.test_metrics import make_fit
from tests.models.test_model import small_frame


def counting(fit):
    """``fit`` with its predictions (the expensive part of an analysis) recorded in ``calls``."""
    calls, predict = [], fit.predict

    def counted(*args, **kwargs):
        calls.append(kwargs.get("sites", ("mu",)))
        return predict(*args, **kwargs)

    object.__setattr__(fit, "predict", counted)  # an instance attribute of the frozen Fit
    object.__setattr__(fit, "calls", calls)
    return fit


def test_fields_are_computed_once_and_shared_by_summary_review_and_figures(data):
    fit = counting(make_fit(data))
    a = analyse(fit)
    assert fit.calls == []  # nothing computed until read
    summary = summarize(a)
    n_summary = len(fit.calls)  # full, baseline, one per channel, marginal ROAS bumps
    assert n_summary == 1 + 1 + 2 + 1 + 2
    assert a.contributions is a.contributions and a.response_fn is a.response_fn
    review(fit, summary=summary, analysis=a, prior_samples=50)
    figures_for_fit(fit, summary=summary, analysis=a)
    # the review and the figures add their own predictive draws only, no second analysis
    assert fit.calls[n_summary:] == [("mu", "y"), ("y",)]
    # and the numbers are those of a fresh summary
    fresh = summarize(make_fit(data))
    fresh["diagnostics"].pop("seconds"), summary["diagnostics"].pop("seconds")
    assert summary == fresh


def test_window_numbers_match_the_standalone_functions(data):
    fit = make_fit(data)
    a = analyse(fit)
    c = contributions(fit)
    np.testing.assert_array_equal(a.contributions.by_channel, c.by_channel)
    np.testing.assert_array_equal(a.contributions.baseline, c.baseline)
    np.testing.assert_array_equal(a.roas, c.roas)
    np.testing.assert_array_equal(a.marginal_roas, marginal_roas(fit))
    scale = data.scaler.target_scale
    base = fit.predict(media=np.zeros_like(data.media))["mu"] * scale  # (draw, geo, time)
    np.testing.assert_allclose(a.baseline_per_period, base.sum(axis=1).mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(
        a.baseline_per_period * data.n_time, a.contributions.baseline, rtol=1e-5
    )
    assert a.synergy == {} and a.geos == ("national",) and a.channels == ("a", "b")
    assert analyse(fit, with_saturation=False).saturation_spend is None


def _prior_fit(data, config, n=4):
    prior = Predictive(mmm, num_samples=n)(
        jax.random.PRNGKey(3), build_inputs(data, config), config
    )
    return Fit(
        method="prior",
        draws={k: np.asarray(v)[None] for k, v in prior.items() if k not in ("mu", "y")},
        data=data,
        config=config,
        frame=time_frame(data.dates),
    )


@pytest.mark.parametrize("shapes", list(GeoShapes))
def test_geo_panel_saturation_spend_is_total_spend_where_marginal_roas_crosses_one(shapes):
    """On a panel the steady numbers are per period summed over geos, as in alloc.json."""
    data = from_frame(small_frame(geos=["a", "b", "c"]), geo="geo", controls=("traffic",))
    fit = _prior_fit(data, ModelConfig(geo_pooling=GeoPooling(shapes=shapes)))
    a = analyse(fit)
    assert a.response.coef.shape == (4, 3, 3)
    sat = a.saturation_spend
    assert sat.shape == (4, 3) and np.all(np.isfinite(sat))
    hist = a.historical_spend.sum(axis=0)
    np.testing.assert_allclose(a.curves["spend"][-1], 3.0 * hist)
    marginal = jax.grad(lambda x: jnp.sum(a.response_fn.aligned(x)))
    for c in range(3):
        inside = (sat[:, c] > 0) & (sat[:, c] < 20.0 * hist[c] * (1 - 1e-6))
        if not inside.any():
            continue
        probe = np.broadcast_to(hist, (4, 3)).copy()
        probe[:, c] = sat[:, c]
        at = np.asarray(marginal(jnp.asarray(probe, jnp.float32)))[:, c]
        np.testing.assert_allclose(at[inside], 1.0, rtol=1e-3)
    s = summarize(a)
    assert all(ch["saturation_spend"] is not None for ch in s["channels"].values())
