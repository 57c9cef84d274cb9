"""Names inside decrypted TLS (capture/tshark.py): tshark's output parsed, and its
failures kept to one note each: secrets that decrypt nothing, no tshark, a tshark that
hangs, one that floods its output, one that names connections the audit left out.

The real exchange (dumpcap, editcap, tshark) is tests/integration/test_capture_tls_keys.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from residency.endpoints import read_input
from residency.endpoints.capture import tshark
from residency.endpoints.capture.tshark import H2_AUTHORITY, HTTP_HOST, parse_fields
from tests.endpoints.test_pcapdroid import write_pcapng
from tests.support import require_binary


def test_fields_become_names_with_their_connection() -> None:
    lines = "\n".join(
        [
            "1700000000.5\t10.0.0.2\t\t40000\t192.0.2.7\t\t443\tshop.example:443\t",
            "1700000001.0\t\t2001:db8::2\t40001\t\t2001:db8:0:0::7\t8443\t\ta.example b.example",
            "1700000002.0\t\t\t40002\t192.0.2.7\t\t443\tnobody.example\t",  # no client
            "garbage",
            "x\t10.0.0.2\t\t1\t192.0.2.7\t\t443\tbad-time.example\t",
            "1700000003.0\t10.0.0.2\t\t1\t192.0.2.7\t\t443\t[2001:db8::9]:443\t",
        ]
    )
    found = [
        (n.raw, n.client, n.client_port, n.server, n.server_port, n.how)
        for n in parse_fields(lines)
    ]
    assert found == [
        ("shop.example", "10.0.0.2", 40000, "192.0.2.7", 443, HTTP_HOST),
        ("a.example", "2001:db8::2", 40001, "2001:db8::7", 8443, H2_AUTHORITY),
        ("b.example", "2001:db8::2", 40001, "2001:db8::7", 8443, H2_AUTHORITY),
        ("2001:db8::9", "10.0.0.2", 1, "192.0.2.7", 443, HTTP_HOST),
    ]


def secret_notes(path: Path) -> list[str]:
    return [n for n in read_input(path).notes if "TLS secrets" in n]


def test_garbage_secrets_decrypt_nothing_and_say_so_once(tmp_path: Path) -> None:
    require_binary("tshark")
    capture = write_pcapng(tmp_path / "droid.pcapng")  # a DSB whose keys match nothing
    notes = secret_notes(capture)
    assert notes == [
        f"{capture}: 2 TLS secrets in Decryption Secrets Blocks; tshark decrypted no HTTP "
        "request with them (the secrets match no connection, or the connections carried no HTTP)"
    ]


def fake_tshark(directory: Path, script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``tshark`` on PATH that runs ``script`` (sh) instead of reading the capture."""
    directory.mkdir()
    path = directory / "tshark"
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")


@pytest.mark.parametrize(
    ("case", "why"),
    [("missing", "tshark not found"), ("hangs", "tshark did not finish within 0.5 s")],
)
def test_when_tshark_cannot_read_it_the_note_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, why: str
) -> None:
    """No tshark on PATH, or one that hangs (ended at its deadline): one note, and the
    rest of the capture is still read."""
    if case == "missing":
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    else:
        fake_tshark(tmp_path / "bin", "exec sleep 600", monkeypatch)
        monkeypatch.setattr(tshark, "TIMEOUT", 0.5)
    capture = write_pcapng(tmp_path / "droid.pcapng")
    targets = read_input(capture)
    assert [n for n in targets.notes if "TLS secrets" in n] == [
        f"{capture}: 2 TLS secrets in Decryption Secrets Blocks; the Host inside TLS was not "
        f"read ({why}); names are read from SNI and plain HTTP"
    ]
    assert "other.example" in {e.host for e in targets.endpoints}


def test_a_tshark_that_floods_its_output_is_cut_at_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = "1700000000.5\t10.0.0.2\t\t40000\t192.0.2.7\t\t443\tshop.example\t"
    fake_tshark(tmp_path / "bin", f"exec yes '{line}'", monkeypatch)
    monkeypatch.setattr(tshark, "OUTPUT_CAP", 64 * 1024)
    found = tshark.decrypted_names(str(tmp_path / "any.pcapng"))
    assert found.truncated and not found.unread
    assert 0 < len(found.names) <= 64 * 1024 // len(line)


def test_names_on_connections_the_reading_did_not_keep_are_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tshark names a connection the capture reader never saw open (or --app left out):
    it is not audited, and the note counts it."""
    line = "1700000000.5\t10.9.9.9\t\t40000\t192.0.2.7\t\t443\tsmuggled.example\t"
    fake_tshark(tmp_path / "bin", f"printf '%s\\n' '{line}'", monkeypatch)
    capture = write_pcapng(tmp_path / "droid.pcapng")
    targets = read_input(capture)
    assert "smuggled.example" not in {e.host for e in targets.endpoints}
    notes = [n for n in targets.notes if "TLS secrets" in n]
    assert notes == [
        f"{capture}: 2 TLS secrets in Decryption Secrets Blocks; tshark read 0 name(s) inside "
        "decrypted TLS; 1 request(s) on connections not audited here were left out"
    ]


def test_a_failing_tshark_says_its_last_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_tshark(tmp_path / "bin", "echo 'tshark: The file is corrupt' >&2; exit 2", monkeypatch)
    found = tshark.decrypted_names(str(tmp_path / "any.pcapng"))
    assert found.unread == "tshark failed (exit 2): tshark: The file is corrupt"


def test_decrypted_names_keep_the_app_and_refuse_what_is_not_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name read inside a kept TLS connection is audited with that connection's app;
    ``--app`` of another app leaves it out; a Host that is not a host name is an input
    problem, shown escaped like every name of a capture."""
    from residency.endpoints.capture.reader import analyse_capture
    from residency.endpoints.interface import ReadOptions

    capture = write_pcapng(tmp_path / "droid.pcapng")
    with capture.open("rb") as stream:
        findings = analyse_capture(stream, "droid", ReadOptions())[0]
    (client, cport, server, sport), app = next(iter(findings.tls_flows.items()))
    assert app == "com.example.shop (uid 10123)"
    rows = [
        f"1700000000.5\t{client}\t\t{cport}\t{server}\t\t{sport}\t{host}\t"
        for host in ("back.example", "evil\x1b[2J.example")
    ]
    (tmp_path / "fields.txt").write_text("\n".join(rows) + "\n")
    fake_tshark(tmp_path / "bin", f"cat '{tmp_path / 'fields.txt'}'", monkeypatch)
    targets = read_input(capture)
    back = next(e for e in targets.endpoints if e.host == "back.example")
    assert [(o.ip, o.apps) for o in back.observed] == [(server, (app,))]
    assert [p.entry for p in targets.problems] == ["evil\x1b[2J.example"]
    assert "name in decrypted TLS" in targets.problems[0].problem
    other = read_input(capture, options=ReadOptions(apps=("org.other.app",)))
    assert "back.example" not in {e.host for e in other.endpoints}
    assert any("2 request(s) on connections not audited here" in n for n in other.notes)
