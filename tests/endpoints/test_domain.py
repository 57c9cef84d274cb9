"""Registrable domains come from the bundled public suffix list, offline."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from residency.datasets.suffix_list import DATASET
from residency.datasets.update import SourceOutcome, Status, update
from residency.endpoints.domain import (
    public_suffix_list_version,
    registrable_domain,
    suffix_extractor,
)


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


def test_version_names_the_list() -> None:
    assert "snapshot" in public_suffix_list_version() or "public suffix list" in (
        public_suffix_list_version()
    )


def test_without_an_installed_list_the_bundled_snapshot_answers(tmp_path: Path) -> None:
    extract, label = suffix_extractor(tmp_path)
    assert label.startswith("tldextract ") and label.endswith(" bundled snapshot")
    assert extract("www.bbc.co.uk").top_domain_under_public_suffix == "bbc.co.uk"


def _psl(rules: int) -> bytes:
    body = "\n".join(["uk", "co.uk", "com", "residency-test", *(f"t{n}" for n in range(rules))])
    return (
        "// VERSION: 2026-12-01_08-00-00_UTC\n// COMMIT: 0123abc\n"
        f"// ===BEGIN ICANN DOMAINS===\n{body}\n// ===END ICANN DOMAINS===\n"
        "// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n// ===END PRIVATE DOMAINS===\n"
    ).encode()


def _update(directory: Path, body: bytes) -> SourceOutcome:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url == "https://publicsuffix.org/list/public_suffix_list.dat"
        return httpx.Response(200, content=body)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        (outcome,) = update([DATASET], directory=directory, client=client).outcomes
    return outcome


def test_data_update_installs_the_list_and_it_answers(tmp_path: Path) -> None:
    outcome = _update(tmp_path, _psl(1000))
    assert outcome.status is Status.UPDATED, outcome.detail
    extract, label = suffix_extractor(tmp_path)
    assert label.startswith("public suffix list 2026-12-01_08-00-00_UTC (")
    parts = extract("a.shop.residency-test")
    assert (parts.domain, parts.suffix) == ("shop", "residency-test")
    assert extract("x.blogspot.com").suffix == "com"  # the private section is not used


def test_a_truncated_list_is_refused_and_the_snapshot_stays(tmp_path: Path) -> None:
    outcome = _update(tmp_path, _psl(10))
    assert outcome.status is Status.FAILED
    assert "only 14 ICANN rules" in outcome.detail
    assert outcome.detail.endswith("(the bundled snapshot is used instead)")
    assert suffix_extractor(tmp_path)[1].endswith("bundled snapshot")
