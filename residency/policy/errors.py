"""Errors of the policy layer: a policy file that cannot be used, with file and line."""

from __future__ import annotations

from dataclasses import dataclass

from residency.errors import ResidencyError


class PolicyError(ResidencyError):
    """Base of every policy failure (unreadable file, broken TOML, invalid content)."""


@dataclass(frozen=True)
class PolicyProblem:
    """One thing wrong in a policy file, located to a line (0 when no line applies)."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.message}"
            if self.line
            else f"{self.file}: {self.message}"
        )


class PolicyInvalid(PolicyError):
    """The policy file is broken; ``problems`` lists every problem found, in line order.

    ``str(err)`` is the first problem, ``FILE:LINE: what is wrong``, and says how many more.
    """

    def __init__(self, problems: tuple[PolicyProblem, ...]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))  # stable: file order
        first = str(self.problems[0]) if self.problems else "invalid policy"
        more = len(self.problems) - 1
        suffix = f" (and {more} more problem{'s' if more != 1 else ''})" if more > 0 else ""
        super().__init__(first + suffix)


class PolicyUnreadable(PolicyError):
    """The policy file cannot be opened or is not UTF-8."""


class JurisdictionTableInvalid(PolicyError):
    """``data/jurisdictions.toml`` itself is broken (a packaging bug, not a user error)."""
