"""The shipped table of consent platforms (``data/consent_platforms.toml``) and the click."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class ConsentPlatform:
    """One CMP: its banner, its accept and reject buttons, and where those came from."""

    name: str
    detect: str
    accept: str
    reject: str
    source: str

    def button(self, choice: str) -> str:
        return self.accept if choice == "accept" else self.reject


@cache
def consent_platforms() -> tuple[tuple[ConsentPlatform, ...], str]:
    """The table and its version."""
    text = resources.files("residency.data").joinpath("consent_platforms.toml").read_text("utf-8")
    table = tomllib.loads(text)
    platforms = tuple(
        ConsentPlatform(
            name=str(row["name"]),
            detect=str(row["detect"]),
            accept=str(row["accept"]),
            reject=str(row["reject"]),
            source=str(row["source"]),
        )
        for row in table.get("platform", [])
    )
    return platforms, str(table.get("version", "unknown"))
