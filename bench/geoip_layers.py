"""What the GeoLite2 City source costs the index build, against DB-IP country as the baseline.

Builds the GeoIP layer of each mmdb dataset in place (``RESIDENCY_DATA_DIR`` or the user
data directory) the way the locator's compile does, and prints seconds, nodes on disk and
layer ranges side by side, with geolite2-city as a ratio of dbip-country. Datasets that are
not in place are skipped with a line saying so; run ``residency data update`` first.
"""

from __future__ import annotations

import time

from residency.datasets.manifest import load_manifest
from residency.locate.index.layers import mmdb_country_layer
from residency.paths import dataset_dir

BASELINE = "dbip-country"
MEASURED = ("geo-whois-asn-country", "geolite2-city")


def main() -> None:
    directory = dataset_dir()
    manifest = load_manifest(directory)
    figures: dict[str, tuple[float, int, int]] = {}
    for dataset in (BASELINE, *MEASURED):
        entry = manifest.get(dataset)
        if entry is None:
            print(f"{dataset:<24} not in place in {directory}; skipped")
            continue
        began = time.perf_counter()
        builder = mmdb_country_layer(f"geoip:{dataset}", entry.version, entry.file_paths(directory))
        seconds = time.perf_counter() - began
        ranges = len(builder.v4) + len(builder.v6)
        figures[dataset] = (seconds, entry.size, ranges)
    base = figures.get(BASELINE)
    print(f"{'dataset':<24} {'layer build s':>13} {'MB on disk':>10} {'ranges':>10} {'x time':>7}")
    for dataset, (seconds, size, ranges) in figures.items():
        ratio = f"{seconds / base[0]:.2f}" if base else "-"
        print(f"{dataset:<24} {seconds:>13.1f} {size / 1e6:>10.1f} {ranges:>10} {ratio:>7}")


if __name__ == "__main__":
    main()
