"""IPv6 that no RIR holds is "not allocated", never placed (issue 18, item 25)."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import pytest

from residency.locate.allocation import unallocated_reason
from residency.locate.locator import Locator
from tests.locate.fixtures import small_dataset
from tests.support import SHARED_DATA


@pytest.mark.parametrize(
    ("address", "words"),
    [
        ("2b7c:c251::1", "not allocated"),  # inside 2a00::/7 but past RIPE's 2a10::/12
        ("4000::1", "outside 2000::/3"),
        ("2001:5::1", "2001::/23 is IANA, not an RIR"),
        ("3fff::1", "3000::/4 is reserved by IANA"),
        ("5f00::1", "5f00::/16 is Segment Routing"),
        ("2004::1", "unassigned by IANA"),
    ],
)
def test_space_no_rir_holds(address: str, words: str) -> None:
    reason = unallocated_reason(ipaddress.IPv6Address(address))
    assert reason is not None and words in reason
    assert "IANA IPv6 unicast address assignments, 2024-04-23" in reason


@pytest.mark.parametrize(
    "address", ["2a05:d018::1", "2600:1f18::1", "2001:4860::1", "2c0f:f248::1", "2003::1"]
)
def test_rir_space_is_allocated(address: str) -> None:
    assert unallocated_reason(ipaddress.IPv6Address(address)) is None


def test_most_random_global_unicast_is_not_allocated() -> None:
    """About 1/8 of 2000::/3 is with an RIR; the rest must never get a country."""
    rng = random.Random(25)
    base = int(ipaddress.IPv6Address("2000::"))
    picks = [ipaddress.IPv6Address(base + rng.getrandbits(125)) for _ in range(2000)]
    held = sum(unallocated_reason(a) is None for a in picks)
    assert 0 < held < len(picks) // 4


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")
def test_the_locator_says_not_allocated(tmp_path: Path) -> None:
    locator = Locator.load(tmp_path, sources=small_dataset(tmp_path), compiled_dir=tmp_path / "c")
    for facts in (locator.locate("2b7c:c251::1"), locator.locate_many(["2b7c:c251::1"])[0]):
        assert not facts.routable
        assert facts.location.place is None
        assert "not allocated" in facts.location.why
    assert locator.locate("2a05:d018::1").routable


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")
def test_bulk_enrichment_columns_agree_with_the_facts(tmp_path: Path) -> None:
    """The bulk columns (``residency ip --bulk``) read a per-combination summary; the
    combination of unallocated space says routable, the columns must not."""
    from residency.locate.index.summary import ROUTABLE

    locator = Locator.load(tmp_path, sources=small_dataset(tmp_path), compiled_dir=tmp_path / "c")
    ips = ["2b7c:c251::1", "2a05:d018::1", "13.228.0.1"]
    enriched = locator.enrich(ips)
    flags = enriched.column("flags")
    assert enriched.summary.arrays["flags"][enriched.combos[0]] & ROUTABLE  # what it hides
    assert not flags[0] & ROUTABLE
    assert enriched.column("country")[0] == "" and enriched.column("asn")[0] == 0
    assert flags[1] & ROUTABLE and flags[2] & ROUTABLE
    assert enriched.column("country")[2] == locator.locate("13.228.0.1").location.country
    assert [enriched.facts(i).routable for i in range(3)] == [bool(f & ROUTABLE) for f in flags]
