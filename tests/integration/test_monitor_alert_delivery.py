"""Every drift event reaches the webhook, counted by the receiver: three monitor workers
(processes) on one PostgreSQL database, with and without kill -9 (issue 18, item 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.delivery_scenario import run_delivery_scenario
from tests.integration.pg import pg_url, postgres_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "history.sqlite3")
    return str(request.getfixturevalue("pg_url"))


def test_three_workers_lose_no_alert(db_url: str) -> None:
    figures = run_delivery_scenario(db_url, targets=90, rounds=5)
    assert figures.produced > 0
    assert figures.lost == 0, figures.line()


def test_three_workers_killed_lose_no_alert(db_url: str) -> None:
    figures = run_delivery_scenario(db_url, targets=90, rounds=5, kill_rounds=frozenset({1, 3}))
    assert figures.kills > 0 and figures.produced > 0
    assert figures.lost == 0, figures.line()
