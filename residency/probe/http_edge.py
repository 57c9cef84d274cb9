"""HTTP edge probe: one HTTPS request to see which CDN edge answered, and where it is.

HEAD first, GET / only if HEAD is refused (405/501); the body is never read (the stream is
closed on the headers). Redirects are followed only on the same host, a few hops at most.
When the TLS probe has just completed a handshake with the same name, the first request goes
over that connection (h11, the HTTP/1.1 engine under httpx) instead of paying a second
handshake; later hops and the stand-alone probe use httpx.
"""

from __future__ import annotations

import ssl
import time
from urllib.parse import urljoin, urlsplit

import h11
import httpx

from residency.http import exchange_deadline, make_client
from residency.model import ProbeResult
from residency.probe.multiplex import Steps, drive, receive, send_all
from residency.probe.pops import edge_from_headers, place_of_pop
from residency.timefmt import utc_iso

# Headers that name the edge; only these are kept, so a report carries no cookies.
KEPT = (
    "cf-ray",
    "x-amz-cf-pop",
    "x-amz-cf-id",
    "x-served-by",
    "x-cache",
    "x-azure-ref",
    "x-msedge-ref",
    "via",
    "server",
)


Answer = tuple[int, dict[str, str], int]  # status, headers, header bytes
#: Informational (1xx) answers read before the real one; a server sending more is broken.
MAX_INFORMATIONAL = 8


def _now() -> str:
    return utc_iso()


class HttpEdgeProbe:
    kind = "http"

    def __init__(
        self,
        timeout: float,
        max_header_bytes: int = 32 * 1024,
        max_redirects: int = 5,
        vantage: str = "local",
    ) -> None:
        self.timeout = timeout
        self.max_header_bytes = max_header_bytes
        self.max_redirects = max_redirects
        self.vantage = vantage
        # Not verified here: trust is the TLS probe's finding; this one only reads headers.
        # The probe connects to the endpoint's own address, whatever it is (local=True):
        # auditing internal endpoints is the user's choice, and probes are opt-in.
        self._client = make_client(local=True, verify=False, timeout=timeout, keepalive=False)

    def close(self) -> None:
        self._client.close()

    def _once(self, method: str, host: str, ip: str, port: int, path: str) -> Answer:
        literal = f"[{ip}]" if ":" in ip else ip
        request = self._client.build_request(
            method,
            f"https://{literal}:{port}{path}",
            headers={"Host": host, "Pragma": "akamai-x-cache-on", "Accept": "*/*"},
            extensions={"sni_hostname": host, "timeout": httpx.Timeout(self.timeout).as_dict()},
            # no Accept-Encoding: the body is never read
        )
        response = self._client.send(request, stream=True)
        try:
            size = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status_code, headers, size
        finally:
            response.close()  # the body is never read

    def _on(
        self, connection: ssl.SSLSocket, method: str, host: str, path: str, deadline: float
    ) -> Steps[Answer]:
        """One request on an open non-blocking TLS connection; the headers of the answer,
        body unread, all before the probe's ``deadline``: checked on every turn of the
        loop, since data already received (a flood of ``100 Continue``) never waits."""
        informational = 0
        machine = h11.Connection(h11.CLIENT, max_incomplete_event_size=self.max_header_bytes)
        request = h11.Request(
            method=method,
            target=path,
            headers=[
                ("Host", host),
                ("Pragma", "akamai-x-cache-on"),
                ("Accept", "*/*"),
                ("Connection", "close"),
            ],
        )
        wire = (machine.send(request) or b"") + (machine.send(h11.EndOfMessage()) or b"")
        yield from send_all(connection, wire, deadline)
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError("the probe's deadline has passed")
            event = machine.next_event()
            if event is h11.NEED_DATA:
                machine.receive_data((yield from receive(connection, deadline)))
                continue
            if isinstance(event, h11.Response):
                headers: dict[str, str] = {}
                for name, value in event.headers:
                    key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                    headers[key] = f"{headers[key]}, {text}" if key in headers else text
                size = sum(len(k) + len(v) + 4 for k, v in event.headers)
                return event.status_code, headers, size
            if isinstance(event, h11.ConnectionClosed):
                raise h11.RemoteProtocolError("connection closed before a response")
            # an informational (1xx) answer: the real one follows, after a few at most
            informational += 1
            if informational > MAX_INFORMATIONAL:
                raise h11.RemoteProtocolError(
                    f"more than {MAX_INFORMATIONAL} informational (1xx) answers"
                )

    def run(
        self,
        host: str,
        ip: str,
        port: int,
        until: float | None = None,
        connection: ssl.SSLSocket | None = None,
    ) -> ProbeResult:
        """``connection``: an open TLS connection to ``ip:port`` with SNI ``host``, used for
        the first request (the caller still closes it). ``until``: the probe stage's end."""
        if connection is None:
            return self.follow(host, ip, port, _now(), _First(self.timeout, until))
        connection.setblocking(False)
        found = drive(self.on_connection(host, ip, port, connection, until))
        return found if isinstance(found, ProbeResult) else self.follow(host, ip, port, *found)

    def on_connection(
        self,
        host: str,
        ip: str,
        port: int,
        connection: ssl.SSLSocket,
        until: float | None = None,
    ) -> Steps[ProbeResult | tuple[str, _First]]:
        """The first request on ``connection`` as steps (residency.probe.multiplex): the result,
        or, when the answer asks for another request (HEAD refused, a same-host redirect),
        the arguments after ``host, ip, port`` of the ``follow`` call that makes it."""
        when = _now()
        state = _First(self.timeout, until)
        try:
            answer = yield from self._on(connection, state.method, host, state.path, state.deadline)
            found = self._judge(host, ip, port, when, state, answer)
        except Exception as err:
            return self._failed(err, ip, port, when)
        return (when, state) if found is None else found

    def follow(self, host: str, ip: str, port: int, when: str, state: _First) -> ProbeResult:
        """The requests of the probe, each on its own connection (httpx), from ``state``,
        all before the probe's one deadline (every socket read is cut short there, so a
        header dripped a byte at a time cannot hold it: httpx's timeout is per read)."""
        try:
            with exchange_deadline(state.deadline - time.monotonic()):
                while True:
                    if time.monotonic() >= state.deadline:
                        raise TimeoutError("the probe's deadline has passed")
                    answer = self._once(state.method, host, ip, port, state.path)
                    found = self._judge(host, ip, port, when, state, answer)
                    if found is not None:
                        return found
        except Exception as err:
            return self._failed(err, ip, port, when)

    def _judge(
        self, host: str, ip: str, port: int, when: str, state: _First, answer: Answer
    ) -> ProbeResult | None:
        """The result an answer gives, or None when it asks for another request (``state``
        then says which)."""
        status, headers, size = answer

        def fail(outcome: str, detail: str) -> ProbeResult:
            return ProbeResult(
                self.kind, ip, port, outcome, detail, when, self.vantage, status=status
            )

        if size > self.max_header_bytes:
            return fail("too-large", f"headers {size} bytes > {self.max_header_bytes}")
        if state.method == "HEAD" and status in (405, 501):
            state.method = "GET"
            return None
        location = headers.get("location")
        if 300 <= status < 400 and location:
            target = urlsplit(urljoin(f"https://{host}{state.path}", location))
            if (target.hostname or "").lower().rstrip(".") == host.lower().rstrip("."):
                nxt = (target.path or "/") + (f"?{target.query}" if target.query else "")
                if nxt in state.seen or len(state.seen) >= self.max_redirects:
                    return fail("redirect-loop", f"{len(state.seen) + 1} redirects on {host}")
                state.seen.add(nxt)
                state.path = nxt
                return None
            # another host: not followed; this answer is the edge seen
        cdn, pop, note = edge_from_headers(headers)
        place, basis = place_of_pop(pop) if cdn else (None, "")
        return ProbeResult(
            self.kind,
            ip,
            port,
            "ok",
            note,
            when,
            self.vantage,
            status=status,
            headers=tuple((k, headers[k][:200]) for k in KEPT if k in headers),
            edge_cdn=cdn,
            edge_pop=pop,
            edge_place=place,
            edge_basis=basis if place is not None else (basis if cdn else ""),
        )

    def _failed(self, err: Exception, ip: str, port: int, when: str) -> ProbeResult:
        """The outcome of a request that raised; anything unforeseen is re-raised."""
        outcome, detail = _fault(err, self.timeout)
        return ProbeResult(self.kind, ip, port, outcome, detail, when, self.vantage)


