"""How one query reaches one resolver: the interface every transport implements."""

from __future__ import annotations

from typing import Protocol

import dns.message


class Transport(Protocol):
    """Sends one query to one resolver and returns its reply.

    ``exchange`` raises ``QueryTimeout`` when no reply came within ``timeout`` seconds and
    ``QueryFailed`` for anything else that prevented a reply (refused connection, TLS or
    HTTP failure, malformed reply). A reply with any rcode is returned as is.
    """

    @property
    def label(self) -> str:
        """How the resolver is named in results and messages, e.g. ``127.0.0.1:5353``."""
        ...

    async def exchange(self, query: dns.message.Message, timeout: float) -> dns.message.Message:
        """Send ``query`` and return the matching reply."""
        ...

    async def aclose(self) -> None:
        """Release sockets and connections held for the current event loop."""
        ...
