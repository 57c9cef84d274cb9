"""Fixtures that start and stop real servers on 127.0.0.1 for integration tests.

DNS (see ``tests/integration/dnsserver.py``):
- ``dns_server``: one Knot DNS for the whole session, serving ``tests/fixtures/resolve/zones``;
  ``.address`` is ``"127.0.0.1:PORT"``, ``.host``/``.port`` too; ``.set_zone(zone(...))``
  adds a zone and reloads.
- ``make_dns_server(zones)``: a private Knot server for one test, stopped afterwards.
- ``dns_nameserver``: just the session server's ``"127.0.0.1:PORT"``.
- ``tls_dns_server``: BIND 9.18 with the same zones over DoT (``.dot``) and DoH (``.doh``),
  with a self-signed certificate clients must trust (``.ca_file``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.integration.dnsserver import (
    BindTlsServer,
    KnotServer,
    Zone,
    start_server,
    test_zones,
)
from tests.support import require_binary, unavailable


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


@pytest.fixture(scope="session")
def tls_dns_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BindTlsServer]:
    """BIND with DoT (``.dot``) and DoH (``.doh``) listeners; trust ``.ca_file``."""
    binary = require_binary("named")
    zones = [z for z in test_zones(include_ecs=False) if not z.domain.startswith("big.")]
    server = BindTlsServer(tmp_path_factory.mktemp("bind"), zones)
    try:
        server.start(binary)
    except RuntimeError as err:
        unavailable(str(err))
    try:
        yield server
    finally:
        server.stop()
