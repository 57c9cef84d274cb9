"""Every command and group of the CLI has help text, and --help works everywhere."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from residency.cli import cli


def walk(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += walk(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", walk(cli), ids=lambda p: " ".join(p) or "residency")
def test_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"


def test_python_dash_m_works() -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "residency", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "residency" in out.stdout


def test_audit_with_nothing_to_audit_is_one_line(tmp_path: object) -> None:
    result = CliRunner().invoke(cli, ["audit", "--no-resolve"])
    assert result.exit_code == 2
    assert "nothing to audit" in result.stderr and "Traceback" not in result.output
