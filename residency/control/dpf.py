"""The EU-US Data Privacy Framework participant list, when the user supplies it.

Under GDPR a US recipient is a transfer wherever its servers are; the EU's 2023 adequacy
decision covers only organisations certified under the DPF. The list is opt-in data
(dataset ``dpf-participants``): ``residency data import FILE --as dpf-participants`` with
the list exported from the DPF programme's site, as CSV with an organisation-name column
or one name per line. Without it, a policy that asks says the list is absent.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from residency.control.names import name_key
from residency.control.sanitize import clean_text
from residency.datasets.errors import DatasetError, FeedInvalid
from residency.model import Controller

DATASET = "dpf-participants"
KIND = "dpf-list"
FILE_NAME = "dpf-participants.csv"
_NAME_COLUMNS = ("organization name", "organisation name", "organization", "organisation",
                 "name", "legal name", "company")  # fmt: skip
#: Names kept; the real list has about 3,000.
MAX_NAMES = 200_000


@dataclass(frozen=True)
class DpfList:
    names: frozenset[str]  # name keys
    version: str

    def status(self, controller: Controller) -> str:
        """``listed <version>`` when the controller or an owner above it is a participant."""
        candidates = [controller.entity or "", *(p.entity for p in controller.parents)]
        for candidate in candidates:
            if candidate and name_key(candidate) in self.names:
                return f"listed ({DATASET} {self.version}: {candidate})"
        return f"not listed ({DATASET} {self.version})"


def parse_dpf(data: bytes, label: str) -> list[str]:
    """Organisation names from a CSV with a name column, or one name per line."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeedInvalid(f"{label}: not UTF-8 text") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise FeedInvalid(f"{label}: empty; expected a CSV with an organisation-name column")
    names: list[str] = []
    header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    column = next((header.index(c) for c in _NAME_COLUMNS if c in header), None)
    if column is not None:
        for row in csv.reader(io.StringIO("\n".join(lines[1:]))):
            if len(row) > column and (name := clean_text(row[column])):
                names.append(name)
    elif len(header) == 1:
        names = [n for line in lines if (n := clean_text(line))]
    else:
        raise FeedInvalid(
            f"{label}: wrong shape, no organisation-name column among {', '.join(header[:8])}"
        )
    if not names:
        raise FeedInvalid(f"{label}: no organisation names")
    return names[:MAX_NAMES]


def load_dpf(directory: Path | None = None, notes: list[str] | None = None) -> DpfList | None:
    """The installed list, or None (a policy that needs it then says it is absent)."""
    from residency.datasets.manifest import load_manifest

    try:
        entry = load_manifest(directory).entries.get(DATASET)
        if entry is None:
            return None
        path = entry.file_paths(directory)[0]
        names = parse_dpf(path.read_bytes(), f"{DATASET}: {path.name}")
    except (DatasetError, OSError, IndexError) as err:
        if notes is not None:
            notes.append(f"DPF participant list not used: {err}")
        return None
    version = entry.published or entry.version
    return DpfList(frozenset(name_key(n) for n in names), version)
