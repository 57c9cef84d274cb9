"""The exit codes of every residency command, defined once."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: The worst verdict reached ``--fail-on`` (or another command found what it checks for).
    VIOLATIONS = 1
    #: Bad usage or bad input: a clear one-line message was printed.
    USAGE = 2
