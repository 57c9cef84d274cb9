"""The example policies shipped with residency, usable by name (``--policy india-payments``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from residency.paths import project_data_dir
from residency.policy.errors import PolicyError

FOLDER = "policies"


class UnknownPolicy(PolicyError):
    """Neither a policy file nor the name of a shipped example policy."""


@dataclass(frozen=True)
class CataloguePolicy:
    name: str
    description: str
    path: Path


def catalogue() -> list[CataloguePolicy]:
    """Every shipped example policy, by name, with its one-line description."""
    entries = []
    for path in sorted((project_data_dir() / FOLDER).glob("*.toml")):
        try:
            description = str(tomllib.loads(path.read_text("utf-8")).get("description", ""))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            description = f"(unreadable: {err})"  # still listed: 'policy check' says why
        entries.append(CataloguePolicy(path.stem, description, path))
    return entries


def resolve_policy(text: str | Path) -> Path:
    """A policy file path: a path as given (an existing file, or anything with a folder or
    a ``.toml`` suffix: the loader says why it cannot be read), else a shipped example by
    name. Raises UnknownPolicy naming the choices."""
    given = Path(text)
    if given.exists() or given.parent != Path(".") or given.suffix == ".toml":
        return given
    for entry in catalogue():
        if entry.name == given.name:
            return entry.path
    names = ", ".join(e.name for e in catalogue())
    raise UnknownPolicy(f"policy {str(text)!r}: no such file, and not a shipped policy ({names})")
