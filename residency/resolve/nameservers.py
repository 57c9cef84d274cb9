"""Resolver addresses: parsing ``--nameserver ADDR[:PORT]`` and reading the system's resolvers."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.resolver

from residency.addresses import AddressError, parse_address
from residency.resolve.errors import BadResolverSpec

DNS_PORT = 53


@dataclass(frozen=True)
class ServerAddress:
    """One resolver reached over UDP (and TCP for truncated answers)."""

    host: str  # an IP address, never a name
    port: int = DNS_PORT

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DNS_PORT else f"{host}:{self.port}"


def _check_port(spec: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise BadResolverSpec(f"nameserver {spec!r}: port {text!r} is not a number from 1 to 65535")
    return int(text)


def _check_address(spec: str, text: str) -> str:
    try:
        return parse_address(text).socket_text
    except AddressError as err:
        raise BadResolverSpec(
            f"nameserver {spec!r}: {text!r} is not an IP address"
            + (f": {err.reason}" if err.reason else "")
            + " (use ADDR, ADDR:PORT or [IPv6]:PORT)"
        ) from None


def parse_nameserver(spec: str) -> ServerAddress:
    """``ADDR``, ``ADDR:PORT``, ``IPv6`` or ``[IPv6]:PORT`` -> a ServerAddress."""
    text = spec.strip()
    if not text:
        raise BadResolverSpec("nameserver '': empty address")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise BadResolverSpec(f"nameserver {spec!r}: missing ']' after the IPv6 address")
        if rest and not rest.startswith(":"):
            raise BadResolverSpec(f"nameserver {spec!r}: expected ':PORT' after ']'")
        port = _check_port(spec, rest[1:]) if rest else DNS_PORT
        return ServerAddress(_check_address(spec, f"[{host}]"), port)
    if text.count(":") == 1:
        host, _, port_text = text.partition(":")
        return ServerAddress(_check_address(spec, host), _check_port(spec, port_text))
    return ServerAddress(_check_address(spec, text), DNS_PORT)


def system_nameservers() -> tuple[ServerAddress, ...]:
    """The resolvers in /etc/resolv.conf (via dnspython); BadResolverSpec if there are none."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except (dns.exception.DNSException, OSError) as err:
        raise BadResolverSpec(f"no system resolver: cannot read /etc/resolv.conf ({err})") from None
    found = []
    for server in system.nameservers:
        text = str(server)
        try:
            found.append(ServerAddress(parse_address(text).socket_text, int(system.port)))
        except AddressError:
            continue  # a DoH/DoT URL configured programmatically: not from resolv.conf
    if not found:
        raise BadResolverSpec("no system resolver: /etc/resolv.conf lists no nameserver")
    return tuple(found)
