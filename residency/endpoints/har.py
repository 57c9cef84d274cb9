"""HAR files (Chromium, Firefox, mitmproxy): which hosts a page used, at which addresses."""

from __future__ import annotations

import io
import json
import socket
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import ijson

from residency.addresses import AddressError, parse_address
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.crawl.har import crawl_record, written_by_crawl
from residency.endpoints.detect import sniff
from residency.endpoints.errors import InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.normalise import normalise_host
from residency.model import Endpoint, ObservedAddress
from residency.text import shorten
from residency.textsafe import replace_surrogates

NOT_RECORDED = "not recorded"
_MAX_URL = 120
_V4_MAPPED = bytes(10) + b"\xff\xff"  # ::ffff:0:0/96


@dataclass
class _Use:
    """How one host was used at one address (or with no address recorded)."""

    first: str | None = None
    count: int = 0
    pages: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def add(self, when: str | None, page: str, request: str, shown: int) -> None:
        self.count += 1
        if when and (self.first is None or when < self.first):
            self.first = when
        if page not in self.pages:
            self.pages.append(page)
        if len(self.requests) < shown:
            self.requests.append(request)

    def describe(self, titles: dict[str, str]) -> str:
        pages = ", ".join(titles.get(page, page) for page in self.pages[:3]) + (
            f" +{len(self.pages) - 3}" if len(self.pages) > 3 else ""
        )
        noun = "request" if self.count == 1 else "requests"
        text = f"HAR {pages}: {self.count} {noun}: " + "; ".join(self.requests)
        if self.count > len(self.requests):
            text += f" (+{self.count - len(self.requests)} more)"
        return text


