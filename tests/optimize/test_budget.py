import json
import sys

import numpy as np
import pytest

import jax
import jax.numpy as jnp

from mmm_jax.optimize import optimize_budget, simulate_allocation, target_roas_budget
from mmm_jax.optimize.utility import cvar, mean_profit
from mmm_jax.transforms import ResponseParams, horizon_response, steady_response
from mmm_jax.transforms.saturation import Saturation
from tests._paths import BENCHDATA

# Michaelis-Menten curves m_i(x) = V_i x / (k_i + x) in currency: spends in tens of thousands.
V = np.array([120_000.0, 80_000.0, 150_000.0, 60_000.0])
K = np.array([30_000.0, 15_000.0, 60_000.0, 10_000.0])
B = 100_000.0


def mm(x):
    return jnp.sum(V * x / (K + x))[None]  # one "draw"


def mm_optimum(v, k, budget):
    """Closed form of max sum v x/(k+x) s.t. sum x = budget (interior)."""
    r = np.sqrt(v * k)
    return r * (budget + k.sum()) / r.sum() - k


def test_michaelis_menten_closed_form(key):
    want = mm_optimum(V, K, B)
    assert np.all(want > 0)
    res = optimize_budget(mm, budget=B, lower=np.zeros(4), upper=np.full(4, B), key=key)
    np.testing.assert_allclose(res.allocation, want, rtol=1e-4)
    assert res.converged and res.kkt["spread"] < 1e-4
    # equal marginal revenue V k / (k + x)^2 across the (all interior) channels
    np.testing.assert_allclose(res.kkt["marginal_revenue"], V * K / (K + want) ** 2, rtol=1e-3)
    assert res.utility == pytest.approx(float(mm(want)[0]), rel=1e-6)
    assert res.history.shape == (400,) and res.history[-1] >= res.history[0]


def test_profit_equals_revenue_at_fixed_budget(key):
    # with sum x = B fixed, profit = revenue - B: same argmax, utility lower by B
    rev = optimize_budget(mm, budget=B, lower=np.zeros(4), upper=np.full(4, B), key=key)
    pro = optimize_budget(
        mm, budget=B, lower=np.zeros(4), upper=np.full(4, B), key=key, utility=mean_profit()
    )
    np.testing.assert_allclose(pro.allocation, rev.allocation, rtol=1e-4)
    assert pro.utility == pytest.approx(rev.utility - B, rel=1e-5)


def test_bounds_bind_exactly(key):
    free_opt = mm_optimum(V, K, B)
    upper = np.full(4, B)
    upper[2] = 0.6 * free_opt[2]  # cap the channel that wants most
    lower = np.zeros(4)
    lower[3] = 2.0 * free_opt[3]  # force the smallest one up
    res = optimize_budget(mm, budget=B, lower=lower, upper=upper, key=key)
    x = res.allocation
    assert abs(x.sum() - B) <= 1e-6 * B
    assert np.all(x >= lower - 1e-9) and np.all(x <= upper + 1e-9)
    assert x[2] == upper[2] and x[3] == lower[3]
    np.testing.assert_array_equal(res.at_upper, [False, False, True, False])
    np.testing.assert_array_equal(res.at_lower, [False, False, False, True])
    # the free channels solve the reduced problem in closed form
    rest = B - upper[2] - lower[3]
    np.testing.assert_allclose(x[:2], mm_optimum(V[:2], K[:2], rest), rtol=1e-4)
    g = res.kkt["marginal_revenue"]
    assert g[2] > g[0] and g[3] < g[0]  # KKT signs at the bounds
    assert res.converged and res.kkt["max_violation"] == 0.0


