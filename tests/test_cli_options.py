"""The CLI without surprises (issue 20): every option documented, defaults shown by click,
shared options declared once, one renderer per output and ``-o`` honoured everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from residency.cli import REPORT_FORMATS, cli
from residency.cli_options import SectionedCommand
from residency.report.interface import OutputFormat
from tests.report.test_compliance import history


def commands(group: click.Group, prefix: str = "residency") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += commands(command, path)
    return found


ALL = commands(cli)
OPTIONS = [
    (f"{path} {param.opts[0]}", param)
    for path, command in ALL
    for param in command.params
    if isinstance(param, click.Option)
]
DEFAULTS = {
    f"{path} {param.opts[0]}": param.get_default(click.Context(command), call=False)
    for path, command in ALL
    for param in command.params
    if isinstance(param, click.Option)
}


def test_the_walk_sees_the_whole_cli() -> None:
    names = {path for path, _ in ALL}
    assert {"residency audit", "residency report", "residency watch add", "residency runs"} <= names
    assert len(OPTIONS) > 80


def test_every_option_has_help() -> None:
    assert [name for name, option in OPTIONS if not (option.help or "").strip()] == []


def test_defaults_are_shown_by_click_not_typed_into_help() -> None:
    """An option with a real default lets click print it (``show_default``); help text
    that repeats a default goes stale when the code changes."""
    hidden = []
    for name, option in OPTIONS:
        default = DEFAULTS[name]  # click 8.2+ says "unset" with a sentinel of its own
        real = isinstance(default, int | float | str) or (isinstance(default, tuple) and default)
        if option.is_flag or not real or option.required:
            continue
        if not option.show_default:
            hidden.append(name)
    assert hidden == []
    typed = [n for n, o in OPTIONS if o.show_default and "default" in (o.help or "")]
    assert typed == []


@pytest.mark.parametrize(
    "flag", ["--db", "--data-dir", "--json", "--output", "--format", "--geoip", "--rdap-url"]
)
def test_shared_options_are_declared_alike(flag: str) -> None:
    """Every command that takes a shared option takes it from one declaration: the same
    destination, short form and metavar (help may name what is written or read)."""
    found = [
        (name, option)
        for name, option in OPTIONS
        if flag in option.opts and not name.startswith("residency ip --format")
    ]
    assert found, flag
    shapes = {(option.name, tuple(option.opts), option.metavar) for _, option in found}
    if flag == "--format":  # the choices differ by command; the declaration does not
        shapes = {(option.opts[0],) for _, option in found}
    assert len(shapes) == 1, (flag, shapes)


def test_audit_groups_its_options_and_every_section_names_real_options() -> None:
    for path, command in ALL:
        if isinstance(command, SectionedCommand):
            params = {p.name for p in command.params}
            listed = [name for names in command.sections.values() for name in names]
            assert set(listed) <= params, (path, set(listed) - params)
            assert len(listed) == len(set(listed)), path
    audit = cli.commands["audit"]  # type: ignore[attr-defined]
    assert isinstance(audit, SectionedCommand)
    text = CliRunner().invoke(cli, ["audit", "--help"], terminal_width=100).output
    probes = text[text.index("Probe options") :]
    for flag in ("--probe-timeout", "--probe-rate", "--probe-concurrency", "--probe-connect-to"):
        assert flag in probes
    assert "--probe-timeout" not in text[: text.index("Probe options")]
    assert "[default: 3.0" in probes  # shown by click


# ----------------------------------------------------------- one renderer, -o everywhere


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return history(tmp_path_factory.mktemp("history"))


PERIOD = ("--since", "2023-11-14", "--until", "2023-11-16")


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("fmt", REPORT_FORMATS)
def test_report_output_file_holds_what_stdout_would(db: str, tmp_path: Path, fmt: str) -> None:
    code, printed, _ = invoke("report", *PERIOD, "--format", fmt, "--db", db)
    assert code == 0 and printed.strip()
    out = tmp_path / f"report.{fmt}"
    code, written_stdout, _ = invoke("report", *PERIOD, "--format", fmt, "-o", str(out), "--db", db)
    assert code == 0 and written_stdout == ""
    assert out.read_text(encoding="utf-8") == printed


def test_report_json_is_format_json_and_honours_output(db: str, tmp_path: Path) -> None:
    _, by_format, _ = invoke("report", *PERIOD, "--format", "json", "--db", db)
    _, by_flag, _ = invoke("report", *PERIOD, "--json", "--db", db)
    assert json.loads(by_flag) == json.loads(by_format)
    assert "stretches" in json.loads(by_flag)["endpoints"][0]
    out = tmp_path / "x.json"
    code, stdout, _ = invoke("report", *PERIOD, "--json", "-o", str(out), "--db", db)
    assert code == 0 and stdout == ""
    assert json.loads(out.read_text()) == json.loads(by_format)


@pytest.mark.parametrize("fmt", [f.value for f in OutputFormat])
def test_audit_output_file_for_every_format(small_dataset: Path, tmp_path: Path, fmt: str) -> None:
    args = ["audit", "--data-dir", str(small_dataset), "--policy", "eu-only-gdpr", "13.228.0.1"]
    out = tmp_path / f"audit.{fmt}"
    code, stdout, _ = invoke(*args, "--format", fmt, "-o", str(out), "-q")
    assert code == 1 and stdout == ""  # 13.228.0.1 is in Singapore: outside the EEA
    assert "13.228.0.1" in out.read_text(encoding="utf-8")


def test_audit_json_is_format_json(small_dataset: Path) -> None:
    args = ["audit", "--data-dir", str(small_dataset), "--today", "2026-01-01", "13.228.0.1", "-q"]
    _, by_flag, _ = invoke(*args, "--json")
    _, by_format, _ = invoke(*args, "--format", "json")
    flag_doc, format_doc = json.loads(by_flag), json.loads(by_format)
    for doc in (flag_doc, format_doc):  # each run has its own id and clock
        doc.pop("run", None)
    assert flag_doc.keys() == format_doc.keys()
    assert flag_doc["endpoints"] == format_doc["endpoints"]


def test_data_commands_take_the_data_dir(small_dataset: Path, tmp_path: Path) -> None:
    def present(data_dir: Path) -> set[str]:
        code, stdout, _ = invoke("data", "status", "--json", "--data-dir", str(data_dir))
        assert code == 0
        return {d["dataset"] for d in json.loads(stdout)["datasets"] if d["present"]}

    assert "aws-ip-ranges" in present(small_dataset)
    assert present(tmp_path / "empty") == set()


def test_watch_add_takes_a_shipped_policy_by_name(tmp_path: Path) -> None:
    db = str(tmp_path / "history.sqlite3")
    code, _, err = invoke("watch", "add", "api.example.com", "--policy", "eu-only-gdpr", "--db", db)
    assert code == 0, err
    code, stdout, _ = invoke("watch", "list", "--json", "--db", db)
    assert code == 0 and json.loads(stdout)[0]["policy"].endswith("eu-only-gdpr.toml")
    code, _, err = invoke("watch", "add", "x.example", "--policy", "no-such", "--db", db)
    assert code == 2 and "not a shipped policy" in err
