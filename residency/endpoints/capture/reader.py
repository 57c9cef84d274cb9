"""The capture reader: pcap/pcapng file -> Targets (names, observed addresses, notes)."""

from __future__ import annotations

import ipaddress
import os
from typing import BinaryIO

from residency.endpoints.capture.analyse import CaptureAnalyser, CaptureFindings, Sighting, iso
from residency.endpoints.capture.decode import (
    LINKTYPE_NAMES,
    SUPPORTED_LINKTYPES,
    Skip,
    decode,
)
from residency.endpoints.capture.framing import FramingReport, frames
from residency.endpoints.capture.pcapdroid import AppAttribution
from residency.endpoints.capture.tshark import Decrypted, decrypted_names
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputUnreadable, InvalidEntry
from residency.endpoints.interface import ReadOptions, Targets
from residency.endpoints.normalise import canonical_name
from residency.model import Endpoint, ObservedAddress


def _supported() -> str:
    return ", ".join(sorted(set(LINKTYPE_NAMES.values())))


def analyse_capture(
    stream: BinaryIO, origin: str, options: ReadOptions, attribution: AppAttribution | None = None
) -> tuple[CaptureFindings, FramingReport, dict[int, int]]:
    """Run a whole capture through the analyser; also returns unknown link types seen.
    ``attribution`` reads PCAPdroid's app per packet and applies ``--app``."""
    report = FramingReport()
    analyser = CaptureAnalyser(dns_ports=options.dns_ports, max_flows=options.max_flows)
    apps = attribution if attribution is not None else AppAttribution(options.apps)
    unknown: dict[int, int] = {}
    for ts, linktype, frame in frames(stream, origin, report):
        if linktype not in SUPPORTED_LINKTYPES:
            # A pcapng file may mix interfaces: count and read on.
            unknown[linktype] = unknown.get(linktype, 0) + 1
            continue
        analyser.keep_tls_flows = report.key_log_lines > 0
        app, frame = apps.packet(linktype, frame, report)
        if not apps.keeps(app):
            continue
        analyser.current_app = app.label if app is not None else None
        try:
            segment = decode(linktype, frame)
        except Skip as why:
            analyser.skip(str(why))
            continue
        except (IndexError, ValueError, OSError):
            analyser.skip("malformed packet")
            continue
        analyser.packet(ts, segment)
    return analyser.finish(), report, unknown


def _observed(ip: str, how: str, sighting: Sighting) -> ObservedAddress:
    times = "once" if sighting.count == 1 else f"{sighting.count} times"
    ports = f" ({', '.join(sighting.ports)})" if sighting.ports else ""
    by = f", by {', '.join(sighting.apps)}" if sighting.apps else ""
    return ObservedAddress(
        ip=ip,
        when=iso(sighting.first),
        context=f"pcap {how}: {times}{ports}{by}",
        apps=tuple(sighting.apps),
    )


def _normal(address: str) -> str:
    return ipaddress.ip_address(address).compressed if ":" in address else address


def _decrypted_targets(
    findings: CaptureFindings,
    report: FramingReport,
    decrypted: Decrypted,
    origin: str,
    collector: EndpointCollector,
) -> None:
    """The names tshark read inside decrypted TLS, as endpoints with the address connected
    to (as SNI names are), each only for a TLS connection this reading kept (so ``--app``
    holds); and one note saying what the secrets gave."""
    secrets = f"{report.key_log_lines} TLS secrets in Decryption Secrets Blocks"
    if decrypted.unread and not decrypted.names:
        collector.note(
            f"{origin}: {secrets}; the Host inside TLS was not read ({decrypted.unread}); "
            "names are read from SNI and plain HTTP"
        )
        return
    flows = {
        (_normal(c), cport, _normal(s), sport): app
        for (c, cport, s, sport), app in findings.tls_flows.items()
    }
    sightings: dict[tuple[str, str, str], Sighting] = {}
    displays: dict[str, str] = {}
    outside = 0
    for found in decrypted.names:
        key = (found.client, found.client_port, found.server, found.server_port)
        if key not in flows:
            outside += 1  # a connection --app left out, or one this reading never saw begin
            continue
        try:
            name = canonical_name(found.raw)
        except InvalidEntry as err:
            collector.problem(found.raw[:80], origin, f"name in decrypted TLS: {err}")
            continue
        displays.setdefault(name, findings.displays.get(name, found.raw.rstrip(".")))
        sighting = sightings.setdefault((name, found.server, found.how), Sighting(found.when))
        sighting.add(found.when, f"tcp/{found.server_port}", flows[key])
    for (name, ip, how), sighting in sightings.items():
        collector.observe(name, displays[name], origin, _observed(ip, how, sighting))
    text = f"{origin}: {secrets}; tshark read {len(displays)} name(s) inside decrypted TLS"
    if decrypted.unread:
        text += f" before it stopped ({decrypted.unread})"
    if decrypted.truncated:
        text += " (its output reached the cap; later requests were not read)"
    if outside:
        text += f"; {outside} request(s) on connections not audited here were left out"
    if findings.tls_flows_full:
        text += "; too many TLS connections to match them all"
    if not decrypted.names:
        text = (
            f"{origin}: {secrets}; tshark decrypted no HTTP request with them (the secrets "
            "match no connection, or the connections carried no HTTP)"
        )
    collector.note(text)


