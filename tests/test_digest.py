"""residency.digest.sha256 (CPython's built-in SHA-256) gives hashlib's digests."""

from __future__ import annotations

import hashlib

import pytest

from residency.digest import sha256


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 1000])
def test_same_digest_as_hashlib(data: bytes) -> None:
    assert sha256(data).hexdigest() == hashlib.sha256(data).hexdigest()


def test_update_continues_the_digest() -> None:
    h = sha256(b"5")
    h.update(b"|aws-ip-ranges|feed")
    assert h.hexdigest() == hashlib.sha256(b"5|aws-ip-ranges|feed").hexdigest()


def test_openssl_is_not_what_it_uses() -> None:
    assert type(sha256(b"")).__module__ != type(hashlib.sha256(b"")).__module__
