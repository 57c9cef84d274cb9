"""Follow a capture packet by packet: DNS answers, TLS/QUIC SNI, HTTP Host, connections.

Memory is bounded by the number of distinct (name, address) pairs seen plus at
most ``max_flows`` open flows, each buffering at most a few kilobytes.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import OrderedDict
from dataclasses import dataclass, field

import dpkt

from residency.addresses import is_address
from residency.endpoints.capture import quic
from residency.endpoints.capture.decode import (
    FLAG_ACK,
    FLAG_FIN,
    FLAG_RST,
    FLAG_SYN,
    TCP,
    UDP,
    Segment,
)
from residency.endpoints.capture.tls import (
    NeedMore,
    NotClientHello,
    handshake_from_records,
    parse_client_hello,
)
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.normalise import canonical_name
from residency.timefmt import utc_iso

CLIENT_BUFFER = 16384  # enough for any ClientHello / HTTP request head we read
DNS_BUFFER = 65537 * 2
QUIC_BUFFER = 65536
_HTTP_METHODS = (
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
)
_WELL_KNOWN = frozenset({80, 443, 853, 8080, 8443, 8000, 8888, 3128, 5228, 5223, 1883, 8883})
MASK32 = 0xFFFFFFFF
CLOSED_REMEMBERED = 8192
TLS_FLOWS_REMEMBERED = 262144  # about 40 MB at most, only for captures holding TLS secrets
# A, CNAME, AAAA, HTTPS, ANY: questions asked to reach a host (not PTR, MX, TXT...)
_ADDRESS_QUERIES = frozenset({1, 5, 28, 65, 255})


def iso(ts: float) -> str:
    return utc_iso(ts, fraction=True)


class Stream:
    """One direction of a TCP connection, reassembled in order, up to ``limit`` bytes."""

    __slots__ = ("data", "limit", "next_seq", "pending")

    def __init__(self, limit: int, next_seq: int | None = None) -> None:
        self.data = bytearray()
        self.next_seq = next_seq
        self.pending: dict[int, bytes] = {}
        self.limit = limit

    def add(self, seq: int, payload: bytes) -> bool:
        """Add a segment; True when new in-order bytes arrived."""
        if self.next_seq is None:
            self.next_seq = seq
        diff = (seq - self.next_seq) & MASK32
        if diff & 0x80000000:  # starts before what we have: keep only the new tail
            overlap = (self.next_seq - seq) & MASK32
            if overlap >= len(payload):
                return False
            payload = payload[overlap:]
            diff = 0
        if diff:
            if len(self.pending) < 64 and len(payload) + len(self.data) <= self.limit:
                self.pending[seq] = payload
            return False
        self._append(payload)
        while self.next_seq in self.pending:
            self._append(self.pending.pop(self.next_seq))
        return True

    def _append(self, payload: bytes) -> None:
        room = self.limit - len(self.data)
        self.data += payload[:room] if room > 0 else b""
        assert self.next_seq is not None
        self.next_seq = (self.next_seq + len(payload)) & MASK32

    @property
    def full(self) -> bool:
        return len(self.data) >= self.limit


@dataclass(slots=True)
class Flow:
    """A connection from a client to a server address and port."""

    server: str
    port: int
    proto: int
    start: float
    dns_name: str | None  # most recent DNS answer that returned the server address
    isn: int | None = None
    client: Stream | None = None  # client->server bytes, while we still look for a name
    server_stream: Stream | None = None  # server->client bytes, for DNS over TCP
    crypto: dict[int, bytes] | None = None  # QUIC CRYPTO stream fragments by offset
    quic_dcid: bytes | None = None  # the client's first DCID: it fixes the Initial keys
    done: bool = False
    app: str | None = None  # the phone app that opened it (PCAPdroid attribution)


@dataclass(slots=True)
class Sighting:
    """Aggregate for one (name, address, how) triple."""

    first: float
    count: int = 0
    ports: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)

    def add(self, when: float, port: str, app: str | None = None) -> None:
        self.count += 1
        self.first = min(self.first, when)
        if port and port not in self.ports and len(self.ports) < 4:
            self.ports.append(port)
        if app and app not in self.apps and len(self.apps) < 32:
            self.apps.append(app)


@dataclass
class CaptureFindings:
    """What a capture showed; the reader turns it into Endpoints."""

    # (name or "" for an address without a name, address, how) -> Sighting
    sightings: dict[tuple[str, str, str], Sighting] = field(default_factory=dict)
    displays: dict[str, str] = field(default_factory=dict)
    bad_names: dict[str, str] = field(default_factory=dict)  # name -> problem
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> packets
    dns_responses: int = 0
    dns_failed: dict[str, int] = field(default_factory=dict)  # rcode name -> responses
    evicted: int = 0
    # TLS connections (client, client port, server, server port) -> the app that opened
    # them, kept only when the capture holds TLS secrets: names decrypted later (tshark)
    # are matched to the connections this analysis read, and to their app
    tls_flows: dict[tuple[str, int, str, int], str | None] = field(default_factory=dict)
    tls_flows_full: bool = False


def _is_unicast(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if address.is_multicast or address.is_unspecified:
        return False
    # Subnet broadcasts cannot be told from hosts without the netmask; only the
    # limited broadcast is certain.
    return ip != "255.255.255.255"


class CaptureAnalyser:
    """Feed it segments in capture order with ``packet``; read ``findings`` at the end."""

    def __init__(self, dns_ports: tuple[int, ...] = (53,), max_flows: int = 65536) -> None:
        self.dns_ports = frozenset(dns_ports)
        self.max_flows = max_flows
        self.flows: OrderedDict[tuple[str, int, str, int, int], Flow] = OrderedDict()
        self.closed: OrderedDict[tuple[str, int, str, int, int], None] = OrderedDict()
        self.answered: dict[str, str] = {}  # address -> name of the latest DNS answer for it
        self.findings = CaptureFindings()
        self._unicast: dict[str, bool] = {}
        self._names: dict[str, str | None] = {}
        # The app of the packet being read (PCAPdroid trailer or pcapng block), set by
        # the reader before each ``packet``; a flow keeps the app of its first packet.
        self.current_app: str | None = None
        # Set by the reader once a Decryption Secrets Block was read (it precedes the
        # packets it decrypts): from then on TLS connections are remembered.
        self.keep_tls_flows = False

    # ------------------------------------------------------------------ bookkeeping

    def skip(self, reason: str) -> None:
        self.findings.skipped[reason] = self.findings.skipped.get(reason, 0) + 1

    def _name(self, raw: str) -> str | None:
        """Canonical form of a name seen on the wire (cached), None for an address."""
        if raw in self._names:
            return self._names[raw]
        name: str | None = None
        if not is_address(raw):  # an address in SNI/Host names nothing
            try:
                name = canonical_name(raw)
            except InvalidEntry as err:
                if len(self.findings.bad_names) < 1000:
                    self.findings.bad_names.setdefault(raw[:80], str(err))
        if name is not None:
            self.findings.displays.setdefault(name, raw.rstrip("."))
        if len(self._names) >= 65536:
            self._names.clear()
        self._names[raw] = name
        return name

    def _sight(
        self, name: str, ip: str, how: str, when: float, port: str = "", app: str | None = None
    ) -> None:
        key = (name, ip, how)
        sighting = self.findings.sightings.get(key)
        if sighting is None:
            sighting = self.findings.sightings[key] = Sighting(first=when)
        sighting.add(when, port, app)

    def _settle(self, flow: Flow, name: str | None = None, how: str = "") -> None:
        """Record the connection once, under the name it most likely served."""
        if flow.done:
            return
        flow.done = True
        flow.client = None
        flow.crypto = None
        proto = "tcp" if flow.proto == TCP else "udp"
        port = f"{proto}/{flow.port}"
        app = flow.app
        if name is not None:
            self._sight(name, flow.server, how, flow.start, port, app)
        elif flow.port in self.dns_ports:
            dns_server = flow.dns_name or ""
            self._sight(dns_server, flow.server, "DNS queries sent to it", flow.start, port, app)
        elif flow.dns_name is not None:
            self._sight(
                flow.dns_name, flow.server, "connection named by DNS answer", flow.start, port, app
            )
        else:
            self._sight(
                "",
                flow.server,
                "connection with no name (no DNS answer, SNI or Host)",
                flow.start,
                port,
                app,
            )

    def _open(self, key: tuple[str, int, str, int, int], flow: Flow) -> Flow:
        flow.app = self.current_app
        self.flows[key] = flow
        if len(self.flows) > self.max_flows:
            _, oldest = self.flows.popitem(last=False)
            if not oldest.done:
                self.findings.evicted += 1
            self._settle(oldest)
        return flow

    def finish(self) -> CaptureFindings:
        for flow in self.flows.values():
            self._settle(flow)
        self.flows.clear()
        return self.findings

    # ---------------------------------------------------------------------- packets

    def packet(self, ts: float, seg: Segment) -> None:
        if seg.proto == TCP:
            self._tcp(ts, seg)
        elif seg.proto == UDP:
            self._udp(ts, seg)

    def _server_side(self, seg: Segment) -> bool:
        """True when ``seg.dst`` is the server (for flows whose start we did not see)."""
        if seg.dport in self.dns_ports or seg.sport in self.dns_ports:
            return seg.dport in self.dns_ports
        if (seg.dport in _WELL_KNOWN) != (seg.sport in _WELL_KNOWN):
            return seg.dport in _WELL_KNOWN
        return seg.dport <= seg.sport

    def _unicast_dst(self, ip: str) -> bool:
        known = self._unicast.get(ip)
        if known is None:
            if len(self._unicast) >= 65536:
                self._unicast.clear()
            known = self._unicast[ip] = _is_unicast(ip)
        return known

    def _tcp(self, ts: float, seg: Segment) -> None:
        forward = (seg.src, seg.sport, seg.dst, seg.dport, TCP)
        flow = self.flows.get(forward)
        if flow is not None:
            if (
                seg.flags & FLAG_SYN
                and not seg.flags & FLAG_ACK
                and flow.isn not in (None, seg.seq)
            ):
                self._settle(flow)  # the port pair was reused for a new connection
                del self.flows[forward]
                flow = None
            else:
                self._client_bytes(flow, seg)
        if flow is None:
            backward = (seg.dst, seg.dport, seg.src, seg.sport, TCP)
            back = self.flows.get(backward)
            if back is not None:
                self._server_bytes(ts, back, seg)
                if seg.flags & (FLAG_FIN | FLAG_RST):
                    self._close(backward, back)
                return
            syn = seg.flags & FLAG_SYN
            if not syn and not seg.payload:
                return  # a stray ACK/FIN/RST of a connection we never saw begin
            if not syn and (forward in self.closed or backward in self.closed):
                return  # the tail of a connection already closed
            if syn and seg.flags & FLAG_ACK:
                client_to_server = False
            elif syn:
                client_to_server = True
            else:
                client_to_server = self._server_side(seg)
            if client_to_server:
                key, server, port = forward, seg.dst, seg.dport
            else:
                key, server, port = (
                    (seg.dst, seg.dport, seg.src, seg.sport, TCP),
                    seg.src,
                    seg.sport,
                )
            if not self._unicast_dst(server):
                return
            flow = self._open(key, Flow(server, port, TCP, ts, self.answered.get(server)))
            if port in self.dns_ports:
                flow.server_stream = Stream(DNS_BUFFER)
            if client_to_server:
                if syn:
                    flow.isn = seg.seq
                    flow.client = Stream(CLIENT_BUFFER, (seg.seq + 1) & MASK32)
                else:
                    flow.client = Stream(CLIENT_BUFFER)
                    self._client_bytes(flow, seg)
            else:
                flow.client = Stream(CLIENT_BUFFER)
                if syn:
                    if flow.server_stream is not None:
                        flow.server_stream.next_seq = (seg.seq + 1) & MASK32
                else:
                    self._server_bytes(ts, flow, seg)
            return
        if seg.flags & (FLAG_FIN | FLAG_RST):
            self._close(forward, flow)

    def _close(self, key: tuple[str, int, str, int, int], flow: Flow) -> None:
        self._settle(flow)
        self.flows.pop(key, None)
        # Late packets (the other side's FIN, data in flight) must not open a new flow.
        self.closed[key] = None
        if len(self.closed) > CLOSED_REMEMBERED:
            self.closed.popitem(last=False)

    def _client_bytes(self, flow: Flow, seg: Segment) -> None:
        if flow.done and flow.server_stream is None:
            return
        if seg.flags & FLAG_SYN and flow.client is not None and flow.client.next_seq is None:
            flow.client.next_seq = (seg.seq + 1) & MASK32
        if not seg.payload or flow.port in self.dns_ports or flow.client is None or flow.done:
            if flow.port in self.dns_ports and not flow.done:
                self._settle(flow)
            return
        if not flow.client.add(seg.seq, seg.payload):
            return
        data = flow.client.data
        if data[:1] == b"\x16":
            try:
                hello = parse_client_hello(handshake_from_records(data))
            except NeedMore:
                if flow.client.full:
                    self._settle(flow)
                return
            except NotClientHello:
                self._settle(flow)
                return
            name = self._name(hello.server_name) if hello.server_name else None
            if self.keep_tls_flows:
                self._remember_tls(seg, flow.app)
            self._settle(flow, name, "TLS SNI" if name else "")
        elif data.startswith(_HTTP_METHODS):
            head_end = data.find(b"\r\n\r\n")
            if head_end < 0 and not flow.client.full:
                return
            host = _http_host(bytes(data[: head_end if head_end >= 0 else len(data)]))
            name = self._name(host) if host else None
            self._settle(flow, name, "HTTP Host" if name else "")
        elif len(data) >= 8 or flow.client.full:
            self._settle(flow)

    def _remember_tls(self, seg: Segment, app: str | None) -> None:
        flows = self.findings.tls_flows
        if len(flows) >= TLS_FLOWS_REMEMBERED:
            self.findings.tls_flows_full = True
            return
        flows[(seg.src, seg.sport, seg.dst, seg.dport)] = app

    def _server_bytes(self, ts: float, flow: Flow, seg: Segment) -> None:
        stream = flow.server_stream
        if stream is None or not seg.payload:
            return
        if not stream.add(seg.seq, seg.payload):
            return
        data = stream.data
        while len(data) >= 2:
            size = int.from_bytes(data[:2], "big")
            if len(data) < 2 + size:
                break
            self._dns(ts, bytes(data[2 : 2 + size]))
            del data[: 2 + size]

    def _udp(self, ts: float, seg: Segment) -> None:
        if seg.sport in self.dns_ports:
            self._dns(ts, seg.payload)
            return
        if seg.dport in self.dns_ports:
            # One sighting per query, without a flow: resolvers see one port per query.
            if self._unicast_dst(seg.dst):
                resolver = self.answered.get(seg.dst, "")
                self._sight(
                    resolver,
                    seg.dst,
                    "DNS queries sent to it",
                    ts,
                    f"udp/{seg.dport}",
                    self.current_app,
                )
            return
        forward = (seg.src, seg.sport, seg.dst, seg.dport, UDP)
        flow = self.flows.get(forward)
        if flow is None:
            backward = (seg.dst, seg.dport, seg.src, seg.sport, UDP)
            if backward in self.flows:
                return
            initial = quic.looks_like_initial(seg.payload)
            client_to_server = initial or self._server_side(seg)
            if client_to_server:
                key, server, port = forward, seg.dst, seg.dport
            else:
                key, server, port = backward, seg.src, seg.sport
            if not self._unicast_dst(server):
                return
            flow = self._open(key, Flow(server, port, UDP, ts, self.answered.get(server)))
            if not (initial and client_to_server):
                self._settle(flow)
                return
            flow.crypto = {}
        if flow.done or flow.crypto is None:
            return
        if not quic.looks_like_initial(seg.payload):
            self._settle(flow)
            return
        found = quic.client_initial_crypto(seg.payload, flow.quic_dcid)
        if found is None:
            return
        flow.quic_dcid = found.dcid
        for offset, chunk in found.fragments:
            if offset < QUIC_BUFFER:
                flow.crypto.setdefault(offset, chunk)
        handshake = bytearray()
        while len(handshake) in flow.crypto:
            handshake += flow.crypto[len(handshake)]
        try:
            hello = parse_client_hello(handshake)
        except NeedMore:
            if len(flow.crypto) > 32 or len(handshake) >= QUIC_BUFFER:
                self._settle(flow)
            return
        except NotClientHello:
            self._settle(flow)
            return
        name = self._name(hello.server_name) if hello.server_name else None
        self._settle(flow, name, "QUIC SNI" if name else "")

    def _dns(self, ts: float, payload: bytes) -> None:
        try:
            message = dpkt.dns.DNS(payload)
        except (dpkt.UnpackError, IndexError, ValueError, TypeError):
            self.skip("unreadable DNS message")
            return
        if not message.qr or message.opcode != 0 or not message.qd:
            return
        self.findings.dns_responses += 1
        if message.qd[0].type not in _ADDRESS_QUERIES:
            return
        question = message.qd[0].name
        qname = self._name(question)
        if qname is None:
            return
        if message.rcode != 0:
            label = {2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}.get(
                message.rcode, f"rcode {message.rcode}"
            )
            self.findings.dns_failed[label] = self.findings.dns_failed.get(label, 0) + 1
            return
        cnames: dict[str, str] = {}
        addresses: dict[str, list[tuple[str, str]]] = {}
        for rr in message.an:
            owner = rr.name.lower()
            if rr.type == dpkt.dns.DNS_CNAME:
                cnames[owner] = rr.cname.lower()
            elif rr.type == dpkt.dns.DNS_A and len(rr.rdata) == 4:
                addresses.setdefault(owner, []).append(
                    (socket.inet_ntop(socket.AF_INET, rr.rdata), "A")
                )
            elif rr.type == dpkt.dns.DNS_AAAA and len(rr.rdata) == 16:
                addresses.setdefault(owner, []).append(
                    (socket.inet_ntop(socket.AF_INET6, rr.rdata), "AAAA")
                )
        chain: list[str] = []
        current = question.lower().rstrip(".")
        while current in cnames and len(chain) < 16:
            current = cnames[current]
            if current in chain:
                break
            chain.append(current)
        via = f" via {' -> '.join(chain)}" if chain else ""
        for ip, rtype in addresses.get(current, []):
            self._sight(qname, ip, f"DNS answer {rtype}{via}", ts, app=self.current_app)
            self.answered[ip] = qname


def _http_host(head: bytes) -> str | None:
    """The host an HTTP/1 request was for: CONNECT/absolute target, else the Host header."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) >= 2:
        target = parts[1].decode("latin-1")
        if parts[0] == b"CONNECT":
            return host_of_authority(target)
        if "://" in target:
            authority = target.split("://", 1)[1].split("/", 1)[0].rpartition("@")[2]
            return host_of_authority(authority)
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"host":
            return host_of_authority(value.strip().decode("latin-1"))
    return None


def host_of_authority(authority: str) -> str | None:
    """The host of an HTTP Host, ``:authority`` or CONNECT target: its port and an IPv6
    literal's brackets taken off; None when nothing is left."""
    if authority.startswith("["):
        return authority[1 : authority.find("]")] if "]" in authority else None
    host = authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority
    return host or None
