"""The offline demo (``make demo``): a real DNS server on 127.0.0.1, then a real audit through it.

It starts Knot DNS on a free port serving the zones in ``data/demo/zones`` (a fictional
phone maker and its payments arm, pointed at real addresses in real cloud regions) and a
local TLS server standing in for their services (``tls_server.py``), then runs

1. ``residency audit --nameserver 127.0.0.1:PORT --policy defence-personnel --probe tls,http
   --probe-connect-to ::127.0.0.1:TLSPORT data/demo/endpoints.txt``: location, host operator
   and controller (from the services' certificates) judged together; the probes go to the
   local server only, never to the real addresses;
2. the same endpoints under ``india-payments`` (no probes);
3. who controls three third parties with DV certificates (``data/demo/control-endpoints.txt``)
   and who owns those, from the domain-owner evidence, under ``eu-sovereign``: the name on
   the AWS European Sovereign Cloud fails on its ultimate parent, Amazon.com, Inc. (US);
4. what clients in India and in the US are served for a geo-steered name (EDNS Client
   Subnet),

all through the same resolver code path as a live audit (UDP and, for the large answer,
TCP), and stops the servers.

This module is an entry point like ``cli.py``: it prints and returns an exit status.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from residency.demo.knot import KnotServer, Zone, find_binary, zones_from_dir
from residency.demo.tls_server import DemoTlsServer
from residency.errors import ResidencyError
from residency.paths import project_data_dir

GEO_ZONE = "kitephone.demo.residency.test."
GEO_NAME = "app.kitephone.demo.residency.test"
GEO_ANSWER_IN = "52.66.98.41"  # AWS ap-south-1 (Mumbai), from the published AWS ranges
POLICY = "india-payments.toml"
PROBED_POLICY = "defence-personnel.toml"
CONTROL_POLICY = "eu-sovereign.toml"
PACKAGES = ("knot", "knot-module-geoip")


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def geoip_module_present() -> bool:
    return bool(glob.glob("/usr/lib/*/knot/modules-*/geoip.so"))


def ensure_knot() -> bool:
    """Knot (and its geoip module) present, installing them with apt-get when root."""
    if find_binary("knotd") and geoip_module_present():
        return True
    can_install = hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get")
    if can_install:
        say(f"installing the DNS server: apt-get install -y {' '.join(PACKAGES)}")
        done = subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
        if done.returncode != 0:
            say("apt-get failed; trying with what is installed")
    if find_binary("knotd") is None:
        say(
            "the demo needs Knot DNS on this machine: "
            f"sudo apt-get install {' '.join(PACKAGES)} (Debian/Ubuntu), then make demo"
        )
        return False
    return True


def india_prefix(data_dir: str | None) -> str | None:
    """The client subnet the audit sends for ``--vantage IN`` (from the country data)."""
    try:
        from residency.locate.locator import Locator

        locator = Locator.load(Path(data_dir) if data_dir else None)
        return locator.prefix_for_country("IN")
    except (ImportError, ResidencyError, OSError) as err:
        say(f"no vantage comparison: cannot load the country data ({err})")
        return None


def with_geo_rules(zones: list[Zone], prefix: str | None) -> list[Zone]:
    """Add the ECS rule: clients in ``prefix`` (India) get the Mumbai address for app."""
    if prefix is None:
        return zones
    if not geoip_module_present():
        say("no vantage comparison: Knot's geoip module (knot-module-geoip) is missing")
        return zones
    rules = f"{GEO_NAME}:\n  - net: {prefix}\n    A: {GEO_ANSWER_IN}\n"
    return [Zone(z.origin, z.text, ecs=rules) if z.domain == GEO_ZONE else z for z in zones]


def audit(args: list[str], env: dict[str, str] | None = None) -> int:
    command = [sys.executable, "-m", "residency", "audit", *args]
    return subprocess.run(command, check=False, env=env).returncode


def probed_audit(nameserver: str, tls: DemoTlsServer, extra: list[str]) -> int:
    """The controller audit: probes to the local TLS server, which only this run trusts."""
    say(
        f"demo TLS server on 127.0.0.1:{tls.port} stands in for every endpoint "
        f"(--probe-connect-to {tls.connect_to}); judged by {PROBED_POLICY}"
    )
    env = {**os.environ, "SSL_CERT_FILE": str(tls.ca_file)}
    return audit(
        [
            "--nameserver",
            nameserver,
            "--policy",
            str(project_data_dir() / "policies" / PROBED_POLICY),
            "--probe",
            "tls,http",
            "--probe-connect-to",
            tls.connect_to,
            "--probe-timeout",
            "2",
            *extra,
            str(project_data_dir() / "demo" / "endpoints.txt"),
        ],
        env=env,
    )


def control_audit(nameserver: str, tls: DemoTlsServer, extra: list[str]) -> int:
    """Who controls it: third parties with DV certificates, their controller and owners from
    the domain-owner evidence, one of them on the AWS European Sovereign Cloud, judged by
    eu-sovereign (no operator or controller whose ultimate parent is under US law)."""
    say(f"who controls them, and who owns those: judged by {CONTROL_POLICY}")
    env = {**os.environ, "SSL_CERT_FILE": str(tls.ca_file)}
    return audit(
        [
            "--nameserver",
            nameserver,
            "--policy",
            str(project_data_dir() / "policies" / CONTROL_POLICY),
            "--probe",
            "tls",
            "--probe-connect-to",
            tls.connect_to,
            "--probe-timeout",
            "2",
            *extra,
            str(project_data_dir() / "demo" / "control-endpoints.txt"),
        ],
        env=env,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m residency.demo",
        description="Audit the demo endpoints through a local DNS server (no internet needed).",
    )
    parser.add_argument("--data-dir", help="dataset directory (default: the usual one)")
    parser.add_argument("--no-vantage", action="store_true", help="skip the ECS comparison")
    parser.add_argument(
        "audit_args", nargs="*", help="extra options for residency audit (after --), e.g. --json"
    )
    options = parser.parse_args(argv)
    demo = project_data_dir() / "demo"
    if not ensure_knot():
        return 2
    zones = zones_from_dir(demo / "zones")
    prefix = None if options.no_vantage else india_prefix(options.data_dir)
    zones = with_geo_rules(zones, prefix)
    common = ["--data-dir", options.data_dir] if options.data_dir else []
    with tempfile.TemporaryDirectory(prefix="residency-demo-") as workdir:
        try:
            server = KnotServer(Path(workdir), zones).start()
        except ResidencyError as err:
            say(str(err))
            return 2
        tls = DemoTlsServer(Path(workdir)).start()
        try:
            say(f"Knot DNS serving {len(zones)} demo zones on {server.address}")
            status = probed_audit(server.address, tls, [*common, *options.audit_args])
            if status not in (0, 1):
                return status
            say(f"the same endpoints under the second example policy, {POLICY}:")
            status = audit(
                [
                    "--nameserver",
                    server.address,
                    "--policy",
                    str(project_data_dir() / "policies" / POLICY),
                    *common,
                    *options.audit_args,
                    str(demo / "endpoints.txt"),
                ]
            )
            if status not in (0, 1):
                return status
            status = control_audit(server.address, tls, [*common, *options.audit_args])
            if status not in (0, 1):
                return status
            if prefix is not None and any(z.ecs for z in zones):
                say(
                    f"what clients in India (ECS {prefix}) and in the US are served for {GEO_NAME}:"
                )
                status = audit(
                    [
                        "--nameserver",
                        server.address,
                        "--vantage",
                        "IN",
                        "--vantage",
                        "US",
                        *common,
                        *options.audit_args,
                        GEO_NAME,
                    ]
                )
                if status not in (0, 1):
                    return status
        finally:
            tls.stop()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
