"""The read side of the compiled index, usable without importing numpy.

Single lookups (``residency ip``, the audit) binary-search memory-mapped arrays
through ``memoryview`` and ``bisect``: numpy's import alone would cost more than
the whole lookup. Bulk enrichment asks for the numpy views (``arrays()``), which
import numpy on first use.
"""

from __future__ import annotations

import ast
import json
import mmap
import os
import zlib

# the C module under socket, as in residency.addresses: no socket.py at start-up
from _socket import AF_INET, AF_INET6, inet_pton
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import xxhash

from residency.errors import ResidencyError

INDEX_FORMAT = 3
#: The layer of never-routable (special-purpose) space, built from data/special-purpose.csv.
SPECIAL_LAYER = "iana-special-purpose"
_V4_MAX = (1 << 32) - 1

Claim = dict[str, Any]
_NAT64 = 0x0064FF9B << 96  # 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052)
_MAPPED = 0xFFFF << 32  # ::ffff:0:0/96, IPv4-mapped (RFC 4291)


def embedded_ipv4(value: int) -> int | None:
    """The IPv4 address inside an IPv4-mapped or NAT64 well-known-prefix address."""
    if value >> 32 in (_MAPPED >> 32, _NAT64 >> 32):
        return value & 0xFFFFFFFF
    return None


class IndexError_(ResidencyError):
    """The compiled index is missing, corrupt or was built by another format."""


class IndexDamaged(IndexError_):
    """A compiled file does not match the size or checksum recorded when it was written."""


#: Every interval table is checksummed whole on every load. Claims files over this size
#: are checked by size plus ``_SAMPLES`` blocks spread over them, and every claim read is
#: parsed and shape-checked, so a cold lookup stays fast; bulk use (``verify()``)
#: checksums every byte of every file.
_WHOLE_LIMIT = 1 << 20
_SAMPLES = 64
_BLOCK = 4096

#: The whole-file checksum: XXH3-64, recorded beside the older CRC-32. Both cover every
#: byte; XXH3 runs at memory speed: the ~23 MB of tables of the full dataset take about
#: 2.5-3 ms in a fresh process, against 6-10 ms for CRC-32 over a memory map (zlib's
#: Adler-32 measured slower than its CRC-32 here). An index written before XXH3 was
#: recorded is checked by its CRC-32, so it is trusted as before and not rebuilt for it.
WHOLE_DIGEST = "xxh3_64"
_CHUNK = 256 << 10


def whole_digest(data: bytes | memoryview) -> int:
    """XXH3-64 of ``data``, as recorded under ``WHOLE_DIGEST``."""
    return xxhash.xxh3_64_intdigest(data)


def file_checksums(path: Path) -> dict[str, int]:
    """What ``meta.json`` records per file: size, whole-file XXH3-64 and CRC-32 (the
    checksum older versions read), and sampled CRC-32."""
    data = path.read_bytes()
    return {
        "size": len(data),
        WHOLE_DIGEST: whole_digest(data),
        "crc32": zlib.crc32(data),
        "sampled": _sampled(memoryview(data)),
    }


def whole_matches(data: bytes, want: dict[str, Any]) -> bool:
    """Whether ``data`` is the whole file recorded as ``want`` (size and checksum)."""
    if len(data) != want["size"]:
        return False
    if WHOLE_DIGEST in want:
        return bool(whole_digest(data) == want[WHOLE_DIGEST])
    return bool(zlib.crc32(data) == want["crc32"])


def _file_digest(path: Path, buffer: memoryview) -> int:
    """XXH3-64 of a whole file, read through one small reused buffer: a fresh process
    pays a page fault per page of a memory map or of a ``read()`` of the whole file
    (that one costs 4x the hashing), and the buffer's pages only once."""
    state = xxhash.xxh3_64()
    with open(path, "rb", buffering=0) as raw:
        while got := raw.readinto(buffer):
            state.update(buffer[:got])
    return state.intdigest()


