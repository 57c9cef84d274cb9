"""DNS over TLS (RFC 7858) through dnspython."""

from __future__ import annotations

import ssl

import dns.asyncquery
import dns.exception
import dns.message

from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout
from residency.resolve.nameservers import ServerAddress, parse_nameserver

DOT_PORT = 853


class DotTransport:
    """Queries a DoT resolver given as ``ADDR[:PORT]`` or ``ADDR[:PORT]#TLS-NAME``.

    The TLS name (checked against the certificate) defaults to the address itself.
    """

    def __init__(self, spec: str, verify: bool | str = True) -> None:
        where, _, tls_name = spec.strip().removeprefix("tls://").partition("#")
        if not where:
            raise BadResolverSpec(f"DoT {spec!r}: expected ADDR[:PORT][#TLS-NAME]")
        server = parse_nameserver(where)
        explicit_port = "]:" in where or where.count(":") == 1
        self.server = server if explicit_port else ServerAddress(server.host, DOT_PORT)
        self.tls_name = tls_name or server.host
        self._context = ssl.create_default_context()
        if isinstance(verify, str):
            self._context.load_verify_locations(cafile=verify)
        elif not verify:
            self._context.check_hostname = False
            self._context.verify_mode = ssl.CERT_NONE

    @property
    def label(self) -> str:
        return f"tls://{self.server.label}"

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        message = dns.message.from_wire(query)
        try:
            reply = await dns.asyncquery.tls(
                message,
                self.server.host,
                timeout=timeout,
                port=self.server.port,
                ssl_context=self._context,
                server_hostname=self.tls_name,
            )
            return reply.to_wire()
        except dns.exception.Timeout:
            raise QueryTimeout(f"no answer from {self.label} within {timeout:.2g}s") from None
        except ConnectionRefusedError:
            raise QueryFailed(
                f"{self.label}: connection refused (nothing is listening there)"
            ) from None
        except (OSError, EOFError, ssl.SSLError, dns.exception.DNSException) as err:
            raise QueryFailed(f"{self.label}: {err}") from None

    async def aclose(self) -> None:
        return None
