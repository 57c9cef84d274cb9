"""ClientHello parsing on a real OpenSSL ClientHello, TCP reassembly, QUIC Initial keys."""

from __future__ import annotations

import itertools
import ssl

import pytest

from residency.endpoints.capture.analyse import Stream, _http_host
from residency.endpoints.capture.quic import client_initial_keys
from residency.endpoints.capture.tls import (
    NeedMore,
    NotClientHello,
    handshake_from_records,
    parse_client_hello,
)


def real_client_hello(server_name: str | None) -> bytes:
    """The first flight Python's ssl module (OpenSSL) writes for a handshake."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2", "http/1.1"])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_sni_and_alpn_from_a_real_client_hello() -> None:
    hello = parse_client_hello(handshake_from_records(real_client_hello("api.example.com")))
    assert hello.server_name == "api.example.com"
    assert hello.alpn == ("h2", "http/1.1")


def test_client_hello_without_sni() -> None:
    hello = parse_client_hello(handshake_from_records(real_client_hello(None)))
    assert hello.server_name is None


def test_a_client_hello_split_over_segments_is_reassembled_out_of_order() -> None:
    data = real_client_hello("split.example.org")
    cuts = [0, 7, 100, len(data) // 2, len(data)]
    pieces = [(1000 + a, data[a:b]) for a, b in itertools.pairwise(cuts)]
    stream = Stream(16384, next_seq=1000)
    # Out of order, with a retransmission of the first piece.
    for seq, piece in [pieces[2], pieces[0], pieces[3], pieces[0]]:
        stream.add(seq, piece)
        with pytest.raises(NeedMore):
            handshake_from_records(stream.data)
    stream.add(*pieces[1])
    hello = parse_client_hello(handshake_from_records(stream.data))
    assert hello.server_name == "split.example.org"


def test_stream_wraps_around_the_sequence_space() -> None:
    stream = Stream(100, next_seq=0xFFFFFFFE)
    assert stream.add(0xFFFFFFFE, b"abcd")
    assert stream.add(2, b"ef")
    assert bytes(stream.data) == b"abcdef" and stream.next_seq == 4


def test_not_tls() -> None:
    with pytest.raises(NotClientHello):
        handshake_from_records(b"SSH-2.0-OpenSSH_9.2\r\n")
    with pytest.raises(NotClientHello):  # a server's handshake record, not a ClientHello
        handshake_from_records(b"\x16\x03\x03\x00\x05\x02\x00\x00\x01\x00")


@pytest.mark.parametrize(
    ("head", "host"),
    [
        (b"GET / HTTP/1.1\r\nHost: www.example.com:8080\r\nAccept: */*", "www.example.com"),
        (b"GET / HTTP/1.1\r\nhost:bare.example", "bare.example"),
        (b"CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443", "tunnel.example"),
        (b"GET http://proxied.example/x HTTP/1.1\r\nHost: other", "proxied.example"),
        (b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80", "2001:db8::1"),
        (b"GET / HTTP/1.0\r\nAccept: */*", None),
    ],
)
def test_http_request_host(head: bytes, host: str | None) -> None:
    assert _http_host(head) == host


def test_quic_v1_initial_keys_match_rfc_9001_appendix_a() -> None:
    keys = client_initial_keys(1, bytes.fromhex("8394c8f03e515708"))
    assert keys.key.hex() == "1f369613dd76d5467730efcbe3b1a22d"
    assert keys.iv.hex() == "fa044b2f42a3fd3b46fb255c"
    assert keys.hp.hex() == "9f50449e04a0e810283a1e9933adedd2"
