"""How one query reaches one resolver: the interface every transport implements."""

from __future__ import annotations

from typing import Protocol


class Transport(Protocol):
    """Sends one query (wire form) to one resolver and returns its reply (wire form).

    The transport may rewrite the message id (the first two octets) to multiplex; the
    reply it returns carries the id of the query as sent. ``exchange`` raises
    ``QueryTimeout`` when no reply came within ``timeout`` seconds and ``QueryFailed`` for
    anything else that prevented a reply (refused connection, TLS or HTTP failure).
    A reply with any rcode is returned as is; a truncated UDP reply is retried over TCP.
    """

    @property
    def label(self) -> str:
        """How the resolver is named in results and messages, e.g. ``127.0.0.1:5353``."""
        ...

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        """Send ``query`` and return the matching reply."""
        ...

    async def aclose(self) -> None:
        """Release sockets and connections held for the current event loop."""
        ...
