"""Registrable domains come from the bundled public suffix list, offline."""

from __future__ import annotations

import pytest

from residency.endpoints.domain import public_suffix_list_version, registrable_domain


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("api.account.xiaomi.com", "xiaomi.com"),
        ("API.Account.Xiaomi.COM.", "xiaomi.com"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("bucket.s3.amazonaws.com", "amazonaws.com"),  # ICANN section only
        ("xiaomi.com", "xiaomi.com"),
        ("co.uk", None),
        ("com", None),
        ("localhost", None),
        ("printer.internal", None),
        ("13.228.0.1", None),
        ("[2001:db8::1]", None),
        ("", None),
    ],
)
def test_registrable_domain(name: str, expected: str | None) -> None:
    assert registrable_domain(name) == expected


def test_version_names_the_snapshot() -> None:
    assert "tldextract" in public_suffix_list_version()
