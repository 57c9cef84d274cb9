"""Echoing user input in messages: never more than a readable stretch of it."""

from __future__ import annotations

#: How much of a user's input a message shows by default.
SHOWN = 80


def shorten(text: str, limit: int = SHOWN) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with ``...`` and the size.

    A 200 MB line in an input must not come back whole in an error message; the
    head is enough to find it, and the size says how much was left out.
    """
    if len(text) <= limit:
        return text
    tail = f"... ({len(text)} chars)"
    return text[: max(limit - len(tail), 1)] + tail
