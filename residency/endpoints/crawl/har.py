"""A crawl's record as a HAR 1.2 document (``residency crawl -o site.har``).

Standard fields where HAR has them (``serverIPAddress`` is the address the proxy
connected to); the rest under ``_``-prefixed custom fields, as HAR allows: ``_phase``,
``_initiator``, ``_resourceType``, ``_failure``. Bodies are never recorded.
"""

from __future__ import annotations

from typing import Any

from residency import __version__
from residency.endpoints.crawl.record import CrawlRecord


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
