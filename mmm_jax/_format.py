"""Numbers as people read them: significant digits, never a small amount rounded to zero.

One helper, `fmt_sig`, for every amount of money and every ratio the command
line, the report and the figures print. Data in small units (spend in
thousands, a 0-1 scale) have budgets of 0.0123 per period; a fixed ``{:,.0f}``
printed them as ``0``.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt_sig"]


def fmt_sig(x: Any, digits: int = 3, *, missing: str = "—") -> str:
    """``x`` with ``digits`` significant digits; whole digits are never dropped.

    Numbers of ``digits`` or more whole digits print as integers with thousands
    separators (``1234567 -> "1,234,567"``, ``-1234.5 -> "-1,234"``, rounding
    half to even); smaller ones with as many decimals as ``digits``
    significant digits need (``1.234 -> "1.23"``, ``0.0123 -> "0.0123"``,
    ``0.5 -> "0.500"``); below ``1e-4`` in scientific notation
    (``1.23e-05``). Zero is ``"0"``.

    Args:
      x: A number (int, float or a numpy scalar); anything else, ``None``, NaN
        or an infinity prints as ``missing``.
      digits: Significant digits, >= 1.
      missing: What a missing or non-finite value prints as.

    Raises:
      ValueError: ``digits`` below 1.
    """
    if digits < 1:
        raise ValueError(f"digits must be >= 1, got {digits}")
    try:
        if isinstance(x, bool) or x is None:
            return missing
        v = float(x)
    except (TypeError, ValueError):
        return missing
    if not math.isfinite(v):
        return missing
    if v == 0.0:
        return "0"
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a < 1e-4:
        text = f"{a:.{digits - 1}e}"
        return "0" if float(text) == 0.0 else sign + text
    decimals = digits - 1 - math.floor(math.log10(a))
    if decimals > 0:
        rounded = round(a, decimals)
        # 9.996 -> 10.00 at 3 digits: one decimal fewer once rounding gains a digit
        decimals = max(0, digits - 1 - math.floor(math.log10(rounded)))
        return f"{sign}{rounded:,.{decimals}f}"
    rounded = round(a)
    return f"{sign}{rounded:,d}" if rounded else "0"