def _sample_starts(size: int) -> range | list[int]:
    """Where the ``_SAMPLES`` blocks of a large file start (the whole of a small one)."""
    if size <= _WHOLE_LIMIT:
        return range(0)
    return [(size - _BLOCK) * k // (_SAMPLES - 1) for k in range(_SAMPLES)]


def _sampled(data: memoryview | bytes) -> int:
    """The sampled CRC-32 of data in memory (as recorded at compile time)."""
    starts = _sample_starts(len(data))
    if not starts:
        return zlib.crc32(data)
    crc = 0
    for at in starts:
        crc = zlib.crc32(data[at : at + _BLOCK], crc)
    return crc


def _sampled_file(path: Path, size: int) -> int:
    """The same of a file, read with ``pread``: a fresh process would take a page
    fault for each block of a memory map (about 1.5 ms against 0.4 for two claims files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        starts = _sample_starts(size)
        if not starts:
            return zlib.crc32(os.pread(fd, size, 0))
        crc = 0
        for at in starts:
            crc = zlib.crc32(os.pread(fd, _BLOCK, at), crc)
        return crc
    finally:
        os.close(fd)


def verify_files(directory: Path, recorded: dict[str, Any], full: bool) -> None:
    """Raise IndexDamaged naming the first file whose size or checksum differs."""
    if not isinstance(recorded, dict) or not recorded:
        raise IndexDamaged(f"{directory}: meta.json records no file checksums")
    buffer = memoryview(bytearray(_CHUNK))
    for name, want in recorded.items():
        path = directory / name
        try:
            size = os.stat(path).st_size
            if size != want["size"]:
                raise IndexDamaged(f"{path}: {size} bytes, {want['size']} recorded at compile time")
            if size == 0:
                continue
            whole = full or not name.endswith(".jsonl")
            if not whole:
                good = _sampled_file(path, size) == want["sampled"]
            elif WHOLE_DIGEST in want:
                good = _file_digest(path, buffer) == want[WHOLE_DIGEST]
            else:  # an index written before XXH3 was recorded
                with (
                    open(path, "rb") as handle,
                    mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as view,
                ):
                    good = zlib.crc32(view) == want["crc32"]
        except OSError as err:
            raise IndexDamaged(f"{path}: unreadable ({err.strerror or err})") from err
        except (KeyError, TypeError) as err:
            raise IndexDamaged(f"{directory}/meta.json: bad checksum record for {name}") from err
        if not good:
            raise IndexDamaged(f"{path}: checksum differs from the one recorded at compile time")


@dataclass(frozen=True)
class LayerInfo:
    layer_id: str
    kind: str
    version: str


class _Npy:
    """A read-only, memory-mapped view of a C-ordered little-endian ``.npy`` file."""

    _CODES: ClassVar[dict[str, str]] = {"<u8": "Q", "<i4": "i", "<i8": "q"}

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self._map = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        head = self._map[:10]
        if head[:6] != b"\x93NUMPY":
            raise ValueError(f"{path.name}: not a .npy file")
        if head[6] == 1:
            length, start = int.from_bytes(head[8:10], "little"), 10
        else:
            length, start = int.from_bytes(self._map[8:12], "little"), 12
        header = ast.literal_eval(self._map[start : start + length].decode("latin1"))
        code = self._CODES.get(header["descr"])
        if code is None or header["fortran_order"]:
            raise ValueError(f"{path.name}: unsupported array layout {header['descr']}")
        self.shape: tuple[int, ...] = tuple(header["shape"])
        self.offset = start + length
        self.path = path
        view = memoryview(self._map)[self.offset :]
        self.flat = view.cast(code)  # type: ignore[call-overload]
        self.columns = self.shape[1] if len(self.shape) == 2 else 1

    def __len__(self) -> int:
        return self.shape[0]

    def numpy(self) -> Any:
        import numpy as np

        return np.load(self.path, mmap_mode="r")


class CompiledIndex:
    """Memory-mapped interval tables plus claims read by offset, on demand."""

    def __init__(self, directory: Path, checked: bool = False) -> None:
        """``checked``: the caller has verified the files already (an incremental update,
        which reads only the interval tables of an index whose claims may be damaged)."""
        self.directory = directory
        self._full_checked = False
        try:
            meta = json.loads((directory / "meta.json").read_text())
            if not isinstance(meta, dict) or meta.get("format") != INDEX_FORMAT:
                raise IndexError_(f"{directory}: index format is not {INDEX_FORMAT}")
            self.stamp: str = meta["stamp"]
            self._files: dict[str, Any] = meta["files"]
            if not checked:
                verify_files(directory, self._files, full=False)
            self.layers = tuple(LayerInfo(m["id"], m["kind"], m["version"]) for m in meta["layers"])
            self._claim_counts = tuple(int(m["claims"]) for m in meta["layers"])
            self._first_v6_combo = int(meta["first_v6_combo"])
            self._v4_starts = _Npy(directory / "v4_starts.npy")
            self._v4_combo = _Npy(directory / "v4_combo.npy")
            self._v6_starts = _Npy(directory / "v6_starts.npy")
            self._v6_combo = _Npy(directory / "v6_combo.npy")
            self._combos = _Npy(directory / "combos.npy")
            self._v6f_hi = _Npy(directory / "v6f_hi.npy")
            self._v6f_lo = _Npy(directory / "v6f_lo.npy")
            self._v6f_combo = _Npy(directory / "v6f_combo.npy")
        except (OSError, ValueError, KeyError, TypeError, SyntaxError) as err:
            raise IndexDamaged(f"{directory}: compiled index unreadable ({err})") from err
        if self._combos.columns != len(self.layers) and len(self._combos):
            raise IndexDamaged(f"{directory}/combos.npy: width does not match the layers")
        self._claims: dict[int, list[Claim]] = {}
        self._one: dict[tuple[int, int], Claim] = {}
        self._offsets: dict[int, _Npy] = {}
        self._numpy: dict[str, Any] = {}

    def verify(self) -> None:
        """Checksum every byte of every file once (bulk use, where it is cheap by comparison)."""
        if not self._full_checked:
            verify_files(self.directory, self._files, full=True)
            self._full_checked = True

    def _damaged(self, what: str, err: Exception) -> IndexDamaged:
        return IndexDamaged(
            f"{self.directory}/{what}: damaged compiled index ({err}); "
            f"delete {self.directory} and run again to rebuild it"
        )

    @staticmethod
    def read_stamp(directory: Path) -> str | None:
        try:
            meta = json.loads((directory / "meta.json").read_text())
        except (OSError, ValueError):
            return None
        if meta.get("format") != INDEX_FORMAT:
            return None
        stamp = meta.get("stamp")
        return stamp if isinstance(stamp, str) else None

    # ------------------------------------------------------------------ claims
    def claims(self, layer: int) -> list[Claim]:
        """Every claim of one layer (for scans such as "all prefixes in country X")."""
        found = self._claims.get(layer)
        if found is None:
            name = f"claims-{layer}.jsonl"
            try:
                # One read serves both the checksum and the parse (verify() may have done it).
                data = (self.directory / name).read_bytes()
                want = self._files[name]
                if not self._full_checked and not whole_matches(data, want):
                    raise IndexDamaged(
                        f"{self.directory / name}: checksum differs from the one recorded "
                        "at compile time"
                    )
                found = [json.loads(line) for line in data.decode("utf-8").splitlines()]
            except (OSError, ValueError, KeyError) as err:
                raise self._damaged(name, err) from err
            self._claims[layer] = found
        return found

    def claim(self, layer: int, claim_id: int) -> Claim:
        """One claim, read from disk by offset (cached)."""
        whole = self._claims.get(layer)
        if whole is not None:
            return whole[claim_id]
        key = (layer, claim_id)
        found = self._one.get(key)
        if found is None:
            name = f"claims-{layer}.jsonl"
            try:
                offsets = self._offsets.get(layer)
                if offsets is None:
                    offsets = _Npy(self.directory / f"claims-{layer}.offsets.npy")
                    self._offsets[layer] = offsets
                start, end = offsets.flat[claim_id], offsets.flat[claim_id + 1]
                with open(self.directory / name, "rb") as handle:
                    handle.seek(start)
                    found = json.loads(handle.read(end - start))
            except (OSError, ValueError, IndexError) as err:
                raise self._damaged(name, err) from err
            if not isinstance(found, dict):
                raise self._damaged(name, ValueError(f"claim {claim_id} is not an object"))
            self._one[key] = found
        return found

    # ----------------------------------------------------------------- lookups
    def combo_of(self, ip: str) -> int:
        """The combo id of one address (raises ValueError for a non-address)."""
        try:
            if ":" in ip:
                packed = inet_pton(AF_INET6, ip)
                return self._v6_combo_one(
                    int.from_bytes(packed[:8], "big"), int.from_bytes(packed[8:], "big")
                )
            else:
                # inet_pton, not inet_aton: no "1.2", no octal "010" (residency.addresses)
                key = int.from_bytes(inet_pton(AF_INET, ip), "big")
                starts, combo = self._v4_starts.flat, self._v4_combo.flat
        except OSError as err:
            raise ValueError(f"{ip!r} is not an IPv4 or IPv6 address") from err
        return int(combo[bisect_right(starts, key) - 1])

    def _v6_combo_one(self, hi: int, lo: int) -> int:
        """Exact table first (the /64s that hold longer prefixes), else the /64 table."""
        fine = self._v6f_hi.flat
        at = bisect_left(fine, hi)
        if at < len(fine) and fine[at] == hi:
            end = bisect_right(fine, hi, at)
            return int(self._v6f_combo.flat[bisect_right(self._v6f_lo.flat, lo, at, end) - 1])
        return int(self._v6_combo.flat[bisect_right(self._v6_starts.flat, hi) - 1])

    def family_of(self, combo: int) -> int:
        """The address family (4 or 6) of every address with this combo id."""
        return 4 if combo < self._first_v6_combo else 6

    def combo_claims(self, combo: int) -> list[tuple[int, int]]:
        """(layer index, claim id) for every layer that covers this combo."""
        width = self._combos.columns
        if not 0 <= combo < len(self._combos):
            raise self._damaged("v4_combo.npy/v6_combo.npy", ValueError(f"no combo {combo}"))
        row = self._combos.flat[combo * width : (combo + 1) * width]
        found = [(j, int(c)) for j, c in enumerate(row) if c >= 0]
        for j, c in found:
            if c >= self._claim_counts[j]:
                raise self._damaged("combos.npy", ValueError(f"layer {j} has no claim {c}"))
        return found

    def arrays(self, name: str) -> Any:
        """A numpy view (imports numpy): v4_starts, v4_combo, v6_starts, v6_combo, combos,
        v6f_hi, v6f_lo, v6f_combo."""
        found = self._numpy.get(name)
        if found is None:
            found = getattr(self, f"_{name}").numpy()
            self._numpy[name] = found
        return found

    def combo_of_v4(self, keys: Any) -> Any:
        """The combo id of each IPv4 key (a numpy array, ideally uint32: the starts are
        searched as uint32, half the bytes to pull through the cache)."""
        import numpy as np

        starts = self._numpy.get("v4_starts32")
        if starts is None:
            starts = self._numpy["v4_starts32"] = np.asarray(
                self.arrays("v4_starts"), dtype=np.uint32
            )
        keys = np.asarray(keys, dtype=np.uint32)  # IPv4 keys fit; uint64 would cast the starts
        return _sorted_lookup(starts, self.arrays("v4_combo"), keys)

    def combo_of_v6(self, hi: Any, lo: Any) -> Any:
        import numpy as np

        out = _sorted_lookup(self.arrays("v6_starts"), self.arrays("v6_combo"), hi)
        if len(self._v6f_hi):
            for i in np.nonzero(np.isin(hi, self.arrays("v6f_hi")))[0]:
                out[i] = self._v6_combo_one(int(hi[i]), int(lo[i]))
        return out

    def v4_prefix_with(self, wanted: set[tuple[int, int]], exclude_layer: int = -1) -> str | None:
        """The first IPv4 /24 lying wholly inside an interval whose combo carries one
        of the ``wanted`` (layer, claim) pairs and no claim of ``exclude_layer``."""
        import numpy as np

        combos = self.arrays("combos")
        good = np.zeros(len(combos), dtype=bool)
        for layer_idx, claim_id in wanted:
            good |= np.asarray(combos[:, layer_idx]) == claim_id
        if exclude_layer >= 0:
            good &= np.asarray(combos[:, exclude_layer]) < 0
        starts = self.arrays("v4_starts")
        for i in np.nonzero(good[np.asarray(self.arrays("v4_combo"))])[0]:
            start = int(starts[i])
            end = int(starts[i + 1]) - 1 if i + 1 < len(starts) else _V4_MAX
            base = (start + 255) & ~255
            if base + 255 <= end:
                return ".".join(str((base >> s) & 255) for s in (24, 16, 8, 0)) + "/24"
        return None

    def sizes(self) -> dict[str, int]:
        return {
            "v4_intervals": len(self._v4_starts),
            "v6_intervals": len(self._v6_starts),
            "combos": len(self._combos),
        }


def _sorted_lookup(starts: Any, values: Any, keys: Any) -> Any:
    """``values`` of the interval holding each key (``starts`` sorted, one value each):
    ``searchsorted`` and the gather run on the keys in sorted order, then the answers
    are scattered back. Random keys make every probe of a binary search over hundreds
    of thousands of starts miss the cache; sorted keys walk the starts in order.
    Sorting a chunk costs far less than the misses it saves (about 3x faster on
    65536 random IPv4 keys; bench/locate.py)."""
    import numpy as np

    order = np.argsort(keys)
    out = np.empty(len(keys), dtype=values.dtype)
    out[order] = values[np.searchsorted(starts, keys[order], side="right") - 1]
    return out
