"""mitmproxy flow files (``mitmdump -w flows``): each flow's server, with the address
mitmproxy connected to, read without the mitmproxy package.

A flow file is a sequence of tnetstrings (``LENGTH:DATA`` then one type byte: ``,`` bytes,
``;`` text, ``#`` integer, ``^`` float, ``!`` boolean, ``~`` null, ``}`` dict, ``]``
list), one dict per flow. residency reads only what it needs from each: the flow
``type``, the request's ``host`` / ``authority`` / ``scheme`` / ``path`` / ``method``,
and the server connection's ``address`` (the host asked for), ``sni`` and ``peername``
(format 19 and later) or ``ip_address`` (earlier): the address really connected to.
Why not the ``mitmproxy`` package itself: docs/inputs.md, "mitmproxy flow files".

Reading is bounded: one flow at most ``MAX_FLOW`` bytes (a larger one is skipped and
named), nesting at most ``MAX_DEPTH`` deep, at most ``MAX_FLOWS`` flows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from residency.addresses import AddressError, parse_address
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputError, InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.normalise import normalise_host
from residency.model import ObservedAddress
from residency.text import shorten
from residency.timefmt import utc_iso

MAX_FLOW = 64 * 1024 * 1024
MAX_DEPTH = 32
MAX_FLOWS = 1_000_000
#: The newest flow format whose fields this reader was written against (mitmproxy 11).
KNOWN_VERSION = 21
_LENGTH_DIGITS = 12
#: What a flow file starts with: a length, then the first key of the flow's dict.
_FLOW_START = re.compile(rb"^[0-9]{1,12}:[0-9]{1,4}:[a-z_]{1,40};")


def looks_like_flows(head: bytes) -> bool:
    return _FLOW_START.match(head) is not None


class TnetstringError(InputError):
    """One flow is not a tnetstring (``str`` says where and why)."""


def loads(data: bytes) -> Any:
    """One tnetstring value, the whole of ``data``; nested at most ``MAX_DEPTH`` deep."""
    value, end = _value(data, 0, len(data), 0)
    if end != len(data):
        raise TnetstringError(f"{len(data) - end} bytes after the value")
    return value


def _value(data: bytes, at: int, limit: int, depth: int) -> tuple[Any, int]:
    """The value at ``at`` (it must end before ``limit``) and where the next one begins."""
    if depth > MAX_DEPTH:
        raise TnetstringError(f"nested more than {MAX_DEPTH} deep")
    colon = data.find(b":", at, min(limit, at + _LENGTH_DIGITS + 1))
    if colon <= at or not data[at:colon].isdigit():
        raise TnetstringError(f"no length at byte {at}")
    start = colon + 1
    end = start + int(data[at:colon])
    if end >= limit:
        raise TnetstringError(f"a value at byte {at} runs past its end")
    kind = data[end : end + 1]
    if kind in (b"]", b"}"):
        items: list[Any] = []
        position = start
        while position < end:
            item, position = _value(data, position, end, depth + 1)
            items.append(item)
        if kind == b"]":
            return items, end + 1
        if len(items) % 2:
            raise TnetstringError(f"a dict at byte {at} has a key without a value")
        keys = [k.decode("utf-8", "replace") if isinstance(k, bytes) else k for k in items[::2]]
        if not all(isinstance(k, str) for k in keys):
            raise TnetstringError(f"a dict at byte {at} has a key that is not text")
        return dict(zip(keys, items[1::2], strict=True)), end + 1
    body = data[start:end]
    if kind == b",":
        return body, end + 1
    if kind == b";":
        return body.decode("utf-8", "replace"), end + 1
    if kind in (b"#", b"^"):
        try:
            return (int(body) if kind == b"#" else float(body)), end + 1
        except ValueError:
            raise TnetstringError(f"a bad number at byte {at}") from None
    if kind == b"!":
        return body == b"true", end + 1
    if kind == b"~":
        return None, end + 1
    raise TnetstringError(f"unknown type {kind!r} at byte {end}")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ""


def _pair(value: Any) -> tuple[str, int | None] | None:
    """An ``[host, port]`` (or mitmproxy 1's ``{"address": [...]}``) as (text, port)."""
    if isinstance(value, dict):
        value = value.get("address")
    if isinstance(value, list) and value and _text(value[0]):
        port = value[1] if len(value) > 1 and isinstance(value[1], int) else None
        return _text(value[0]), port
    return None


@dataclass(frozen=True)
class FlowServer:
    """What one flow says about the server it reached."""

    names: tuple[str, ...]  # the request's host, the connection's address and SNI
    ip: str | None  # the address mitmproxy connected to, when recorded
    when: float | None
    what: str  # "GET https://host/path" or "tcp flow"
    via_proxy: bool  # through an upstream proxy: the address is the proxy's


def flow_server(flow: dict[str, Any]) -> FlowServer:
    """The server of one flow (a dict from ``loads``); missing fields stay empty."""
    server = flow.get("server_conn") if isinstance(flow.get("server_conn"), dict) else {}
    assert isinstance(server, dict)
    request = flow.get("request") if isinstance(flow.get("request"), dict) else {}
    assert isinstance(request, dict)
    names: list[str] = []
    for raw in (
        _text(request.get("host")),
        _text(request.get("authority")).rsplit(":", 1)[0] if request.get("authority") else "",
        (_pair(server.get("address")) or ("", None))[0],
        _text(server.get("sni")),
    ):
        if raw and raw not in names:
            names.append(raw)
    peer = _pair(server.get("peername")) or _pair(server.get("ip_address"))
    when = request.get("timestamp_start", server.get("timestamp_start"))
    kind = _text(flow.get("type")) or "unknown"
    if kind == "http" and request:
        what = (
            f"{_text(request.get('method'))} {_text(request.get('scheme'))}://"
            f"{_text(request.get('host'))}{_text(request.get('path'))}"
        )
    else:
        what = f"{kind} flow"
    return FlowServer(
        tuple(names),
        peer[0] if peer else None,
        float(when) if isinstance(when, int | float) else None,
        what,
        bool(server.get("via")),
    )


def _address(text: str) -> str | None:
    try:
        return parse_address(text.strip("[]")).text
    except AddressError:
        return None


def read_flows(stream: BinaryIO) -> Iterator[dict[str, Any] | TnetstringError]:
    """Each flow of the file in turn, or a ``TnetstringError`` for one that could not be
    read; framing lost after the first flow ends the file with one. Raises
    ``InputUnreadable`` when not even the first flow is framed as a tnetstring."""
    count = 0
    while count < MAX_FLOWS:
        head = stream.read(1)
        if not head:
            return
        while head[-1:].isdigit() and len(head) <= _LENGTH_DIGITS:
            byte = stream.read(1)
            if not byte:
                break
            head += byte
        if not head.endswith(b":") or not head[:-1].isdigit():
            why = f"no length where flow {count + 1} begins"
            if not count:
                raise InputUnreadable(f"not a mitmproxy flow file: {why}")
            yield TnetstringError(f"{why}; the rest of the file is not read")
            return
        size = int(head[:-1])
        count += 1
        if size > MAX_FLOW:
            left = size + 1
            while left > 0 and (chunk := stream.read(min(left, 1 << 20))):
                left -= len(chunk)
            yield TnetstringError(f"flow {count}: {size} bytes, over the {MAX_FLOW} read")
            continue
        data = head + stream.read(size + 1)
        if len(data) < len(head) + size + 1:
            yield TnetstringError(f"flow {count}: cut off at the end of the file")
            return
        try:
            flow = loads(data)
        except TnetstringError as err:
            yield TnetstringError(f"flow {count}: {err}")
            continue
        if not isinstance(flow, dict):
            yield TnetstringError(f"flow {count}: not a flow (a {type(flow).__name__})")
            continue
        yield flow


class MitmFlowsReader:
    """mitmproxy flow files (``mitmdump -w``, the console's and mitmweb's "save")."""

    name = "mitmproxy"
    description = "mitmproxy flow file: each flow's server and the address connected to"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        collector = EndpointCollector()
        flows = unrecorded = proxied = 0
        versions: set[int] = set()
        for flow in read_flows(stream):
            if isinstance(flow, TnetstringError):
                collector.problem(origin, origin, str(flow))
                continue
            flows += 1
            if isinstance(flow.get("version"), int):
                versions.add(flow["version"])
            server = flow_server(flow)
            ip = _address(server.ip) if server.ip and not server.via_proxy else None
            unrecorded += server.ip is None
            proxied += server.via_proxy
            for raw in server.names:
                try:
                    endpoint = normalise_host(raw, origin=origin)
                except InvalidEntry as err:
                    collector.problem(raw, origin, f"name in flow {flows}: {err}")
                    continue
                if ip is None:
                    collector.add(endpoint)
                    continue
                seen = ObservedAddress(
                    ip=ip,
                    when=utc_iso(server.when, fraction=True) if server.when else None,
                    context=f"mitmproxy flow {flows}: {shorten(server.what, 160)}",
                )
                collector.observe(endpoint.host, endpoint.display, origin, seen)
        if not flows and not collector.targets().problems:
            raise InputUnreadable(f"{origin}: no flow in the file")
        newer = sorted(v for v in versions if v > KNOWN_VERSION)
        if newer:
            collector.note(
                f"{origin}: flow format {newer[-1]} is newer than residency knows "
                f"({KNOWN_VERSION}); its server fields were read as in {KNOWN_VERSION}"
            )
        if unrecorded:
            collector.note(
                f"{origin}: {unrecorded} flow(s) recorded no server address (the connection "
                "failed or was never made); their hosts are still audited"
            )
        if proxied:
            collector.note(
                f"{origin}: {proxied} flow(s) went through an upstream proxy: the address "
                "recorded is the proxy's, so their hosts are re-resolved"
            )
        collector.note(f"{origin}: {flows} mitmproxy flow(s)")
        return collector.targets()
