"""QUIC Initial packets: remove the (public, DCID-derived) protection and read CRYPTO frames.

RFC 9001 section 5: Initial packets are protected with keys derived from the
client's Destination Connection ID and a published salt, so anyone on the path
can read the ClientHello in them, SNI included. Versions 1 and 2 (RFC 9369).
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

QUIC_V1 = 0x00000001
QUIC_V2 = 0x6B3343CF

_SALTS = {
    QUIC_V1: bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a"),
    QUIC_V2: bytes.fromhex("0dede3def700a6db819381be6e269dcbf9bd2ed9"),
}
_LABEL_PREFIX = {QUIC_V1: b"quic ", QUIC_V2: b"quicv2 "}
_INITIAL_TYPE = {QUIC_V1: 0, QUIC_V2: 1}


@dataclass(frozen=True)
class _Keys:
    key: bytes
    iv: bytes
    hp: bytes


def _expand_label(secret: bytes, label: bytes, length: int) -> bytes:
    full = b"tls13 " + label
    info = struct.pack("!HB", length, len(full)) + full + b"\x00"
    # HKDF-Expand with SHA-256; every output here fits in one block.
    return hmac.new(secret, info + b"\x01", hashlib.sha256).digest()[:length]


@lru_cache(maxsize=1024)
def client_initial_keys(version: int, dcid: bytes) -> _Keys:
    initial = hmac.new(_SALTS[version], dcid, hashlib.sha256).digest()
    client = _expand_label(initial, b"client in", 32)
    prefix = _LABEL_PREFIX[version]
    return _Keys(
        key=_expand_label(client, prefix + b"key", 16),
        iv=_expand_label(client, prefix + b"iv", 12),
        hp=_expand_label(client, prefix + b"hp", 16),
    )


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(data):
        raise ValueError("varint past end")
    first = data[pos]
    size = 1 << (first >> 6)
    if pos + size > len(data):
        raise ValueError("varint past end")
    value = first & 0x3F
    for byte in data[pos + 1 : pos + size]:
        value = (value << 8) | byte
    return value, pos + size


def looks_like_initial(datagram: bytes) -> bool:
    """Cheap test: a long-header packet of a QUIC version we can unprotect."""
    if len(datagram) < 7 or datagram[0] & 0xC0 != 0xC0:
        return False
    version = int.from_bytes(datagram[1:5], "big")
    return version in _SALTS and (datagram[0] >> 4) & 0x03 == _INITIAL_TYPE[version]


@dataclass(frozen=True)
class InitialCrypto:
    """CRYPTO frame data found in a client's Initial packet(s) of one datagram."""

    dcid: bytes
    fragments: tuple[tuple[int, bytes], ...]  # (offset in the CRYPTO stream, bytes)


def client_initial_crypto(
    datagram: bytes, original_dcid: bytes | None = None
) -> InitialCrypto | None:
    """CRYPTO frames of the client Initial packets in a datagram, or None.

    Initial keys come from the Destination Connection ID of the client's *first*
    Initial; later Initials may carry the server's chosen ID, so pass the first
    one as ``original_dcid``. None when the datagram holds no Initial we can
    unprotect with client keys (a server's Initial, a version we do not know).
    """
    pos = 0
    dcid_first: bytes | None = None
    fragments: list[tuple[int, bytes]] = []
    while pos + 7 <= len(datagram):
        first = datagram[pos]
        if first & 0xC0 != 0xC0:
            break  # short header packet (or padding): no more Initials
        version = int.from_bytes(datagram[pos + 1 : pos + 5], "big")
        if version not in _SALTS:
            break
        try:
            cursor = pos + 5
            dcid_len = datagram[cursor]
            dcid = datagram[cursor + 1 : cursor + 1 + dcid_len]
            cursor += 1 + dcid_len
            scid_len = datagram[cursor]
            cursor += 1 + scid_len
            packet_type = (first >> 4) & 0x03
            is_initial = packet_type == _INITIAL_TYPE[version]
            if is_initial:
                token_len, cursor = _varint(datagram, cursor)
                cursor += token_len
            length, cursor = _varint(datagram, cursor)
        except (IndexError, ValueError):
            break
        end = cursor + length
        if end > len(datagram):
            break
        if is_initial:
            key_id = original_dcid if original_dcid is not None else dcid
            frames = _unprotect(datagram[pos:end], cursor - pos, version, key_id)
            if frames is not None:
                dcid_first = dcid_first if dcid_first is not None else key_id
                fragments.extend(frames)
        pos = end
    if dcid_first is None:
        return None
    return InitialCrypto(dcid=dcid_first, fragments=tuple(fragments))


def _unprotect(
    packet: bytes, pn_offset: int, version: int, dcid: bytes
) -> list[tuple[int, bytes]] | None:
    keys = client_initial_keys(version, dcid)
    sample = packet[pn_offset + 4 : pn_offset + 20]
    if len(sample) < 16:
        return None
    encryptor = Cipher(algorithms.AES(keys.hp), modes.ECB()).encryptor()
    mask = encryptor.update(sample) + encryptor.finalize()
    first = packet[0] ^ (mask[0] & 0x0F)
    pn_len = (first & 0x03) + 1
    pn_bytes = bytes(
        b ^ m for b, m in zip(packet[pn_offset : pn_offset + pn_len], mask[1:], strict=False)
    )
    header = bytes([first]) + packet[1:pn_offset] + pn_bytes
    packet_number = int.from_bytes(pn_bytes, "big")
    nonce = (int.from_bytes(keys.iv, "big") ^ packet_number).to_bytes(12, "big")
    try:
        plain = AESGCM(keys.key).decrypt(nonce, packet[pn_offset + pn_len :], header)
    except InvalidTag:
        return None
    return _crypto_frames(plain)


def _crypto_frames(plain: bytes) -> list[tuple[int, bytes]]:
    found: list[tuple[int, bytes]] = []
    pos = 0
    try:
        while pos < len(plain):
            frame_type = plain[pos]
            pos += 1
            if frame_type in (0x00, 0x01):  # PADDING, PING
                continue
            if frame_type in (0x02, 0x03):  # ACK
                _, pos = _varint(plain, pos)
                _, pos = _varint(plain, pos)
                count, pos = _varint(plain, pos)
                _, pos = _varint(plain, pos)
                for _ in range(count * 2):
                    _, pos = _varint(plain, pos)
                if frame_type == 0x03:
                    for _ in range(3):
                        _, pos = _varint(plain, pos)
            elif frame_type == 0x06:  # CRYPTO
                offset, pos = _varint(plain, pos)
                size, pos = _varint(plain, pos)
                found.append((offset, plain[pos : pos + size]))
                pos += size
            else:
                break  # CONNECTION_CLOSE or something an Initial should not carry
    except ValueError:
        pass
    return found
