"""Text from the entity tables, cleaned once at entry: it is data, never markup.

Lone surrogates (which JSON allows and UTF-8 cannot carry) become U+FFFD, control
characters become spaces, runs of space collapse, and a field is capped in length, so
every later stage (reports, the store, JSON) can hold it without surprises. Escaping for
each output kind still happens at the output boundary.
"""

from __future__ import annotations

import re
import unicodedata

from residency.textsafe import replace_surrogates

#: Longest organisation name kept; longer ones are cut (real names are far shorter).
MAX_NAME = 160
_SPACES = re.compile(r"\s+")
_HOST_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def clean_text(value: object, limit: int = MAX_NAME) -> str | None:
    """``value`` as safe text, or None when it is not a string or nothing is left."""
    if not isinstance(value, str):
        return None
    text = replace_surrogates(value)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    text = _SPACES.sub(" ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text or None


def clean_domain(value: object) -> str | None:
    """A lower-case DNS name, or None when ``value`` is not one (URLs, wildcards and
    junk are refused, not repaired)."""
    if not isinstance(value, str) or len(value) > 253:
        return None
    name = value.strip().lower().rstrip(".")
    if name.startswith("*."):
        name = name[2:]
    if "." not in name:
        return None
    labels = name.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        return None
    return name


def clean_country(value: object) -> str | None:
    """An ISO 3166-1 alpha-2 code in upper case, or None."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if len(code) == 2 and code.isascii() and code.isalpha() else None
