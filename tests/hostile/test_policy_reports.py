"""Hostile runs of the real CLI for policies and reports.

``audit`` needs a location dataset: a small one is imported from the shared snapshots
once per module (skipped where ../shared/data is absent). IP literals need no DNS.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.hostile.runner import run_cli

POLICY = """\
name = "eu-test"
version = "1"
[countries]
allow = ["DE", "FR"]
"""


def test_junit_follows_fail_on_indeterminate(tmp_path: Path, small_dataset: Path) -> None:
    junitparser = pytest.importorskip("junitparser")
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY, encoding="utf-8")
    out = tmp_path / "out.xml"
    # 10.0.0.1 is not routable: INDETERMINATE under the default handling.
    args = ("audit", "10.0.0.1", "--policy", str(policy), "--format", "junit")
    run = run_cli(*args, "--fail-on", "indeterminate", "-o", str(out), data_dir=small_dataset)
    assert not run.traceback, run.stderr
    assert run.code == 1, run.stderr
    xml = junitparser.JUnitXml.fromfile(str(out))
    cases = [case for suite in xml for case in suite]
    assert [c.name for c in cases] == ["10.0.0.1"]
    kinds = [type(r).__name__ for r in cases[0].result]
    assert kinds == ["Failure"], kinds  # not Skipped: the exit code said it failed
    # With the default --fail-on the exit is 0 and the endpoint is skipped, visibly.
    run = run_cli(*args, "-o", str(out), data_dir=small_dataset)
    assert run.code == 0, run.stderr
    xml = junitparser.JUnitXml.fromfile(str(out))
    kinds = [type(r).__name__ for s in xml for c in s for r in c.result]
    assert kinds == ["Skipped"], kinds


def test_sarif_from_cli_has_physical_locations(tmp_path: Path, small_dataset: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text(POLICY, encoding="utf-8")
    targets = tmp_path / "hosts.txt"
    targets.write_text("# addresses\n10.0.0.1\n192.168.1.1\n", encoding="utf-8")
    out = tmp_path / "out.sarif"
    run = run_cli(
        "audit", str(targets), "8.8.8.8", "--policy", str(policy),
        "--format", "sarif", "-o", str(out), data_dir=small_dataset,
    )  # fmt: skip
    assert not run.traceback, run.stderr
    assert run.code in (0, 1), run.stderr
    results = json.loads(out.read_text(encoding="utf-8"))["runs"][0]["results"]
    lines = {r["properties"]["host"]: r["locations"][0]["physicalLocation"] for r in results}
    assert lines["10.0.0.1"]["region"]["startLine"] == 2
    assert lines["192.168.1.1"]["region"]["startLine"] == 3
    assert lines["10.0.0.1"]["artifactLocation"]["uri"].endswith("hosts.txt")
    for physical in lines.values():
        assert physical["region"]["startLine"] >= 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nesting too deep"),
        (
            '[[waivers]]\naddress = "10.0.0.1/8"\njustification = "j"\nowner = "o"\n'
            "expires = 2027-01-01\n",
            ":4: host bits set; did you mean 10.0.0.0/8?",
        ),
        (
            '[[waivers]]\nhost = "a.example"\njustification = "j"\nowner = "o"\n' * 20_000,
            "(and 19,999 more like it, lines",
        ),
    ],
    ids=["deep", "host-bits", "20000-identical"],
)
def test_policy_check_bad_policies(tmp_path: Path, body: str, expected: str) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_text('name = "p"\nversion = "1"\n' + body, encoding="utf-8")
    run = run_cli("policy", "check", str(policy), timeout=30)
    assert not run.traceback, run.stderr[-2000:]
    assert run.code == 2
    lines = run.error_lines()
    assert len(lines) == 2, lines  # the problem, then the summary line
    assert lines[0].startswith(str(policy)) and expected in lines[0], lines
    assert len(run.stderr) < 1000
