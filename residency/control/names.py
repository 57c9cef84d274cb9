"""Organisation names compared as people read them: case, punctuation and legal form aside.

"Virtual Minds AG", "VirtualMinds" and "virtual minds" are one organisation; "Google Ads"
and "Google LLC" are not, by name alone (data/organisations.toml's aliases join them)."""

from __future__ import annotations

import re
from functools import lru_cache

_LEGAL_FORMS = frozenset(
    {
        "inc", "incorporated", "llc", "ltd", "limited", "corp", "corporation", "co",
        "company", "gmbh", "ag", "sa", "sas", "sarl", "se", "plc", "bv", "nv", "kg",
        "oy", "ab", "as", "spa", "srl", "pte", "pty", "lp", "llp", "kk", "the",
    }
)  # fmt: skip
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    """The comparison key of an organisation name: ``"Virtual Minds AG"`` -> ``"virtualminds"``."""
    words = [w for w in _WORD.findall(name.casefold()) if w not in _LEGAL_FORMS]
    return "".join(words) or "".join(_WORD.findall(name.casefold()))
