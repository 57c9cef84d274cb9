"""Write docs/cli.md, the CLI reference, from the click declarations themselves.

    python scripts/cli_reference.py           # rewrite docs/cli.md
    python scripts/cli_reference.py --check   # exit 1 when docs/cli.md is stale

The page is every command's ``--help`` at a fixed width, so it cannot drift from the
code: tests/test_docs.py fails when the committed page differs from what this writes
(the way sqlite-utils keeps its CLI reference with cog).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
WIDTH = 88

HEADER = """# CLI reference

Every command's `--help`, generated from the code by `python scripts/cli_reference.py`
(a test fails when this page is stale). Exit codes: 0 compliant or done, 1 policy
violations (see `--fail-on`), 2 usage or data errors; see
[reports and exit codes](reports.md#exit-codes).
"""


def _walk(
    command: click.Command, ctx: click.Context, path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], str]]:
    found = [(path, command.get_help(ctx))]
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            sub = command.commands[name]
            found += _walk(sub, click.Context(sub, info_name=name, parent=ctx), (*path, name))
    return found


def reference() -> str:
    """The whole page: one section per command, its help at WIDTH columns."""
    from residency.cli import cli

    settings = {**cli.context_settings, "terminal_width": WIDTH, "max_content_width": WIDTH}
    root = click.Context(cli, info_name="residency", **settings)
    parts = [HEADER]
    for path, text in _walk(cli, root, ("residency",)):
        parts.append(f"## {' '.join(path)}\n\n```text\n{text.rstrip()}\n```\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = reference()
    if "--check" in argv:
        if PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is stale: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
