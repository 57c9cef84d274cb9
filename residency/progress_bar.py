"""The CLI's progress bar: drawn with rich on stderr, only when stderr is a terminal.

Used by cli.py only; the stages report through a ``residency.progress.Progress`` callback
and never draw. Quiet means quiet: no bar. The bar is transient (erased when done), so
the summary lines after it read as before.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from residency.progress import Progress


class ProgressBar:
    """A live bar (or nothing) plus an ``echo`` that keeps stdout lines off the bar."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    @property
    def tick(self) -> Progress | None:
        """The callback to hand to the library; None when no bar is drawn."""
        if self._bar is None:
            return None
        bar, task = self._bar, self._task

        def tick(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return tick

    def echo(self, line: str) -> None:
        """A stdout line. While the bar is live on the same terminal, it is printed above
        the bar (through the bar's console) instead of through it; redirected stdout is
        written as usual."""
        if self._bar is not None and sys.stdout.isatty():
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            click.echo(line)


@contextmanager
def progress_bar(label: str, quiet: bool = False) -> Iterator[ProgressBar]:
    """A bar labelled ``label`` on stderr when it is a terminal and not ``quiet``."""
    if quiet or not sys.stderr.isatty():
        yield ProgressBar()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        redirect_stdout=False,  # stdout is the report: never routed to stderr
        redirect_stderr=False,
    )
    with bar:
        yield ProgressBar(bar, bar.add_task(label, total=None))
