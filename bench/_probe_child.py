"""One arm of bench/probe.py, in its own process so its CPU time is its own.

``python bench/_probe_child.py TREE ARM PORT COUNT WORKERS ROUNDS`` prints one JSON line: the
best wall time and the best CPU time (``resource.getrusage(RUSAGE_SELF)``, user + system) of
ROUNDS rounds over COUNT endpoints (after a warm-up; ROUNDS 0: one cold round, no warm-up),
and how many endpoints came back complete. TREE
goes first on ``sys.path``, so ``--before REF`` measures that revision's ``residency``.

ARM is ``residency`` (``Prober.probe_many`` with tls+http at concurrency WORKERS) or a floor
with no residency code: ``bare-blocking`` (one endpoint after another: ``ssl`` handshake
with SNI, leaf read with ``cryptography``, HEAD on the connection, headers read) or
``bare-selector`` (the same steps, WORKERS at once, non-blocking in one thread) or
``bare-pyopenssl`` (``bare-blocking`` on the OpenSSL that ``cryptography`` bundles).
"""

from __future__ import annotations

import errno
import json
import resource
import selectors
import socket
import ssl
import sys
import time
from collections.abc import Callable, Generator

from cryptography.hazmat.primitives.serialization import Encoding

_DER = Encoding.DER


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _read_leaf(der: bytes) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_der_x509_certificate(der)
    cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    cert.extensions.get_extension_for_class(x509.CertificatePolicies)
    cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    cert.issuer.rfc4514_string()
    _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)


def _request(i: int) -> bytes:
    return (
        b"HEAD / HTTP/1.1\r\nHost: n%d.bench.test\r\nAccept: */*\r\nConnection: close\r\n\r\n" % i
    )


def _bare_blocking(port: int, count: int, _workers: int) -> int:
    context = ssl.create_default_context()
    done = 0
    for i in range(count):
        raw = socket.create_connection(("127.0.0.1", port), timeout=3)
        with context.wrap_socket(raw, server_hostname=f"n{i}.bench.test") as tls:
            _read_leaf(tls.getpeercert(binary_form=True))
            tls.sendall(_request(i))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                data += chunk
            done += data.startswith(b"HTTP/1.1 200")
    return done


def _bare_pyopenssl(port: int, count: int, _workers: int) -> int:
    """``_bare_blocking`` through pyOpenSSL, i.e. the newer OpenSSL that ``cryptography``
    bundles instead of the system's (-1 when pyOpenSSL is not installed)."""
    import os

    try:
        from OpenSSL import SSL
    except ImportError:
        return -1
    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    context.load_verify_locations(os.environ["SSL_CERT_FILE"])
    context.set_verify(SSL.VERIFY_PEER, None)
    done = 0
    for i in range(count):
        name = f"n{i}.bench.test"
        with socket.create_connection(("127.0.0.1", port), timeout=3) as raw:
            raw.settimeout(None)
            tls = SSL.Connection(context, raw)
            tls.set_tlsext_host_name(name.encode())
            tls.set_connect_state()
            tls.do_handshake()
            certificate = tls.get_peer_certificate(as_cryptography=True)
            assert certificate is not None
            _read_leaf(certificate.public_bytes(_DER))
            tls.sendall(_request(i))
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    chunk = tls.recv(65536)
                except SSL.ZeroReturnError:
                    break
                if not chunk:
                    break
                data += chunk
            done += data.startswith(b"HTTP/1.1 200")
            tls.close()
    return done


def _bare_selector(port: int, count: int, workers: int) -> int:
    context = ssl.create_default_context()
    Step = Generator[tuple[socket.socket, int], None, bool]

    def one(i: int) -> Step:
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setblocking(False)
        if raw.connect_ex(("127.0.0.1", port)) in (errno.EINPROGRESS, errno.EAGAIN):
            yield raw, selectors.EVENT_WRITE
        tls = context.wrap_socket(
            raw, server_hostname=f"n{i}.bench.test", do_handshake_on_connect=False
        )
        with tls:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    yield tls, selectors.EVENT_READ
                except ssl.SSLWantWriteError:
                    yield tls, selectors.EVENT_WRITE
            _read_leaf(tls.getpeercert(binary_form=True))
            tls.send(_request(i))
            data = b""
            while b"\r\n\r\n" not in data:
                try:
                    chunk = tls.recv(65536)
                except ssl.SSLWantReadError:
                    yield tls, selectors.EVENT_READ
                    continue
                if not chunk:
                    break
                data += chunk
        return data.startswith(b"HTTP/1.1 200")

    selector = selectors.DefaultSelector()
    pending = iter(range(count))
    active, done = 0, 0

    def advance(steps: Step) -> None:
        nonlocal active, done
        try:
            sock, event = next(steps)
        except StopIteration as end:
            active -= 1
            done += end.value
            return
        selector.register(sock, event, steps)

    while True:
        while active < workers:
            i = next(pending, None)
            if i is None:
                break
            active += 1
            advance(one(i))
        if not active:
            return done
        for key, _ in selector.select(3):
            selector.unregister(key.fileobj)
            advance(key.data)


def _residency(port: int, count: int, workers: int) -> int:
    from residency.model import Confidence, Endpoint, EndpointResult, IpFacts, Location
    from residency.probe import Prober, ProbeSettings

    facts = IpFacts(ip="127.0.0.1", routable=False, location=Location(None, Confidence.NONE, "-"))
    results = [
        EndpointResult(Endpoint(f"n{i}.bench.test", f"n{i}.bench.test"), (), (facts,))
        for i in range(count)
    ]
    # The per-address rate is lifted: all N names share one loopback address here, which a
    # real audit does not.
    settings = ProbeSettings(
        kinds=("tls", "http"), port=port, rate=1e9, total=600, concurrency=workers
    )
    prober = Prober(settings)
    try:
        done = prober.probe_many(results)
    finally:
        prober.close()
    return sum(1 for r in done if [p.outcome for p in r.probes] == ["ok", "ok"])


ARMS: dict[str, Callable[[int, int, int], int]] = {
    "residency": _residency,
    "bare-blocking": _bare_blocking,
    "bare-selector": _bare_selector,
    "bare-pyopenssl": _bare_pyopenssl,
}


def main() -> int:
    tree, arm = sys.argv[1], sys.argv[2]
    port, count, workers, rounds = map(int, sys.argv[3:7])
    sys.path.insert(0, tree)
    run = ARMS[arm]
    if rounds:  # 0: cold, one round in a fresh process, lazy loads and all
        run(port, min(count, 20), workers)  # warm-up: lazy imports, the airport table
    wall, cpu, ok = float("inf"), float("inf"), 0
    for _ in range(max(rounds, 1)):
        start, used = time.perf_counter(), _cpu()
        ok = run(port, count, workers)
        wall, cpu = min(wall, time.perf_counter() - start), min(cpu, _cpu() - used)
    print(json.dumps({"wall": wall, "cpu": cpu, "ok": ok}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
