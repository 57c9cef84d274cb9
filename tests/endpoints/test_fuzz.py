"""Property tests: the input parsers raise only their own typed errors, whatever the input."""

from __future__ import annotations

import contextlib
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from residency.endpoints import InputError, read_stream
from residency.endpoints.errors import InvalidEntry
from residency.endpoints.normalise import canonical_name, normalise_host

_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_ZONEISH = st.text(alphabet='abc.$ORIGINGENERATETL ()";\\\n0123456789-A', max_size=200)


@_FAST
@given(st.text(max_size=200))
def test_names_and_urls(text: str) -> None:
    for parse in (canonical_name, lambda t: normalise_host(t, origin="fuzz")):
        with contextlib.suppress(InvalidEntry):
            parse(text)


@_FAST
@given(st.binary(max_size=400))
def test_list_lines(data: bytes) -> None:
    read_stream(io.BytesIO(data), "fuzz.txt", "list")


@_FAST
@given(_ZONEISH)
def test_zone_files(text: str) -> None:
    with contextlib.suppress(InputError):
        read_stream(io.BytesIO(text.encode()), "fuzz.zone", "zone")


@_FAST
@given(st.text(max_size=300))
def test_dig_files(text: str) -> None:
    with contextlib.suppress(InputError):
        read_stream(io.BytesIO(text.encode()), "fuzz.dig", "dig")
