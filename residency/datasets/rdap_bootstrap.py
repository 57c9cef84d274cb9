"""The IANA RDAP bootstrap registry for domains (``dns.json``, RFC 9224): TLD -> RDAP servers.

The bundled snapshot (``data/rdap/dns.json``) answers offline; ``residency data update``
refreshes dataset ``rdap-dns-bootstrap`` from IANA and that copy wins once installed.
Parsing takes bytes and returns a frozen table; loading picks the copy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from residency.datasets.errors import DatasetError, FeedInvalid
from residency.paths import project_data
from residency.textsafe import find_surrogate

DATASET = "rdap-dns-bootstrap"
FILE_NAME = "dns.json"
BUNDLED = "bundled snapshot data/rdap/dns.json"


@dataclass(frozen=True)
class DnsBootstrap:
    """Domain label suffix (``com``, ``co.uk`` if listed) -> RDAP base URLs, https first."""

    publication: str
    services: Mapping[str, tuple[str, ...]]
    origin: str  # BUNDLED, or the installed file's path

    def servers_for(self, domain: str) -> tuple[str, ...]:
        """The base URLs for ``domain``: the longest listed suffix wins (RFC 9224 s. 4)."""
        labels = domain.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            found = self.services.get(".".join(labels[i:]))
            if found:
                return found
        return ()

    @property
    def label(self) -> str:
        return f"IANA RDAP bootstrap {self.publication} ({self.origin})"


def parse_bootstrap(data: bytes, origin: str = BUNDLED) -> DnsBootstrap:
    """Raises ``FeedInvalid`` (message starting with the dataset id) for anything but a
    bootstrap registry with at least one service."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise FeedInvalid(f"{DATASET}: not JSON ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("services"), list):
        raise FeedInvalid(f"{DATASET}: not an RDAP bootstrap registry (no 'services' list)")
    broken = find_surrogate(doc)
    if broken is not None:  # no URL or label holds one; nothing could encode it
        raise FeedInvalid(f"{DATASET}: unpaired surrogate at {broken}")
    publication = doc.get("publication")
    if not isinstance(publication, str) or not publication.strip():
        raise FeedInvalid(f"{DATASET}: no 'publication' date")
    services: dict[str, tuple[str, ...]] = {}
    for n, service in enumerate(doc["services"]):
        if (
            not isinstance(service, list)
            or len(service) < 2
            or not all(isinstance(part, list) for part in service[:2])
            or not all(isinstance(x, str) for x in (*service[0], *service[1]))
        ):
            raise FeedInvalid(f"{DATASET}: services[{n}] is not [[labels], [URLs]]")
        urls = [u.strip() for u in service[1] if u.strip().startswith(("https://", "http://"))]
        # RFC 9224: prefer https when a service lists both.
        urls.sort(key=lambda u: not u.startswith("https://"))
        for label in service[0]:
            if label.strip() and urls:
                services[label.strip().lower().rstrip(".")] = tuple(urls)
    if not services:
        raise FeedInvalid(f"{DATASET}: no service lists a TLD with an RDAP URL")
    return DnsBootstrap(publication.strip(), services, origin)


def bundled_bootstrap() -> DnsBootstrap:
    return parse_bootstrap(project_data().joinpath("rdap", FILE_NAME).read_bytes())


def load_bootstrap(directory: Path | None = None) -> tuple[DnsBootstrap, str]:
    """The installed copy from ``data update`` if usable, else the bundled snapshot; with a
    note ("" when the installed copy answered or none was installed)."""
    from residency.datasets.manifest import load_manifest

    try:
        entry = load_manifest(directory).entries.get(DATASET)
    except DatasetError as err:
        return bundled_bootstrap(), f"{err}; using the {BUNDLED}"
    if entry is None:
        return bundled_bootstrap(), ""
    for path in entry.file_paths(directory):
        try:
            return parse_bootstrap(path.read_bytes(), str(path)), ""
        except OSError as err:
            problem = f"{path}: cannot read ({err.strerror})"
        except FeedInvalid as err:
            problem = f"{path}: {err}"
        return bundled_bootstrap(), f"{problem}; using the {BUNDLED}"
    return bundled_bootstrap(), ""
