"""A compiled interval index: every source's ranges merged into one sorted table.

Each source (a cloud feed, a geofeed, a GeoIP database, an ASN table) becomes a
*layer*: disjoint address intervals, each pointing at one claim of that layer.
Compilation cuts the address space at every boundary of every layer and gives
each elementary interval a *combo* id: the tuple of claims (one per layer, or
-1) that cover it. A lookup is then one binary search, whatever the number of
sources, which is what lets a warm process enrich hundreds of thousands of
addresses a second.

IPv6 is keyed on the top 64 bits of the address, which is where practically every
published range and database network ends. The few /64s that hold something
longer (an AWS /128, ``::1`` beside ``::/128``) get a second, exact table keyed on
the low 64 bits within that /64, so a longer prefix never answers for the rest
of its /64.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import tempfile
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from residency.locate.index.read import INDEX_FORMAT, embedded_ipv4, file_checksums

V4_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1

Claim = dict[str, Any]
IntArray = npt.NDArray[np.int64]


@dataclass
class LayerBuilder:
    """Collects one source's ranges and claims before compilation.

    Ranges are kept in compact ``array`` buffers (a GeoIP database has over a
    million networks; Python tuples would cost ten times the memory).
    """

    layer_id: str
    kind: str  # an EvidenceKind value
    version: str
    claims: list[Claim] = field(default_factory=list)
    _claim_ids: dict[str, int] = field(default_factory=dict)
    disjoint: bool = False  # the source's networks never nest (GeoIP/ASN databases)
    v4: _Ranges = field(default_factory=lambda: _Ranges())
    v6: _Ranges = field(default_factory=lambda: _Ranges())
    #: IPv6 pieces shorter than a whole /64: (top 64 bits, first low, last low, claim)
    v6_fine: list[tuple[int, int, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.v4.disjoint = self.v6.disjoint = self.disjoint

    def claim_id(self, claim: Claim) -> int:
        """Intern a claim so identical claims share one id."""
        key = json.dumps(claim, sort_keys=True, separators=(",", ":"))
        found = self._claim_ids.get(key)
        if found is None:
            found = len(self.claims)
            self._claim_ids[key] = found
            self.claims.append(claim)
        return found

    def add_range(self, first: int, last: int, version: int, claim_id: int) -> None:
        if version == 4:
            self.v4.add(first, last, claim_id)
            return
        top, bottom = first >> 64, last >> 64
        if top == bottom and (first & U64_MAX or ~last & U64_MAX):
            self.v6_fine.append((top, first & U64_MAX, last & U64_MAX, claim_id))
            return
        if first & U64_MAX:  # a range starting inside a /64: its head is exact
            self.v6_fine.append((top, first & U64_MAX, U64_MAX, claim_id))
            top += 1
        if ~last & U64_MAX:  # ... and one ending inside a /64: its tail
            self.v6_fine.append((bottom, 0, last & U64_MAX, claim_id))
            bottom -= 1
        if top <= bottom:
            self.v6.add(top, bottom, claim_id)

    def add_network(self, network: str, claim: Claim) -> None:
        net = ipaddress.ip_network(network, strict=False)
        self.add_range(
            int(net.network_address), int(net.broadcast_address), net.version, self.claim_id(claim)
        )


class _Ranges:
    """Three parallel arrays: first address, last address, claim id."""

    def __init__(self, disjoint: bool = False) -> None:
        self.disjoint = disjoint
        self.first = array("Q")
        self.last = array("Q")
        self.claim = array("q")

    def add(self, first: int, last: int, claim: int) -> None:
        self.first.append(first)
        self.last.append(last)
        self.claim.append(claim)

    def __len__(self) -> int:
        return len(self.first)

    def __bool__(self) -> bool:
        return len(self.first) > 0


def layer_arrays(ranges: _Ranges) -> tuple[IntArray, IntArray, IntArray]:
    """Disjoint sorted arrays for one layer; the Python flattening runs only when
    ranges actually nest or overlap (feeds), not for databases already disjoint."""
    first = np.frombuffer(ranges.first, dtype=np.uint64) if ranges else np.zeros(0, np.uint64)
    last = np.frombuffer(ranges.last, dtype=np.uint64) if ranges else np.zeros(0, np.uint64)
    claim = np.frombuffer(ranges.claim, dtype=np.int64) if ranges else np.zeros(0, np.int64)
    order = np.argsort(first, kind="stable")
    first, last, claim = first[order], last[order], claim[order]
    if len(first) < 2 or bool(np.all(first[1:] > last[:-1])):
        return first, last, claim  # type: ignore[return-value]
    if ranges.disjoint:
        # a database of disjoint networks overlaps only where IPv6 keys were cut to
        # 64 bits: keep the first network of each /64
        keep = np.ones(len(first), dtype=bool)
        keep[1:] = first[1:] > np.maximum.accumulate(last)[:-1]
        return first[keep], last[keep], claim[keep]  # type: ignore[return-value]
    return flatten(list(zip(first.tolist(), last.tolist(), claim.tolist(), strict=True)))


def flatten(intervals: list[tuple[int, int, int]]) -> tuple[IntArray, IntArray, IntArray]:
    """Turn nested or overlapping CIDR-shaped intervals into disjoint pieces where
    the most specific (innermost) interval wins. Identical intervals: first wins."""
    items = sorted(intervals, key=lambda t: (t[0], -t[1]))  # stable: first of equals wins
    starts: list[int] = []
    ends: list[int] = []
    vals: list[int] = []
    stack: list[tuple[int, int]] = []  # (end, value)
    pos = 0

    def emit(a: int, b: int, v: int) -> None:
        if a > b:
            return
        if vals and vals[-1] == v and ends[-1] + 1 == a:
            ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
            vals.append(v)

    previous: tuple[int, int] | None = None
    for s, e, v in items:
        if previous == (s, e):
            continue  # same interval twice: keep the first claim
        previous = (s, e)
        while stack and stack[-1][0] < s:
            end, val = stack.pop()
            emit(pos, end, val)
            pos = end + 1
        if stack:
            if stack[-1][0] < e:  # a crossing (non-CIDR) range: clip to the parent
                e = stack[-1][0]
            emit(pos, s - 1, stack[-1][1])
        pos = s
        stack.append((e, v))
    while stack:
        end, val = stack.pop()
        emit(pos, end, val)
        pos = end + 1
    return _as_u64(starts), _as_u64(ends), np.array(vals, dtype=np.int64)


def _as_u64(values: list[int]) -> IntArray:
    # uint64 keeps IPv6 high halves above 2**63 ordered correctly
    return np.array(values, dtype=np.uint64)


def combine_layers(
    layers: Sequence[tuple[IntArray, IntArray, IntArray]], top: int
) -> npt.NDArray[Any]:
    """The per-boundary matrix: row i = the claim of each layer at boundary i."""
    cuts = [np.zeros(1, dtype=np.uint64)]
    for starts, ends, _ in layers:
        cuts.append(starts.astype(np.uint64))
        after = ends.astype(np.uint64)
        after = after[after < np.uint64(top)] + np.uint64(1)
        cuts.append(after)
    bounds = sorted_unique(np.concatenate(cuts))
    matrix = np.full((len(bounds), len(layers)), -1, dtype=np.int32)
    for j, (starts, ends, vals) in enumerate(layers):
        if len(starts) == 0:
            continue
        idx = np.searchsorted(starts, bounds, side="right").astype(np.int64) - 1
        ok = idx >= 0
        cand = idx[ok]
        hit = ends[cand] >= bounds[ok]
        rows = np.nonzero(ok)[0][hit]
        matrix[rows, j] = vals[cand[hit]]
    return bounds, matrix  # type: ignore[return-value]


def sorted_unique(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The distinct values, sorted: a sort and a neighbour compare (``np.unique`` takes
    a hash-based path for unsigned 64-bit keys that measured ten times slower here)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def unique_rows(matrix: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], npt.NDArray[np.int32]]:
    """Distinct rows and each row's index among them. Folding one column at a time
    into a dense rank keeps every step a fast 1-D unique on int64 (``np.unique``
    with ``axis=0`` sorts opaque byte strings and is an order of magnitude slower)."""
    rank = np.zeros(len(matrix), dtype=np.int64)
    for j in range(matrix.shape[1]):
        col = matrix[:, j].astype(np.int64) + 1  # -1 (no claim) becomes 0
        rank = rank * (int(col.max(initial=0)) + 1) + col
        _, rank = np.unique(rank, return_inverse=True)
        rank = rank.reshape(-1).astype(np.int64)
    _, first = np.unique(rank, return_index=True)
    return matrix[first], rank.astype(np.int32)


def compile_index(
    builders: Sequence[LayerBuilder], out_dir: Path, stamp: str, extra: dict[str, Any] | None = None
) -> None:
    """Compile layers into ``out_dir`` atomically (written beside, then renamed).
    ``extra`` goes into meta.json as is (the layer keys an incremental update reads)."""
    v4_layers = [layer_arrays(b.v4) for b in builders]
    v6_layers = [layer_arrays(b.v6) for b in builders]
    b4, m4 = combine_layers(v4_layers, V4_MAX)
    b6, m6 = combine_layers(v6_layers, U64_MAX)
    fine_hi, fine_lo, mf = _fine_rows(builders, b6, m6)
    # the address family leads each row, so no combo holds both IPv4 and IPv6 addresses
    # (a merged answer's confidence is measured per family) and the IPv4 combos come
    # first: combo ids below ``first_v6_combo`` are IPv4
    family = np.concatenate(
        [np.zeros(len(m4), dtype=np.int32), np.ones(len(m6) + len(mf), dtype=np.int32)]
    )
    matrix = np.vstack([m4, m6, mf])
    tagged, inverse = unique_rows(np.column_stack([family, matrix]))
    tables = IndexTables.assemble(b4, b6, fine_hi, fine_lo, tagged, inverse)

    def claims_writer(directory: Path) -> None:
        for i, b in enumerate(builders):
            write_claims(directory, i, b.claims)

    layers = [
        {"id": b.layer_id, "kind": b.kind, "version": b.version, "claims": len(b.claims)}
        for b in builders
    ]
    write_index(out_dir, tables, layers, claims_writer, stamp, extra or {})


@dataclass
class IndexTables:
    """The interval tables and combos of one index, ready to write."""

    s4: npt.NDArray[Any]
    c4: npt.NDArray[Any]
    s6: npt.NDArray[Any]
    c6: npt.NDArray[Any]
    fine_hi: npt.NDArray[Any]
    fine_lo: npt.NDArray[Any]
    fine_combo: npt.NDArray[Any]
    combos: npt.NDArray[Any]
    first_v6: int

    @classmethod
    def assemble(
        cls,
        b4: npt.NDArray[Any],
        b6: npt.NDArray[Any],
        fine_hi: npt.NDArray[Any],
        fine_lo: npt.NDArray[Any],
        tagged: npt.NDArray[Any],
        inverse: npt.NDArray[Any],
    ) -> IndexTables:
        """From the boundaries of each table and the family-tagged distinct rows (the
        family in column 0) with each boundary's row: adjacent equal combos squeezed."""
        combos = tagged[:, 1:]
        first_v6 = int(inverse[: len(b4)].max()) + 1 if len(b4) else 0
        inv4, inv6 = inverse[: len(b4)], inverse[len(b4) : len(b4) + len(b6)]
        invf = inverse[len(b4) + len(b6) :]

        def squeeze(bounds: npt.NDArray[Any], inv: npt.NDArray[Any]) -> tuple[Any, Any]:
            keep = np.ones(len(inv), dtype=bool)
            keep[1:] = inv[1:] != inv[:-1]
            return bounds[keep], inv[keep]

        s4, c4 = squeeze(b4, inv4)
        s6, c6 = squeeze(b6, inv6)
        return cls(s4, c4, s6, c6, fine_hi, fine_lo, invf, combos, first_v6)


