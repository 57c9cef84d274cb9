"""Command line: parse arguments, build library objects, map errors to one line and an exit code.

Keep this file thin. Logic lives in the library; this module only wires it up.
Exit codes: 0 compliant / ok, 1 policy violations (see --fail-on), 2 usage or data errors.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from residency import __version__
from residency.errors import ResidencyError

EXIT_OK = 0
EXIT_VIOLATIONS = 1
EXIT_USAGE = 2

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = EXIT_USAGE) -> None:
    """Print one line to stderr and exit: the only way the CLI reports an error."""
    click.echo(f"residency: {message}", err=True)
    sys.exit(code)


def library_errors(func: F) -> F:
    """Turn library errors into one line and exit 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ResidencyError as err:
            fail(str(err))
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="residency")
def cli() -> None:
    """residency: where do an app's endpoints really live, who runs them,
    and does that meet the declared data-residency policy?"""


# --- commands are registered below, one block per area -------------------------------

# [data commands]

# [ip command]

# [audit command]

# [policy commands]

# [store / monitor commands]


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="residency")


if __name__ == "__main__":
    main()
