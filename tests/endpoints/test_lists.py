"""List files, stdin and command-line targets, merged into one endpoint per host."""

from __future__ import annotations

import io
from pathlib import Path

from residency.endpoints import READERS, ReadOptions, detect_format, read_input, read_targets
from tests.support import FIXTURES

LIST = FIXTURES / "endpoints" / "app-endpoints.txt"


def test_list_file_reads_entries_categories_and_reports_bad_lines() -> None:
    targets = read_input(LIST)
    by_host = {e.host: e for e in targets.endpoints}
    assert list(by_host) == [
        "api.example.com",
        "pay.example.com",
        "xn--bcher-kva.example",
        "192.0.2.10",
        "2001:db8::5",
    ]
    assert by_host["pay.example.com"].categories == ("payments", "pii", "logs")
    assert by_host["pay.example.com"].display == "Pay.Example.com"
    assert by_host["pay.example.com"].origin == f"{LIST}:3"
    assert by_host["xn--bcher-kva.example"].display == "bücher.example"
    assert by_host["192.0.2.10"].is_ip and by_host["192.0.2.10"].categories == ("telemetry",)
    assert by_host["2001:db8::5"].is_ip
    assert [str(p) for p in targets.problems] == [
        f"{LIST}:9: 'bad_name!.example': bad character '!' in label 'bad_name!'",
        f"{LIST}:10: 'https:///no-host': URL without a host",
        f"{LIST}:11: 'api.example.com': unexpected 'colour=blue' after the entry"
        " (expected categories=a,b)",
    ]


def test_stdin_is_read_like_a_file() -> None:
    stdin = io.BytesIO(b"one.example\n# comment\nTWO.example.  categories=PII\none.example\n")
    targets = read_targets(["-"], stdin=stdin)
    assert [(e.host, e.categories, e.origin) for e in targets.endpoints] == [
        ("one.example", (), "stdin:1"),
        ("two.example", ("pii",), "stdin:3"),
    ]


def test_stdin_can_carry_a_har_document() -> None:
    har = b'{"log": {"entries": [{"request": {"url": "https://x.example/"}}]}}'
    targets = read_targets(["-"], stdin=io.BytesIO(har))
    assert [e.host for e in targets.endpoints] == ["x.example"]


def test_command_line_mixes_names_urls_files_and_bad_arguments(tmp_path: Path) -> None:
    listed = tmp_path / "more.txt"
    listed.write_text("api.example.com categories=payments\nextra.example\n")
    targets = read_targets(
        [
            "https://API.example.com/v1",
            str(listed),
            f"@{listed}",
            "203.0.113.9",
            "not a host",
            str(tmp_path / "missing.txt") + "/x",
            "@" + str(tmp_path / "missing.txt"),
        ]
    )
    assert [(e.host, e.categories) for e in targets.endpoints] == [
        ("api.example.com", ("payments",)),
        ("extra.example", ()),
        ("203.0.113.9", ()),
    ]
    assert targets.endpoints[0].origin == "argv"
    problems = [str(p) for p in targets.problems]
    assert problems[0] == "argv: 'not a host': host name contains white space"
    assert "missing.txt/x" in problems[1]
    assert problems[2].endswith(f"{tmp_path / 'missing.txt'}: no such file")
    assert len(problems) == 3


def test_every_reader_is_registered_under_its_own_name() -> None:
    assert set(READERS) == {"list", "har", "pcap", "zone", "dig", "pcapdroid-csv", "mitmproxy"}
    for name, reader in READERS.items():
        assert reader.name == name
        assert reader.description


def test_formats_are_detected_by_content_then_name() -> None:
    assert detect_format(b"\xd4\xc3\xb2\xa1rest") == "pcap"
    assert detect_format(b"\x0a\x0d\x0d\x0arest") == "pcap"
    assert detect_format(b'\n  {"log": {}}', "x.txt") == "har"
    assert detect_format(b"; <<>> DiG 9.18 <<>> x\n") == "dig"
    assert detect_format(b"1857:9:websocket;0:~8:response;") == "mitmproxy"
    assert detect_format(b"", "flows.mitm") == "mitmproxy"
    assert detect_format(b"IPProto,SrcIP,SrcPort,DstIp,DstPort,UID,App\n") == "pcapdroid-csv"
    assert detect_format(b"IPProto,SrcIP,SrcPort,DstIp,DstPort,UID,App\n") == "pcapdroid-csv"
    assert detect_format(b"$ORIGIN example.com.\nwww A 192.0.2.1\n") == "zone"
    assert detect_format(b"www A 192.0.2.1\n", "db.example.com") == "zone"
    assert detect_format(b"www A 192.0.2.1\n", "example.zone") == "zone"
    assert detect_format(b"api.example.com\n", "hosts") == "list"
    assert detect_format(b"api.example.com\n", "capture.har") == "har"


def test_a_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "answers"
    path.write_text("www.example.com. 60 IN A 192.0.2.1\n")
    assert read_input(path).problems  # read as a list: not a host name
    targets = read_input(path, fmt="dig", options=ReadOptions())
    assert targets.endpoints[0].observed[0].ip == "192.0.2.1"


def test_a_mistyped_file_name_is_a_missing_file_not_a_host(tmp_path: Path) -> None:
    targets = read_targets(["endpoints.txt", "./hosts", str(tmp_path), "capture.pcapng"])
    assert targets.endpoints == ()
    assert [p.problem.rsplit(": ", 1)[1] for p in targets.problems] == [
        "no such file",
        "no such file",
        "is a directory, not a file",
        "no such file",
    ]