def write_index(
    out_dir: Path,
    tables: IndexTables,
    layers: Sequence[dict[str, Any]],
    write_claims: Callable[[Path], None],
    stamp: str,
    extra: dict[str, Any],
    carry: Callable[[Path], dict[str, Any]] | None = None,
) -> None:
    """Write an index into a folder beside ``out_dir``, then swap it in. ``carry`` writes
    files that are not part of the index proper (not checked on every lookup) and
    returns what meta.json records about them."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".compiling-", dir=out_dir.parent))
    try:
        np.save(tmp / "v4_starts.npy", tables.s4.astype(np.uint64))
        np.save(tmp / "v4_combo.npy", tables.c4.astype(np.int32))
        np.save(tmp / "v6_starts.npy", tables.s6.astype(np.uint64))
        np.save(tmp / "v6_combo.npy", tables.c6.astype(np.int32))
        np.save(tmp / "v6f_hi.npy", tables.fine_hi.astype(np.uint64))
        np.save(tmp / "v6f_lo.npy", tables.fine_lo.astype(np.uint64))
        np.save(tmp / "v6f_combo.npy", tables.fine_combo.astype(np.int32))
        np.save(tmp / "combos.npy", tables.combos.astype(np.int32))
        write_claims(tmp)
        meta = {
            "format": INDEX_FORMAT,
            "stamp": stamp,
            "layers": list(layers),
            "intervals": {
                "v4": len(tables.s4),
                "v6": len(tables.s6),
                "v6_exact": len(tables.fine_hi),
            },
            "combos": len(tables.combos),
            "first_v6_combo": tables.first_v6,
            # checked on every load, so a damaged file is found before it gives an answer
            "files": {p.name: file_checksums(p) for p in sorted(tmp.iterdir())},
            **extra,
        }
        if carry is not None:
            meta.update(carry(tmp))
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp``: a reader sees the old folder or the new one."""
    old = out_dir.with_name(out_dir.name + ".old")
    if out_dir.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.replace(out_dir, old)
    os.replace(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)


