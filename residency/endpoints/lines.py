"""Reading text inputs line by line without ever holding an over-long line whole."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

#: The longest line an input may have; longer lines are rejected, not read.
MAX_LINE = 4096
_DISCARD = 1 << 16
#: The largest whole-file text input (zone files, dig output): these readers need the whole
#: text, so a bigger file is refused before it is held rather than read without bound.
MAX_WHOLE_FILE = 256 << 20


def read_bounded(stream: BinaryIO) -> bytes | None:
    """All of ``stream``, or ``None`` when it holds more than ``MAX_WHOLE_FILE`` bytes;
    never reads more than one byte past the cap."""
    limit = MAX_WHOLE_FILE
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def too_big_message(origin: str, what: str) -> str:
    limit = MAX_WHOLE_FILE
    size = f"{limit >> 20} MiB" if limit >= 1 << 20 else f"{limit:,} bytes"
    return f"{origin}: {what} larger than {size}; split it into smaller files"


@dataclass(frozen=True)
class Line:
    """One line (1-based ``number``); ``text`` is None when the line was too long."""

    number: int
    text: str | None
    head: str = ""

    def too_long_message(self, origin: str, limit: int = MAX_LINE) -> str:
        return f"{origin}:{self.number}: line longer than {limit} bytes"


def bounded_lines(stream: BinaryIO, limit: int = MAX_LINE) -> Iterator[Line]:
    """Decoded lines of ``stream`` (UTF-8, bad bytes replaced, BOM and newline dropped).

    A line longer than ``limit`` bytes is yielded with ``text=None`` and its first
    bytes as ``head``; the rest of it is skipped in bounded chunks, so memory stays
    ``O(limit)`` whatever the line length.
    """
    number = 0
    while True:
        raw = stream.readline(limit + 1)
        if not raw:
            return
        number += 1
        if len(raw) > limit and not (len(raw) == limit + 1 and raw.endswith(b"\n")):
            head = raw[:60].decode("utf-8", errors="replace")
            while not raw.endswith(b"\n"):
                raw = stream.readline(_DISCARD)
                if not raw:
                    break
            yield Line(number, None, head=head + "...")
            continue
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if number == 1:
            text = text.lstrip("\ufeff")
        yield Line(number, text)
