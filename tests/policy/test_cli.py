"""`residency policy check` and `residency policy groups` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from residency.cli import cli
from residency.paths import project_data_dir


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_check_valid_policy_exits_0_and_describes_it() -> None:
    code, out, err = run(
        "policy", "check", str(project_data_dir() / "policies" / "eu-only-gdpr.toml")
    )
    assert code == 0, err
    assert out.splitlines()[0].endswith("eu-only-gdpr.toml: valid")
    assert "policy eu-only-gdpr version 2.0" in out
    assert "  countries: allow @EEA (30 countries)" in out
    assert "rules[analytics]" in out
    code, out, _ = run(
        "policy", "check", "-q", str(project_data_dir() / "policies" / "eu-sovereign.toml")
    )
    assert code == 0 and out == ""


def test_check_broken_policy_exits_2_with_every_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nfoo = 1\n[countries]\nallow = ["UK", "EL"]\n', encoding="utf-8")
    code, out, err = run("policy", "check", str(path))
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}:2: unknown key 'foo'")
    assert (
        lines[1]
        == f"{path}:4: unknown country code 'UK': not ISO 3166-1 alpha-2; use 'GB' (United Kingdom)"
    )
    assert (
        lines[2]
        == f"{path}:4: unknown country code 'EL': not ISO 3166-1 alpha-2; use 'GR' (Greece)"
    )
    assert lines[3] == f"residency: {path}: 3 problems; nothing can be audited with it"


def test_check_bad_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "syntax.toml"
    path.write_text('name = "x"\n[countries\nallow = ["IN"]\n', encoding="utf-8")
    code, _, err = run("policy", "check", str(path))
    assert code == 2 and err.startswith(f"{path}:2: bad TOML")
    code, _, err = run("policy", "check", str(tmp_path / "nope.toml"))
    assert code == 2 and "cannot read policy" in err and "Traceback" not in err


def test_check_warns_about_expired_waivers(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(
        'name = "w"\n[[waivers]]\nhost = "a.example"\njustification = "j"\nowner = "o"\n'
        "expires = 2020-01-01\n",
        encoding="utf-8",
    )
    code, out, err = run("policy", "check", str(path))
    assert code == 0
    assert f"{path}:2: warning: waivers[a.example] expired on 2020-01-01 (owner o)" in err
    assert "EXPIRED" in out


def test_groups_lists_sources_and_dates() -> None:
    code, out, _ = run("policy", "groups")
    assert code == 0
    assert "@EU_ADEQUACY: " in out and "(as of 2025-09-30)" in out
    code, out, _ = run("policy", "groups", "--json")
    groups = {g["name"]: g for g in json.loads(out)}
    assert groups["@EEA"]["countries"][:3] == ["AT", "BE", "BG"]
    assert "NO" in groups["@EEA"]["countries"] and groups["@IN_LOCALISATION"]["countries"] == ["IN"]
    assert all(g["source"].startswith("https://") and g["as_of"] for g in groups.values())


def test_every_policy_command_has_help() -> None:
    for command in ("check", "groups"):
        code, out, _ = run("policy", command, "--help")
        assert code == 0 and len(out.splitlines()) > 3


def test_check_notes_categories_nothing_assigns(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        'name = "c"\n[[rules]]\ncategories = ["paymnets"]\ncdn = "fail"\n', encoding="utf-8"
    )
    code, _, err = run("policy", "check", str(path))
    assert code == 0
    assert f"{path}:2: note: rules[1] uses category 'paymnets', which no [[categories]]" in err


def test_policy_list_shows_defence_personnel_and_check_accepts_it_by_name() -> None:
    code, out, err = run("policy", "list")
    assert code == 0, err
    assert any(line.startswith("defence-personnel: ") for line in out.splitlines())
    assert "india-payments: " in out
    code, out, err = run("policy", "check", "defence-personnel")
    assert code == 0, err
    assert "  cdn: edge" in out and "  controllers: allow IN (1 country)" in out