def server_ip(value: object) -> str | None:
    """The address in a HAR ``serverIPAddress`` (``"1.2.3.4"``, ``"[2001:db8::1]"``, ``""``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[: text.index("]") + 1]  # "[v6]:port": the brackets are parse_address's
    elif text.count(":") == 1:  # "1.2.3.4:443"
        text = text.split(":", 1)[0]
    try:
        address = parse_address(text)
    except AddressError:
        return None
    # a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d: it was IPv4 on the wire
    if address.packed[:12] == _V4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, address.packed[12:])
    return address.text


def _when(value: object) -> str | None:
    """``startedDateTime`` as written (mitmproxy: a UTC offset, HTTP Toolkit: the local one)."""
    return value[:64] if isinstance(value, str) else None


def _short(url: str) -> str:
    url = replace_surrogates(url)  # HAR text is the page's: no unpaired surrogate gets in
    return url if len(url) <= _MAX_URL else url[: _MAX_URL - 3] + "..."


def _header(headers: object, wanted: str) -> str | None:
    if not isinstance(headers, list):
        return None
    for header in headers:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == wanted:
            value = header.get("value")
            return value if isinstance(value, str) else None
    return None


def read_har(document: Any, origin: str, options: ReadOptions) -> Targets:
    """Targets from a parsed HAR document (``{"log": {"entries": [...]}}``)."""
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise InputUnreadable(f"{origin}: not a HAR file (no log.entries)")
    return _aggregate(log.get("pages") or [], log["entries"], origin, options)


def _aggregate(
    pages: Iterable[Any], entries: Iterable[Any], origin: str, options: ReadOptions
) -> Targets:
    """Entries folded into one record per host and address as they come (memory per host)."""

    collector = EndpointCollector()
    uses: dict[tuple[str, str | None], _Use] = {}
    displays: dict[str, Endpoint] = {}
    skipped_schemes: dict[str, int] = {}
    no_address = 0
    for index, entry in enumerate(entries):
        where = f"{origin} entry {index}"
        if not isinstance(entry, dict):
            collector.problem(type(entry).__name__, where, "HAR entry is not an object")
            continue
        request = entry.get("request") if isinstance(entry.get("request"), dict) else {}
        assert isinstance(request, dict)
        url = request.get("url") if isinstance(request.get("url"), str) else ""
        assert isinstance(url, str)
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme in {"data", "blob", "about", "chrome-extension", "moz-extension", "javascript"}:
            skipped_schemes[scheme] = skipped_schemes.get(scheme, 0) + 1
            continue
        host_text = url
        if not url:
            host_text = (
                _header(request.get("headers"), ":authority")
                or _header(request.get("headers"), "host")
                or ""
            )
        try:
            endpoint = normalise_host(host_text, origin=origin)
        except InvalidEntry as err:
            collector.problem(url or "(no URL)", where, str(err))
            continue
        ip = server_ip(entry.get("serverIPAddress"))
        if ip is None:
            no_address += 1
        when = _when(entry.get("startedDateTime"))
        pageref = entry.get("pageref")
        page = pageref if isinstance(pageref, str) else "no page"
        method = request.get("method") if isinstance(request.get("method"), str) else "?"
        displays.setdefault(endpoint.host, endpoint)
        uses.setdefault((endpoint.host, ip), _Use()).add(
            when if isinstance(when, str) else None,
            page,
            f"{method} {_short(url)}",
            options.max_requests_shown,
        )

    # After the entries: a streamed HAR may list its pages after them.
    titles: dict[str, str] = {}
    for page in pages:
        if isinstance(page, dict) and isinstance(page.get("id"), str):
            title = page.get("title")
            titles[page["id"]] = page["id"] + (f" ({_short(str(title))})" if title else "")
    for (host, ip), use in uses.items():
        base = displays[host]
        if ip is None:
            collector.add(base)
            continue
        collector.observe(
            host,
            base.display,
            origin,
            ObservedAddress(ip=ip, when=use.first, context=use.describe(titles)),
        )
    for host in displays:
        unrecorded = uses.get((host, None))
        if unrecorded is not None:
            collector.note(
                f"{origin}: {host}: server address {NOT_RECORDED} for {unrecorded.count} "
                f"request(s) ({', '.join(titles.get(p, p) for p in unrecorded.pages[:3])})"
            )
    if no_address:
        collector.note(f"{origin}: {no_address} entries without serverIPAddress ({NOT_RECORDED})")
    for scheme, count in sorted(skipped_schemes.items()):
        collector.note(f"{origin}: {count} {scheme}: URLs skipped (no host)")
    return collector.targets()


class _Inflated(io.RawIOBase):
    """A zlib stream read as its inflated bytes, in bounded chunks."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._inflate = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        while not self._pending:
            if self._inflate.eof:
                return 0
            # input held back by the output bound first, then more of the file
            data = self._inflate.unconsumed_tail or self._raw.read(_CHUNK)
            if not data:
                self._pending = self._inflate.flush()
                if not self._pending:
                    return 0
                break
            self._pending = self._inflate.decompress(data, _CHUNK * 4)
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def _maybe_zlib(stream: BinaryIO) -> BinaryIO:
    """mitmproxy writes ``.zhar`` files: a HAR compressed with zlib (RFC 1950)."""
    head, stream = sniff(stream)
    if len(head) >= 2 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return io.BufferedReader(_Inflated(stream))
    return stream


class HarReader:
    """HTTP Archive (HAR 1.2) files as written by browsers and mitmproxy."""

    name = "har"
    description = "HTTP Archive (.har) from Chromium, Firefox or mitmproxy"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        # Streamed: a 300,000-entry HAR is folded entry by entry, never held whole.
        stream = _maybe_zlib(stream)
        head, stream = sniff(stream)
        if written_by_crawl(head):
            return _read_crawl_har(stream, origin, options)
        pages: list[Any] = []
        seen = {"log": False}
        try:
            entries = _stream_entries(stream, pages, seen)
            return _aggregate_late_pages(pages, entries, origin, options, seen)
        except zlib.error as err:
            raise InputUnreadable(f"{origin}: compressed HAR (.zhar) is damaged: {err}") from None
        except (ijson.JSONError, UnicodeDecodeError, RecursionError) as err:
            # yajl's message spans lines (with a caret); its first line says what is wrong.
            detail = (str(err).strip().splitlines() or ["nested too deeply"])[0]
            raise InputUnreadable(
                f"{origin}: HAR file is not JSON: {shorten(detail, 120)}"
            ) from None


