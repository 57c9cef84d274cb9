"""Small TLS / HTTPS servers on 127.0.0.1 for the probe tests, each in a thread."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.probe.certs import Pair
from tests.support import accept_until

Handler = Callable[[bytes], bytes]  # request head -> whole response


def answer(status: str, headers: dict[str, str]) -> Handler:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers.items())]
    lines += ["Content-Length: 0", "Connection: close", "", ""]
    wire = "\r\n".join(lines).encode()
    return lambda _request: wire


@contextmanager
def tls_server(
    pair: Pair | None,
    handler: Handler | None = None,
    mode: str = "tls",
    handshakes: list[tuple[str | None, bool]] | None = None,
) -> Iterator[int]:
    """mode: "tls" (handshake then HTTP), "stall" (accept, never speak), "garbage".
    ``handshakes`` gets (SNI, session resumed) for each handshake completed."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    context = None
    if pair is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pair.cert, pair.key)

        def sni(tls: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext) -> None:
            names[id(tls)] = name

        context.sni_callback = sni
    names: dict[int, str | None] = {}
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve(conn: socket.socket) -> None:
        try:
            conn.settimeout(3)
            if mode == "stall":
                held.append(conn)
                return
            if mode == "garbage":
                conn.recv(4096)
                conn.sendall(b"this is not TLS at all\r\n" * 8)
                conn.close()
                return
            assert context is not None
            with context.wrap_socket(conn, server_side=True) as tls:
                if handshakes is not None:
                    handshakes.append((names.pop(id(tls), None), tls.session_reused))
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                if handler is not None:
                    tls.sendall(handler(data))
        except (OSError, ssl.SSLError):
            pass  # the client hung up or refused our certificate: that is the test's point

    thread = threading.Thread(
        target=accept_until, args=(listener, stop, serve), kwargs={"threaded": True}, daemon=True
    )
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(2)
        listener.close()
        for conn in held:
            conn.close()
