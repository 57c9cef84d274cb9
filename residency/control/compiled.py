"""The entity tables merged once per data version: listed domain -> decided controller.

Merging the tables' claims for a domain (grouping names, resolving owner/subsidiary,
choosing on disagreement, walking the ownership chain) costs far more than looking a host
up, and its answer depends only on the data: so it is done for every listed domain when
the data changes, and kept in the dataset folder (``compiled/control-<digest>.msgpack``),
keyed by the entity datasets' hashes, the shipped organisations table and residency's
version. An audit then walks each host's suffixes through one dict.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack

from residency.control.entities import EntityIndex, TableInfo
from residency.model import Confidence, Controller, OwnerLink

FORMAT = 2


def _row(found: Controller) -> list[Any]:
    return [
        found.entity,
        found.country,
        found.basis,
        found.confidence.value,
        found.why,
        [[p.entity, p.country, p.source, p.lei] for p in found.parents],
        found.parent_unknown,
        list(found.sources),
        list(found.disagreements),
    ]


def _controller(row: list[Any]) -> Controller:
    entity, country, basis, confidence, why, parents, short, sources, disagreements = row
    return Controller(
        entity,
        country,
        basis,
        Confidence(confidence),
        why,
        parents=tuple(OwnerLink(*p) for p in parents),
        parent_unknown=short,
        sources=tuple(sources),
        disagreements=tuple(disagreements),
    )


@dataclass
class CompiledEntities:
    """Domain -> decided controller (decoded on first use), and what the tables say of
    names' countries and parents (for controllers named by a certificate or the user)."""

    rows: dict[str, bytes]  # each row packed on its own: a run decodes only what it meets
    tables: tuple[TableInfo, ...] = ()
    countries: dict[str, list[str]] = field(default_factory=dict)  # name key -> [cc, label]
    parents: dict[str, list[str]] = field(default_factory=dict)  # name key -> [name, label]
    _decoded: dict[str, Controller] = field(default_factory=dict)

    def get(self, domain: str) -> Controller | None:
        found = self._decoded.get(domain)
        if found is None:
            row = self.rows.get(domain)
            if row is None:
                return None
            found = self._decoded[domain] = _controller(msgpack.unpackb(row, raw=False))
        return found

    def __contains__(self, domain: str) -> bool:
        return domain in self.rows

    def disagreements(self) -> list[str]:
        return [d for domain in sorted(self.rows) for d in self.get(domain).disagreements]  # type: ignore[union-attr]

    def save(self, path: Path) -> None:
        """Write atomically; a folder that cannot be written is the caller's note."""
        document = {
            "format": FORMAT,
            "rows": self.rows,
            "tables": [[t.dataset, t.table, t.version, t.licence] for t in self.tables],
            "countries": self.countries,
            "parents": self.parents,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".control-", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(msgpack.packb(document, use_bin_type=True))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @classmethod
    def read(cls, path: Path) -> CompiledEntities | None:
        """The cache at ``path``, or None when absent or not this format."""
        try:
            document = msgpack.unpackb(path.read_bytes(), raw=False, strict_map_key=False)
        except (OSError, ValueError, msgpack.UnpackException):
            return None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            return None
        tables = tuple(TableInfo(*t) for t in document["tables"])
        return cls(document["rows"], tables, document["countries"], document["parents"])

    def index_view(self) -> EntityIndex:
        """An index holding only countries and parents (for ownership chains)."""
        index = EntityIndex()
        labels = {t.label: t for t in self.tables}
        for key, (country, label) in self.countries.items():
            index.countries[key] = (country, labels.get(label, TableInfo("?", label, "")))
        for key, (name, label) in self.parents.items():
            index.parents[key] = (name, labels.get(label, TableInfo("?", label, "")))
        index.tables = list(self.tables)
        return index


def compile_rows(
    domains: Iterable[str], decide: Callable[[str], Controller | None], index: EntityIndex
) -> CompiledEntities:
    rows: dict[str, bytes] = {}
    for domain in domains:
        found = decide(domain)
        if found is not None:
            rows[domain] = msgpack.packb(_row(found), use_bin_type=True)
    return CompiledEntities(
        rows,
        tuple(index.tables),
        {k: [c, t.label] for k, (c, t) in index.countries.items()},
        {k: [n, t.label] for k, (n, t) in index.parents.items()},
    )


def digest(parts: Iterable[str]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return hasher.hexdigest()[:16]
