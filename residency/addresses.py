"""The one reading of an IP address written as text, shared by every stage.

Rules (the same for a command-line argument, a list entry, a HAR field, a nameserver,
an RDAP lookup or a bulk file):

- Surrounding white space is ignored. One pair of square brackets around an IPv6
  address is accepted (the URL form, ``[2001:db8::1]``); brackets around anything else
  are not.
- IPv4 is exactly four decimal parts, each 0-255, separated by dots. A part with a
  leading zero (``010.1.1.1``) is rejected: ``inet_aton`` reads it as octal (8), most
  other software as decimal (10), so it names two different addresses. Shorthand
  (``127.1``), hexadecimal and integers are rejected too.
- IPv6 is any RFC 4291 text form, with a trailing dotted quad under the IPv4 rules.
  The canonical text is RFC 5952 (lower case, longest zero run compressed), as
  ``inet_ntop`` writes it, so an IPv4-mapped address reads ``::ffff:192.0.2.1``.
- An IPv6 zone id (``fe80::1%eth0``, or ``%25eth0`` as RFC 6874 writes it in URLs) is
  stripped and kept in ``Address.zone``: it names an interface of the asking host, not
  a place, and says nothing about where the address is. It must be an interface name
  or number (RFC 6874's unreserved characters, at most 64). Zone ids on IPv4 are rejected.
- What an IPv4-mapped or NAT64 address means (locating the IPv4 inside) is the
  locate stage's business, not this module's.
"""

from __future__ import annotations

import re

# _socket is the C module under socket: the same functions, without socket.py's enum
# conversions and its selectors import (about 2.5 ms of a cold ``residency ip``).
from _socket import AF_INET, AF_INET6, inet_ntop, inet_pton
from dataclasses import dataclass

from residency.errors import ResidencyError
from residency.text import shorten

_LEADING_ZERO = re.compile(r"(?:^|[.:])0[0-9]")
#: An interface name (eth0, en0, wlp3s0, vlan.10) or index (Windows): RFC 6874's
#: unreserved characters. Anything else (an escape sequence, a space) is refused where it
#: is read, so a displayed name never carries it.
_ZONE = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class AddressError(ResidencyError, ValueError):
    """Text that is not an IP address; ``str()`` names the text and what is wrong.
    ``reason`` is the what alone (for callers that name the text themselves), or None
    when the text is simply not an address."""

    def __init__(self, text: str, reason: str | None = None) -> None:
        self.text = text
        self.reason = reason
        super().__init__(
            f"{text!r}: {reason}" if reason else f"{text!r} is not an IPv4 or IPv6 address"
        )


@dataclass(frozen=True)
class Address:
    """An address read under the rules above."""

    text: str  # canonical form
    version: int  # 4 or 6
    packed: bytes  # network order, 4 or 16 bytes
    zone: str | None = None  # the IPv6 zone id that was written, stripped from ``text``

    @property
    def socket_text(self) -> str:
        """The text to connect to: a link-local nameserver needs its zone id back."""
        return self.text if self.zone is None else f"{self.text}%{self.zone}"


def parse_address(text: str) -> Address:
    """The address ``text`` spells, or ``AddressError`` saying why it is not one."""
    candidate = text.strip()
    bracketed = candidate.startswith("[") and candidate.endswith("]")
    if bracketed:
        candidate = candidate[1:-1]
    zone = None
    if ":" in candidate:
        address, percent, zone_text = candidate.partition("%")
        if percent:
            zone = zone_text[2:] if zone_text.startswith("25") and len(zone_text) > 2 else zone_text
            if not _ZONE.fullmatch(zone):
                raise AddressError(
                    shorten(text),
                    "IPv6 zone id must be an interface name or number: 1 to 64 of"
                    " A-Z a-z 0-9 . _ - ~",
                )
        try:
            packed = inet_pton(AF_INET6, address)
        except (OSError, ValueError):
            raise AddressError(text, _why_not(address, 6)) from None
        return Address(inet_ntop(AF_INET6, packed), 6, packed, zone)
    if bracketed:
        raise AddressError(text, "square brackets are only for IPv6 addresses")
    try:
        packed = inet_pton(AF_INET, candidate)
    except (OSError, ValueError):
        raise AddressError(text, _why_not(candidate, 4)) from None
    return Address(inet_ntop(AF_INET, packed), 4, packed)


def is_address(text: str) -> bool:
    """Whether ``text`` is an address under the same rules (a name is not)."""
    try:
        parse_address(text)
    except AddressError:
        return False
    return True


def _why_not(candidate: str, version: int) -> str | None:
    """What is wrong with a rejected candidate, when more can be said than "not one"."""
    if not candidate:
        return "empty address"
    tail = candidate.rpartition(":")[2] if version == 6 else candidate
    quad = tail.split(".")
    if (
        len(quad) == 4
        and all(part.isdigit() for part in quad)
        and _LEADING_ZERO.search("." + tail)
        and all(int(part) <= 255 for part in quad)
    ):
        return "leading zero in an IPv4 part is ambiguous (octal or decimal?); write it without"
    if "%" in candidate and version == 4:
        return "a zone id is only for IPv6 addresses"
    return None