def _fine_rows(
    builders: Sequence[LayerBuilder], b6: npt.NDArray[Any], m6: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any]]:
    """The exact table for /64s holding longer prefixes: within each such /64, every
    layer's claim at full 128-bit precision, its whole-/64 claim underneath."""
    buckets: dict[int, list[list[tuple[int, int, int]]]] = {}
    for j, b in enumerate(builders):
        for top, first, last, claim in b.v6_fine:
            buckets.setdefault(top, [[] for _ in builders])[j].append((first, last, claim))
    his: list[npt.NDArray[Any]] = []
    los: list[npt.NDArray[Any]] = []
    rows: list[npt.NDArray[Any]] = [np.zeros((0, len(builders)), dtype=np.int32)]
    for top in sorted(buckets):
        base = m6[int(np.searchsorted(b6, np.uint64(top), side="right")) - 1]
        layers = []
        for j, pieces in enumerate(buckets[top]):
            under = [(0, U64_MAX, int(base[j]))] if base[j] >= 0 else []
            if pieces or under:
                layers.append(flatten(under + pieces))  # the longer prefix wins
            else:
                layers.append((_as_u64([]), _as_u64([]), np.zeros(0, dtype=np.int64)))
        bounds, matrix = combine_layers(layers, U64_MAX)
        his.append(np.full(len(bounds), top, dtype=np.uint64))
        los.append(bounds.astype(np.uint64))
        rows.append(matrix)
    empty = np.zeros(0, dtype=np.uint64)
    return (
        np.concatenate(his) if his else empty,
        np.concatenate(los) if los else empty,
        np.vstack(rows),
    )


