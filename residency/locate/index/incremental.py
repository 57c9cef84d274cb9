"""Incremental compiles: when one source changes, only its layer is read again.

The index in place is the cache. Its interval tables say, for every address, which
combination of claims covers it; a changed (or added, removed, damaged) layer is cut
into those tables as one more layer, the kept layers' columns are carried over, and
only the combinations the changed layers touch are new. The result is the index a
full compile would write (the same intervals with the same claims; the combination
ids may be numbered differently). Reading a GeoIP database takes minutes; the splice
takes seconds, whatever the size of the index.

It is written beside the old index and swapped in like a full compile, so a reader
sees the old index or the new one. A layer whose claims file fails its checksum is
read again from its source; damage anywhere else (the interval tables, the combos)
leaves the full compile to do.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from residency.locate.index.build import (
    U64_MAX,
    V4_MAX,
    IndexTables,
    LayerBuilder,
    combine_layers,
    flatten,
    layer_arrays,
    sorted_unique,
    unique_rows,
    write_claims,
    write_index,
)
from residency.locate.index.read import (
    INDEX_FORMAT,
    CompiledIndex,
    IndexError_,
    file_checksums,
    verify_files,
)
from residency.locate.index.specs import LayerPlan, SourceSpec, build_layer, layer_plans

#: Written beside the index: which combinations were carried over (new combo -> old combo,
#: -1 for a new one), read once by the summary so it merges only the new ones.
REUSE_FILE = "reuse.npy"
#: The prefix of the old summary's files carried beside the new index for that reuse.
CARRIED = "previous-"


@dataclass
class CompileReport:
    """What an incremental compile did: the layers read again and the ones kept."""

    rebuilt: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    new_combos: int = 0
    combos: int = 0

    def line(self) -> str:
        parts = [f"rebuilt {', '.join(self.rebuilt)}" if self.rebuilt else "nothing rebuilt"]
        if self.damaged:
            parts.append(f"damaged and read again: {', '.join(self.damaged)}")
        if self.removed:
            parts.append(f"dropped {', '.join(self.removed)}")
        parts.append(f"kept {len(self.kept)} layers")
        parts.append(f"{self.new_combos} of {self.combos} combinations merged anew")
        return "rebuilding incrementally: " + "; ".join(parts)


def _old_meta(target: Path) -> dict[str, Any] | None:
    try:
        meta = json.loads((target / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
        return None
    keys = meta.get("layer_keys")
    layers = meta.get("layers")
    if not isinstance(keys, list) or not isinstance(layers, list) or len(keys) != len(layers):
        return None  # written before layer keys were recorded: compiled whole
    return meta


def _damaged_layers(target: Path, meta: dict[str, Any]) -> set[int] | None:
    """Indexes of layers whose claims files fail their checksum; None when anything
    else is damaged (then only a full compile helps)."""
    files = meta.get("files")
    if not isinstance(files, dict):
        return None
    damaged: set[int] = set()
    for name, want in files.items():
        try:
            verify_files(target, {name: want}, full=True)
        except IndexError_:
            if not name.startswith("claims-"):
                return None
            try:
                damaged.add(int(name.split("-", 1)[1].split(".", 1)[0]))
            except ValueError:
                return None
    return damaged


def update_index(
    specs: Sequence[SourceSpec], target: Path, stamp: str, merge_inputs: str
) -> CompileReport | None:
    """Bring the index in ``target`` up to ``specs`` by reading only the layers whose
    source changed. None when it cannot (no index with layer keys, project tables or
    the compiler changed, interval tables damaged): the caller compiles in full."""
    meta = _old_meta(target)
    if meta is None:
        return None
    plans = layer_plans(specs)
    old_ids = [str(m["id"]) for m in meta["layers"]]
    old_keys = [str(k) for k in meta["layer_keys"]]
    if len(set(old_ids)) != len(old_ids) or len({p.layer_id for p in plans}) != len(plans):
        return None
    damaged = _damaged_layers(target, meta)
    if damaged is None:
        return None
    try:
        old = CompiledIndex(target, checked=True)  # every file but damaged claims verified
    except IndexError_:
        return None
    report = CompileReport()
    position = {layer_id: j for j, layer_id in enumerate(old_ids)}
    unchanged = [
        p for p in plans if p.layer_id in position and old_keys[position[p.layer_id]] == p.key
    ]
    if not unchanged:
        return None  # nothing to keep (a new compiler version): a full compile is simpler
    kept: dict[int, int] = {}  # new layer -> old layer
    rebuilt: dict[int, LayerBuilder] = {}
    for i, plan in enumerate(plans):
        j = position.get(plan.layer_id)
        if j is not None and old_keys[j] == plan.key and j not in damaged:
            kept[i] = j
            report.kept.append(plan.layer_id)
            continue
        rebuilt[i] = build_layer(plan)
        (report.damaged if j is not None and j in damaged else report.rebuilt).append(plan.layer_id)
    report.removed = [lid for lid in old_ids if lid not in {p.layer_id for p in plans}]
    if not rebuilt and not report.removed and len(kept) == len(old_ids):
        _rewrite_meta(target, meta, stamp, plans, merge_inputs)
        return report
    _splice(old, meta, plans, kept, rebuilt, target, stamp, merge_inputs, report)
    return report


def _rewrite_meta(
    target: Path, meta: dict[str, Any], stamp: str, plans: Sequence[LayerPlan], merge_inputs: str
) -> None:
    """Same layers, other stamp (a source file touched, its content the same)."""
    meta = {**meta, "stamp": stamp, "layer_keys": [p.key for p in plans]}
    meta["merge_inputs"] = merge_inputs
    tmp = target / "meta.json.tmp"
    tmp.write_text(json.dumps(meta, indent=1))
    os.replace(tmp, target / "meta.json")


def _base_layer(starts: npt.NDArray[Any], combo: npt.NDArray[Any], top: int) -> Any:
    """The old interval table as one layer: contiguous intervals, each its combo id."""
    starts = np.asarray(starts, dtype=np.uint64)
    ends = np.empty(len(starts), dtype=np.uint64)
    if len(starts):
        ends[:-1] = starts[1:] - np.uint64(1)
        ends[-1] = np.uint64(top)
    return starts, ends, np.asarray(combo, dtype=np.int64)


#: The changed layers are "small" (cut into the old table without sorting it again)
#: while they hold fewer intervals than this share of the old table.
_SMALL_SHARE = 0.05


def _splice_layers(
    base: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]],
    changed: Sequence[Any],
    top: int,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """``combine_layers([base, *changed], top)`` for a base of contiguous intervals (the
    old table) and changed layers much smaller than it: the changed layers' cuts are
    inserted into the base's sorted starts and only the rows they cover are filled, so
    the work is one pass over the table, not a sort of it (the import of a 2-line
    geofeed into a 4-million-interval index)."""
    starts, _, combo = base
    cuts = [np.zeros(0, dtype=np.uint64)]
    for first, last, _ in changed:
        cuts.append(np.asarray(first, dtype=np.uint64))
        after = np.asarray(last, dtype=np.uint64)
        cuts.append(after[after < np.uint64(top)] + np.uint64(1))
    extra = np.unique(np.concatenate(cuts))
    at = np.searchsorted(starts, extra, side="left")
    fresh = (at >= len(starts)) | (starts[np.minimum(at, len(starts) - 1)] != extra)
    bounds = np.insert(starts, at[fresh], extra[fresh])
    is_new = np.zeros(len(bounds), dtype=bool)
    is_new[at[fresh] + np.arange(int(np.count_nonzero(fresh)))] = True
    matrix = np.full((len(bounds), 1 + len(changed)), -1, dtype=np.int32)
    matrix[:, 0] = np.asarray(combo, dtype=np.int64)[np.cumsum(~is_new) - 1]
    for j, (first, last, claim) in enumerate(changed, start=1):
        if len(first) == 0:
            continue
        lo = np.searchsorted(bounds, np.asarray(first, dtype=np.uint64), side="left")
        hi = np.searchsorted(bounds, np.asarray(last, dtype=np.uint64), side="right")
        # the layer's intervals are disjoint: mark each covered run of rows by a
        # difference array carrying (claim + 1), then a running sum
        mark = np.zeros(len(bounds) + 1, dtype=np.int64)
        value = np.asarray(claim, dtype=np.int64) + 1
        np.add.at(mark, lo, value)
        np.add.at(mark, hi, -value)
        matrix[:, j] = np.cumsum(mark[:-1]) - 1
    return bounds, matrix


def _combine_base(
    base: tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]],
    changed: Sequence[Any],
    top: int,
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """The old table with the changed layers cut in: spliced when they are small,
    combined afresh (a sort of every boundary) when they are not."""
    size = sum(len(first) for first, _, _ in changed)
    if len(base[0]) and int(base[0][0]) == 0 and size <= _SMALL_SHARE * len(base[0]):
        return _splice_layers(base, changed, top)
    bounds, matrix = combine_layers([base, *changed], top)
    return bounds, matrix


def _claim_at(arrays: Any, keys: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Each key's claim in one layer's disjoint sorted arrays, -1 where none covers it."""
    first, last, claim = arrays
    out = np.full(len(keys), -1, dtype=np.int64)
    if len(first) == 0 or len(keys) == 0:
        return out
    idx = np.searchsorted(first, keys, side="right").astype(np.int64) - 1
    ok = idx >= 0
    hit = np.zeros(len(keys), dtype=bool)
    hit[ok] = last[idx[ok]] >= keys[ok]
    out[hit] = claim[idx[hit]]
    return out


