"""PCAPdroid's CSV export of its Connections view: one connection per row, with the app.

Columns (the header line names them; the last one, ``Malicious``, is absent when
malware detection is off)::

    IPProto,SrcIP,SrcPort,DstIp,DstPort,UID,App,PackageName,Proto,Status,Info,
    BytesSent,BytesRcvd,PktsSent,PktsRcvd,FirstSeen,LastSeen[,Malicious]

``Info`` is the name the connection was made to (TLS/QUIC SNI, HTTP Host, the name of
a DNS query); ``DstIp`` the server address. A DNS row's ``DstIp`` is the resolver, so
its name is audited without an observed address.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import BinaryIO

from residency.addresses import AddressError, parse_address
from residency.endpoints.capture.pcapdroid import App
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.lines import bounded_lines
from residency.endpoints.normalise import normalise_host
from residency.model import Endpoint, ObservedAddress
from residency.timefmt import utc_iso

HEADER_START = "IPProto,SrcIP,SrcPort,DstIp,DstPort,UID"
_NEEDED = ("DstIp", "DstPort", "UID", "Proto", "Info")
_MAX_PROBLEMS = 200


def _address(text: str) -> str | None:
    try:
        return parse_address(text.strip().strip("[]")).text
    except AddressError:
        return None


def looks_like_pcapdroid_csv(text: str) -> bool:
    return text.lstrip("\ufeff").startswith(HEADER_START)


def _when(value: str) -> str | None:
    """FirstSeen: epoch seconds or milliseconds as ISO-8601, else the text as written."""
    text = value.strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        return text[:40]
    if number > 1e11:  # milliseconds
        number /= 1000
    try:
        return utc_iso(number)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class _Use:
    first: str | None
    count: int = 0
    apps: list[str] = field(default_factory=list)
    protos: list[str] = field(default_factory=list)


class PcapdroidCsvReader:
    """PCAPdroid's CSV export (Connections, "Export as CSV")."""

    name = "pcapdroid-csv"
    description = "PCAPdroid connections CSV export: name, address and app per connection"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        collector = EndpointCollector()
        lines = bounded_lines(stream)
        header_line = next(lines, None)
        if header_line is None or header_line.text is None:
            raise InputUnreadable(f"{origin}: not a PCAPdroid CSV export (no header line)")
        header = next(csv.reader([header_line.text]))
        index = {name.strip(): i for i, name in enumerate(header)}
        missing = [name for name in _NEEDED if name not in index]
        if missing:
            raise InputUnreadable(
                f"{origin}: not a PCAPdroid CSV export (no column {', '.join(missing)})"
            )
        uses: dict[tuple[str, str | None], _Use] = {}
        displays: dict[str, Endpoint] = {}
        apps_seen: dict[str, App] = {}
        left_out = problems = 0
        for line in lines:
            where = f"{origin}:{line.number}"
            if line.text is None:
                collector.problem(line.head, where, "line too long")
                continue
            if not line.text.strip():
                continue
            row = next(csv.reader([line.text]), [])

            def cell(name: str, row: list[str] = row) -> str:
                at = index.get(name)
                return row[at].strip() if at is not None and at < len(row) else ""

            uid_text = cell("UID")
            try:
                uid = int(uid_text)
            except ValueError:
                if problems < _MAX_PROBLEMS:
                    collector.problem(uid_text or "(empty)", where, "UID is not a number")
                problems += 1
                continue
            app = App(uid, cell("PackageName"), cell("App"))
            apps_seen.setdefault(app.label, app)
            if options.apps and not any(app.matches(w) for w in options.apps):
                left_out += 1
                continue
            proto = cell("Proto")
            info = cell("Info")
            ip = _address(cell("DstIp"))
            host_text = info or (ip or "")
            if not host_text:
                continue
            try:
                endpoint = normalise_host(host_text, origin=origin)
            except InvalidEntry as err:
                if problems < _MAX_PROBLEMS:
                    collector.problem(host_text, where, str(err))
                problems += 1
                continue
            # a DNS row's address is the resolver's, not the name's
            observed_ip = None if proto.upper() == "DNS" and info else ip
            displays.setdefault(endpoint.host, endpoint)
            use = uses.get((endpoint.host, observed_ip))
            if use is None:
                use = uses[(endpoint.host, observed_ip)] = _Use(_when(cell("FirstSeen")))
            use.count += 1
            if app.label not in use.apps and len(use.apps) < 32:
                use.apps.append(app.label)
            if proto and proto not in use.protos and len(use.protos) < 4:
                use.protos.append(proto)
        if problems > _MAX_PROBLEMS:
            collector.note(f"{origin}: {problems - _MAX_PROBLEMS} further bad rows not listed")
        for (host, ip), use in uses.items():
            base = displays[host]
            if ip is None:
                collector.add(base)
                collector.note(
                    f"{origin}: {host}: asked of DNS by {', '.join(use.apps)} "
                    f"({use.count} row(s)); no connection address in the export"
                )
                continue
            times = "once" if use.count == 1 else f"{use.count} times"
            collector.add(
                Endpoint(
                    host=base.host,
                    display=base.display,
                    origin=origin,
                    is_ip=base.is_ip,
                    observed=(
                        ObservedAddress(
                            ip=ip,
                            when=use.first,
                            context=f"PCAPdroid CSV {'/'.join(use.protos) or 'connection'}: "
                            f"{times}, by {', '.join(use.apps)}",
                            apps=tuple(use.apps),
                        ),
                    ),
                )
            )
        if options.apps:
            for wanted in options.apps:
                if not any(a.matches(wanted) for a in apps_seen.values()):
                    known = ", ".join(sorted(apps_seen)[:10])
                    collector.problem(
                        origin, origin, f"--app {wanted}: no row of that app (apps: {known})"
                    )
            if left_out:
                collector.note(f"{origin}: {left_out} rows of other apps left out (--app)")
        return collector.targets()