#: A HAR that ``residency crawl`` wrote is read whole (its crawl is bounded by
#: ``--max-requests``: 5,000 requests make about 5 MB); a larger one is refused.
MAX_CRAWL_HAR = 64 * 1024 * 1024


def _read_crawl_har(stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
    """A HAR from ``residency crawl``: the crawl it records (pages, consent phases, party,
    initiator), or an ordinary HAR when its crawl fields do not hold together."""
    data = stream.read(MAX_CRAWL_HAR + 1)
    if len(data) > MAX_CRAWL_HAR:
        raise InputUnreadable(f"{origin}: a crawl HAR over {MAX_CRAWL_HAR} bytes")
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as err:
        detail = str(err).splitlines()[0] if str(err) else "nested too deeply"
        raise InputUnreadable(f"{origin}: HAR file is not JSON: {shorten(detail, 120)}") from None
    record = crawl_record(document)
    if record is None:
        return read_har(document, origin, options)
    from residency.endpoints.crawl.targets import crawl_targets  # the crawler's own modules

    return crawl_targets(record, har=origin)


# Small chunks: depth is checked between them, so one chunk cannot nest far past the limit.
_CHUNK = 1 << 12
#: ijson keeps a prefix string per nesting level (memory grows with depth squared), so a
#: HAR nested 100,000 deep would exhaust memory; real HARs nest under 10 levels.
MAX_DEPTH = 2_000


def _depth_change(chunk: bytes) -> int:
    """Opened minus closed brackets in ``chunk``, at C speed.

    Brackets inside strings are counted too; string content in a HAR (URLs, bodies of
    scripts) is close to balanced, and the limit leaves a wide margin for the rest.
    """
    return chunk.count(b"[") + chunk.count(b"{") - chunk.count(b"]") - chunk.count(b"}")


def _stream_entries(stream: BinaryIO, pages: list[Any], seen: dict[str, bool]) -> Iterator[Any]:
    """``log.entries`` items one by one; ``log.pages`` items collected into ``pages``."""
    entries = ijson.sendable_list()
    page_items = ijson.sendable_list()
    versions = ijson.sendable_list()
    coroutines = [
        ijson.items_coro(entries, "log.entries.item", use_float=True),
        ijson.items_coro(page_items, "log.pages.item", use_float=True),
        ijson.items_coro(versions, "log.version", use_float=True),
    ]
    depth = 0
    while True:
        chunk = stream.read(_CHUNK)
        depth += _depth_change(chunk)
        if depth > MAX_DEPTH:
            raise ijson.JSONError(f"nested more than {MAX_DEPTH} levels deep")
        for coroutine in coroutines:
            if chunk:
                coroutine.send(chunk)
            else:
                coroutine.close()
        pages.extend(page_items)
        del page_items[:]
        if versions:
            seen["log"] = True
        yield from entries
        del entries[:]
        if not chunk:
            return


def _aggregate_late_pages(
    pages: list[Any],
    entries: Iterator[Any],
    origin: str,
    options: ReadOptions,
    seen: dict[str, bool],
) -> Targets:
    """Like ``_aggregate``, but page titles may come after the entries in the file."""
    counted: list[int] = [0]

    def counting() -> Iterator[Any]:
        for entry in entries:
            counted[0] += 1
            yield entry

    targets = _aggregate(pages, counting(), origin, options)
    if not counted[0] and not seen["log"]:
        raise InputUnreadable(f"{origin}: not a HAR file (no log.entries)")
    return targets
