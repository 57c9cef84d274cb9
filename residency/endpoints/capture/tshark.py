"""Names inside decrypted TLS: the HTTP Host and HTTP/2 ``:authority`` of each connection
whose keys a pcapng Decryption Secrets Block holds, read by Debian's tshark.

residency does not decrypt TLS itself. tshark reads the secrets from the pcapng file on
its own; it runs bounded (a deadline, a cap on its output, no shell, the file passed as
one argument) and its tab-separated fields are parsed here. Without tshark, or when it
fails, the result says why, and the capture is read as before (SNI and plain HTTP).
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import IO

from residency.endpoints.capture.analyse import host_of_authority

#: How long tshark may take over one capture, and how much it may print.
TIMEOUT = 120.0
OUTPUT_CAP = 8 * 1024 * 1024
#: What tshark shows: frames with HTTP inside TLS that name a host (decrypted, or they
#: would carry no HTTP).
DISPLAY_FILTER = "tls and (http.host or http2.headers.authority)"
FIELDS = (
    "frame.time_epoch",
    "ip.src",
    "ipv6.src",
    "tcp.srcport",
    "ip.dst",
    "ipv6.dst",
    "tcp.dstport",
    "http.host",
    "http2.headers.authority",
)
HTTP_HOST = "decrypted TLS: HTTP Host"
H2_AUTHORITY = "decrypted TLS: HTTP/2 :authority"


@dataclass(frozen=True)
class DecryptedName:
    """A host name an HTTP request named inside a decrypted TLS connection."""

    raw: str  # as the request wrote it (untrusted), without a port
    client: str
    client_port: int
    server: str
    server_port: int
    when: float
    how: str  # HTTP_HOST or H2_AUTHORITY


@dataclass(frozen=True)
class Decrypted:
    """What tshark read, or why nothing was read (``unread``: "tshark not found", ...)."""

    names: tuple[DecryptedName, ...] = ()
    unread: str = ""
    truncated: bool = False  # the output cap was reached: the names read are kept


def _address(text: str) -> str | None:
    try:
        return ipaddress.ip_address(text.strip()).compressed
    except ValueError:
        return None


def parse_fields(text: str) -> list[DecryptedName]:
    """tshark's ``-T fields`` lines (``FIELDS``, tab-separated, several values of one field
    joined by spaces) -> names; a line that does not fit is skipped."""
    found: list[DecryptedName] = []
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != len(FIELDS):
            continue
        when, src4, src6, sport, dst4, dst6, dport, hosts, authorities = parts
        client, server = _address(src4 or src6), _address(dst4 or dst6)
        if client is None or server is None or not sport.isdigit() or not dport.isdigit():
            continue
        try:
            at = float(when)
        except ValueError:
            continue
        for values, how in ((hosts, HTTP_HOST), (authorities, H2_AUTHORITY)):
            for value in dict.fromkeys(values.split()):
                raw = host_of_authority(value.strip())
                if raw:
                    found.append(
                        DecryptedName(raw, client, int(sport), server, int(dport), at, how)
                    )
    return found


def find_tshark() -> str | None:
    return shutil.which("tshark")


def _drain(stream: IO[bytes], into: bytearray, cap: int, over: threading.Event) -> None:
    """Read a pipe into ``into`` until it closes or holds ``cap`` bytes (then ``over``)."""
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            return
        room = cap - len(into)
        into += chunk[: max(0, room)]
        if len(chunk) > room:
            over.set()
            return


def decrypted_names(path: str, timeout: float | None = None, cap: int | None = None) -> Decrypted:
    """The names in the decrypted TLS of the capture at ``path`` (a pcapng file whose
    Decryption Secrets Blocks hold the keys), by tshark; never raises."""
    tshark = find_tshark()
    if tshark is None:
        return Decrypted(unread="tshark not found")
    timeout = TIMEOUT if timeout is None else timeout
    cap = OUTPUT_CAP if cap is None else cap
    command = [tshark, "-n", "-r", path, "-Y", DISPLAY_FILTER, "-T", "fields"]
    command += ["-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=/s"]
    for field in FIELDS:
        command += ["-e", field]
    try:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # never the terminal's signals; ended by its pid only
        )
    except OSError as err:
        return Decrypted(unread=f"tshark could not start ({err.strerror or err})")
    out, err_text = bytearray(), bytearray()
    over = threading.Event()
    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=_drain, args=(proc.stdout, out, cap, over), daemon=True),
        threading.Thread(
            target=_drain, args=(proc.stderr, err_text, 4096, threading.Event()), daemon=True
        ),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    readers[0].join(timeout)  # until tshark closes its output, fills the cap, or time is up
    if over.is_set():
        proc.kill()
    try:
        proc.wait(max(0.1, deadline - time.monotonic()))
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        proc.kill()
        proc.wait()
    for reader in readers:
        reader.join(1)
    proc.stdout.close()
    proc.stderr.close()
    names = tuple(parse_fields(out.decode("utf-8", "replace")))
    if timed_out:
        return Decrypted(names, unread=f"tshark did not finish within {timeout:g} s")
    if proc.returncode != 0 and not over.is_set():
        lines = [x for x in err_text.decode("utf-8", "replace").splitlines() if x.strip()]
        last = next((x for x in reversed(lines) if "Running as user" not in x), "")
        return Decrypted(names, unread=f"tshark failed (exit {proc.returncode}): {last[:200]}")
    return Decrypted(names, truncated=over.is_set())
