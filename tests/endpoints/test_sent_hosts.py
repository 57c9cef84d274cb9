"""The streamed input's record of audited hosts: exact answers across merges, compact."""

from __future__ import annotations

from residency.endpoints.stream import SentHosts


def test_hosts_are_remembered_with_their_categories_across_merges() -> None:
    sent = SentHosts()
    sent.MERGE_AT = 100  # type: ignore[misc]  # several merges in a small test
    for i in range(1000):
        sent.add(f"h{i}.example", ("payments",) if i % 3 == 0 else ())
    assert len(sent) == 1000
    assert sent.get("h0.example") == ("payments",)
    assert sent.get("h1.example") == ()
    assert sent.get("h999.example") == ("payments",)
    assert sent.get("h998.example") == ()
    assert sent.get("h1000.example") is None
    assert sent.get("never.example") is None


def test_one_table_entry_per_distinct_category_set() -> None:
    sent = SentHosts()
    for i in range(500):
        sent.add(f"h{i}.example", ("a", "b"))
    assert sent._sets == [(), ("a", "b")]