def _fine_splice(
    old: CompiledIndex, changed: Sequence[LayerBuilder], v6_new: Sequence[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The exact table (the /64s holding longer prefixes) with the changed layers cut in:
    rows (top 64 bits, low 64 bits) -> (old combo, each changed layer's claim). A /64
    where no changed layer has a longer piece keeps its rows, each changed layer's
    whole-/64 claim beside them; one where one has is cut again, as a full compile would."""
    old_hi = np.asarray(old.arrays("v6f_hi"), dtype=np.uint64)
    old_lo = np.asarray(old.arrays("v6f_lo"), dtype=np.uint64)
    old_combo = np.asarray(old.arrays("v6f_combo"), dtype=np.int64)
    buckets: dict[int, list[list[tuple[int, int, int]]]] = {}
    for n, builder in enumerate(changed):
        for top, first, last, claim in builder.v6_fine:
            buckets.setdefault(top, [[] for _ in changed])[n].append((first, last, claim))
    width = 1 + len(changed)
    cut = np.isin(old_hi, np.array(sorted(buckets), dtype=np.uint64))
    his = [old_hi[~cut]]
    los = [old_lo[~cut]]
    rows = [
        np.column_stack(
            [old_combo[~cut], *(_claim_at(arrays, old_hi[~cut]) for arrays in v6_new)]
        ).reshape(int(np.count_nonzero(~cut)), width)
    ]
    v6_starts = np.asarray(old.arrays("v6_starts"), dtype=np.uint64)
    v6_combo = np.asarray(old.arrays("v6_combo"), dtype=np.int64)
    for top in sorted(buckets):
        key = np.uint64(top)
        a = int(np.searchsorted(old_hi, key, side="left"))
        b = int(np.searchsorted(old_hi, key, side="right"))
        if a < b:
            base = _base_layer(old_lo[a:b], old_combo[a:b], U64_MAX)
        else:
            at = int(np.searchsorted(v6_starts, key, side="right")) - 1
            base = _base_layer(np.zeros(1, np.uint64), v6_combo[at : at + 1], U64_MAX)
        layers = [base]
        for n, arrays in enumerate(v6_new):
            under = int(_claim_at(arrays, np.array([top], dtype=np.uint64))[0])
            pieces = ([(0, U64_MAX, under)] if under >= 0 else []) + buckets[top][n]
            layers.append(flatten(pieces) if pieces else _empty_layer())
        bounds, matrix = combine_layers(layers, U64_MAX)
        his.append(np.full(len(bounds), top, dtype=np.uint64))
        los.append(np.asarray(bounds, dtype=np.uint64))
        rows.append(np.asarray(matrix, dtype=np.int64))
    hi = np.concatenate(his)
    lo = np.concatenate(los)
    order = np.lexsort((lo, hi))
    return hi[order], lo[order], np.vstack(rows).astype(np.int64)[order]


def _distinct_keys(
    family: npt.NDArray[Any], reduced: npt.NDArray[Any], changed: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """``unique_rows`` of the rows (family, reduced old combo, changed claims...), given
    as columns so that the millions of rows are never copied into one matrix. The rows
    are packed into one int64 each where the columns fit in 63 bits (the common case: a
    few changed layers), folded column by column otherwise. The family lives in the
    reduced id (its rows are sorted family first), so IPv4 combos still come first. Rows
    no changed layer touches (nearly all of them) are ranked by their reduced id through
    a table, not sorted: only the touched rows and the distinct ids are."""
    reduced = np.asarray(reduced, dtype=np.int64)
    changed = np.asarray(changed).reshape(len(reduced), -1)
    spans = [int(reduced.max(initial=-1)) + 2]  # -1 becomes 0
    spans += [int(changed[:, j].max(initial=-1)) + 2 for j in range(changed.shape[1])]
    total = 1
    for span in spans:
        total *= span
    if len(reduced) == 0 or total >= 1 << 62:
        return unique_rows(np.column_stack([family, reduced, changed]).astype(np.int64))
    touched = np.any(changed >= 0, axis=1) if changed.shape[1] else np.zeros(len(reduced), bool)
    step = total // spans[0]  # what one reduced id is worth in the packed value
    present = np.zeros(spans[0], dtype=bool)
    present[reduced[~touched] + 1] = True
    plain_ids = np.nonzero(present)[0].astype(np.int64)  # reduced id + 1, sorted
    rows = np.nonzero(touched)[0]
    packed_touched = reduced[rows] + 1
    for j, span in enumerate(spans[1:]):
        packed_touched = packed_touched * span + (changed[rows, j].astype(np.int64) + 1)
    distinct = sorted_unique(np.concatenate([plain_ids * step, packed_touched]))
    where = np.full(spans[0], -1, dtype=np.int64)
    where[plain_ids] = np.searchsorted(distinct, plain_ids * step)
    inverse = where[reduced + 1]
    inverse[rows] = np.searchsorted(distinct, packed_touched)
    some_row = np.zeros(len(distinct), dtype=np.int64)
    some_row[inverse] = np.arange(len(reduced))  # rows of one key are equal: any will do
    out = np.column_stack(
        [np.asarray(family)[some_row], reduced[some_row], changed[some_row]]
    ).astype(np.int64)
    return out, inverse.astype(np.int32)


def _empty_layer() -> Any:
    return np.zeros(0, np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64)


def _splice(
    old: CompiledIndex,
    meta: dict[str, Any],
    plans: Sequence[LayerPlan],
    kept: dict[int, int],
    rebuilt: dict[int, LayerBuilder],
    target: Path,
    stamp: str,
    merge_inputs: str,
    report: CompileReport,
) -> None:
    old_matrix = np.asarray(old.arrays("combos"), dtype=np.int32)
    n_old = len(old_matrix)
    first_v6_old = int(meta["first_v6_combo"])
    kept_new = sorted(kept)
    kept_old = [kept[i] for i in kept_new]
    changed = sorted(rebuilt)
    family_old = (np.arange(n_old) >= first_v6_old).astype(np.int32)
    # old combos reduced to the kept layers' columns (and the family)
    reduced_rows, reduced_id = unique_rows(
        np.column_stack([family_old, old_matrix[:, kept_old]]).astype(np.int32)
    )
    reduced_id = reduced_id.astype(np.int64)
    # a representative old combo per reduced row whose dropped columns are all empty:
    # its merged answer is the new one too (the changed layers say nothing there)
    dropped_old = [j for j in range(old_matrix.shape[1]) if j not in set(kept_old)]
    clean = (
        np.all(old_matrix[:, dropped_old] < 0, axis=1)
        if dropped_old
        else np.ones(n_old, dtype=bool)
    )
    representative = np.full(len(reduced_rows), -1, dtype=np.int64)
    clean_ids = np.nonzero(clean)[0]
    representative[reduced_id[clean_ids]] = clean_ids

    v4_new = [layer_arrays(rebuilt[i].v4) for i in changed]
    v6_new = [layer_arrays(rebuilt[i].v6) for i in changed]
    b4, m4 = _combine_base(
        _base_layer(old.arrays("v4_starts"), old.arrays("v4_combo"), V4_MAX), v4_new, V4_MAX
    )
    b6, m6 = _combine_base(
        _base_layer(old.arrays("v6_starts"), old.arrays("v6_combo"), U64_MAX), v6_new, U64_MAX
    )
    fine_hi, fine_lo, mf = _fine_splice(old, [rebuilt[i] for i in changed], v6_new)

    tables = (m4, m6, mf)
    family = np.repeat(np.array([0, 1, 1], dtype=np.int8), [len(m) for m in tables])
    reduced = np.concatenate([reduced_id[np.asarray(m[:, 0], dtype=np.int64)] for m in tables])
    changed_claims = np.concatenate([m[:, 1:] for m in tables])
    tagged_keys, inverse = _distinct_keys(family, reduced, changed_claims)
    # the new combos: kept columns from the reduced row, changed columns from the key
    width = len(plans)
    combos = np.full((len(tagged_keys), width), -1, dtype=np.int32)
    kept_columns = reduced_rows[tagged_keys[:, 1].astype(np.int64)]
    for n, i in enumerate(kept_new):
        combos[:, i] = kept_columns[:, 1 + n]
    for n, i in enumerate(changed):
        combos[:, i] = tagged_keys[:, 2 + n]
    family_of_combo = tagged_keys[:, 0].astype(np.int32)
    index_tables = IndexTables.assemble(
        b4, b6, fine_hi, fine_lo, np.column_stack([family_of_combo, combos]), inverse
    )
    untouched = np.all(tagged_keys[:, 2:] < 0, axis=1) if changed else np.ones(len(combos), bool)
    reuse = np.where(untouched, representative[tagged_keys[:, 1].astype(np.int64)], -1)
    report.combos = len(combos)
    report.new_combos = int(np.count_nonzero(reuse < 0))

    def claims_writer(directory: Path) -> None:
        for i in range(width):
            if i in rebuilt:
                write_claims(directory, i, rebuilt[i].claims)
                continue
            j = kept[i]
            for suffix in ("jsonl", "offsets.npy"):
                shutil.copyfile(
                    old.directory / f"claims-{j}.{suffix}", directory / f"claims-{i}.{suffix}"
                )

    old_layers = meta["layers"]
    layers = []
    for i in range(width):
        if i in rebuilt:
            b = rebuilt[i]
            layers.append(
                {"id": b.layer_id, "kind": b.kind, "version": b.version, "claims": len(b.claims)}
            )
        else:
            layers.append(dict(old_layers[kept[i]]))
    previous = _previous_summary(old.directory, meta, merge_inputs)

    def carry(directory: Path) -> dict[str, Any]:
        if previous is None:
            return {}
        np.save(directory / REUSE_FILE, reuse.astype(np.int64))
        doc = json.loads((previous / "summary.json").read_text())
        for name in doc["files"]:
            shutil.copyfile(previous / name, directory / f"{CARRIED}{name}")
        (directory / f"{CARRIED}summary.json").write_text(json.dumps(doc))
        names = [REUSE_FILE, *(f"{CARRIED}{n}" for n in doc["files"])]
        return {"carried": {n: file_checksums(directory / n) for n in names}}

    extra = {"layer_keys": [p.key for p in plans], "merge_inputs": merge_inputs}
    write_index(target, index_tables, layers, claims_writer, stamp, extra, carry)


def _previous_summary(directory: Path, meta: dict[str, Any], merge_inputs: str) -> Any:
    """The old summary's files, to be carried into the new folder for reuse, when the
    merge inputs are unchanged; else None (every combination is merged anew)."""
    if meta.get("merge_inputs") != merge_inputs:
        return None
    try:
        doc = json.loads((directory / "summary.json").read_text())
        verify_files(directory, doc["files"], full=True)
    except (OSError, ValueError, KeyError, TypeError, IndexError_):
        return None
    return directory


def drop_carried(directory: Path) -> None:
    """Remove the carried files once the new summary is written (meta.json still names
    them; a missing carried file only means nothing is carried)."""
    for path in [directory / REUSE_FILE, *directory.glob(f"{CARRIED}*")]:
        path.unlink(missing_ok=True)
