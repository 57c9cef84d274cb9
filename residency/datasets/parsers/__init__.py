"""Feed parsers, one module per format; ``PARSERS`` maps dataset id -> parse function."""

from __future__ import annotations

from residency.datasets.interface import Parser

PARSERS: dict[str, Parser] = {}
