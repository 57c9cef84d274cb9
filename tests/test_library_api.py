"""The library API (issue 20): ``import residency`` gives what a program needs, loads
nothing until it is used, raises one family of errors, never looks at the terminal, and
no module reaches into another's private names."""

from __future__ import annotations

import ast
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

import residency
from residency.errors import ResidencyError

PACKAGE = Path(residency.__file__).parent

#: Modules of the command line: the only ones that may read the terminal and NO_COLOR.
CLI_SIDE = {"cli.py", "cli_options.py", "progress_bar.py"}

#: Exceptions used as control flow inside one module, never raised to a caller.
INTERNAL_EXCEPTIONS = {
    "residency.endpoints.capture.tls.NeedMore",
    "residency.endpoints.capture.tls.NotClientHello",
    "residency.endpoints.capture.decode.Skip",
    "residency.http.AddressRefused",  # raised inside the transport; Fetcher re-raises FetchRefused
}


def test_everything_in_all_resolves() -> None:
    required = {"Auditor", "Locator", "load_policy", "open_store", "render", "ResidencyError"}
    assert required | {"audit_targets", "AuditResult", "Verdict"} <= set(residency.__all__)
    for name in residency.__all__:
        assert getattr(residency, name) is not None, name
    assert residency.ResidencyError is ResidencyError
    assert sorted(residency.__all__) == residency.__all__  # kept sorted, so merges stay easy
    with pytest.raises(AttributeError):
        _ = residency.no_such_name  # type: ignore[attr-defined]


def test_import_residency_loads_nothing_else() -> None:
    """A cold ``residency ip`` starts with this import: the library names load on use."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json, sys, residency; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('residency'))))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == ["residency"]


def library_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages([str(PACKAGE)], "residency."):
        if info.name.endswith("__main__") or info.name.startswith("residency.data"):
            continue
        names.append(info.name)
    return names


def test_every_error_is_a_residency_error() -> None:
    """One family: a program catches ``residency.ResidencyError`` and gets every failure
    the library raises on purpose, each with its one-line message."""
    outside = []
    for name in library_modules():
        module = import_module(name)
        for cls_name, cls in vars(module).items():
            if (
                inspect.isclass(cls)
                and issubclass(cls, BaseException)
                and cls.__module__ == name
                and not issubclass(cls, ResidencyError)
                and f"{name}.{cls_name}" not in INTERNAL_EXCEPTIONS
            ):
                outside.append(f"{name}.{cls_name}")
    assert outside == []


def test_no_private_name_is_imported_across_modules() -> None:
    """``from residency.x import _y`` couples a module to another's internals: make the
    name public where it is defined, or keep the code where the name lives."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom):
                continue
            if not (node.level or (node.module or "").startswith("residency")):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    where = path.relative_to(PACKAGE.parent)
                    offenders.append(f"{where}:{node.lineno} {node.module}.{alias.name}")
    assert offenders == []


TERMINAL = re.compile(r"isatty\(|get_terminal_size\(|\"NO_COLOR\"|\"COLUMNS\"")


def test_the_library_never_reads_the_terminal_or_no_color() -> None:
    """Colour and width are the caller's choice (``RenderOptions``); only the CLI asks
    the terminal."""
    readers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if TERMINAL.search(path.read_text(encoding="utf-8"))
        and str(path.relative_to(PACKAGE)) not in CLI_SIDE
    ]
    assert readers == []
    importers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if "residency.progress_bar" in path.read_text(encoding="utf-8")
        or "residency.cli_options" in path.read_text(encoding="utf-8")
    ]
    assert set(importers) <= CLI_SIDE


def test_render_takes_colour_and_width_from_its_options(small_dataset: Path) -> None:
    result = residency.audit_targets(["13.228.0.1"], data_dir=small_dataset)
    plain = residency.render(result, "terminal", residency.RenderOptions(width=100))
    coloured = residency.render(result, "terminal", residency.RenderOptions(width=100, color=True))
    assert "\x1b[" not in plain and "13.228.0.1" in plain
    assert max(len(line) for line in plain.splitlines()) <= 100
    assert "\x1b[" in coloured


def test_audit_targets_takes_a_policy_by_name_or_loaded(small_dataset: Path) -> None:
    by_name = residency.audit_targets(["13.228.0.1"], policy="eu-only-gdpr", data_dir=small_dataset)
    loaded = residency.load_policy("eu-only-gdpr")
    by_object = residency.audit_targets(["13.228.0.1"], policy=loaded, data_dir=small_dataset)
    assert by_name.policy == by_object.policy and by_name.policy is not None
    assert by_name.verdict == by_object.verdict == residency.Verdict.FAIL  # SG is not in the EEA
    with pytest.raises(residency.ResidencyError, match="not a shipped policy"):
        residency.audit_targets(["13.228.0.1"], policy="no-such-policy", data_dir=small_dataset)
