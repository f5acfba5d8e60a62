"""Options of a few kinds, given by name or as the enum: one parser, one message.

Configurations, the workflow's settings and the command line all name their
choices the same way (``likelihood="student_t"``, ``--likelihood student_t``),
so a wrong name reads the same wherever it was given.
"""

from __future__ import annotations

import enum
from typing import Any, TypeVar

__all__ = ["member"]

E = TypeVar("E", bound=enum.Enum)


def member(kind: type[E], value: Any, name: str) -> E:
    """The member of ``kind`` that ``value`` is or names.

    Args:
      kind: The enum.
      value: A member of ``kind`` or the value of one (``"student_t"``).
      name: What the message calls the option (``likelihood``, ``--likelihood``,
        ``media.effect:``).

    Raises:
      ValueError: A string that names no member; the message lists the choices.
      TypeError: Neither a member nor a string.
    """
    if isinstance(value, kind):
        return value
    choices = ", ".join(str(m.value) for m in kind)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be one of {choices} or their {kind.__name__} members, got {value!r}"
        )
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}") from None
