"""Dataset downloads through ``residency.http``: a streamed size limit, conditional
requests, sha256, and the fetch limits every download shares."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx

from residency.datasets.errors import FeedUnavailable
from residency.datasets.sources import Source
from residency.http import Fetcher, FetchError, FetchTooLarge, Limits, follow_any
from residency.timefmt import iso_month

#: Short connect timeout: an offline machine must fail fast, then fall back to mirrors.
CONNECT_TIMEOUT = 4.0
READ_TIMEOUT = 30.0
#: Whole-download limit, so a server trickling bytes cannot hold an update forever.
TOTAL_TIMEOUT = 600.0
CHUNK = 1 << 16
DISCOVERY_PAGE_LIMIT = 4 * 1024 * 1024
#: Redirects followed from a source's URL (downloads move to CDNs); every target must
#: still be a public address.
MAX_REDIRECTS = 5
#: A 429 or 5xx is asked again twice, after 1 s and 2 s (or the server's Retry-After).
RETRIES = 2

#: What a client for downloads may be: a ``Fetcher``, or an ``httpx.Client`` (a test seam).
Client = Fetcher | httpx.Client


class DownloadTooLarge(FeedUnavailable):
    """A download went past its source's size limit and was aborted."""


class NotFound(FeedUnavailable):
    """The server answered 404/410: this URL does not exist (try the next candidate)."""


def make_client(
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> Fetcher:
    """The fetcher for dataset downloads (``transport`` is a test seam)."""
    return Fetcher(transport=transport)


def _limits(max_bytes: int, total_timeout: float = TOTAL_TIMEOUT) -> Limits:
    return Limits(
        deadline=total_timeout,
        max_bytes=max_bytes,
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        max_redirects=MAX_REDIRECTS,
        retries=RETRIES,
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


def fetch_to_temp(
    client: Client,
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
    Streams, and aborts as soon as more than ``max_bytes`` arrive (decoded). The source's
    own URL may be any address (it is configured); its redirects must be public. Raises
    ``FeedUnavailable`` (naming ``label`` and the URL) for every network or HTTP failure.
    """
    fetcher = Fetcher.wrap(client)
    headers: dict[str, str] = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=directory)
    tmp = Path(tmp_name)
    keep = False
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as handle:

            def write(chunk: bytes) -> None:
                digest.update(chunk)
                handle.write(chunk)

            try:
                resp = fetcher.get(
                    url,
                    _limits(max_bytes, total_timeout),
                    headers=headers,
                    redirects=follow_any,
                    trusted=True,
                    sink=write,
                )
            except FetchTooLarge as err:
                raise DownloadTooLarge(f"{label}: {url}: {err.reason}") from err
            except FetchError as err:
                raise FeedUnavailable(f"{label}: {err.url}: {err.reason}") from err
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
            handle.flush()
            os.fsync(handle.fileno())
            keep = True
            return Fetched(
                url=url,
                status="ok",
                path=tmp,
                sha256=digest.hexdigest(),
                size=resp.size,
                etag=resp.headers.get("ETag"),
                last_modified=resp.headers.get("Last-Modified"),
            )
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

Discoverer = Callable[[Client, Source, datetime], tuple[str, ...]]


def discover_monthly(client: Client, source: Source, now: datetime) -> tuple[str, ...]:
    """This month's and last month's file (early in a month the new one may not exist yet)."""
    if not source.url_template:
        raise FeedUnavailable(f"{source.id}: 'monthly' discovery needs a url_template")
    this_month = iso_month(now)
    year, month = (now.year, now.month - 1) if now.month > 1 else (now.year - 1, 12)
    last_month = f"{year:04d}-{month:02d}"
    return tuple(source.url_template.format(month=m) for m in (this_month, last_month))


def discover_from_page(client: Client, source: Source, now: datetime) -> tuple[str, ...]:
    """Find the current download link on a download page (Azure's weekly file name changes)."""
    if not source.discover_page or not source.discover_pattern:
        raise FeedUnavailable(f"{source.id}: page discovery needs discover_page and pattern")
    try:
        resp = Fetcher.wrap(client).get(
            source.discover_page,
            _limits(DISCOVERY_PAGE_LIMIT, READ_TIMEOUT * 2),
            redirects=follow_any,
            trusted=True,
        )
    except FetchError as err:
        raise FeedUnavailable(f"{source.id}: {err.url}: {err.reason}") from err
    if resp.status_code != 200:
        raise FeedUnavailable(f"{source.id}: {source.discover_page}: HTTP {resp.status_code}")
    body = resp.body
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


def candidate_urls(client: Client, source: Source, now: datetime) -> tuple[str, ...]:
    """The URLs to try for a single-file source (discovered ones first, then fixed ones)."""
    if source.discover is None:
        return source.urls
    method = DISCOVERERS.get(source.discover)
    if method is None:
        raise FeedUnavailable(f"{source.id}: unknown discovery method {source.discover!r}")
    return method(client, source, now) + source.urls
