"""The entity-table parsers: real snapshots, hostile text, wrong shapes, a 50 MB file."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from residency.control.sanitize import clean_domain, clean_text
from residency.control.tables import PARSERS
from residency.datasets.errors import FeedInvalid
from tests.control.fixtures import SNAPSHOTS, write_json
from tests.support import shared


@pytest.mark.parametrize("dataset", sorted(SNAPSHOTS))
def test_real_snapshots_parse(dataset: str) -> None:
    _, _, files = SNAPSHOTS[dataset]
    for stored, name in files:
        with shared("entities", name).open("rb") as handle:
            parsed = PARSERS[(dataset, stored)](handle, name)
        assert len(parsed.records) > 100
        assert all(r.entity and all("." in d for d in r.domains) for r in parsed.records)


def test_webxray_keeps_country_and_parent() -> None:
    path = shared("entities", "webxray-domain_owners_2019-12-18.json")
    with path.open("rb") as handle:
        parsed = PARSERS[("entities-webxray", "domain_owners.json")](handle, path.name)
    by_name = {r.entity: r for r in parsed.records}
    assert by_name["Adition Technologies"].country == "DE"
    assert "adition.com" in by_name["Adition Technologies"].domains
    assert by_name["DoubleClick"].parent == "Google"


def test_android_table_keeps_package_names() -> None:
    path = shared("entities", "ddg-android-tds_2025-06-17.json")
    with path.open("rb") as handle:
        parsed = PARSERS[("entities-ddg-android", "android-tds.json")](handle, path.name)
    packages = dict(parsed.packages)
    assert packages["app.zenly.locator"] == "Snap Inc."


def test_text_is_sanitized_at_entry(tmp_path: Path) -> None:
    # a lone surrogate (legal in JSON, not in UTF-8) and control characters in a name
    raw = (
        '[{"id": 1, "owner_name": "Evil\\ud800 Corp\\u0007\\u001b[31m", '
        '"domains": ["evil.example", "<b>x</b>", "*.wild.example"]}]'
    )
    path = tmp_path / "owners.json"
    path.write_text(raw, encoding="ascii")
    with path.open("rb") as handle:
        parsed = PARSERS[("entities-webxray", "domain_owners.json")](handle, "owners.json")
    (record,) = parsed.records
    # the JSON reader or clean_text replaces the lone surrogate; no control character stays
    assert record.entity in ("Evil\ufffd Corp [31m", "Evil? Corp [31m")
    assert record.domains == ("evil.example", "wild.example")
    assert parsed.notes == ("1 domain entries were not DNS names and were skipped",)
    record.entity.encode("utf-8")  # always encodable


def test_clean_helpers() -> None:
    assert clean_text(42) is None
    assert clean_text("a\ud800b\x00c") == "a\ufffdb c"
    assert clean_text("x" * 500) == "x" * 159 + "…"
    assert clean_domain("Example.COM.") == "example.com"
    assert clean_domain("https://example.com/") is None


@pytest.mark.parametrize(
    ("key", "document"),
    [
        (("entities-webxray", "domain_owners.json"), {"not": "a list"}),
        (("entities-webxray", "domain_owners.json"), [1, 2, 3]),
        (("entities-disconnect", "entities.json"), [{"entities": 1}]),
        (("entities-disconnect", "services.json"), {"categories": {"Ads": "nope"}}),
        (("entities-ddg-web", "extension-tds.json"), {"trackers": {"a.com": {"no": "owner"}}}),
        (("entities-ddg-android", "android-tds.json"), {"packageNames": {}}),
    ],
)
def test_wrong_shape_is_one_clear_line(
    tmp_path: Path, key: tuple[str, str], document: object
) -> None:
    path = write_json(tmp_path / "wrong.json", document)
    with path.open("rb") as handle, pytest.raises(FeedInvalid) as raised:
        PARSERS[key](handle, "wrong.json")
    message = str(raised.value)
    assert "\n" not in message and message.startswith("wrong.json: ")


def test_truncated_json_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes(b'[{"owner_name": "A", "domains": ["a.com"]}, {"owner_')
    with path.open("rb") as handle, pytest.raises(FeedInvalid, match="not valid JSON"):
        PARSERS[("entities-webxray", "domain_owners.json")](handle, "cut.json")


def test_a_50_mb_table_streams_in_bounded_memory(tmp_path: Path) -> None:
    """DuckDuckGo's trackers carry long rule lists the parser never keeps: 50 MB of them
    must not become 50 MB of Python objects."""
    path = tmp_path / "big-tds.json"
    rule = {"rule": "x" * 400, "fingerprinting": 1, "cookies": 0.1}
    with path.open("w", encoding="utf-8") as out:
        out.write('{"trackers": {')
        size, i = 0, 0
        while size < 50 * 1024 * 1024:
            chunk = json.dumps({"owner": {"name": f"Owner {i % 500}"}, "rules": [rule] * 20})
            out.write(("," if i else "") + f'"t{i}.example": ' + chunk)
            size += len(chunk)
            i += 1
        out.write('}, "entities": {}, "domains": {}}')
    assert path.stat().st_size >= 50 * 1024 * 1024
    tracemalloc.start()
    with path.open("rb") as handle:
        parsed = PARSERS[("entities-ddg-web", "extension-tds.json")](handle, path.name)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert parsed.domain_count == i
    assert peak < 20 * 1024 * 1024  # far below the file's 50 MB
