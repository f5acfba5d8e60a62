"""Small data sets in the column layouts of three public MMM examples, with known truth.

Run from the repository root to rewrite the CSVs and ``truth.json`` beside
this file::

    python -m tests.public_style.make_data

Each file copies only the *layout* of a peer's example data (column names,
the kind of values, the units), not its numbers; the numbers come from the
process below, written with numpy alone so that neither ``mmm_jax`` nor its
simulator can change them:

- spend per channel is a positive, autocorrelated series with bursts and
  dark weeks;
- each channel's effect is ``beta * hill(adstock(spend) / mean(spend), K, s)``
  with a normalised geometric adstock (retention ``alpha``), so it is additive
  and the true ROAS over the window is the channel's summed effect over its
  summed spend;
- the baseline is a level, a trend, yearly seasonality and the controls;
  Gaussian noise is added last.

Files:

``pymc_layout.csv``
  PyMC-Marketing's example: ``date_week, y, x1, x2, event_1, event_2, t``;
  spend on a 0-1 scale and ``y`` (sales) in thousands, as in that example.
``meridian_national.csv``
  Meridian's national simulated data: ``time, Channel{0,1,2}_impression,
  Channel{0,1,2}_spend, competitor_sales_control, sentiment_score_control,
  Promo, conversions, revenue_per_conversion``. The effects are made in
  conversions; revenue is conversions times ``revenue_per_conversion``,
  which drifts by 1% over time.
``robyn_weekly.csv``
  Robyn's simulated weekly data: ``DATE, revenue, tv_S, ooh_S, print_S,
  facebook_I, search_clicks_P, search_S, competitor_sales_B, facebook_S,
  events, newsletter``; ``events`` holds ``"na"`` in ordinary weeks and an
  event's name otherwise.
``weak_units.csv``
  The PyMC layout again, spend on a 0-1 scale and revenue in thousands, with
  so much noise that a model explains only about a third of the variation.

``truth.json`` holds, per file, the true ROAS per channel (the target's
currency per unit of spend; for the Meridian file revenue per unit of spend)
and the media share of the target.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
N_WEEKS = 130


def _spend(rng: np.random.Generator, n: int, mean: float, burst: float, dark: float) -> np.ndarray:
    """A positive AR(1) series with mean about ``mean``, bursts and dark weeks."""
    z = np.zeros(n)
    for t in range(1, n):
        z[t] = 0.7 * z[t - 1] + rng.normal(0.0, 0.45)
    x = np.exp(z - z.mean())
    x *= 1.0 + burst * (rng.random(n) < 0.12)
    x *= rng.random(n) >= dark
    return mean * x / x.mean()


def _effect(spend: np.ndarray, alpha: float, half: float, slope: float, beta: float) -> np.ndarray:
    """``beta * hill(adstock(spend) / mean(spend), half, slope)``, normalised geometric adstock."""
    a = np.zeros_like(spend)
    carry = 0.0
    for t, x in enumerate(spend):
        carry = x + alpha * carry
        a[t] = carry * (1.0 - alpha)
    r = a / spend.mean()
    return beta * r**slope / (r**slope + half**slope)


def _seasonal(n: int, amplitude: float, phase: float) -> np.ndarray:
    t = np.arange(n)
    return amplitude * np.sin(2 * np.pi * t / 52.18 + phase)


def _dates(n: int, start: str, freq: str = "W-MON") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=freq)


def _roas(effects: dict[str, np.ndarray], spends: dict[str, np.ndarray], value=1.0) -> dict:
    return {c: float(np.sum(effects[c] * value) / np.sum(spends[c])) for c in effects}


def pymc_layout(seed: int, *, noise: float) -> tuple[pd.DataFrame, dict]:
    """PyMC-Marketing's example layout: two channels on a 0-1 scale, sales in thousands."""
    rng = np.random.default_rng(seed)
    n = N_WEEKS
    raw = {"x1": _spend(rng, n, 1.0, 1.5, 0.0), "x2": _spend(rng, n, 1.0, 2.0, 0.35)}
    spends = {c: x / x.max() for c, x in raw.items()}  # 0-1 scale, as in the example
    effects = {
        "x1": _effect(spends["x1"], 0.4, 0.9, 1.5, 1400.0),
        "x2": _effect(spends["x2"], 0.2, 1.2, 1.0, 900.0),
    }
    event_1 = np.zeros(n)
    event_2 = np.zeros(n)
    event_1[[30, 82]] = 1.0
    event_2[[55, 110]] = 1.0
    t = np.arange(n, dtype=float)
    base = 4000.0 + 6.0 * t + _seasonal(n, 350.0, 0.3) + 900.0 * event_1 + 600.0 * event_2
    y = base + sum(effects.values()) + rng.normal(0.0, noise, n)
    frame = pd.DataFrame(
        {
            "date_week": _dates(n, "2018-04-02").strftime("%Y-%m-%d"),
            "y": np.round(y, 2),
            "x1": np.round(spends["x1"], 6),
            "x2": np.round(spends["x2"], 6),
            "event_1": event_1,
            "event_2": event_2,
            "t": t.astype(int),
        }
    )
    truth = {
        "roas": _roas(effects, spends),
        "media_share": float(sum(e.sum() for e in effects.values()) / y.sum()),
    }
    return frame, truth


