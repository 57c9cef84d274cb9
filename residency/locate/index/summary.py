"""Per-combination merged answers as arrays, and bulk enrichment read from them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from residency.locate.index.read import IndexDamaged, file_checksums, verify_files
from residency.model import IpFacts

#: Summary flag bits.
ROUTABLE, ANYCAST, CDN, DISAGREE = 1, 2, 4, 8
#: Summary confidence codes: index into this tuple.
CONFIDENCE_LEVELS = ("none", "low", "medium", "high")


class Summary:
    """Per-combination merged answers as arrays (one row per combo id), so bulk
    enrichment is an index lookup, not a merge. Written beside the compiled index."""

    FILES = ("country", "provider", "region", "asn", "flags", "confidence")

    def __init__(self, arrays: dict[str, Any], tables: dict[str, list[str]]) -> None:
        self.arrays = arrays
        self.tables = tables

    @classmethod
    def load(cls, directory: Path, calibration: str) -> Summary | None:
        """The summary in ``directory`` if it was merged with this calibration digest."""
        import numpy as np

        try:
            doc = json.loads((directory / "summary.json").read_text())
            if doc.get("calibration") != calibration:
                return None  # merged with other weights: merged again
            verify_files(directory, doc["files"], full=True)
            tables = doc["tables"]
            arrays = {n: np.load(directory / f"summary-{n}.npy") for n in cls.FILES}
        except (OSError, ValueError, KeyError, TypeError, IndexDamaged):
            return None  # rebuilt from the (verified) index
        return cls(arrays, tables)

    @classmethod
    def carried(cls, directory: Path, calibration: str) -> tuple[Summary, Any] | None:
        """The summary of the index an incremental update replaced, with each new
        combination's old id (-1 for a new one), when it was merged with this
        calibration; None otherwise (every combination is merged)."""
        import numpy as np

        from residency.locate.index.incremental import CARRIED, REUSE_FILE

        try:
            meta = json.loads((directory / "meta.json").read_text())
            carried = meta.get("carried")
            if not carried:
                return None
            verify_files(directory, carried, full=True)
            doc = json.loads((directory / f"{CARRIED}summary.json").read_text())
            if doc.get("calibration") != calibration:
                return None
            arrays = {n: np.load(directory / f"{CARRIED}summary-{n}.npy") for n in cls.FILES}
            reuse = np.load(directory / REUSE_FILE)
        except (OSError, ValueError, KeyError, TypeError, IndexDamaged):
            return None
        return cls(arrays, doc["tables"]), reuse

    @classmethod
    def build(
        cls,
        directory: Path,
        combos: int,
        merged: Callable[[int], IpFacts],
        calibration: str,
        previous: tuple[Summary, Any] | None = None,
    ) -> Summary:
        """Merge every combination once (tens of thousands, not millions); ``merged``
        gives the facts of one combo id. ``previous`` (``carried``): the rows of the
        combinations an incremental update kept are copied, only the others merged.
        Saved in ``directory`` when it is writable."""
        import numpy as np

        n = combos
        tables: dict[str, list[str]] = {"country": [""], "provider": [""], "region": [""]}
        if previous is not None:
            tables = {k: list(previous[0].tables[k]) for k in tables}
        ids: dict[str, dict[str, int]] = {
            k: {v: i for i, v in enumerate(vals)} for k, vals in tables.items()
        }

        def intern(kind: str, value: str | None) -> int:
            key = value or ""
            found = ids[kind].get(key)
            if found is None:
                found = ids[kind][key] = len(tables[kind])
                tables[kind].append(key)
            return found

        country = np.zeros(n, dtype=np.int16)
        provider = np.zeros(n, dtype=np.int16)
        region = np.zeros(n, dtype=np.int32)
        asn = np.zeros(n, dtype=np.int64)
        flags = np.zeros(n, dtype=np.uint8)
        confidence = np.zeros(n, dtype=np.uint8)
        todo: Any = range(n)
        if previous is not None:
            old, reuse = previous
            kept = np.nonzero(reuse >= 0)[0]
            columns: tuple[Any, ...] = (country, provider, region, asn, flags, confidence)
            for name, column in zip(cls.FILES, columns, strict=True):
                column[kept] = old.arrays[name][reuse[kept]]
            todo = np.nonzero(reuse < 0)[0].tolist()
        for combo in todo:
            facts = merged(combo)
            country[combo] = intern("country", facts.location.country)
            provider[combo] = intern("provider", facts.provider)
            region[combo] = intern("region", facts.region)
            asn[combo] = facts.asn or 0
            flags[combo] = (
                (ROUTABLE if facts.routable else 0)
                | (ANYCAST if facts.anycast else 0)
                | (CDN if facts.cdn else 0)
                | (DISAGREE if facts.disagreements else 0)
            )
            confidence[combo] = CONFIDENCE_LEVELS.index(facts.location.confidence.value)
        arrays: dict[str, Any] = {
            "country": country,
            "provider": provider,
            "region": region,
            "asn": asn,
            "flags": flags,
            "confidence": confidence,
        }
        if os.access(directory, os.W_OK):  # a read-only dataset keeps it in memory only
            files = {}
            for name, array in arrays.items():
                np.save(directory / f"summary-{name}.npy", array)
                files[f"summary-{name}.npy"] = file_checksums(directory / f"summary-{name}.npy")
            tmp = directory / "summary.json.tmp"
            doc = {"tables": tables, "files": files, "calibration": calibration}
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, directory / "summary.json")  # written last: marks it complete
            if previous is not None:
                from residency.locate.index.incremental import drop_carried

                drop_carried(directory)
        return cls(arrays, tables)


@dataclass(frozen=True)
class Enrichment:
    """The merged answer for many addresses, as columns; ``facts(i)`` gives the full story."""

    ips: Sequence[str]
    combos: Any  # numpy int32 array, one combo id per address
    summary: Summary
    #: The full facts of (address, its combo id): the locator's, with evidence.
    facts_at: Callable[[str, int], IpFacts]
    #: numpy bool per address: IPv6 space no registry has allocated, so not routable
    #: whatever its combination says (GeoIP databases place unallocated space too);
    #: None when there is none.
    unallocated: Any = None

    def __len__(self) -> int:
        return len(self.ips)

    def column(self, name: str) -> Any:
        """A numpy column per address: country/provider/region (strings), asn, flags."""
        import numpy as np

        values = self.summary.arrays[name][self.combos]
        if self.unallocated is not None:
            # the answer ``facts(i)`` gives: not routable, no place, no network
            values = values.copy()
            if name == "flags":
                values[self.unallocated] &= np.uint8(~(ROUTABLE | ANYCAST | CDN) & 0xFF)
            else:
                values[self.unallocated] = 0
        table = self.summary.tables.get(name)
        if table is None:
            return values
        return np.asarray(table, dtype=object)[values]

    def facts(self, i: int) -> IpFacts:
        return self.facts_at(self.ips[i], int(self.combos[i]))
