"""HTTP edge probe: one HTTPS request to see which CDN edge answered, and where it is.

HEAD first, GET / only if HEAD is refused (405/501); the body is never read (the stream is
closed on the headers). Redirects are followed only on the same host, a few hops at most.
When the TLS probe has just completed a handshake with the same name, the first request goes
over that connection (h11, the HTTP/1.1 engine under httpx) instead of paying a second
handshake; later hops and the stand-alone probe use httpx.
"""

from __future__ import annotations

import ssl
from urllib.parse import urljoin, urlsplit

import h11
import httpx

from residency.model import ProbeResult
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
        self._client = httpx.Client(
            verify=False,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def _once(
        self, method: str, host: str, ip: str, port: int, path: str
    ) -> tuple[int, dict[str, str], int]:
        literal = f"[{ip}]" if ":" in ip else ip
        request = self._client.build_request(
            method,
            f"https://{literal}:{port}{path}",
            headers={"Host": host, "Pragma": "akamai-x-cache-on", "Accept": "*/*"},
            extensions={"sni_hostname": host, "timeout": httpx.Timeout(self.timeout).as_dict()},
        )
        response = self._client.send(request, stream=True)
        try:
            size = sum(len(k) + len(v) + 4 for k, v in response.headers.raw)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status_code, headers, size
        finally:
            response.close()  # the body is never read

    def _on(
        self, connection: ssl.SSLSocket, method: str, host: str, path: str
    ) -> tuple[int, dict[str, str], int]:
        """One request on an open TLS connection; the headers of the answer, body unread."""
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
        connection.sendall(
            (machine.send(request) or b"") + (machine.send(h11.EndOfMessage()) or b"")
        )
        while True:
            event = machine.next_event()
            if event is h11.NEED_DATA:
                machine.receive_data(connection.recv(65536))
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
            # an informational (1xx) answer: the real one follows

    def run(
        self, host: str, ip: str, port: int, connection: ssl.SSLSocket | None = None
    ) -> ProbeResult:
        """``connection``: an open TLS connection to ``ip:port`` with SNI ``host``, used for
        the first request (the caller still closes it)."""
        when = _now()

        def fail(outcome: str, detail: str, status: int | None = None) -> ProbeResult:
            return ProbeResult(
                self.kind, ip, port, outcome, detail, when, self.vantage, status=status
            )

        path, method = "/", "HEAD"
        seen: set[str] = set()
        try:
            while True:
                if connection is not None:
                    status, headers, size = self._on(connection, method, host, path)
                    connection = None  # it asked for "close": any further hop opens its own
                else:
                    status, headers, size = self._once(method, host, ip, port, path)
                if size > self.max_header_bytes:
                    return fail(
                        "too-large", f"headers {size} bytes > {self.max_header_bytes}", status
                    )
                if method == "HEAD" and status in (405, 501):
                    method = "GET"
                    continue
                location = headers.get("location")
                if 300 <= status < 400 and location:
                    target = urlsplit(urljoin(f"https://{host}{path}", location))
                    if (target.hostname or "").lower().rstrip(".") != host.lower().rstrip("."):
                        break  # another host: not followed; this answer is the edge seen
                    nxt = (target.path or "/") + (f"?{target.query}" if target.query else "")
                    if nxt in seen or len(seen) >= self.max_redirects:
                        return fail("redirect-loop", f"{len(seen) + 1} redirects on {host}", status)
                    seen.add(nxt)
                    path = nxt
                    continue
                break
        except httpx.TimeoutException:
            return fail("timeout", f"no answer in {self.timeout:g}s")
        except httpx.ConnectError as err:
            text = str(err)
            if "refused" in text.lower():
                return fail("refused", "connection refused")
            if "ssl" in text.lower() or "tls" in text.lower() or "handshake" in text.lower():
                return fail("tls-error", text[:200])
            return fail("unreachable", text[:200])
        except httpx.RemoteProtocolError as err:
            text = str(err)
            if "exceed" in text.lower() or "too long" in text.lower() or "large" in text.lower():
                return fail("too-large", "response headers over the size cap")
            return fail("protocol-error", text[:200] or "malformed HTTP response")
        except httpx.HTTPError as err:
            return fail("http-error", str(err)[:200] or type(err).__name__)
        except h11.RemoteProtocolError as err:
            text = str(err)
            if "too long" in text.lower() or "too large" in text.lower():
                return fail("too-large", "response headers over the size cap")
            return fail("protocol-error", text[:200] or "malformed HTTP response")
        except TimeoutError:
            return fail("timeout", f"no answer in {self.timeout:g}s")
        except ssl.SSLError as err:
            return fail("tls-error", err.reason or str(err)[:200])
        except OSError as err:
            return fail("protocol-error", f"connection lost: {err.strerror or err}"[:200])
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