def findings_targets(
    findings: CaptureFindings,
    report: FramingReport,
    unknown: dict[int, int],
    origin: str,
    attribution: AppAttribution | None = None,
    decrypted: Decrypted | None = None,
) -> Targets:
    collector = EndpointCollector()
    if attribution is not None:
        problems = attribution.problems()
        for problem in problems:
            collector.problem(origin, origin, problem)
        if problems and not attribution.attributed:
            return collector.targets()  # --app cannot be honoured: audit nothing from it
        for note in attribution.notes(origin):
            collector.note(note)
    for problem in report.block_problems[:20]:
        collector.problem(origin, origin, problem)
    if report.key_log_lines:
        _decrypted_targets(findings, report, decrypted or Decrypted(), origin, collector)
    if unknown and report.packets == sum(unknown.values()):
        kinds = ", ".join(f"{lt}" for lt in sorted(unknown))
        raise InputUnreadable(
            f"{origin}: unknown link type {kinds}; residency reads {_supported()}"
        )
    for name, display in findings.displays.items():
        collector.add(Endpoint(host=name, display=display, origin=origin))
    for (name, ip, how), sighting in findings.sightings.items():
        seen = _observed(ip, how, sighting)
        if name:
            collector.observe(name, findings.displays.get(name, name), origin, seen)
        else:
            collector.add(
                Endpoint(host=ip, display=ip, origin=origin, observed=(seen,), is_ip=True)
            )
    if report.stopped:
        collector.problem(
            origin,
            origin,
            f"{report.stopped}; results are from the {report.packets} packets before it",
        )
    for note in report.notes[:5]:
        collector.note(f"{origin}: {note}")
    for linktype, count in sorted(unknown.items()):
        collector.problem(
            origin, origin, f"{count} packets of unknown link type {linktype} skipped"
        )
    for raw, problem in list(findings.bad_names.items())[:50]:
        collector.problem(raw, origin, f"name in capture: {problem}")
    if findings.skipped:
        detail = ", ".join(f"{n} {why}" for why, n in sorted(findings.skipped.items()))
        collector.note(f"{origin}: {sum(findings.skipped.values())} packets not read ({detail})")
    for label, count in sorted(findings.dns_failed.items()):
        collector.note(f"{origin}: {count} DNS responses were {label}")
    if findings.evicted:
        collector.note(
            f"{origin}: {findings.evicted} connections were still undecided when the flow "
            "table was full; they are named from DNS answers only"
        )
    return collector.targets()


class CaptureReader:
    """pcap and pcapng files (tcpdump, tshark/dumpcap, Wireshark)."""

    name = "pcap"
    description = "packet capture (pcap or pcapng): DNS answers, TLS/QUIC SNI, HTTP Host"

    def read(self, stream: BinaryIO, origin: str, options: ReadOptions) -> Targets:
        attribution = AppAttribution(options.apps)
        findings, report, unknown = analyse_capture(stream, origin, options, attribution)
        decrypted = None
        if report.key_log_lines:
            path = getattr(stream, "name", None)
            if isinstance(path, str) and os.path.isfile(path):
                decrypted = decrypted_names(path)
            else:  # stdin, or a stream of the library's caller
                decrypted = Decrypted(unread="the capture is not a file tshark can read")
        return findings_targets(findings, report, unknown, origin, attribution, decrypted)