def test_fixed_channel_is_left_out_of_kkt(key):
    lower, upper = np.zeros(4), np.full(4, B)
    lower[1] = upper[1] = 20_000.0  # a contract: exactly this much
    res = optimize_budget(mm, budget=B, lower=lower, upper=upper, key=key)
    assert res.allocation[1] == 20_000.0 and res.kkt["fixed"][1]
    assert not res.at_lower[1] and not res.at_upper[1]
    keep = [0, 2, 3]
    np.testing.assert_allclose(
        res.allocation[keep], mm_optimum(V[keep], K[keep], B - 20_000.0), rtol=1e-4
    )
    assert res.converged


def test_per_draw_with_a_plain_callable(key):
    v = V * np.array([[1.0], [0.6], [1.4]]) * np.array([1.0, 1.5, 0.7, 1.2])  # (draw, channel)
    k = K * np.array([[1.0], [0.5], [1.5]])

    def plain(x):  # no .aligned: the optimiser falls back to evaluating every draw
        return jnp.sum(v * x[None, :] / (k + x[None, :]), axis=1)

    res = optimize_budget(
        plain, budget=B, lower=np.zeros(4), upper=np.full(4, B), key=key, per_draw=True
    )
    want = np.stack([mm_optimum(v[d], k[d], B) for d in range(3)])
    assert np.all(want > 0) and np.ptp(want[:, 2]) > 0.05 * B  # interior, and draws disagree
    np.testing.assert_allclose(res.per_draw_allocation, want, rtol=1e-4)


def test_geo_indexed_decisions(key):
    v = np.array([[120_000.0, 80_000.0, 40_000.0], [50_000.0, 90_000.0, 70_000.0]])
    k = np.array([[30_000.0, 15_000.0, 8_000.0], [12_000.0, 25_000.0, 20_000.0]])

    def two_geos(x):  # spend (geo, channel)
        return jnp.sum(v * x / (k + x))[None]

    res = optimize_budget(
        two_geos, budget=150_000.0, lower=np.zeros((2, 3)), upper=np.full((2, 3), 1e5), key=key
    )
    assert res.allocation.shape == (2, 3)
    want = mm_optimum(v.reshape(-1), k.reshape(-1), 150_000.0).reshape(2, 3)
    np.testing.assert_allclose(res.allocation, want, rtol=1e-4)


def _mm_params(n_draws, seed=0):
    """Michaelis-Menten draws of one geo, ``(draw, 1, channel)``."""
    rng = np.random.default_rng(seed)
    coef = V / 1e5 * rng.lognormal(0.0, 0.3, (n_draws, 1, 4))  # scaled units
    half = K / 2e4 * rng.lognormal(0.0, 0.3, (n_draws, 1, 4))
    return ResponseParams(
        coef=coef,
        saturation=(Saturation.MICHAELIS_MENTEN,) * 4,
        saturation_params={"half_saturation": half},
        synergy=None,
        pairs=None,
        media_scale=np.full(4, 2e4),
        target_scale=np.array(1e5),
    )


def _steady(params):
    """The steady response of one geo, decided per channel."""
    return steady_response(params, geo_mix=np.ones((1, 4)))


def test_per_draw_matches_each_draws_closed_form(key):
    p = _mm_params(50)
    f = _steady(p)
    reference = np.full(4, B / 4)
    res = optimize_budget(
        f,
        budget=B,
        lower=np.zeros(4),
        upper=np.full(4, B),
        key=key,
        per_draw=True,
        reference=reference,
    )
    v_d, k_d = p.coef[:, 0] * 1e5, p.saturation_params["half_saturation"][:, 0] * 2e4  # currency
    want = np.stack([mm_optimum(v, k, B) for v, k in zip(v_d, k_d)])
    interior = np.all(want > 0, axis=1)
    assert interior.sum() >= 40
    np.testing.assert_allclose(res.per_draw_allocation[interior], want[interior], rtol=1e-4)
    np.testing.assert_allclose(res.per_draw_allocation.sum(1), B, rtol=1e-6)
    np.testing.assert_allclose(
        res.prob_more, np.mean(res.per_draw_allocation > reference, axis=0), atol=1e-12
    )
    # the pooled answer maximises the mean: equal mean marginal revenue
    assert res.converged and res.kkt["spread"] < 1e-3


