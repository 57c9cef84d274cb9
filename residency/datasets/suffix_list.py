"""The public suffix list as ``residency data update`` installs it (dataset ``public-suffix-list``).

Optional: without it, registrable domains come from the snapshot bundled in tldextract
(``residency.endpoints.domain``). A downloaded list must look like the real one (the ICANN
section markers and at least ``MIN_RULES`` ICANN rules) before it replaces anything.
"""

from __future__ import annotations

import re
from pathlib import Path

from residency.datasets.errors import DatasetError, FeedInvalid
from residency.datasets.parsers._common import content_version, decode_text

DATASET = "public-suffix-list"
FILE_NAME = "public_suffix_list.dat"
#: The real list has about 7,000 ICANN rules; a truncated download has far fewer.
MIN_RULES = 1000

_BEGIN, _END = "// ===BEGIN ICANN DOMAINS===", "// ===END ICANN DOMAINS==="
_VERSION = re.compile(r"^// VERSION: (\S+)", re.MULTILINE)


def check_suffix_list(data: bytes) -> tuple[str, int]:
    """``(version, ICANN rules)``; ``FeedInvalid`` naming the dataset otherwise."""
    text = decode_text(DATASET, data)
    start, end = text.find(_BEGIN), text.find(_END)
    if start < 0 or end < start:
        raise FeedInvalid(f"{DATASET}: no ICANN section ({_BEGIN} ... {_END}); wrong file?")
    rules = sum(
        1
        for line in text[start:end].splitlines()
        if line.strip() and not line.lstrip().startswith("//")
    )
    if rules < MIN_RULES:
        raise FeedInvalid(
            f"{DATASET}: only {rules} ICANN rules (the real list has thousands); truncated?"
        )
    found = _VERSION.search(text[:start])
    return (found.group(1) if found else content_version(data)), rules


def installed_suffix_list(directory: Path | None = None) -> tuple[Path, str] | None:
    """The installed list and its version, or None (use the bundled snapshot)."""
    from residency.datasets.manifest import load_manifest

    try:
        entry = load_manifest(directory).entries.get(DATASET)
    except DatasetError:
        return None
    if entry is None:
        return None
    for path in entry.file_paths(directory):
        if path.is_file():
            return path, entry.version
    return None
