"""A tiny UDP DNS server on 127.0.0.1 for hostile runs: every A query gets one answer."""

from __future__ import annotations

import contextlib
import socket
import threading

import dns.message
import dns.rrset


class StubDns:
    """Answers every A query with ``answer`` after ``delay`` seconds (0: at once)."""

    def __init__(self, answer: str = "192.0.2.7", delay: float = 0.0) -> None:
        self.answer = answer
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                wire, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            query = dns.message.from_wire(wire)
            response = dns.message.make_response(query)
            if query.question[0].rdtype == 1:
                name = query.question[0].name
                response.answer.append(dns.rrset.from_text(name, 60, "IN", "A", self.answer))
            if self.delay:
                timer = threading.Timer(self.delay, self._send, (response.to_wire(), peer))
                timer.daemon = True
                timer.start()
            else:
                self._send(response.to_wire(), peer)

    def _send(self, out: bytes, peer: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendto(out, peer)
