"""Feed parsers, one module per format; ``PARSERS`` maps dataset id -> parse function.

Every parser takes the raw bytes of one downloaded file and returns a
``ParsedFeed``, raising ``FeedInvalid`` (message starting with the dataset id)
for truncated, empty or wrong-format input. The registry is written out here,
never filled in as a side effect of importing a module.
"""

from __future__ import annotations

from residency.datasets.interface import Parser
from residency.datasets.parsers import (
    aws,
    azure,
    bgptools_anycast,
    cloudflare,
    cloudip,
    fastly,
    gcp,
    github,
    google,
    ipdb_asn,
    microsoft,
    oracle,
)
from residency.datasets.parsers.geofeed import make_geofeed_parser

PARSERS: dict[str, Parser] = {
    "aws-ip-ranges": aws.parse,
    "gcp-cloud": gcp.parse,
    "google-goog": google.parse,
    "azure-service-tags": azure.parse,
    "oracle-ip-ranges": oracle.parse,
    "cloudflare-ips": cloudflare.parse,
    "fastly-ip-list": fastly.parse,
    "github-meta": github.parse,
    "aws-geofeed": make_geofeed_parser("aws-geofeed", "aws"),
    "gcp-geofeed": make_geofeed_parser("gcp-geofeed", "gcp"),
    "microsoft-geofeed": microsoft.parse,
    "digitalocean-geofeed": make_geofeed_parser("digitalocean-geofeed", "digitalocean"),
    "linode-geofeed": make_geofeed_parser("linode-geofeed", "linode"),
    "vultr-geofeed": make_geofeed_parser("vultr-geofeed", "vultr"),
    # a geofeed URL the user adds, owner unknown
    "geofeed": make_geofeed_parser("geofeed", None),
    "cloudip": cloudip.parse,
    "ipdb-asn": ipdb_asn.parse,
    "bgptools-anycast": bgptools_anycast.parse,
}

__all__ = ["PARSERS", "make_geofeed_parser"]
