"""Random data frames in the CSV layout, for tests: one builder for every test module.

Each column is drawn in the order given, geo after geo, from one
``numpy.random.default_rng(seed)`` stream, so a module's frame is the same
whatever other modules ask for.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

#: A column's distribution: ``("gamma", shape, scale)`` or ``("normal", mean, sd)``.
Column = tuple[str, float, float]


def random_frame(
    columns: Mapping[str, Column],
    *,
    n: int,
    geos: Sequence[str] | None = None,
    seed: int = 0,
    start: str = "2024-01-01",
    freq: str = "D",
    sort_by_date: bool = False,
) -> pd.DataFrame:
    """``date``, ``geo`` (with ``geos``) and ``columns`` drawn at random, ``n`` periods per geo.

    Args:
      columns: Column name -> distribution (`Column`), drawn in this order.
      n: Periods per geo.
      geos: Geo names (a ``geo`` column second), or ``None`` for one series.
      seed: Seed of the one random stream.
      start: First date.
      freq: Period frequency (pandas alias).
      sort_by_date: Order rows by date, then geo (default: geo after geo).
    """
    rng = np.random.default_rng(seed)
    draw = {"gamma": rng.gamma, "normal": rng.normal}
    dates = pd.date_range(start, periods=n, freq=freq)
    parts = []
    for g in geos or [None]:
        part = pd.DataFrame({"date": dates})
        for name, (kind, a, b) in columns.items():
            part[name] = draw[kind](a, b, n)
        if g is not None:
            part.insert(1, "geo", g)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True)
    if sort_by_date and geos:
        frame = frame.sort_values(["date", "geo"], kind="stable").reset_index(drop=True)
    return frame
