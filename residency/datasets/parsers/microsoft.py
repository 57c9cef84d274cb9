"""Microsoft's ``geoloc-Microsoft.csv``: a geofeed in Microsoft's own shape, not strict RFC 8805.

The file starts with a header row, ``IP Range,Country,Region,City,Postal Code``, and
writes city names in upper case (``AMSTERDAM``, ``SAN ANTONIO``). The parser accepts
exactly that shape: the header must be the first row (a file without it is not this
feed), and an all-upper-case city is normalised to title case (``San Antonio``,
``Winston-Salem``) so it reads like every other source's city. Every row is then
checked like any geofeed row (see ``geofeed.py``): bad prefixes, unknown countries
and regions that are not ISO 3166-2 codes of the country are dropped and counted.
"""

from __future__ import annotations

import csv
import io
import re

from residency.datasets.errors import FeedInvalid
from residency.datasets.interface import ParsedFeed
from residency.datasets.parsers._common import decode_text
from residency.datasets.parsers.geofeed import check_geofeed

DATASET = "microsoft-geofeed"
PROVIDER = "microsoft"
HEADER = ("ip range", "country", "region", "city")
_WORD = re.compile(r"[^\W\d_]+")
_POSSESSIVE = re.compile(r"(?<=[^\W\d_])'S\b")


def normalise_city(city: str) -> str:
    """``SAN ANTONIO`` -> ``San Antonio``; a city already in mixed case is kept as written."""
    city = city.strip()
    if not city or city != city.upper():
        return city
    # Each run of letters is capitalised ("O'FALLON" -> "O'Fallon", "WINSTON-SALEM" ->
    # "Winston-Salem"), except a possessive 's ("DUN LAOGHAIRE'S" -> "Dun Laoghaire's").
    titled = _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), city)
    return _POSSESSIVE.sub("'s", titled)


def parse(data: bytes) -> ParsedFeed:
    """Parse geoloc-Microsoft.csv; ``FeedInvalid`` naming the dataset for any other shape."""
    text = decode_text(DATASET, data)
    stripped = text.lstrip()
    if stripped[:1] == "<":
        raise FeedInvalid(f"{DATASET}: got HTML/XML, not the geoloc-Microsoft.csv file")
    lines = text.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        raise FeedInvalid(f"{DATASET}: the file is empty")
    header = tuple(c.strip().lower() for c in next(csv.reader([lines[first]])))
    if header[: len(HEADER)] != HEADER:
        raise FeedInvalid(
            f"{DATASET}: first row is not the 'IP Range,Country,Region,City,Postal Code' "
            "header; not geoloc-Microsoft.csv?"
        )
    # Rewrite as RFC 8805 with the same line numbers: the header becomes a comment, and
    # each row's city is normalised. A last line without its newline stays without it,
    # so the geofeed check still sees a download cut short.
    out = io.StringIO()
    for number, line in enumerate(lines):
        if number <= first or not line.strip() or line.lstrip().startswith("#"):
            out.write("#\n" if number == first else line)
            continue
        ending = line[len(line.rstrip("\r\n")) :]
        fields = next(csv.reader([line.rstrip("\r\n")]))
        if len(fields) >= 4:
            fields[3] = normalise_city(fields[3])
        row = io.StringIO()
        csv.writer(row, lineterminator="").writerow(fields)
        out.write(row.getvalue() + ending)
    return check_geofeed(out.getvalue().encode(), dataset=DATASET, provider=PROVIDER)[0]
