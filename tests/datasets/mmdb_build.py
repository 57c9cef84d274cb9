"""A minimal MaxMind DB writer for tests: two halves of the IPv4 space, one record each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


def _control(type_id: int, size: int) -> bytes:
    assert size < 29
    if type_id <= 7:
        return bytes([(type_id << 5) | size])
    return bytes([size, type_id - 7])  # extended type


def _uint(type_id: int, value: int) -> bytes:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return _control(type_id, len(raw)) + raw


def encode(value: Any) -> bytes:
    """Encode str, int (uint32; uint64 when large), list and dict in the MMDB data format."""
    if isinstance(value, str):
        raw = value.encode()
        return _control(2, len(raw)) + raw
    if isinstance(value, int):
        return _uint(6, value) if value < 2**32 else _uint(9, value)
    if isinstance(value, list):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    if isinstance(value, dict):
        body = b"".join(encode(k) + encode(v) for k, v in value.items())
        return _control(7, len(value)) + body
    raise TypeError(type(value))


def write_mmdb(
    path: Path,
    low: dict[str, Any],
    high: dict[str, Any],
    *,
    database_type: str = "test-country",
    build_epoch: int = 1780345978,
) -> Path:
    """0.0.0.0/1 -> ``low``, 128.0.0.0/1 -> ``high``; an IPv4 database of one node."""
    node_count = 1
    data_low = encode(low)
    data_high = encode(high)
    data = data_low + data_high
    left = node_count + 16
    right = node_count + 16 + len(data_low)
    tree = left.to_bytes(3, "big") + right.to_bytes(3, "big")
    meta = {
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": build_epoch,
        "database_type": database_type,
        "description": {"en": "residency test database"},
        "ip_version": 4,
        "languages": ["en"],
        "node_count": node_count,
        "record_size": 24,
    }
    # uint16 for the small header fields, as real writers do
    encoded_meta = _control(7, len(meta))
    for key, value in meta.items():
        if key in (
            "binary_format_major_version",
            "binary_format_minor_version",
            "ip_version",
            "record_size",
        ):
            encoded_meta += encode(key) + _uint(5, value)
        elif key == "build_epoch":
            encoded_meta += encode(key) + _uint(9, value)
        else:
            encoded_meta += encode(key) + encode(value)
    path.write_bytes(tree + b"\x00" * 16 + data + METADATA_MARKER + encoded_meta)
    return path
