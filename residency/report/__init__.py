"""Reports: turn an ``AuditResult`` into terminal, JSON, CSV, Markdown, HTML, SARIF or JUnit text.

``render(result, fmt)`` is the one entry point; ``FORMATTERS`` is the explicit registry.
"""

from __future__ import annotations

from collections.abc import Callable

from residency.model import AuditResult
from residency.report.common import summary_line
from residency.report.csv_report import CsvFormatter
from residency.report.html_report import HtmlFormatter
from residency.report.interface import (
    Formatter,
    JunitIndeterminate,
    OutputFormat,
    RenderOptions,
    ReportError,
)
from residency.report.json_report import SCHEMA_ID, JsonFormatter, report_dict
from residency.report.junit_report import JunitFormatter
from residency.report.markdown_report import MarkdownFormatter
from residency.report.sarif_report import SarifFormatter
from residency.report.terminal import TerminalFormatter

#: Output format -> factory of its formatter. Every OutputFormat has an entry (tested).
FORMATTERS: dict[OutputFormat, Callable[[RenderOptions], Formatter]] = {
    OutputFormat.TERMINAL: TerminalFormatter,
    OutputFormat.JSON: lambda _options: JsonFormatter(),
    OutputFormat.CSV: lambda _options: CsvFormatter(),
    OutputFormat.MARKDOWN: lambda _options: MarkdownFormatter(),
    OutputFormat.HTML: lambda _options: HtmlFormatter(),
    OutputFormat.SARIF: lambda _options: SarifFormatter(),
    OutputFormat.JUNIT: JunitFormatter,
}


def to_format(fmt: OutputFormat | str, options: RenderOptions | None = None) -> Formatter:
    """The formatter for ``fmt`` (an OutputFormat or its name)."""
    chosen = fmt if isinstance(fmt, OutputFormat) else OutputFormat.parse(fmt)
    return FORMATTERS[chosen](options or RenderOptions())


def render(
    result: AuditResult, fmt: OutputFormat | str, options: RenderOptions | None = None
) -> str:
    """The whole report text for ``result`` in format ``fmt``."""
    return to_format(fmt, options).render(result)


__all__ = [
    "FORMATTERS",
    "SCHEMA_ID",
    "Formatter",
    "JunitIndeterminate",
    "OutputFormat",
    "RenderOptions",
    "ReportError",
    "render",
    "report_dict",
    "summary_line",
    "to_format",
]