def meridian_national(seed: int) -> tuple[pd.DataFrame, dict]:
    """Meridian's national layout: conversions made by three channels, revenue per conversion."""
    rng = np.random.default_rng(seed)
    n = N_WEEKS
    names = ["Channel0", "Channel1", "Channel2"]
    spends = {
        "Channel0": _spend(rng, n, 40_000.0, 1.0, 0.0),
        "Channel1": _spend(rng, n, 25_000.0, 1.5, 0.1),
        "Channel2": _spend(rng, n, 10_000.0, 2.0, 0.2),
    }
    cpm = {"Channel0": 6.0, "Channel1": 9.0, "Channel2": 14.0}  # cost per 1000 impressions
    effects = {  # in conversions
        "Channel0": _effect(spends["Channel0"], 0.5, 1.0, 1.2, 2600.0),
        "Channel1": _effect(spends["Channel1"], 0.3, 0.8, 1.0, 1500.0),
        "Channel2": _effect(spends["Channel2"], 0.2, 1.1, 1.5, 700.0),
    }
    competitor = rng.normal(0.0, 1.0, n).cumsum() * 0.2
    competitor -= competitor.mean()
    sentiment = rng.normal(0.0, 1.0, n)
    promo = (rng.random(n) < 0.15).astype(float)
    t = np.arange(n)
    base = 9000.0 + 4.0 * t + _seasonal(n, 700.0, 1.0) - 400.0 * competitor
    base += 150.0 * sentiment + 800.0 * promo
    conversions = base + sum(effects.values()) + rng.normal(0.0, 250.0, n)
    value = 35.0 * (1.0 + 0.01 * np.sin(2 * np.pi * t / 80.0))  # drifts +-1%
    frame = pd.DataFrame({"time": _dates(n, "2021-01-25").strftime("%Y-%m-%d")})
    for c in names:
        impressions = spends[c] / cpm[c] * 1000.0 * rng.lognormal(0.0, 0.05, n)
        frame[f"{c}_impression"] = np.round(impressions)
    for c in names:
        frame[f"{c}_spend"] = np.round(spends[c], 2)
    frame["competitor_sales_control"] = np.round(competitor, 4)
    frame["sentiment_score_control"] = np.round(sentiment, 4)
    frame["Promo"] = promo
    frame["conversions"] = np.round(conversions, 1)
    frame["revenue_per_conversion"] = np.round(value, 4)
    truth = {
        "roas": _roas(effects, spends, value),
        "roas_constant_value": _roas(effects, spends, 35.0),
        "media_share": float(sum(e.sum() for e in effects.values()) / conversions.sum()),
    }
    return frame, truth


def robyn_weekly(seed: int) -> tuple[pd.DataFrame, dict]:
    """Robyn's simulated weekly layout: five channels, a competitor, events, a newsletter."""
    rng = np.random.default_rng(seed)
    n = N_WEEKS
    spends = {
        "tv_S": _spend(rng, n, 60_000.0, 1.0, 0.45),
        "ooh_S": _spend(rng, n, 30_000.0, 1.0, 0.5),
        "print_S": _spend(rng, n, 8_000.0, 1.0, 0.3),
        "facebook_S": _spend(rng, n, 20_000.0, 1.0, 0.05),
        "search_S": _spend(rng, n, 15_000.0, 0.5, 0.0),
    }
    effects = {
        "tv_S": _effect(spends["tv_S"], 0.6, 1.0, 1.5, 300_000.0),
        "ooh_S": _effect(spends["ooh_S"], 0.4, 1.0, 1.0, 100_000.0),
        "print_S": _effect(spends["print_S"], 0.3, 1.0, 1.0, 12_000.0),
        "facebook_S": _effect(spends["facebook_S"], 0.2, 0.9, 1.2, 120_000.0),
        "search_S": _effect(spends["search_S"], 0.1, 1.0, 1.0, 90_000.0),
    }
    competitor = 5e6 * np.exp(rng.normal(0.0, 0.03, n).cumsum() * 0.5)
    events = np.array(["na"] * n, dtype=object)
    events[[10, 62, 114]] = "event1"
    events[[40, 92]] = "event2"
    newsletter = np.round(np.maximum(rng.normal(20_000.0, 6_000.0, n), 0.0))
    t = np.arange(n)
    base = 1.4e6 + 800.0 * t + _seasonal(n, 120_000.0, 2.0) + 0.06 * (competitor - 5e6)
    base += np.where(events == "event1", 180_000.0, 0.0) + np.where(
        events == "event2", -90_000.0, 0.0
    )
    base += 1.5 * (newsletter - 20_000.0)
    revenue = base + sum(effects.values()) + rng.normal(0.0, 35_000.0, n)
    frame = pd.DataFrame(
        {
            "DATE": _dates(n, "2015-11-23").strftime("%Y-%m-%d"),
            "revenue": np.round(revenue, 2),
            "tv_S": np.round(spends["tv_S"], 2),
            "ooh_S": np.round(spends["ooh_S"], 2),
            "print_S": np.round(spends["print_S"], 2),
            "facebook_I": np.round(spends["facebook_S"] * 1000.0 / 7.0),
            "search_clicks_P": np.round(spends["search_S"] / 0.9),
            "search_S": np.round(spends["search_S"], 2),
            "competitor_sales_B": np.round(competitor),
            "facebook_S": np.round(spends["facebook_S"], 2),
            "events": events,
            "newsletter": newsletter,
        }
    )
    truth = {
        "roas": _roas(effects, spends),
        "media_share": float(sum(e.sum() for e in effects.values()) / revenue.sum()),
    }
    return frame, truth


def main() -> None:
    """Writes the four CSVs and ``truth.json`` beside this file."""
    truth = {}
    for name, (frame, info) in {
        "pymc_layout.csv": pymc_layout(1, noise=120.0),
        "meridian_national.csv": meridian_national(2),
        "robyn_weekly.csv": robyn_weekly(3),
        "weak_units.csv": pymc_layout(4, noise=700.0),
    }.items():
        frame.to_csv(HERE / name, index=False)
        truth[name] = info
    (HERE / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
