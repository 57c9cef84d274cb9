"""Reports: turn an ``AuditResult`` into terminal, JSON, CSV, Markdown, HTML, SARIF or JUnit text.

``render(result, fmt)`` is the one entry point; ``FORMATTERS`` is the explicit registry.
Formatter modules are imported only when a format is asked for, so commands that
print no report (``residency ip``) do not pay for HTML, SARIF and XML at start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from residency.report.interface import (
    Formatter,
    JunitIndeterminate,
    OutputFormat,
    RenderOptions,
    ReportError,
)

if TYPE_CHECKING:
    from residency.model import AuditResult  # annotations only: the model is not loaded here
    from residency.report.common import summary_line
    from residency.report.json_report import SCHEMA_ID, report_dict


def _lazy(module: str, name: str, with_options: bool) -> Callable[[RenderOptions], Formatter]:
    def build(options: RenderOptions) -> Formatter:
        cls = getattr(import_module(f"residency.report.{module}"), name)
        return cls(options) if with_options else cls()  # type: ignore[no-any-return]

    return build


#: Output format -> factory of its formatter. Every OutputFormat has an entry (tested).
FORMATTERS: dict[OutputFormat, Callable[[RenderOptions], Formatter]] = {
    OutputFormat.TERMINAL: _lazy("terminal", "TerminalFormatter", True),
    OutputFormat.JSON: _lazy("json_report", "JsonFormatter", False),
    OutputFormat.JSONL: _lazy("jsonl_report", "JsonlFormatter", False),
    OutputFormat.CSV: _lazy("csv_report", "CsvFormatter", False),
    OutputFormat.MARKDOWN: _lazy("markdown_report", "MarkdownFormatter", False),
    OutputFormat.HTML: _lazy("html_report", "HtmlFormatter", False),
    OutputFormat.SARIF: _lazy("sarif_report", "SarifFormatter", False),
    OutputFormat.JUNIT: _lazy("junit_report", "JunitFormatter", True),
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


_LAZY_NAMES = {
    "summary_line": "common",
    "SCHEMA_ID": "json_report",
    "report_dict": "json_report",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'residency.report' has no attribute {name!r}")
    return getattr(import_module(f"residency.report.{module}"), name)


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
