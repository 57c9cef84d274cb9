"""The progress bar: on stderr when it is a terminal (a real pseudo-terminal here), never
when stderr is a pipe, never with -q, and never in stdout."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

#: The bar's drawn characters (rich's BarColumn), and the label cli.py gives it.
BAR = "━"
LABEL = "auditing endpoints"


def _addresses(n: int) -> list[str]:
    return [f"13.228.{i // 250}.{i % 250 + 1}" for i in range(n)]


def _audit(dataset: Path, *extra: str, stderr_tty: bool) -> tuple[int, str, str]:
    """Run ``residency audit`` on 120 literals; stdout is never a terminal (a file, so a
    long report cannot block the child while the terminal is read)."""
    env = {**os.environ, "NO_COLOR": "1", "RESIDENCY_DATA_DIR": str(dataset), "COLUMNS": "100"}
    env.pop("RESIDENCY_GEOIP", None)
    cmd = [sys.executable, "-m", "residency", "audit", "--no-resolve", *extra, *_addresses(120)]
    if not stderr_tty:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        return done.returncode, done.stdout, done.stderr
    controller, terminal = pty.openpty()
    with tempfile.TemporaryFile() as stdout:
        try:
            proc = subprocess.Popen(
                cmd, stdout=stdout, stderr=terminal, stdin=subprocess.DEVNULL, env=env
            )
            os.close(terminal)
            terminal = -1
            seen = bytearray()
            while True:
                try:
                    piece = os.read(controller, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not piece:
                    break
                seen += piece
            code = proc.wait(timeout=300)
        finally:
            os.close(controller)
            if terminal >= 0:
                os.close(terminal)
        stdout.seek(0)
        out = stdout.read().decode()
    return code, out, seen.decode(errors="replace")


def test_bar_on_a_terminal_stderr_only(small_dataset: Path) -> None:
    code, out, err = _audit(small_dataset, "--json", stderr_tty=True)
    assert code in (0, 1), err
    assert LABEL in err and BAR in err
    assert BAR not in out and LABEL not in out
    assert out.lstrip().startswith("{")  # stdout is the JSON report, untouched


def test_no_bar_through_a_pipe(small_dataset: Path) -> None:
    code, out, err = _audit(small_dataset, "--json", stderr_tty=False)
    assert code in (0, 1), err
    assert LABEL not in err and BAR not in err and BAR not in out


def test_quiet_means_no_bar_even_on_a_terminal(small_dataset: Path) -> None:
    code, _, err = _audit(small_dataset, "-q", stderr_tty=True)
    assert code in (0, 1), err
    assert LABEL not in err and BAR not in err


def test_library_reports_through_the_callback(tmp_path: Path) -> None:
    from residency.progress_bar import ProgressBar, progress_bar

    with progress_bar("x", quiet=True) as bar:
        assert bar.tick is None  # nothing drawn, nothing to call
    assert ProgressBar().tick is None
    if sys.stderr.isatty():  # pragma: no cover - pytest captures stderr
        pytest.skip("stderr is a terminal")
    with progress_bar("x") as bar:
        assert bar.tick is None  # stderr captured by pytest: not a terminal
