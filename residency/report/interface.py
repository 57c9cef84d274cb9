"""What every report format implements, the output-format names, and the report errors."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from residency.errors import ResidencyError

if TYPE_CHECKING:  # annotations only: the CLI imports the format names at start-up
    from residency.model import AuditResult


class ReportError(ResidencyError):
    """A report cannot be produced as asked (unknown format, bad option)."""


class ComplianceFormat(StrEnum):
    """The ``residency report --format`` choices (report/compliance.py renders each)."""

    JSON = "json"
    MARKDOWN = "markdown"
    CSV = "csv"
    HTML = "html"


class OutputFormat(StrEnum):
    """The ``--format`` choices."""

    TERMINAL = "terminal"
    JSON = "json"
    #: One JSON object per line; ``residency audit`` streams it in bounded memory.
    JSONL = "jsonl"
    CSV = "csv"
    MARKDOWN = "markdown"
    HTML = "html"
    SARIF = "sarif"
    JUNIT = "junit"

    @classmethod
    def parse(cls, text: str) -> OutputFormat:
        try:
            return cls(text.lower())
        except ValueError:
            choices = ", ".join(f.value for f in cls)
            raise ReportError(f"unknown report format {text!r}; choose one of {choices}") from None

    def to_format(self, options: RenderOptions | None = None) -> Formatter:
        """The formatter that renders this format (see ``residency.report.FORMATTERS``)."""
        from residency.report import to_format

        return to_format(self, options)


class JunitIndeterminate(StrEnum):
    """How a JUnit report shows an INDETERMINATE endpoint."""

    SKIPPED = "skipped"  # the default: not a failure, but visibly not a pass
    FAILURE = "failure"
    PASS = "pass"


@dataclass(frozen=True)
class RenderOptions:
    color: bool = False  # terminal: ANSI colours
    junit_indeterminate: JunitIndeterminate = JunitIndeterminate.SKIPPED
    junit_warn_fails: bool = False  # JUnit: WARN is a <failure> (as with --fail-on warn)
    max_width: int = 48  # terminal: widest cell before it is cut
    verbose: bool = False  # terminal: every address, chain and evidence (the long table)
    details: str | None = None  # terminal: the long table for this one endpoint
    width: int | None = None  # terminal: columns to fit; None = 80 (the CLI passes its terminal's)


class Formatter(Protocol):
    """Turns a whole audit into the text of one report."""

    def render(self, result: AuditResult) -> str: ...
