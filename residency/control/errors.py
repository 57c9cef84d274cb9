"""The control stage's error family."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from residency.errors import ResidencyError


class ControlError(ResidencyError):
    """Base of every error the control stage raises."""


class ControlTableInvalid(ControlError):
    """A shipped control table (organisations, customer suffixes, sovereign clouds) is
    malformed: a packaging bug, named with the file and the entry."""


class GleifUnavailable(ControlError):
    """The GLEIF API could not be asked (offline, refused, rate-limited, garbage)."""


def read_named_tables(path: Path, key: str, shape: str, *, allow_empty: bool = False) -> Any:
    """The ``[key.<name>]`` tables of a shipped TOML file (organisations, sovereign clouds,
    customer suffixes); a missing, unreadable or wrong-shaped file is one ``ControlTableInvalid``
    line naming it (``shape`` says what was expected, e.g. ``[offerings.<id>]``)."""
    import tomllib

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ControlTableInvalid(f"{path}: cannot read ({err.strerror})") from None
    except tomllib.TOMLDecodeError as err:
        raise ControlTableInvalid(f"{path}: invalid TOML: {err}") from None
    rows = document.get(key)
    if not isinstance(rows, dict) or (not rows and not allow_empty):
        raise ControlTableInvalid(f"{path}: no {shape} tables")
    return rows
