"""A real authoritative DNS server (Knot DNS) on 127.0.0.1, for the offline demo and the tests.

Knot is used because, with its ``geoip`` module in ``mode: subnet``, it answers
differently depending on the EDNS Client Subnet a query carries (BIND 9.18 as packaged
has no ECS view matching), and it covers every other case the tests need: NXDOMAIN,
NODATA, SERVFAIL (a zone whose file fails to load), REFUSED (a zone it is not
authoritative for), truncation over UDP, CNAME loops and HTTPS records.

The server runs in the foreground as a child process with everything (configuration,
zone files, control socket, log) in one work directory; ``stop()`` ends it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

from residency.resolve.errors import LocalServerError

#: Where Debian puts the daemons; searched after PATH.
SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str) -> str | None:
    """The path of ``name`` on PATH or in the sbin directories, or None."""
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN_DIRS)
    return shutil.which(name, path=path)


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free for both UDP and TCP on ``host`` right now."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise LocalServerError(f"no free UDP+TCP port on {host}")


@dataclass(frozen=True)
class Zone:
    """One zone the server is authoritative for.

    ``text`` is a zone file (names may be relative to ``origin``). ``ecs`` is optional
    Knot ``geoip`` module configuration in ``mode: subnet`` (YAML: owner name -> list of
    ``{net: CIDR, A: ..., AAAA: ..., CNAME: ...}``); queries carrying an EDNS Client
    Subnet inside one of the nets get that answer instead of the zone's.
    """

    origin: str
    text: str
    ecs: str | None = None

    @property
    def domain(self) -> str:
        return self.origin.rstrip(".").lower() + "."

    @property
    def file_stem(self) -> str:
        return self.domain.rstrip(".") or "root"

    def expected_serial(self) -> int | None:
        """The SOA serial the zone file declares (first SOA record), or None without one."""
        match = _SOA_SERIAL.search(_COMMENT.sub("", self.text))
        return int(match.group(1)) if match else None


#: ``SOA mname rname serial``, possibly with the rest on following lines.
_SOA_SERIAL = re.compile(r"\bSOA\s+\S+\s+\S+\s+\(?\s*(\d+)", re.IGNORECASE)
_COMMENT = re.compile(r";[^\n]*")


def zones_from_dir(directory: Path) -> list[Zone]:
    """Zones from ``<origin>.zone`` files, each with an optional ``<origin>.ecs.yaml``."""
    zones = []
    for path in sorted(directory.glob("*.zone")):
        origin = path.name[: -len(".zone")]
        ecs_path = path.with_name(origin + ".ecs.yaml")
        ecs = ecs_path.read_text(encoding="utf-8") if ecs_path.exists() else None
        zones.append(Zone(origin=origin, text=path.read_text(encoding="utf-8"), ecs=ecs))
    return zones


class KnotServer:
    """Knot DNS serving ``zones`` on ``host:port`` (a free port unless given).

    Use as a context manager, or call ``start()`` and ``stop()``. ``set_zone()`` adds or
    replaces a zone; while running it reloads and waits until the new serial is served.
    """

    def __init__(
        self,
        workdir: Path,
        zones: list[Zone] | tuple[Zone, ...] = (),
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        binary: str | None = None,
        udp_max_payload: int = 1232,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port or 0
        self.udp_max_payload = udp_max_payload
        self._binary = binary
        self._zones: dict[str, Zone] = {z.domain: z for z in zones}
        self._process: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ properties

    @property
    def address(self) -> str:
        """``ADDR:PORT``, as ``--nameserver`` takes it."""
        return f"{self.host}:{self.port}"

    @property
    def zones(self) -> tuple[Zone, ...]:
        return tuple(self._zones.values())

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_path(self) -> Path:
        return self.workdir / "knotd.log"

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ------------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 15.0) -> KnotServer:
        if self.running:
            return self
        binary = self._binary or find_binary("knotd")
        if binary is None:
            raise LocalServerError("knotd (Debian package 'knot') is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port(self.host)
        self._write_all()
        log = self.log_path.open("wb")
        try:
            self._process = subprocess.Popen(
                [binary, "-c", str(self.workdir / "knot.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
            )
        finally:
            log.close()
        try:
            self._wait_until_serving(timeout)
        except LocalServerError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> KnotServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ----------------------------------------------------------------------- zones

    def set_zone(self, zone: Zone, timeout: float = 10.0) -> None:
        """Add or replace a zone; when running, reload and wait until it is served."""
        self._zones[zone.domain] = zone
        if self.running:
            self._write_all()
            self._knotc("reload")
            self._knotc("zone-reload", zone.domain)
            self._wait_until_serving(timeout, only=(zone,))

    def remove_zone(self, origin: str) -> None:
        domain = origin.rstrip(".").lower() + "."
        if self._zones.pop(domain, None) is not None and self.running:
            self._write_all()
            self._knotc("reload")

    # -------------------------------------------------------------------- internals

    def _write_all(self) -> None:
        zone_dir = self.workdir / "zones"
        zone_dir.mkdir(parents=True, exist_ok=True)
        for zone in self._zones.values():
            (zone_dir / f"{zone.file_stem}.zone").write_text(zone.text, encoding="utf-8")
            if zone.ecs is not None:
                (zone_dir / f"{zone.file_stem}.ecs.yaml").write_text(zone.ecs, encoding="utf-8")
        (self.workdir / "knot.conf").write_text(self._config(), encoding="utf-8")

    def _config(self) -> str:
        wd = self.workdir
        lines = [
            "server:",
            f'    rundir: "{wd}"',
            f"    listen: {self.host}@{self.port}",
            "    edns-client-subnet: on",
            f"    udp-max-payload: {self.udp_max_payload}",
            "log:",
            "  - target: stderr",
            "    any: info",
            "database:",
            f'    storage: "{wd / "db"}"',
            "control:",
            f'    listen: "{wd / "knot.sock"}"',
            "template:",
            "  - id: default",
            f'    storage: "{wd / "zones"}"',
            "    zonefile-load: whole",
            "    journal-content: none",
            "    zonefile-sync: -1",
            "    semantic-checks: off",
        ]
        ecs_zones = [z for z in self._zones.values() if z.ecs is not None]
        if ecs_zones:
            lines.append("mod-geoip:")
            for zone in ecs_zones:
                lines += [
                    f'  - id: "ecs-{zone.file_stem}"',
                    f'    config-file: "{wd / "zones" / (zone.file_stem + ".ecs.yaml")}"',
                    "    mode: subnet",
                    "    ttl: 60",
                ]
        lines.append("zone:")
        for zone in self._zones.values():
            lines += [f'  - domain: "{zone.domain}"', f'    file: "{zone.file_stem}.zone"']
            if zone.ecs is not None:
                lines.append(f'    module: "mod-geoip/ecs-{zone.file_stem}"')
        return "\n".join(lines) + "\n"

    def _knotc(self, *args: str) -> None:
        knotc = find_binary("knotc")
        if knotc is None:
            raise LocalServerError("knotc (Debian package 'knot') is not installed")
        done = subprocess.run(
            [knotc, "-s", str(self.workdir / "knot.sock"), "-t", "10", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).strip().splitlines()
            raise LocalServerError(
                f"knotc {' '.join(args)} failed: {detail[-1] if detail else done.returncode}"
            )

    def _wait_until_serving(self, timeout: float, only: tuple[Zone, ...] | None = None) -> None:
        """Poll each loadable zone's SOA until its expected serial is served."""
        deadline = time.monotonic() + timeout
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        pending = {
            zone.domain: serial
            for zone in (only if only is not None else self._zones.values())
            if (serial := zone.expected_serial()) is not None
        }
        probe_listening = not pending
        while pending or probe_listening:
            if self._process is not None and self._process.poll() is not None:
                raise LocalServerError(
                    f"knotd exited with status {self._process.returncode}: {self.log_tail(5)}"
                )
            if time.monotonic() > deadline:
                waiting = ", ".join(sorted(pending)) or "a first answer"
                raise LocalServerError(
                    f"knotd on {self.address} did not serve {waiting} within {timeout:.0f}s: "
                    f"{self.log_tail(5)}"
                )
            failed = self._failed_zones(log_start) if pending else set()
            for domain, serial in list(pending.items()):
                if domain in failed or self._served_serial(domain) == serial:
                    del pending[domain]
            if probe_listening and self._served_serial(".") is not False:
                probe_listening = False
            if pending or probe_listening:
                time.sleep(0.05)

    def _failed_zones(self, since: int) -> set[str]:
        """Zones knotd reported (after log offset ``since``) it could not load."""
        found: set[str] = set()
        try:
            with self.log_path.open("rb") as log:
                log.seek(since)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return found
        for line in text.splitlines():
            if "failed to" in line and "] " in line and "[" in line:
                found.add(line[line.index("[") + 1 : line.index("] ")].lower())
        return found

    def _served_serial(self, domain: str) -> int | bool | None:
        """The SOA serial served for ``domain``; None if it answers without one, False if silent."""
        query = dns.message.make_query(domain, dns.rdatatype.SOA)
        with contextlib.suppress(OSError, dns.exception.DNSException):
            reply = dns.query.udp(query, self.host, port=self.port, timeout=0.3)
            if reply.rcode() == dns.rcode.NOERROR:
                for rrset in reply.answer:
                    if rrset.rdtype == dns.rdatatype.SOA:
                        return int(rrset[0].serial)
            return None
        return False
