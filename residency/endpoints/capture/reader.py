"""The capture reader: pcap/pcapng file -> Targets (names, observed addresses, notes)."""

from __future__ import annotations

from typing import BinaryIO

from residency.endpoints.capture.analyse import CaptureAnalyser, CaptureFindings, iso
from residency.endpoints.capture.decode import (
    LINKTYPE_NAMES,
    SUPPORTED_LINKTYPES,
    Skip,
    decode,
)
from residency.endpoints.capture.framing import FramingReport, frames
from residency.endpoints.capture.pcapdroid import AppAttribution
from residency.endpoints.collect import EndpointCollector
from residency.endpoints.errors import InputUnreadable
from residency.endpoints.interface import ReadOptions, Targets
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


def findings_targets(
    findings: CaptureFindings,
    report: FramingReport,
    unknown: dict[int, int],
    origin: str,
    attribution: AppAttribution | None = None,
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
        collector.note(
            f"{origin}: {report.key_log_lines} TLS secrets in Decryption Secrets Blocks; "
            "names are read from SNI and plain HTTP (decrypting with them is not done)"
        )
    if unknown and report.packets == sum(unknown.values()):
        kinds = ", ".join(f"{lt}" for lt in sorted(unknown))
        raise InputUnreadable(
            f"{origin}: unknown link type {kinds}; residency reads {_supported()}"
        )
    for name, display in findings.displays.items():
        collector.add(Endpoint(host=name, display=display, origin=origin))
    for (name, ip, how), sighting in findings.sightings.items():
        times = "once" if sighting.count == 1 else f"{sighting.count} times"
        ports = f" ({', '.join(sighting.ports)})" if sighting.ports else ""
        by = f", by {', '.join(sighting.apps)}" if sighting.apps else ""
        seen = ObservedAddress(
            ip=ip,
            when=iso(sighting.first),
            context=f"pcap {how}: {times}{ports}{by}",
            apps=tuple(sighting.apps),
        )
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
        return findings_targets(findings, report, unknown, origin, attribution)
