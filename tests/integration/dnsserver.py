"""DNS server harness for tests: a real Knot DNS on 127.0.0.1 serving zones you give it.

Other areas reuse it through the fixtures in ``tests/integration/conftest.py``::

    def test_something(dns_server):            # session server with the resolve test zones
        ns = dns_server.address                # "127.0.0.1:PORT", as --nameserver takes it
        dns_server.set_zone(zone("mine.test", "www A 192.0.2.1"))   # add a zone, reloads

    def test_other(make_dns_server):           # a private server, stopped after the test
        server = make_dns_server([zone("x.test", "a CNAME b\\nb A 192.0.2.2")])

The launcher itself lives in ``residency.resolve.localserver`` (the demo uses it too).
"""

from __future__ import annotations

import glob
from pathlib import Path

from residency.resolve.localserver import KnotServer, Zone, find_binary, zones_from_dir
from tests.support import FIXTURES, require_binary, unavailable

__all__ = [
    "TEST_ZONES",
    "KnotServer",
    "Zone",
    "ecs_module_available",
    "require_knot",
    "start_server",
    "test_zones",
    "zone",
]

#: The zones the resolve tests use (one name per outcome; see the comments in each file).
TEST_ZONES = FIXTURES / "resolve" / "zones"

SOA_TEMPLATE = """$TTL {ttl}
@        3600 SOA  ns hostmaster {serial} 3600 600 86400 60
@        3600 NS   ns
ns       3600 A    127.0.0.1
"""


def zone(
    origin: str, records: str, *, serial: int = 1, ttl: int = 300, ecs: str | None = None
) -> Zone:
    """A zone from a few record lines; SOA and NS boilerplate are added for you.

    Bump ``serial`` when replacing a zone on a running server (``set_zone`` waits for it).
    """
    text = SOA_TEMPLATE.format(ttl=ttl, serial=serial) + records.strip() + "\n"
    return Zone(origin=origin, text=text, ecs=ecs)


def ecs_module_available() -> bool:
    """Whether Knot's geoip module (Debian package knot-module-geoip) is installed."""
    return bool(glob.glob("/usr/lib/*/knot/modules-*/geoip.so"))


def require_knot() -> str:
    """knotd's path; skips on a laptop without it, fails under CI=true."""
    require_binary("knotc")
    return require_binary("knotd")


def test_zones(include_ecs: bool | None = None) -> list[Zone]:
    """The shipped test zones; the ECS zone only when Knot's geoip module is present."""
    if include_ecs is None:
        include_ecs = ecs_module_available()
    return [z for z in zones_from_dir(TEST_ZONES) if include_ecs or z.ecs is None]


test_zones.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


def start_server(workdir: Path, zones: list[Zone] | tuple[Zone, ...]) -> KnotServer:
    """Start Knot on a free port with ``zones``; the caller must ``stop()`` it."""
    binary = require_knot()
    if any(z.ecs is not None for z in zones) and not ecs_module_available():
        unavailable("Knot's geoip module (knot-module-geoip) is not installed")
    return KnotServer(workdir, zones, binary=binary).start()


def knot_installed() -> bool:
    return find_binary("knotd") is not None