def test_target_roas_budget_hits_target(key):
    target = 1.5
    res = target_roas_budget(
        mm, target_marginal_roas=target, lower=np.zeros(4), upper=np.full(4, 1e6), key=key
    )
    # at marginal return lam, V k/(k+x)^2 = lam  =>  x = sqrt(V k / lam) - k
    want = np.sqrt(V * K / target) - K
    assert res.settings["target_met"]
    np.testing.assert_allclose(res.allocation.sum(), want.sum(), rtol=1e-3)
    np.testing.assert_allclose(res.allocation, want, rtol=2e-3)
    np.testing.assert_allclose(res.kkt["marginal_revenue"], target, rtol=2e-3)


def test_no_retrace_on_repeated_calls(key):
    traces = []

    def counted(x):
        traces.append(1)
        return jnp.sum(V * x / (K + x))[None]

    kw = dict(lower=np.zeros(4), upper=np.full(4, B), num_steps=50)
    optimize_budget(counted, budget=B, key=key, **kw)
    first = len(traces)
    assert first > 0
    for i, budget in enumerate([0.8 * B, 1.3 * B, 0.5 * B]):
        optimize_budget(counted, budget=budget, key=jax.random.PRNGKey(i + 1), **kw)
    assert len(traces) == first


def test_cvar_utility_beats_mean_optimum_on_its_own_objective(key):
    f = _steady(_mm_params(200, seed=3))
    kw = dict(budget=B, lower=np.full(4, 5_000.0), upper=np.full(4, B), key=key)
    by_mean = optimize_budget(f, **kw)
    by_cvar = optimize_budget(f, utility=cvar(0.1), **kw)
    u = cvar(0.1, smooth=0.0)
    score = lambda x: float(u(f(jnp.asarray(x)), x))  # noqa: E731
    assert score(by_cvar.allocation) >= score(by_mean.allocation)
    assert by_cvar.converged
    assert abs(by_cvar.allocation.sum() - B) <= 1e-6 * B
    # by name, as the CLI gives it: the same cached utility, so the same optimum
    by_name = optimize_budget(f, utility="cvar:0.1", **kw)
    np.testing.assert_array_equal(by_name.allocation, by_cvar.allocation)
    with pytest.raises(ValueError, match="utility must be mean, profit"):
        optimize_budget(f, utility="cvar:2", **kw)


def test_horizon_plan(key):
    # without carry-over, identical periods: the plan repeats the steady optimum
    H = 4
    p = _mm_params(1)._replace(adstock_weights=np.ones((1, 1, 4, 1)))
    f = horizon_response(p, n_periods=H, geo_mix=np.ones((1, 4)))
    res = optimize_budget(
        f, budget=H * B, lower=np.zeros((H, 4)), upper=np.full((H, 4), B), key=key
    )
    v, k = p.coef[0, 0] * 1e5, p.saturation_params["half_saturation"][0, 0] * 2e4
    np.testing.assert_allclose(res.allocation, np.tile(mm_optimum(v, k, B), (H, 1)), rtol=1e-4)
    # with carry-over the plan still satisfies the constraints exactly and KKT
    w = np.array([0.5, 0.3, 0.2])
    f2 = horizon_response(
        p._replace(adstock_weights=np.tile(w, (1, 1, 4, 1))), n_periods=H, geo_mix=np.ones((1, 4))
    )
    res2 = optimize_budget(
        f2, budget=H * B, lower=np.full((H, 4), 1_000.0), upper=np.full((H, 4), B), key=key
    )
    assert abs(res2.allocation.sum() - H * B) <= 1e-6 * H * B
    assert res2.converged