class _First:
    """Where a probe's requests stand: the next method and path, the redirects taken, and
    the one deadline (``time.monotonic``) all of them share."""

    __slots__ = ("deadline", "method", "path", "seen")

    def __init__(self, timeout: float, until: float | None = None) -> None:
        self.method, self.path = "HEAD", "/"
        self.seen: set[str] = set()
        self.deadline = time.monotonic() + timeout
        if until is not None:
            self.deadline = min(self.deadline, until)


def _fault(err: Exception, timeout: float) -> tuple[str, str]:
    """A request's exception as (outcome, detail); anything unforeseen is re-raised."""
    if isinstance(err, httpx.TimeoutException):
        return "timeout", f"no answer in {timeout:g}s"
    if isinstance(err, httpx.ConnectError):
        text = str(err)
        if "refused" in text.lower():
            return "refused", "connection refused"
        if "ssl" in text.lower() or "tls" in text.lower() or "handshake" in text.lower():
            return "tls-error", text[:200]
        return "unreachable", text[:200]
    if isinstance(err, httpx.RemoteProtocolError):
        text = str(err)
        if "exceed" in text.lower() or "too long" in text.lower() or "large" in text.lower():
            return "too-large", "response headers over the size cap"
        return "protocol-error", text[:200] or "malformed HTTP response"
    if isinstance(err, httpx.HTTPError):
        return "http-error", str(err)[:200] or type(err).__name__
    if isinstance(err, h11.RemoteProtocolError):
        text = str(err)
        if "too long" in text.lower() or "too large" in text.lower():
            return "too-large", "response headers over the size cap"
        return "protocol-error", text[:200] or "malformed HTTP response"
    if isinstance(err, TimeoutError):
        return "timeout", f"no answer in {timeout:g}s"
    if isinstance(err, ssl.SSLError):
        return "tls-error", err.reason or str(err)[:200]
    if isinstance(err, OSError):
        return "protocol-error", f"connection lost: {err.strerror or err}"[:200]
    raise err
