"""SHA-256 for the cold lookup path, without loading OpenSSL (about 3 ms of start-up).

CPython builds its own SHA-256 (``_sha256`` in 3.11, ``_sha2`` from 3.12) beside the
OpenSSL one that ``hashlib.sha256`` returns; both give the same digest (tested). hashlib
is the fallback where neither module exists.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import Protocol, cast


class Sha256(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def _builtin_sha256() -> Callable[[bytes], Sha256]:
    for name in ("_sha2", "_sha256"):
        try:
            return cast("Callable[[bytes], Sha256]", import_module(name).sha256)
        except (ImportError, AttributeError):
            continue
    import hashlib

    return hashlib.sha256


#: ``sha256(data)``: a SHA-256 object with ``update`` and ``hexdigest``.
sha256 = _builtin_sha256()
