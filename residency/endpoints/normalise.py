"""Turn what a person typed (a name, a URL, an address) into one canonical Endpoint."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import idna

from residency.addresses import AddressError, parse_address
from residency.endpoints.errors import InvalidEntry
from residency.model import Endpoint
from residency.text import shorten

MAX_NAME = 253  # octets, without the trailing dot (RFC 1035 255 on the wire)
MAX_LABEL = 63

# Letters, digits, hyphen; underscore too, because real names such as
# "_dmarc.example.com" or "foo_bar.example" resolve and apps do contact them.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")
_FAST_NAME = re.compile(
    r"^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$"
)
_SPACE = re.compile(r"\s")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DOTTED_NUMBERS = re.compile(r"^[0-9]+(?:\.[0-9]+){3}$")
_HOST_PORT = re.compile(r"^(?P<host>[^:/\[\]]+):(?P<port>[0-9]*)$")


def normalise_host(text: str, origin: str = "", categories: tuple[str, ...] = ()) -> Endpoint:
    """Canonical Endpoint for a host name, URL, ``host:port`` or IP literal.

    Raises ``InvalidEntry`` whose message names what is wrong (not the entry:
    the caller puts the entry and its origin in front).
    """
    raw = text.strip()
    if not raw:
        raise InvalidEntry("empty entry")
    host = _host_part(raw)
    literal = _ip_literal(host) if ":" in host or host[-1:].isdigit() else None
    if literal is not None:
        return Endpoint(
            host=literal, display=host, origin=origin, categories=categories, is_ip=True
        )
    return Endpoint(
        host=canonical_name(host),
        display=host.rstrip(".") or host,
        origin=origin,
        categories=categories,
    )


def canonical_name(name: str) -> str:
    """ASCII (punycode), lower-case name without trailing dot; ``InvalidEntry`` if malformed."""
    if name.endswith("."):
        name = name[:-1]
    lowered = name.lower()
    if (
        len(lowered) <= MAX_NAME
        and _FAST_NAME.match(lowered)
        and "xn--" not in lowered
        and not lowered.rpartition(".")[2].isdigit()
    ):
        return lowered  # the common case: plain LDH labels, all checks hold
    if not name:
        raise InvalidEntry("empty host name")
    if _SPACE.search(name):
        raise InvalidEntry("host name contains white space")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as err:
            raise InvalidEntry(f"not a valid international domain name ({err})") from None
        except UnicodeError as err:
            raise InvalidEntry(f"not a valid international domain name ({err})") from None
    name = name.lower()
    labels = name.split(".")
    for label in labels:
        if not label:
            raise InvalidEntry("empty label (two dots in a row or a leading dot)")
        if len(label) > MAX_LABEL:
            raise InvalidEntry(f"label {label[:20]}... is {len(label)} octets (at most 63)")
        if not _LABEL.match(label):
            bad = sorted({ch for ch in label if not (ch.isalnum() or ch in "-_")})
            if bad:
                shown = " ".join(repr(ch) for ch in bad)
                raise InvalidEntry(f"bad character {shown} in label {shorten(label)!r}")
            raise InvalidEntry(f"label {shorten(label)!r} starts or ends with a hyphen")
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError) as err:
                raise InvalidEntry(
                    f"label {shorten(label)!r} is not valid punycode ({err})"
                ) from None
    if len(name) > MAX_NAME:
        raise InvalidEntry(f"name is {len(name)} octets long (at most 253)")
    if labels[-1].isdigit():
        raise InvalidEntry("looks like an IP address but is not a valid one")
    return name


def _host_part(raw: str) -> str:
    """The host inside a URL, ``host:port``, ``[v6]:port`` or bare name/address."""
    if _SCHEME.match(raw) or raw.startswith("//"):
        return _url_host(raw if not raw.startswith("//") else "http:" + raw)
    if raw.startswith("["):
        end = raw.find("]")
        if end < 0:
            raise InvalidEntry("unclosed '[' in IPv6 address")
        rest = raw[end + 1 :]
        if rest and not re.fullmatch(r":[0-9]{1,5}(/.*)?|/.*", rest):
            raise InvalidEntry(f"unexpected text {shorten(rest)!r} after ']'")
        if ":" not in raw[1:end]:  # RFC 3986: brackets hold an IPv6 literal, nothing else
            raise InvalidEntry("square brackets are only for IPv6 addresses")
        return raw[1:end]
    if "/" in raw or "?" in raw or "@" in raw:
        # A URL written without its scheme: "example.com/path", "user@host:8443/x".
        return _url_host("http://" + raw)
    if raw.count(":") == 1:
        match = _HOST_PORT.match(raw)
        if not match:
            raise InvalidEntry(f"bad port after ':' in {shorten(raw)!r}")
        _check_port(match["port"])
        return match["host"]
    return raw


def _url_host(url: str) -> str:
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        _ = parts.port  # validates the port
    except ValueError as err:
        raise InvalidEntry(f"malformed URL ({err})") from None
    if not hostname:
        raise InvalidEntry("URL without a host")
    # urlsplit lower-cases the host; keep the written form for display.
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        return netloc[1 : netloc.find("]")]
    written = netloc.rsplit(":", 1)[0] if re.search(r":[0-9]*$", netloc) else netloc
    return written or hostname


def _check_port(port: str) -> None:
    if port and int(port) > 65535:
        raise InvalidEntry(f"port {port} is out of range")


def _ip_literal(host: str) -> str | None:
    """The canonical text of an IP literal (zone id dropped), or None when ``host`` is not
    one. Text that can only be an address (a colon, or four dotted numbers) and is not a
    valid one is an error saying why, e.g. an ambiguous leading zero."""
    try:
        return parse_address(host).text
    except AddressError as err:
        if ":" in host:
            raise InvalidEntry(err.reason or "not a valid IPv6 address") from None
        if _DOTTED_NUMBERS.match(host):
            reason = err.reason or "looks like an IP address but is not a valid one"
            raise InvalidEntry(reason) from None
    return None
