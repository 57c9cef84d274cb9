"""Leave-one-operator-out, measured honestly: nothing of the held-out operator reaches the
tables it is graded with, and no single operator outweighs many in them."""

from __future__ import annotations

import pytest

from residency.locate.index.specs import SourceSpec
from residency.locate.locator import Locator
from residency.locate.trust import calibration, held_out
from tests.locate.fixtures import write_ipdb_layout, write_maxmind_layout
from tests.support import FIXTURES

#: where the two fixture databases disagree (2.16.0.0/16: one says DE, the other FR),
#: two operators that each side with one of them, and two where both are right
FEEDS = {
    "de/big": "".join(f"2.16.{n}.0/24,DE,,,\n" for n in range(0, 40)),
    "fr/small": "".join(f"2.16.{n}.0/24,FR,,,\n" for n in range(128, 134)),
    "jp/one": "5.5.5.0/24,JP,,,\n",
    "gb/one": "81.2.69.0/24,GB,,,\n",
}


@pytest.fixture(scope="module")
def locator(tmp_path_factory: pytest.TempPathFactory) -> Locator:
    tmp = tmp_path_factory.mktemp("held-out")
    specs = [
        SourceSpec("a", "mmdb-country", "t", (write_maxmind_layout(tmp / "GeoLite2-t.mmdb"),)),
        SourceSpec("b", "mmdb-country", "t", (write_ipdb_layout(tmp / "ipdb-t.mmdb"),)),
        SourceSpec("asn", "asn-csv", "t", (FIXTURES / "locate" / "asn-ipv4.csv",)),
    ]
    return Locator.load(tmp, sources=specs, compiled_dir=tmp / "c")


def operators(names: list[str]) -> list[held_out.Operator]:
    return [held_out.parse_operator_geofeed(FEEDS[n], n, "access") for n in names]


def test_nothing_of_the_held_out_operator_reaches_its_tables(
    locator: Locator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the tables for "de/big" held out are exactly those measured on a study without it:
    # its addresses move neither the sources' weights nor the answers merged with them
    # (with de/big, database "a" outweighs "b" on 2.16/16 and fr/small's answers there
    # are DE; without it, "a" is weak and they are FR). A small table is measured here.
    monkeypatch.setattr(calibration, "MIN_SAMPLES", 10)
    everyone = operators(list(FEEDS))
    study = held_out.Study(locator, held_out.sample_operators(everyone), everyone)
    held = held_out.calibration_without(
        held_out.count(study, locator.calibration), locator.calibration, "de/big"
    )
    others = [op for op in everyone if op.name != "de/big"]
    without = held_out.Study(locator, [s for s in study.samples if s.operator != "de/big"], others)
    alone = held_out.calibration_without(
        held_out.count(without, locator.calibration), locator.calibration, None
    )
    assert held.sources and held.patterns
    assert (held.sources, held.answers, held.patterns) == (
        alone.sources,
        alone.answers,
        alone.patterns,
    )
    # ...and it is not the in-sample table, which counts de/big's 80 addresses
    in_sample = held_out.calibration_without(
        held_out.count(study, locator.calibration), locator.calibration, None
    )
    assert in_sample.sources != held.sources


def test_one_large_operator_counts_as_one_capped_voice() -> None:
    counts = held_out.OperatorCounts(
        patterns={
            "big": {"p": {"all": [1000, 1000]}},
            **{f"small{n}": {"p": {"all": [0, 20]}} for n in range(3)},
        }
    )
    assert held_out.capped(1000, 1000) == (held_out.OPERATOR_CAP, held_out.OPERATOR_CAP)
    assert held_out.capped(518, 1158, cap=20) == (9, 20)  # its share right is kept
    assert held_out.capped(7, 10, cap=20) == (7, 10)
    assert counts.total("patterns") == {"p": {"all": [20, 80]}}
    assert counts.total("patterns", skip="big") == {"p": {"all": [0, 60]}}
    # how sure an answer is stays a share of addresses: the answer kinds are not capped
    kinds = held_out.OperatorCounts(answers={"big": {"k": {"all": [1000, 1000]}}})
    assert kinds.total("answers") == {"k": {"all": [1000, 1000]}}
