"""HTTP downloads with httpx: timeouts, a streamed size limit, conditional requests, sha256."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx

from residency import __version__
from residency.datasets.errors import FeedUnavailable
from residency.datasets.sources import Source
from residency.timefmt import iso_month

#: Short connect timeout: an offline machine must fail fast, then fall back to mirrors.
CONNECT_TIMEOUT = 4.0
READ_TIMEOUT = 30.0
#: Whole-download limit, so a server trickling bytes cannot hold an update forever.
TOTAL_TIMEOUT = 600.0
CHUNK = 1 << 16
DISCOVERY_PAGE_LIMIT = 4 * 1024 * 1024


class DownloadTooLarge(FeedUnavailable):
    """A download went past its source's size limit and was aborted."""


class NotFound(FeedUnavailable):
    """The server answered 404/410: this URL does not exist (try the next candidate)."""


def make_client(
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """The default client: short connect timeout, redirects followed, our own user agent."""
    return httpx.Client(
        timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
        follow_redirects=True,
        headers={"User-Agent": f"residency/{__version__} (data-residency auditor)"},
        transport=transport,
    )


@dataclass(frozen=True)
class Fetched:
    """The outcome of one GET: a temp file with new content, or "not modified"."""

    url: str
    status: Literal["ok", "not-modified"]
    path: Path | None = None  # temp file beside the destination (status "ok" only)
    sha256: str | None = None
    size: int = 0
    etag: str | None = None
    last_modified: str | None = None


def describe_http_error(err: httpx.HTTPError) -> str:
    """One short phrase for a transport failure, without a traceback."""
    if isinstance(err, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(err, httpx.TimeoutException):
        return "timed out"
    if isinstance(err, httpx.ConnectError):
        detail = str(err) or type(err).__name__
        return f"cannot connect ({detail})"
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def fetch_to_temp(
    client: httpx.Client,
    url: str,
    directory: Path,
    *,
    label: str,
    max_bytes: int,
    etag: str | None = None,
    last_modified: str | None = None,
    total_timeout: float = TOTAL_TIMEOUT,
) -> Fetched:
    """GET ``url`` into a temp file in ``directory`` (same filesystem as the target).

    Sends If-None-Match / If-Modified-Since when given; a 304 returns "not-modified".
    Streams, and aborts as soon as more than ``max_bytes`` arrive. Raises
    ``FeedUnavailable`` (naming ``label`` and the URL) for every network or HTTP failure.
    """
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    keep = False
    try:
        with os.fdopen(fd, "wb") as handle, client.stream("GET", url, headers=headers) as resp:
            if resp.status_code == 304:
                return Fetched(
                    url=url,
                    status="not-modified",
                    etag=resp.headers.get("ETag", etag),
                    last_modified=resp.headers.get("Last-Modified", last_modified),
                )
            if resp.status_code in (404, 410):
                raise NotFound(f"{label}: {url}: HTTP {resp.status_code} (not found)")
            if resp.status_code != 200:
                raise FeedUnavailable(f"{label}: {url}: HTTP {resp.status_code}")
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadTooLarge(
                    f"{label}: {url}: {int(declared)} bytes announced, over the "
                    f"{max_bytes} byte limit"
                )
            digest = hashlib.sha256()
            size = 0
            deadline = time.monotonic() + total_timeout
            for chunk in resp.iter_bytes(CHUNK):
                if time.monotonic() > deadline:
                    raise FeedUnavailable(
                        f"{label}: {url}: download took longer than {total_timeout:.0f} s; aborted"
                    )
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadTooLarge(
                        f"{label}: {url}: more than the {max_bytes} byte limit; aborted"
                    )
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            keep = True
            return Fetched(
                url=url,
                status="ok",
                path=tmp,
                sha256=digest.hexdigest(),
                size=size,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
    except httpx.HTTPError as err:
        raise FeedUnavailable(f"{label}: {url}: {describe_http_error(err)}") from err
    except OSError as err:
        raise FeedUnavailable(f"{label}: cannot write to {directory} ({err.strerror})") from err
    finally:
        if not keep:
            tmp.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def gunzip_file(path: Path, *, label: str, max_bytes: int) -> Path:
    """Decompress a gzip file into a new temp file beside it (size-limited); removes ``path``."""
    fd, out_name = tempfile.mkstemp(prefix=".gunzip-", suffix=".part", dir=path.parent)
    out = Path(out_name)
    ok = False
    try:
        with os.fdopen(fd, "wb") as target, gzip.open(path, "rb") as source:
            size = 0
            for chunk in iter(lambda: source.read(CHUNK), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise DownloadTooLarge(
                        f"{label}: decompresses to more than the {max_bytes} byte limit"
                    )
                target.write(chunk)
        ok = True
        return out
    except (OSError, EOFError, zlib.error) as err:
        raise FeedUnavailable(f"{label}: corrupt gzip download ({err})") from err
    finally:
        path.unlink(missing_ok=True)
        if not ok:
            out.unlink(missing_ok=True)


# ------------------------------------------------------------------ URL discovery

Discoverer = Callable[[httpx.Client, Source, datetime], tuple[str, ...]]


def discover_monthly(client: httpx.Client, source: Source, now: datetime) -> tuple[str, ...]:
    """This month's and last month's file (early in a month the new one may not exist yet)."""
    if not source.url_template:
        raise FeedUnavailable(f"{source.id}: 'monthly' discovery needs a url_template")
    this_month = iso_month(now)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    last_month = f"{year:04d}-{month:02d}"
    return tuple(source.url_template.format(month=m) for m in (this_month, last_month))


def discover_from_page(client: httpx.Client, source: Source, now: datetime) -> tuple[str, ...]:
    """Find the current download link on a download page (Azure's weekly file name changes)."""
    if not source.discover_page or not source.discover_pattern:
        raise FeedUnavailable(f"{source.id}: page discovery needs discover_page and pattern")
    try:
        with client.stream("GET", source.discover_page) as resp:
            if resp.status_code != 200:
                raise FeedUnavailable(
                    f"{source.id}: {source.discover_page}: HTTP {resp.status_code}"
                )
            body = bytearray()
            for chunk in resp.iter_bytes(CHUNK):
                body.extend(chunk)
                if len(body) > DISCOVERY_PAGE_LIMIT:
                    break
    except httpx.HTTPError as err:
        raise FeedUnavailable(
            f"{source.id}: {source.discover_page}: {describe_http_error(err)}"
        ) from err
    text = body.decode("utf-8", errors="replace")
    found = list(dict.fromkeys(re.findall(source.discover_pattern, text)))
    if not found:
        raise FeedUnavailable(
            f"{source.id}: no download link matching the expected file name on "
            f"{source.discover_page}"
        )
    return tuple(found)


#: Discovery methods by the ``discover`` name used in data/sources.toml.
DISCOVERERS: dict[str, Discoverer] = {
    "monthly": discover_monthly,
    "azure-download-page": discover_from_page,
}


def candidate_urls(client: httpx.Client, source: Source, now: datetime) -> tuple[str, ...]:
    """The URLs to try for a single-file source (discovered ones first, then fixed ones)."""
    if source.discover is None:
        return source.urls
    method = DISCOVERERS.get(source.discover)
    if method is None:
        raise FeedUnavailable(f"{source.id}: unknown discovery method {source.discover!r}")
    return method(client, source, now) + source.urls
