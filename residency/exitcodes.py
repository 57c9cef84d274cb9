"""The exit codes of every residency command, defined once."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    #: The worst verdict reached ``--fail-on`` (or another command found what it checks for).
    VIOLATIONS = 1
    #: Bad usage or bad input: a clear one-line message was printed.
    USAGE = 2
    #: An unexpected error inside residency (a bug): one line on stderr, never a traceback,
    #: and never 1, which CI reads as a finding. 70 is EX_SOFTWARE of sysexits.h.
    INTERNAL = 70
