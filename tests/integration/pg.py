"""A real PostgreSQL server (Debian's packages) on 127.0.0.1 for tests and benchmarks.

``start_postgres()`` runs initdb and postgres in a fresh temporary folder on a free
port. PostgreSQL refuses to run as root, so under root it runs as the ``postgres``
system user (``runuser``). ``PgServer.fresh_url()`` gives each test its own schema.

In tests use the fixtures ``postgres_server`` (session) and ``pg_url`` (a new schema)::

    from tests.integration.pg import pg_url, postgres_server  # noqa: F401
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support import require_binary, unavailable

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_user() -> list[str]:
    """The command prefix that drops root to the postgres user, if we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        unavailable("running as root and there is no 'postgres' system user")
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"]


@dataclass
class PgServer:
    port: int
    datadir: Path
    process: subprocess.Popen[bytes]
    command: list[str]

    @property
    def base_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def fresh_url(self) -> str:
        """A URL whose search_path is a new, empty schema: one isolated database per test."""
        schema = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        return f"{self.base_url}?options=-csearch_path%3D{schema}"

    def _signal_postmaster(self, sig: int) -> None:
        # runuser does not pass every signal on: signal the postmaster itself.
        try:
            pid = int((self.datadir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, sig)
        except (OSError, ValueError, IndexError):
            self.process.send_signal(sig)

    def pause(self) -> None:
        """Shut the server down (fast), keeping its data: the database "goes away"."""
        if self.process.poll() is None:
            self._signal_postmaster(signal.SIGINT)
            self.process.wait(timeout=30)
        self._wait_postmaster_gone()

    def _wait_postmaster_gone(self, timeout: float = 30.0) -> None:
        # The wrapper (runuser) can exit before the postmaster has removed its pid file;
        # starting again then fails with "another postmaster running" on the same datadir.
        pidfile = self.datadir / "postmaster.pid"
        deadline = time.monotonic() + timeout
        while pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def resume(self) -> None:
        """Start it again on the same port with the same data."""
        self._wait_postmaster_gone()
        log = open(self.datadir.parent / "server.log", "ab")  # noqa: SIM115 - lives with server
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=log)
        _wait_ready(self)

    def stop(self) -> None:
        if self.process.poll() is None:
            self._signal_postmaster(signal.SIGINT)  # fast shutdown: clients are cut off
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_postgres(durable: bool = False) -> PgServer:
    """initdb + postgres on a free 127.0.0.1 port; call ``stop()`` when done."""
    initdb = require_binary("initdb")
    postgres = str(Path(initdb).with_name("postgres"))
    if not Path(postgres).exists():
        postgres = require_binary("postgres")
    prefix = _as_user()
    root = Path(tempfile.mkdtemp(prefix="residency-pg-"))
    datadir = root / "data"
    if prefix:
        shutil.chown(root, "postgres", "postgres")
    init = subprocess.run(
        [
            *prefix,
            initdb,
            "-D",
            str(datadir),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        capture_output=True,
        check=False,
    )
    if init.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr.decode(errors='replace')[-800:]}")
    port = _free_port()
    settings = ["-c", "max_connections=60"]
    if not durable:
        settings += [
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
    command = [*prefix, postgres, "-D", str(datadir), "-p", str(port), "-h", "127.0.0.1"]
    command += ["-k", str(root), *settings]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "server.log", "wb"),  # noqa: SIM115 - lives as long as the server
    )
    server = PgServer(port, datadir, process, command)
    _wait_ready(server)
    return server


def _wait_ready(server: PgServer) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(server.base_url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                log = (server.datadir.parent / "server.log").read_text(errors="replace")[-800:]
                server.stop()
                raise RuntimeError(f"postgres did not start: {log}") from None
            time.sleep(0.1)


_shared: PgServer | None = None
_users = 0


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """One server for the whole session, however many modules import this fixture
    (each import makes its own session fixture; they share the server)."""
    global _shared, _users
    if _shared is None:
        _shared = start_postgres()
    _users += 1
    try:
        yield _shared
    finally:
        _users -= 1
        if _users == 0:
            _shared.stop()
            _shared = None


@pytest.fixture
def pg_url(postgres_server: PgServer) -> str:
    return postgres_server.fresh_url()