def test_simulate_allocation_summaries():
    f = _steady(_mm_params(400, seed=5))
    x = np.array([20_000.0, 30_000.0, 40_000.0, 10_000.0])
    ref = np.full(4, 25_000.0)
    out = simulate_allocation(f, x, reference=ref)
    draws = np.asarray(f(jnp.asarray(x)), np.float64)
    assert out["mean"] == pytest.approx(draws.mean(), rel=1e-6)
    assert out["median"] == pytest.approx(np.median(draws), rel=1e-6)
    inside = np.mean((draws >= out["hdi_low"]) & (draws <= out["hdi_high"]))
    assert inside >= 0.9 and out["hdi_low"] < out["median"] < out["hdi_high"]
    s = np.sort(draws)
    # the project's one HDI (mmm_jax._stats, ArviZ's convention): floor(0.9 n) + 1 draws
    narrowest = min(s[i + 360] - s[i] for i in range(400 - 360))
    assert out["hdi_high"] - out["hdi_low"] == pytest.approx(narrowest, rel=1e-9)
    uplift = draws - np.asarray(f(jnp.asarray(ref)), np.float64)
    assert out["uplift"]["mean"] == pytest.approx(uplift.mean(), rel=1e-5)
    with pytest.raises(ValueError, match="non-negative"):
        simulate_allocation(f, -x)


@pytest.mark.parametrize(
    "budget, lower, upper, match",
    [
        (B, np.full(4, 0.3 * B), np.full(4, B), "lower bounds sum"),
        (B, np.zeros(4), np.full(4, 0.2 * B), "upper bounds sum"),
        (-1.0, np.zeros(4), np.full(4, B), "positive"),
        (B, 0.0, B, "number of channels"),
    ],
)
def test_infeasible_or_invalid_raise(key, budget, lower, upper, match):
    with pytest.raises(ValueError, match=match):
        optimize_budget(mm, budget=budget, lower=lower, upper=upper, key=key)


# ---------------------------------------------------------------- the true response of beauty_daily
BEAUTY = BENCHDATA / "beauty_daily"


@pytest.mark.skipif(not (BEAUTY / "truth.json").exists(), reason="shared benchdata absent")
def test_true_response_of_beauty_daily_reaches_true_optimum(key):
    truth = json.loads((BEAUTY / "truth.json").read_text())
    names = list(truth["channels"])
    kinds = [truth["channels"][c]["saturation"] for c in names]
    beta = np.array([truth["channels"][c]["beta"] for c in names])
    half = np.array([k[1]["half"] for k in kinds])
    slope = np.array([k[1]["slope"] if k[0] == "hill" else 1.0 for k in kinds])
    assert all(k[0] in ("hill", "michaelis_menten") for k in kinds)
    synergy = [(names.index(i), names.index(j), g) for i, j, g in truth["synergy"]]

    def true_media(x):  # make_truth.steady_media in jax, currency units (the test's truth)
        s = x**slope / (x**slope + half**slope)  # Michaelis-Menten is slope 1
        total = jnp.sum(beta * s)
        for i, j, g in synergy:
            total = total + g * np.sqrt(beta[i] * beta[j]) * s[i] * s[j]
        return total[None]

    oa = truth["optimal_allocation"]
    hist = np.array([oa["historical"][c] for c in names])
    lo, hi = oa["bounds_multiple_of_mean"]
    res = optimize_budget(
        true_media,
        budget=oa["daily_budget"],
        lower=lo * hist,
        upper=hi * hist,
        key=key,
        reference=hist,
    )
    assert abs(res.allocation.sum() - oa["daily_budget"]) <= 1e-6 * oa["daily_budget"]
    # score in float64 with the benchmark's own numpy implementation
    sys.path.insert(0, str(BENCHDATA))
    import make_truth

    cfg = {"channels": {c: truth["channels"][c] for c in names}, "synergy": truth["synergy"]}
    betas = {c: truth["channels"][c]["beta"] for c in names}
    ours = make_truth.steady_media(cfg, res.allocation, betas)
    ratio = ours / oa["optimal_media_revenue"]
    print(f"true media revenue at our optimum / truth.json's optimum = {ratio:.9f}")
    assert ratio >= 0.999
    assert res.converged
