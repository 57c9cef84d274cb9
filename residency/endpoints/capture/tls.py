"""TLS ClientHello parsing: just enough to read the server name (SNI)."""

from __future__ import annotations

from dataclasses import dataclass


class NeedMore(Exception):
    """The bytes so far are a plausible start, but the message is not complete yet."""


class NotClientHello(Exception):
    """The bytes are not a TLS ClientHello."""


@dataclass(frozen=True)
class ClientHello:
    server_name: str | None  # None: the client sent no SNI
    alpn: tuple[str, ...] = ()


def _need(data: bytes | bytearray, end: int) -> None:
    if end > len(data):
        raise NeedMore


def handshake_from_records(data: bytes | bytearray) -> bytes:
    """Concatenate the handshake bytes of consecutive TLS records until the first
    handshake message is complete; raise NeedMore / NotClientHello."""
    if len(data) < 1:
        raise NeedMore
    if data[0] != 0x16:
        raise NotClientHello
    if len(data) >= 2 and data[1] != 0x03:
        raise NotClientHello
    out = bytearray()
    pos = 0
    while True:
        _need(data, pos + 5)
        if data[pos] != 0x16 or data[pos + 1] != 0x03:
            raise NotClientHello
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if length == 0 or length > 18432:
            raise NotClientHello
        end = pos + 5 + length
        out += data[pos + 5 : min(end, len(data))]
        if len(out) >= 4:
            if out[0] != 0x01:
                raise NotClientHello
            wanted = 4 + int.from_bytes(out[1:4], "big")
            if len(out) >= wanted:
                return bytes(out[:wanted])
        _need(data, end)
        pos = end


def parse_client_hello(message: bytes | bytearray) -> ClientHello:
    """Read SNI and ALPN from a complete ClientHello handshake message (type 1)."""
    _need(message, 4)
    if message[0] != 0x01:
        raise NotClientHello
    end = 4 + int.from_bytes(message[1:4], "big")
    _need(message, end)
    pos = 4 + 2 + 32  # legacy_version, random
    _need(message, pos + 1)
    pos += 1 + message[pos]  # session id
    _need(message, pos + 2)
    pos += 2 + int.from_bytes(message[pos : pos + 2], "big")  # cipher suites
    _need(message, pos + 1)
    pos += 1 + message[pos]  # compression methods
    if pos + 2 > end:
        return ClientHello(server_name=None)  # no extensions at all
    ext_end = min(end, pos + 2 + int.from_bytes(message[pos : pos + 2], "big"))
    pos += 2
    server_name: str | None = None
    alpn: list[str] = []
    while pos + 4 <= ext_end:
        ext_type = int.from_bytes(message[pos : pos + 2], "big")
        ext_len = int.from_bytes(message[pos + 2 : pos + 4], "big")
        body = message[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        if ext_type == 0 and len(body) >= 5:
            list_end = min(len(body), 2 + int.from_bytes(body[0:2], "big"))
            item = 2
            while item + 3 <= list_end:
                name_type = body[item]
                name_len = int.from_bytes(body[item + 1 : item + 3], "big")
                name = body[item + 3 : item + 3 + name_len]
                item += 3 + name_len
                if name_type == 0 and name:
                    server_name = bytes(name).decode("ascii", errors="replace")
                    break
        elif ext_type == 16 and len(body) >= 2:
            item = 2
            while item < len(body):
                size = body[item]
                alpn.append(bytes(body[item + 1 : item + 1 + size]).decode("ascii", "replace"))
                item += 1 + size
    return ClientHello(server_name=server_name, alpn=tuple(alpn))
