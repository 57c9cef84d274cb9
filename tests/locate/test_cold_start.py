"""A cold ``residency ip`` imports only what one lookup needs (issue 12: <= 120 ms).

httpx (and the rich it pulls in), numpy, sqlite and logging are each milliseconds of
start-up; a single lookup without --rdap uses none of them. Nor does it build the model
types of the other stages (each frozen dataclass is about 0.8 ms), parse TOML (the
providers table is read from its cache beside the index), or import the sources table,
geofeed discovery or GeoIP layout modules. A structural check, not a timed one (the
figures are in bench/locate.py). A fresh interpreter is needed: the test process has
imported everything already."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

#: Modules a plain ``residency ip --data-dir DIR ADDRESS`` must not import (platformdirs,
#: and the tempfile/shutil it pulls in, only find the default data directory).
NOT_FOR_ONE_LOOKUP = (
    "httpx",
    "rich",
    "numpy",
    "sqlite3",
    "logging",
    "importlib.resources",
    "platformdirs",
    "tempfile",
    # made lazy for issue 12's margin (bench/locate.py has the figures)
    "residency.model.audit",
    "residency.model.endpoints",
    "residency.model.probes",
    "residency.model.resolution",
    "tomllib",
    "residency.datasets.sources",
    "residency.locate.registration.geofeed_discovery",
    "residency.locate.index.mmdb_layout",
    "residency.locate.registration.rdap_client",
    "residency.locate.registration.rdap_parse",
    "residency.locate.index.summary",
    "_hashlib",  # OpenSSL: residency.digest uses CPython's own SHA-256
    "socket",  # residency.addresses takes inet_pton from _socket
)

_PROBE = """
import json, sys
from residency.cli import cli
try:
    cli.main(["ip", "--data-dir", sys.argv[1], "13.228.0.1"], standalone_mode=False)
finally:
    print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_plain_ip_lookup_imports_no_http_rich_numpy_or_logging(small_dataset: Path) -> None:
    subprocess.run(  # first run compiles the index if needed (that path may use numpy)
        # and writes the providers cache
        [sys.executable, "-c", _PROBE, str(small_dataset)],
        capture_output=True,
        check=True,
    )
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(small_dataset)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "RESIDENCY_GEOIP": ""},
    )
    assert "13.228.0.1" in done.stdout
    loaded = set(json.loads(done.stderr.strip().splitlines()[-1]))
    assert not [m for m in NOT_FOR_ONE_LOOKUP if m in loaded]
    assert "residency.model.facts" in loaded  # the check above looks at the right names
