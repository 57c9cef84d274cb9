"""Hostile geofeed-corpus files for the held-out measurement: bad lines are skipped and named,
space an operator does not hold is dropped, and an empty class never crashes the grading."""

from __future__ import annotations

from pathlib import Path

import pytest

from residency.locate.index.specs import SourceSpec
from residency.locate.locator import Locator
from residency.locate.trust import held_out
from residency.locate.trust.calibration import Calibration
from tests.locate.fixtures import write_ipdb_layout, write_maxmind_layout
from tests.support import FIXTURES

HOSTILE = """# prefix,country,region,city,postal
5.5.5.0/24,NZ,NZ-AUK,Auckland,
not-a-prefix,DE,,,
5.5.6.0/33,DE,,,
5.5.7.0/24,EU,,,
5.5.8.0/24,,,,
::ffff:5.5.9.0/120,DE,,,
10.1.0.0/16,DE,,,
2a0c:9a40::/32,DE,DE-BE,Berlin,
justonefield
"5.5.10.0/24,DE
\x00\x01\x02,\xff,,,
"""


def test_bad_lines_are_skipped_and_each_is_named() -> None:
    op = held_out.parse_operator_geofeed(HOSTILE, "hostile/feed", "access")
    assert [str(r.network) for r in op.rows] == ["5.5.5.0/24", "2a0c:9a40::/32"]
    text = "\n".join(op.problems)
    assert "line 3: 'not-a-prefix' is not a prefix" in text
    assert "line 4: '5.5.6.0/33' is not a prefix" in text
    assert "line 5: 'EU' is not an ISO 3166 country" in text
    assert "line 6: '' is not an ISO 3166 country" in text
    assert "line 7: IPv4 space written as IPv6" in text
    assert "line 8: 10.1.0.0/16 is not public space" in text
    assert "line 10: fewer than two fields" in text
    assert len(op.problems) == 9


def test_a_corpus_index_naming_missing_files_reads_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("5.5.5.0/24,NZ,,,\n")
    (tmp_path / "INDEX.csv").write_text(
        "file,repo,operator_type_guess\na.csv,a/a,ISP/access\nmissing.csv,b/b,hosting/VPS\n"
        ",c/c,enterprise\n"
    )
    corpus = held_out.load_corpus(tmp_path)
    assert [(op.name, op.truth_class, len(op.rows)) for op in corpus] == [("a/a", "access", 1)]
    assert held_out.load_corpus(tmp_path / "absent") == []


@pytest.fixture(scope="module")
def locator(tmp_path_factory: pytest.TempPathFactory) -> Locator:
    tmp = tmp_path_factory.mktemp("corpus")
    specs = [
        SourceSpec("a", "mmdb-country", "t", (write_maxmind_layout(tmp / "GeoLite2-t.mmdb"),)),
        SourceSpec("b", "mmdb-country", "t", (write_ipdb_layout(tmp / "ipdb-t.mmdb"),)),
        SourceSpec("asn", "asn-csv", "t", (FIXTURES / "locate" / "asn-ipv4.csv",)),
    ]
    return Locator.load(tmp, sources=specs, compiled_dir=tmp / "c")


def test_space_the_operator_does_not_hold_is_dropped(locator: Locator) -> None:
    # a hosting feed claiming Google Public DNS and Cloudflare's resolver as its own
    op = held_out.parse_operator_geofeed(
        "8.8.8.8/32,NL,,,\n1.1.1.0/24,NL,,,\n5.5.5.0/24,NZ,,,\n", "claims/too-much", "hosting"
    )
    samples = held_out.sample_operators([op])
    study = held_out.Study(locator, samples, [op])
    assert study.dropped == {"claims/too-much": 4}
    assert {s.ip.rsplit(".", 1)[0] for s in study.samples} == {"5.5.5"}


def test_leave_one_out_survives_an_empty_class_and_a_lone_operator(locator: Locator) -> None:
    ops = [
        held_out.parse_operator_geofeed("5.5.5.0/24,NZ,,,\n", "only/access", "access"),
        held_out.parse_operator_geofeed("# nothing usable\nx,y\n", "empty/hosting", "hosting"),
    ]
    study = held_out.Study(locator, held_out.sample_operators(ops), ops)
    counts = held_out.count(study, locator.calibration)
    # leaving out the only operator leaves nothing to learn from: an empty table, no crash
    empty = held_out.calibration_without(counts, locator.calibration, "only/access")
    assert isinstance(empty, Calibration) and not empty.sources and not empty.patterns
    grades = held_out.grade(study, lambda op: empty)
    assert grades.get("merged", "access").samples == 2
    assert grades.get("merged", "hosting").samples == 0  # the empty class: no row, no error
    assert grades.get("merged", "cdn-anycast").precision == 0.0
