"""Fixtures that start and stop real servers on 127.0.0.1 for integration tests.

DNS (see ``tests/integration/dnsserver.py``):
- ``dns_server``: one Knot DNS for the whole session, serving ``tests/fixtures/resolve/zones``;
  ``.address`` is ``"127.0.0.1:PORT"``, ``.host``/``.port`` too; ``.set_zone(zone(...))``
  adds a zone and reloads.
- ``make_dns_server(zones)``: a private Knot server for one test, stopped afterwards.
- ``dns_nameserver``: just the session server's ``"127.0.0.1:PORT"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.integration.dnsserver import KnotServer, Zone, start_server, test_zones


@pytest.fixture(scope="session")
def dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = start_server(tmp_path_factory.mktemp("knot"), test_zones())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dns_nameserver(dns_server: KnotServer) -> str:
    return dns_server.address


@pytest.fixture
def make_dns_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[[list[Zone] | tuple[Zone, ...]], KnotServer]]:
    started: list[KnotServer] = []

    def make(zones: list[Zone] | tuple[Zone, ...]) -> KnotServer:
        server = start_server(tmp_path_factory.mktemp("knot"), zones)
        started.append(server)
        return server

    try:
        yield make
    finally:
        for server in started:
            server.stop()
