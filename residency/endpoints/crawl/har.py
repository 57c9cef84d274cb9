"""A crawl's record as a HAR 1.2 document (``residency crawl -o site.har``), and back.

Standard fields where HAR has them (``serverIPAddress`` is the address the proxy
connected to); the rest under ``_``-prefixed custom fields, as HAR allows: ``_phase``,
``_initiator``, ``_resourceType``, ``_failure``. Bodies are never recorded. Read back
(``audit --har site.har``), such a HAR is the crawl it records: endpoints by page and
consent phase, party and initiator, as ``audit --crawl`` gives them.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from residency import __version__
from residency.addresses import AddressError, parse_address
from residency.endpoints.crawl.record import CrawlPage, CrawlRecord, CrawlRequest

#: How a HAR written by ``crawl_har`` begins (``json.dumps`` keeps the key order).
_WRITTEN_BY_CRAWL = re.compile(rb'"creator"\s*:\s*\{\s*"name"\s*:\s*"residency"')


def crawl_har(record: CrawlRecord) -> dict[str, Any]:
    pages = []
    ids: dict[str, str] = {}
    for index, page in enumerate(record.pages):
        ids.setdefault(page.url, f"page_{index + 1}")
        pages.append(
            {
                "startedDateTime": page.started,
                "id": ids[page.url],
                "title": page.title or page.url,
                "_url": page.url,
                "pageTimings": {},
                "_finalUrl": page.final_url,
                "_loaded": page.loaded,
                **({"_problem": page.problem} if page.problem else {}),
            }
        )
    entries = []
    for request in record.requests:
        entry: dict[str, Any] = {
            "pageref": ids.get(request.page, "page_1"),
            "startedDateTime": request.when,
            "time": -1,
            "request": {
                "method": request.method,
                "url": request.url,
                "httpVersion": "",
                "cookies": [],
                "headers": [],
                "queryString": [],
                "headersSize": -1,
                "bodySize": -1,
            },
            "response": {
                "status": request.status or 0,
                "statusText": "",
                "httpVersion": "",
                "cookies": [],
                "headers": [],
                "content": {"size": -1, "mimeType": ""},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
            },
            "cache": {},
            "timings": {"send": -1, "wait": -1, "receive": -1},
            "_resourceType": request.resource_type,
            "_phase": request.phase,
            "_initiator": request.initiator,
        }
        if request.address:
            entry["serverIPAddress"] = request.address
        if request.failure:
            entry["_failure"] = request.failure
        if request.redirected_from:
            entry["_redirectedFrom"] = request.redirected_from
        entries.append(entry)
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "residency", "version": __version__},
            "browser": {"name": "Chromium", "version": record.browser.removeprefix("Chromium ")},
            "pages": pages,
            "entries": entries,
            "_site": record.site,
            "_consent": record.consent,
            "_problems": list(record.problems),
            "_userAgent": record.user_agent,
        }
    }


def written_by_crawl(head: bytes) -> bool:
    """Whether a HAR's first bytes say ``residency crawl`` wrote it."""
    return _WRITTEN_BY_CRAWL.search(head[:4096]) is not None


def _text(value: Any, limit: int = 2048) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _address(value: Any) -> str | None:
    try:
        return parse_address(value).text if isinstance(value, str) and value else None
    except AddressError:
        return None


def crawl_record(document: Any) -> CrawlRecord | None:
    """The crawl a ``crawl_har`` document records, or None when it is not one (no
    ``log._site``, or entries without a phase); every field is checked as it is read."""
    log = document.get("log") if isinstance(document, dict) else None
    if not isinstance(log, dict) or not _text(log.get("_site")):
        return None
    raw_pages = log.get("pages") if isinstance(log.get("pages"), list) else []
    raw_entries = log.get("entries") if isinstance(log.get("entries"), list) else []
    assert isinstance(raw_pages, list) and isinstance(raw_entries, list)
    pages: list[CrawlPage] = []
    urls: dict[str, str] = {}
    for page in raw_pages:
        if not isinstance(page, dict):
            return None
        url = _text(page.get("_url")) or _text(page.get("_finalUrl"))
        title = _text(page.get("title"), 200)
        urls[_text(page.get("id"))] = url
        pages.append(
            CrawlPage(
                url,
                _text(page.get("_finalUrl")) or url,
                "" if title == url else title,
                0,
                _text(page.get("startedDateTime"), 64),
                page.get("_loaded") is True,
                _text(page.get("_problem"), 500),
            )
        )
    requests: list[CrawlRequest] = []
    for entry in raw_entries:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or not isinstance(entry.get("_phase"), str):
            return None
        url = _text(request.get("url"), 8192)
        try:
            host = urlsplit(url).hostname or ""
        except ValueError:
            host = ""
        response = entry.get("response") if isinstance(entry.get("response"), dict) else {}
        assert isinstance(response, dict)
        status = response.get("status")
        requests.append(
            CrawlRequest(
                url=url,
                host=host,
                method=_text(request.get("method"), 16),
                resource_type=_text(entry.get("_resourceType"), 32),
                page=urls.get(_text(entry.get("pageref")), ""),
                phase=_text(entry["_phase"], 64),
                initiator=_text(entry.get("_initiator")),
                when=_text(entry.get("startedDateTime"), 64),
                address=_address(entry.get("serverIPAddress")),
                status=status if isinstance(status, int) and status else None,
                failure=_text(entry.get("_failure"), 200),
                redirected_from=_text(entry.get("_redirectedFrom"), 8192),
            )
        )
    browser = log.get("browser") if isinstance(log.get("browser"), dict) else {}
    assert isinstance(browser, dict)
    problems = log.get("_problems") if isinstance(log.get("_problems"), list) else []
    assert isinstance(problems, list)
    return CrawlRecord(
        start_url=pages[0].url if pages else "",
        site=_text(log["_site"], 255),
        pages=tuple(pages),
        requests=tuple(requests),
        started=pages[0].started if pages else "",
        finished="",
        browser=f"Chromium {_text(browser.get('version'), 64)}".strip(),
        user_agent=_text(log.get("_userAgent"), 500),
        consent=_text(log.get("_consent"), 500),
        problems=tuple(_text(p, 500) for p in problems[:200] if isinstance(p, str)),
    )
