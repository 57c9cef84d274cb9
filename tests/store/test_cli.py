"""The history and watch commands, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from residency.cli import cli
from residency.model import Verdict
from residency.store import open_store
from tests.store.builders import Addr, Host, audit_result

COMMANDS = [
    ["watch"],
    ["watch", "add"],
    ["watch", "remove"],
    ["watch", "list"],
    ["monitor"],
    ["history"],
    ["runs"],
    ["diff"],
    ["report"],
]


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "h.sqlite3")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0 and "Usage:" in out and len(out.splitlines()) > 3


def test_watch_add_list_remove(db: str, tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('name = "x"\n')
    code, out, _ = run(
        "watch",
        "add",
        "API.Example.com.",
        "https://cdn.example.com/x",
        "--cadence",
        "1h",
        "--vantage",
        "de",
        "--policy",
        str(policy),
        "--db",
        db,
    )
    assert code == 0 and "watching 2 target(s)" in out
    code, out, _ = run("watch", "list", "--json", "--db", db)
    listed = json.loads(out)
    assert [(t["host"], t["cadence"], t["vantage"]) for t in listed] == [
        ("api.example.com", 3600.0, "DE"),
        ("cdn.example.com", 3600.0, "DE"),
    ]
    assert listed[0]["policy"] == str(policy.resolve())
    code, out, _ = run("watch", "list", "--db", db)
    assert "every 3600s" in out and "vantage DE" in out
    assert run("watch", "remove", "api.example.com", "--db", db)[0] == 0
    code, _, err = run("watch", "remove", "api.example.com", "--db", db)
    assert code == 2 and "no such watch target" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["watch", "add", "bad..name"], "empty label"),
        (["watch", "add", "a.example", "--cadence", "soon"], "not a duration"),
        (["watch", "add", "a.example", "--min-interval", "2d"], "above max_interval"),
        (["watch", "add", "a.example", "--vantage", "Germany"], "two-letter"),
    ],
)
def test_watch_add_rejects_bad_input(db: str, args: list[str], message: str) -> None:
    code, _, err = run(*args, "--db", db)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_history_diff_runs_report(db: str) -> None:
    store = open_store(db)
    ok = Host("api.example.com", (Addr("192.0.2.1"),), cname=("a.cdn.test",), verdict=Verdict.PASS)
    moved = Host(
        "api.example.com",
        (Addr("192.0.2.9", country="US", region="us-east-1"),),
        cname=("b.cdn.test",),
        verdict=Verdict.FAIL,
    )
    store.record(audit_result("run-aaa", 1_700_000_000, [ok], policy=True))
    store.record(audit_result("run-bbb", 1_700_000_600, [moved], policy=True))
    store.close()

    code, out, _ = run("history", "api.example.com", "--db", db)
    assert code == 0
    assert "2 state(s)" in out and "verdict PASS -> FAIL" in out and "CNAME a.cdn.test" in out
    assert "192.0.2.9" in out and "(current)" in out
    data = json.loads(run("history", "api.example.com", "--json", "--db", db)[1])
    assert len(data["spans"]) == 2 and data["events"][0]["run_id"] == "run-bbb"

    code, out, _ = run("diff", "--db", db)
    assert code == 1 and "country" not in out and "address-appeared" in out
    code, out, _ = run("diff", "run-aaa", "run-aaa", "--db", db)
    assert code == 0 and "no changes" in out
    assert json.loads(run("diff", "--json", "--db", db)[1])["run_b"]["id"] == "run-bbb"

    code, out, _ = run("runs", "--db", db)
    assert code == 0 and out.index("run-bbb") < out.index("run-aaa")

    code, out, _ = run("report", "--since", "2023-11-14", "--until", "2023-11-16", "--db", db)
    assert code == 0 and "api.example.com:" in out and "% compliant" in out
    report = json.loads(
        run(
            "report",
            "--since",
            "2023-11-14T00:00:00Z",
            "--until",
            "2023-11-16",
            "--json",
            "--db",
            db,
        )[1]
    )
    (entry,) = report["endpoints"]
    assert entry["judged_checks"] == 2 and entry["compliant_checks"] == 1


def test_report_period_with_no_data_says_so(db: str) -> None:
    store = open_store(db)
    store.record(audit_result("run-aaa", 1_700_000_000, [Host("api.example.com")], policy=True))
    store.close()
    # Before anything was recorded: the endpoint checked later is not "in" the period.
    period = ("--since", "2023-11-01", "--until", "2023-11-10", "--db", db)
    code, out, err = run("report", *period)
    assert code == 0 and "api.example.com" not in out
    assert "no data: no endpoint was checked between 2023-11-01T00:00:00Z" in err
    code, out, err = run("report", *period, "--json")
    assert code == 0 and json.loads(out)["endpoints"] == [] and "no data:" in err


def test_errors_are_one_line(db: str, tmp_path: Path) -> None:
    for args in (
        ["history", "x.example", "--db", "mysql://x/y"],
        ["diff", "--db", db],
        ["diff", "nope", "--db", db],
        ["history", "x.example", "--db", db],
        ["monitor", "--once", "--db", db],
        ["report", "--since", "2026-02-01", "--until", "2026-01-01", "--db", db],
    ):
        code, _, err = run(*args)
        assert code == 2, args
        assert err.startswith("residency: ") and len(err.strip().splitlines()) == 1, err


def test_env_variable_selects_the_database(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RESIDENCY_DB", db)
    assert run("watch", "add", "a.example")[0] == 0
    assert open_store(db).target_count() == 1


def test_monitor_targets_file_must_be_valid(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "targets.toml"
    bad.write_text('[[target]]\nhost = "a.example"\ncadence = "often"\n')
    code, _, err = run("monitor", "--once", "--targets", str(bad), "--db", db)
    assert code == 2 and "target #1" in err and "not a duration" in err