def write_claims(directory: Path, layer: int, claims: list[Claim]) -> None:
    """One JSON document per line plus an offsets array, so a lookup reads only the
    claims it needs (a cold ``residency ip`` must not parse megabytes of JSON)."""
    offsets = np.zeros(len(claims) + 1, dtype=np.uint64)
    with open(directory / f"claims-{layer}.jsonl", "wb") as out:
        position = 0
        for n, claim in enumerate(claims):
            line = json.dumps(claim, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
            out.write(line)
            position += len(line)
            offsets[n + 1] = position
    np.save(directory / f"claims-{layer}.offsets.npy", offsets)


@dataclass
class AddressKeys:
    """Addresses split by family: positions in the input and their integer keys."""

    pos4: list[int] = field(default_factory=list)
    key4: list[int] = field(default_factory=list)
    pos6: list[int] = field(default_factory=list)
    hi6: list[int] = field(default_factory=list)
    lo6: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)


def address_keys(ips: Iterable[str]) -> AddressKeys:
    """Split addresses by family. An IPv4-mapped or NAT64 address counts as its IPv4.
    ``inet_pton`` holds the rules of ``residency.addresses`` for the canonical spellings;
    anything else (white space, a zone id, a typo) is ``bad``, for the one parser to judge."""
    out = AddressKeys()
    pos4, key4, pos6, hi6, lo6, bad = out.pos4, out.key4, out.pos6, out.hi6, out.lo6, out.bad
    pton = socket.inet_pton
    frombytes = int.from_bytes
    for i, ip in enumerate(ips):
        try:
            if ":" in ip:
                value = frombytes(pton(socket.AF_INET6, ip), "big")
                inner = embedded_ipv4(value)
                if inner is not None:
                    key4.append(inner)
                    pos4.append(i)
                    continue
                hi6.append(value >> 64)
                lo6.append(value & U64_MAX)
                pos6.append(i)
            else:
                key4.append(frombytes(pton(socket.AF_INET, ip), "big"))
                pos4.append(i)
        except (OSError, ValueError):
            bad.append(i)
    return out
