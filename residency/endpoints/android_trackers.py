"""DuckDuckGo's Android tracker data set (App Tracking Protection's blocklist), read from a
file the user gives: which owner a tracker domain or an app package belongs to.

The data set is CC BY-NC-SA 4.0, so residency never ships it: ``--android-trackers FILE``
names a copy (for example the one in ``tracker-blocklists/app/android-tds.json``). What it
says is evidence beside the audit ("tracker domain of Facebook, per ..."), never a verdict.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from residency.endpoints.errors import InputUnreadable
from residency.model import Endpoint
from residency.timefmt import utc_iso

LICENCE = "CC BY-NC-SA 4.0"
MAX_FILE = 64 << 20


@dataclass(frozen=True)
class AndroidTrackers:
    """Tracker domains -> owner, app packages -> owner, and which data set version."""

    domains: dict[str, str]
    packages: dict[str, str]
    tracking_entities: frozenset[str]
    version: str
    origin: str

    @classmethod
    def load(cls, path: Path) -> AndroidTrackers:
        """``InputUnreadable`` (one line) for a missing, huge or misshapen file."""
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_FILE + 1)
        except OSError as err:
            raise InputUnreadable(f"{path}: cannot read ({err.strerror or err})") from None
        if len(data) > MAX_FILE:
            raise InputUnreadable(f"{path}: larger than {MAX_FILE >> 20} MiB; not a tracker set")
        try:
            document = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise InputUnreadable(f"{path}: not JSON ({str(err)[:120]})") from None
        trackers = document.get("trackers") if isinstance(document, dict) else None
        if not isinstance(trackers, dict):
            raise InputUnreadable(
                f"{path}: not DuckDuckGo's Android tracker data set (no trackers)"
            )
        domains = {}
        for domain, entry in trackers.items():
            owner = entry.get("owner") if isinstance(entry, dict) else None
            if isinstance(domain, str) and isinstance(owner, dict):
                name = owner.get("displayName") or owner.get("name")
                if isinstance(name, str):
                    domains[domain.lower().rstrip(".")] = name
        raw_packages = document.get("packageNames")
        packages = (
            {k: v for k, v in raw_packages.items() if isinstance(k, str) and isinstance(v, str)}
            if isinstance(raw_packages, dict)
            else {}
        )
        entities = document.get("entities")
        version = document.get("version")
        return cls(
            domains=domains,
            packages=packages,
            tracking_entities=frozenset(entities) if isinstance(entities, dict) else frozenset(),
            version=_version_text(version),
            origin=str(path),
        )

    def domain_owner(self, host: str) -> tuple[str, str] | None:
        """(the listed domain, its owner) for ``host`` or the nearest listed parent."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels) - 1):
            candidate = ".".join(labels[start:])
            owner = self.domains.get(candidate)
            if owner is not None:
                return candidate, owner
        return None

    @property
    def source(self) -> str:
        return f"DuckDuckGo Android tracker data set version {self.version} ({LICENCE})"

    def notes(self, endpoints: Iterable[Endpoint]) -> list[str]:
        """One line per tracker domain contacted and per app package the set knows."""
        lines: list[str] = []
        packages: dict[str, None] = {}
        for endpoint in endpoints:
            apps = list(dict.fromkeys(a for seen in endpoint.observed for a in seen.apps))
            for app in apps:
                packages.setdefault(app.split(" (uid ", 1)[0], None)
            if endpoint.is_ip:
                continue
            match = self.domain_owner(endpoint.host)
            if match is None:
                continue
            listed, owner = match
            via = "" if listed == endpoint.host else f" (listed as {listed})"
            by = f"; contacted by {', '.join(apps)}" if apps else ""
            lines.append(
                f"{endpoint.host}: a tracker domain of {owner}{via}, per the {self.source}; "
                f"evidence, not a verdict{by}"
            )
        for package in packages:
            app_owner = self.packages.get(package)
            if app_owner is None:
                continue
            tracking = (
                " (listed as a tracking entity)" if app_owner in self.tracking_entities else ""
            )
            lines.append(f"app {package}: owned by {app_owner}{tracking}, per the {self.source}")
        return lines


def _version_text(version: object) -> str:
    """The set's ``version`` (milliseconds since 1970) as a UTC time, else as written."""
    if isinstance(version, int | float) and 1e12 <= version < 1e14:
        return utc_iso(version / 1000)
    return str(version)[:40] if version is not None else "unknown"
