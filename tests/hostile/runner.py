"""Run the real ``residency`` command in a subprocess and check how it fails.

Every hostile case asserts the same contract: the exit code, no traceback, one clear
line naming the input, and that the valid rest of the batch was still answered.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    """What one CLI run printed and how it exited."""

    code: int
    stdout: str
    stderr: str

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stdout + self.stderr

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def run_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    timeout: float = 60.0,
    cwd: Path | None = None,
) -> Run:
    """``python -m residency ARGS``; the dataset folder is ``data_dir`` when given."""
    full_env = dict(os.environ)
    full_env.pop("COLUMNS", None)
    if data_dir is not None:
        full_env["RESIDENCY_DATA_DIR"] = str(data_dir)
    if env:
        full_env.update(env)
    proc = subprocess.run(
        [sys.executable, "-m", "residency", *args],
        input=stdin,
        capture_output=True,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=False,
    )
    return Run(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def assert_clean_failure(run: Run, *, code: int = 2, mentions: str | None = None) -> None:
    """A non-zero exit with one clear line and no traceback."""
    assert not run.traceback, run.stderr[-2000:]
    assert run.code == code, (run.code, run.stderr[-2000:])
    if mentions is not None:
        assert mentions in run.stderr, run.stderr[-2000:]
