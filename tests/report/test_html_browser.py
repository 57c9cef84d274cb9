"""Open the HTML report in headless Chromium: it renders offline and shows what it should."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from residency.report import OutputFormat, render
from tests.report.sample import judged
from tests.support import REPO, require_binary

ARTIFACTS = REPO / "test-artifacts"


def chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-first-run",
        "--no-default-browser-check",
        "--proxy-server=127.0.0.1:9",  # any stray request would fail, never leave the machine
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)


@pytest.mark.integration
def test_html_report_renders_in_chromium(tmp_path: Path) -> None:
    binary = require_binary("chromium", "chromium-browser", "google-chrome")
    page = tmp_path / "report.html"
    page.write_text(render(judged(), OutputFormat.HTML), encoding="utf-8")
    url = page.as_uri()

    dumped = chromium(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    # The DOM after parsing and running the inline script: everything is there.
    assert '<div id="verdict"><span class="badge big"' in dom and ">FAIL</span>" in dom
    assert dom.count('class="endpoint"') == 7
    assert dom.count('<rect class="bar"') >= 5
    # Country outlines from Natural Earth, and a dot per located address (IN, US, SG, DE).
    assert dom.count('<path class="land"') >= 170
    located = sum(1 for e in judged().endpoints for f in e.facts if f.location.country)
    assert dom.count('<circle class="address"') == located > 0
    assert {'data-country="' + c + '"' for c in ("IN", "US", "SG", "DE")} <= set(
        part.split(" data-verdict")[0].split('address" ')[-1] for part in dom.split("<circle")[1:]
    )
    assert "IP Geolocation by DB-IP" in dom
    assert "analytics.shop.example" in dom and "bücher.example" in dom
    assert 'id="data-versions"' in dom and "dbip-country-lite" in dom

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "html-report.png"
    shot.unlink(missing_ok=True)
    taken = chromium(
        binary,
        tmp_path / "profile-shot",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        "--hide-scrollbars",
        url,
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
