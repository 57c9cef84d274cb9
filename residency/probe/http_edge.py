"""HTTP edge probe: one HTTPS request to see which CDN edge answered, and where it is.

HEAD first, GET / only if HEAD is refused (405/501); the body is never read (the stream is
closed on the headers). Redirects are followed only on the same host, a few hops at most.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

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

    def run(self, host: str, ip: str, port: int) -> ProbeResult:
        when = _now()

        def fail(outcome: str, detail: str, status: int | None = None) -> ProbeResult:
            return ProbeResult(
                self.kind, ip, port, outcome, detail, when, self.vantage, status=status
            )

        path, method = "/", "HEAD"
        seen: set[str] = set()
        try:
            while True:
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
