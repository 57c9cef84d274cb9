"""JUnit XML for CI dashboards: one testcase per endpoint.

FAIL is a ``<failure>``. INDETERMINATE is ``<skipped>`` by default (visible, not red);
``RenderOptions.junit_indeterminate`` makes it a failure or a pass instead. WARN passes but
is visible: a ``verdict``/``warning`` property on the testcase and ``WARN: ...`` first in its
``<system-out>`` (a ``<failure>`` with ``junit_warn_fails``, as ``--fail-on warn``). WAIVED
passes, with the waiver in ``<system-out>``. Without a policy every endpoint passes and the
testcase output says where it is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from residency.model import AuditResult, EndpointResult, Verdict
from residency.report.common import (
    address_verdicts,
    location_text,
    main_reasons,
    operator_text,
    outcome_text,
    provider_text,
)
from residency.report.controller_text import controller_text, edge_text, registrant_text
from residency.report.interface import JunitIndeterminate, RenderOptions
from residency.textsafe import xml
from residency.timefmt import parse_iso

#: The longest line of a testcase's text (it joins several untrusted texts).
LINE_LIMIT = 1000


def _seconds(result: AuditResult) -> str:

    try:
        start = parse_iso(result.started)
        end = parse_iso(result.finished)
    except ValueError:
        return "0"
    return f"{max(0.0, (end - start).total_seconds()):.3f}"


class JunitFormatter:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options

    def describe(self, endpoint: EndpointResult) -> str:
        lines = [f"{endpoint.endpoint.host}: {outcome_text(endpoint)}"]
        lines += [
            f"  {text}"
            for text in (
                controller_text(endpoint),
                registrant_text(endpoint),
                edge_text(endpoint),
            )
            if text
        ]
        verdicts = address_verdicts(endpoint)
        for facts in endpoint.facts:
            judged = verdicts.get(facts.ip)
            line = f"  {facts.ip}: {location_text(facts)}; {provider_text(facts)}; "
            line += f"operator {operator_text(facts)}"
            if judged:
                line += f" -> {judged.verdict.name} ({judged.aspect})"
            lines.append(line)
            for reason in judged.reasons if judged else ():
                lines.append(f"    {reason.code}: {reason.message}")
                lines += [f"      evidence: {e}" for e in reason.evidence]
        for reason in endpoint.verdict.reasons if endpoint.verdict else ():
            lines.append(f"  {reason.code}: {reason.message}")
        # only characters XML 1.0 can hold, each line on its own (no forged line)
        return "\n".join(xml(line, LINE_LIMIT) for line in lines)

    def render(self, result: AuditResult) -> str:
        policy = xml(result.policy.name) if result.policy else "locations"
        suite = ET.Element("testsuite", name=f"residency: {policy}", timestamp=xml(result.started))
        failures = skipped = 0
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", name="run_id", value=xml(result.run_id))
        if result.policy:
            ET.SubElement(
                properties, "property", name="policy_version", value=xml(result.policy.version)
            )
        for version in result.data_versions:
            ET.SubElement(
                properties,
                "property",
                name=xml(f"data:{version.dataset}"),
                value=xml(version.version),
            )
        for endpoint in result.endpoints:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"residency.{policy}",
                name=xml(endpoint.endpoint.host),
                time="0",
            )
            verdict = endpoint.verdict.verdict if endpoint.verdict else None
            reasons = main_reasons(endpoint)
            message = xml("; ".join(r.message for r in reasons[:3]), LINE_LIMIT)
            mode = self.options.junit_indeterminate
            fails = (
                verdict is Verdict.FAIL
                or (verdict is Verdict.INDETERMINATE and mode is JunitIndeterminate.FAILURE)
                or (verdict is Verdict.WARN and self.options.junit_warn_fails)
            )
            if fails and verdict is not None:
                failures += 1
                failure = ET.SubElement(case, "failure", message=message, type=verdict.name)
                failure.text = self.describe(endpoint)
            elif verdict is Verdict.INDETERMINATE and mode is JunitIndeterminate.SKIPPED:
                skipped += 1
                ET.SubElement(case, "skipped", message=f"INDETERMINATE: {message}")
            out = self.describe(endpoint)
            if verdict is not None:
                # Every judged testcase names its verdict; a WARN one says why first, so a
                # dashboard that shows only passes and failures still shows the warning.
                listed = ET.Element("properties")
                case.insert(0, listed)  # first, as pytest writes them
                ET.SubElement(listed, "property", name="verdict", value=verdict.name)
                if verdict is Verdict.WARN:
                    ET.SubElement(listed, "property", name="warning", value=message)
                    out = f"WARN: {message}\n{out}"
            ET.SubElement(case, "system-out").text = out
        suite.set("tests", str(len(result.endpoints)))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        suite.set("skipped", str(skipped))
        suite.set("time", _seconds(result))
        root = ET.Element(
            "testsuites",
            name="residency",
            tests=str(len(result.endpoints)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=_seconds(result),
        )
        root.append(suite)
        ET.indent(root)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            + ET.tostring(root, encoding="unicode")
            + "\n"
        )
