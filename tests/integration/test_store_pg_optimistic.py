"""PostgreSQL: unchanged endpoints are read unlocked and extended by a conditional update;
one that another writer changes in between is caught and recorded as a change."""

from __future__ import annotations

from typing import Any

import pytest

from residency.store import open_store
from residency.store.recording import Recorder
from tests.integration.pg import pg_url, postgres_server  # noqa: F401 - fixtures
from tests.store.builders import Addr, Host, audit_result

pytestmark = pytest.mark.integration

T0 = 2_000_000_000.0
HOME = Host("a.example", (Addr("192.0.2.1", "DE"),))
AWAY = Host("a.example", (Addr("198.51.100.1", "US", region="us-east-1"),))
STEADY = Host("b.example", (Addr("192.0.2.2", "DE"),))


def test_a_state_changed_by_another_writer_between_read_and_update_is_a_change(
    pg_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(pg_url)
    other = open_store(pg_url)
    try:
        store.record(audit_result("r1", T0, [HOME, STEADY]), kind="monitor")
        original = Recorder._endpoint_rows
        raced: list[bool] = []

        def rows_then_race(self: Recorder, tx: Any, keys: Any, lock: bool = True) -> Any:
            found = original(self, tx, keys, lock)
            if not lock and not raced:
                raced.append(True)  # another worker moves a.example away, and commits
                other.record(audit_result("r2", T0 + 10, [AWAY]), kind="monitor")
            return found

        monkeypatch.setattr(Recorder, "_endpoint_rows", rows_then_race)
        outcome = store.record(audit_result("r3", T0 + 20, [HOME, STEADY]), kind="monitor")
        assert raced
        # Read as unchanged, but a.example had moved meanwhile: back home is a change.
        assert outcome.checked == 2
        assert outcome.changed == 1
        assert outcome.events
        spans = store.history("a.example").spans
        assert [s.body["addresses"][0]["ip"] for s in spans] == [
            "192.0.2.1",
            "198.51.100.1",
            "192.0.2.1",
        ]
        steady = store.history("b.example").spans
        assert len(steady) == 1 and steady[0].checks == 2
    finally:
        other.close()
        store.close()
