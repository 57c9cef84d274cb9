"""residency.http is the only place that builds an HTTP client (issue 18)."""

from __future__ import annotations

import re

from tests.support import PACKAGE

_BUILDS = re.compile(r"\bhttpx\.(Client|AsyncClient|HTTPTransport)\(")


def test_no_module_but_residency_http_builds_an_httpx_client() -> None:
    builders = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if _BUILDS.search(path.read_text(encoding="utf-8"))
    )
    assert builders == ["http.py"], builders
