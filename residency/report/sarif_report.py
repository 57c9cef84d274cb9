"""SARIF 2.1.0 for code-scanning dashboards: one rule per kind of breach, waivers as suppressions.

Levels: a FAIL reason is ``error``; an INDETERMINATE reason and what the policy chose to warn
about (the WARN verdict) are ``warning``; a note that does not decide the verdict is ``note``.
A waived breach is still reported, with an accepted suppression carrying the waiver's
justification.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from residency.model import AuditResult, EndpointResult, PolicyRef, Reason, Verdict
from residency.report.common import address_verdicts, is_passing, is_warning
from residency.report.controller_text import controller_text, edge_text
from residency.textsafe import scrub

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

#: Rule id -> (short description, full description). Ids equal policy reason codes.
RULES: dict[str, tuple[str, str]] = {
    "country-denied": (
        "Located in a denied country",
        "The address is located in a country the policy denies.",
    ),
    "country-not-allowed": (
        "Located outside the allowed countries",
        "The address is located in a country the policy does not allow.",
    ),
    "provider-denied": (
        "On a denied provider or region",
        "The address belongs to a provider or region the policy denies.",
    ),
    "provider-not-allowed": (
        "Not on an allowed provider region",
        "The address is not in any provider region the policy allows.",
    ),
    "region-unknown": (
        "Provider region unknown",
        "The provider is allowed only in some regions and the address's region is unknown.",
    ),
    "operator-jurisdiction-denied": (
        "Operated under a denied jurisdiction",
        "The operator's legal jurisdiction is one the policy denies.",
    ),
    "operator-jurisdiction-not-allowed": (
        "Operated outside the allowed jurisdictions",
        "The operator's legal jurisdiction is not one the policy allows.",
    ),
    "operator-unknown": (
        "Operator jurisdiction unknown",
        "The policy constrains the operator but its jurisdiction is unknown.",
    ),
    "cdn-edge": (
        "CDN edge, origin unknown",
        "The address is a CDN edge; where the data goes behind it is unknown.",
    ),
    "anycast": (
        "Anycast address",
        "The address is anycast, announced from many places; its location cannot be proven.",
    ),
    "sources-disagree": (
        "Location sources disagree",
        "The location sources disagree in a way that changes the verdict.",
    ),
    "no-data": ("No location data", "No source places the address."),
    "not-routable": (
        "Not publicly routable",
        "The address is private, loopback or otherwise not publicly routable.",
    ),
    "resolution-failed": (
        "Resolution failed",
        "The host did not resolve and no address was observed.",
    ),
    "waiver-expired": ("Waiver expired", "A waiver covered this breach but has expired."),
    "partial-resolution": (
        "Some resolutions failed",
        "Some resolutions failed; their addresses are not judged.",
    ),
    "waiver-expiring": ("Waiver about to expire", "A waiver covering this endpoint expires soon."),
}
#: A finding's level: what the policy warns about is a "warning", like what it cannot judge.
LEVEL_OF = {Verdict.FAIL: "error", Verdict.INDETERMINATE: "warning", Verdict.WARN: "warning"}
_ORIGIN_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+)$")
#: Origins that name no file (command-line arguments, standard input).
_NO_FILE = {"", "argv", "-", "stdin", "<stdin>"}


def _help(rid: str, full: str) -> str:
    """What to do about a finding of this rule, for the dashboard's help pane."""
    if rid.startswith("waiver-"):
        todo = "Renew the waiver with a new expiry date, or fix the endpoint and remove it."
    elif rid in _INDETERMINATE_CODES:
        todo = (
            "The location could not be proven. Check the endpoint's provider and region, "
            "or set the policy's handling for this case (allow, warn, fail)."
        )
    else:
        todo = (
            "Move the endpoint to a permitted country, provider or region, or add a "
            "waiver with a justification, an owner and an expiry date."
        )
    return f"{full} {todo} 'residency audit HOST' shows the evidence."


def rule_id(reason: Reason) -> str:
    code = reason.code.removeprefix("warn-")
    return code


class SarifFormatter:
    policy_uri = "policy.toml"
    policy: PolicyRef | None = None

    def render(self, result: AuditResult) -> str:
        if result.policy is not None:
            self.policy_uri = result.policy.path or f"{result.policy.name}.toml"
            self.policy = result.policy
        results: list[dict[str, Any]] = []
        used: dict[str, str] = {}
        for endpoint in result.endpoints:
            for entry, level in self.findings(endpoint):
                used.setdefault(entry["ruleId"], level)
                results.append(entry)
        rules = []
        for rid in sorted(used):
            short, full = RULES.get(rid, (rid.replace("-", " "), rid.replace("-", " ")))
            rules.append(
                {
                    "id": rid,
                    "name": "".join(p.capitalize() for p in rid.split("-")),
                    "shortDescription": {"text": short},
                    "fullDescription": {"text": full},
                    "help": {"text": _help(rid, full)},
                    "defaultConfiguration": {"level": used[rid]},
                }
            )
        index = {r["id"]: i for i, r in enumerate(rules)}
        for entry in results:
            entry["ruleIndex"] = index[entry["ruleId"]]
        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "residency",
                    "version": result.tool_version or "0",
                    "rules": rules,
                }
            },
            "invocations": [
                {
                    "executionSuccessful": True,
                    "startTimeUtc": result.started,
                    "endTimeUtc": result.finished,
                }
            ],
            "results": results,
            "properties": {
                "runId": result.run_id,
                "policy": None
                if result.policy is None
                else {"name": result.policy.name, "version": result.policy.version},
                "verdict": result.verdict.name if result.verdict is not None else None,
                "dataVersions": [f"{v.dataset} {v.version}" for v in result.data_versions],
            },
        }
        document = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
        # an unpaired surrogate cannot be written as UTF-8: replaced (textsafe.scrub)
        return json.dumps(scrub(document), indent=2, ensure_ascii=False) + "\n"

    def findings(self, endpoint: EndpointResult) -> list[tuple[dict[str, Any], str]]:
        if endpoint.verdict is None:
            return []
        out: list[tuple[dict[str, Any], str]] = []
        for reason in endpoint.verdict.reasons:
            found = self.finding(
                endpoint, None, endpoint.verdict.verdict, reason, endpoint.verdict.reasons
            )
            if found:
                out.append(found)
        verdicts = address_verdicts(endpoint)
        for facts in endpoint.facts:
            judged = verdicts.get(facts.ip)
            if judged is None:
                continue
            for reason in judged.reasons:
                found = self.finding(endpoint, facts.ip, judged.verdict, reason, judged.reasons)
                if found:
                    out.append(found)
        return out

    def finding(
        self,
        endpoint: EndpointResult,
        ip: str | None,
        verdict: Verdict,
        reason: Reason,
        siblings: tuple[Reason, ...],
    ) -> tuple[dict[str, Any], str] | None:
        if reason.code in ("waived",) or is_passing(reason) or reason.code == "no-constraint":
            return None
        waiver = next((r for r in siblings if r.code == "waived"), None)
        if is_warning(reason) and reason.code != "waiver-expired":
            level = "note"
        elif reason.code == "waiver-expired":
            level = "error"
        elif verdict is Verdict.WAIVED:
            # A waived breach: report it at the level it would have had, suppressed.
            level = "warning" if reason.code in _INDETERMINATE_CODES else "error"
        elif (reason.verdict or verdict) in LEVEL_OF:
            # the finding's own verdict: a FAIL address may also carry what the policy
            # only warns about, and that stays a warning
            level = LEVEL_OF[reason.verdict or verdict]
        else:
            return None  # a reason on a passing address that is not a breach
        host = endpoint.endpoint.host
        target = f"{host} ({ip})" if ip else host
        rule_line = self.policy.line_of(reason.rule) if self.policy is not None else 0
        entry: dict[str, Any] = {
            "ruleId": rule_id(reason),
            "level": level,
            "message": {"text": f"{target}: {reason.message}"},
            "locations": [self.location(endpoint, ip, rule_line)],
            "partialFingerprints": {
                "residency/v1": hashlib.sha256(
                    f"{host}|{ip or ''}|{rule_id(reason)}".encode()
                ).hexdigest()[:32]
            },
            "properties": {
                "host": host,
                "ip": ip,
                "verdict": verdict.name,
                "rule": reason.rule,
                "evidence": list(reason.evidence),
                "controller": controller_text(endpoint) or None,
                "edgeSeen": edge_text(endpoint) or None,
            },
        }
        if rule_line:
            # The policy rule that decided it, beside the input line the endpoint came from.
            entry["relatedLocations"] = [
                {
                    "id": 1,
                    "physicalLocation": {
                        "artifactLocation": {"uri": self.policy_uri},
                        "region": {"startLine": rule_line},
                    },
                    "message": {"text": f"decided by {reason.rule}"},
                }
            ]
        if waiver is not None:
            entry["suppressions"] = [
                {"kind": "external", "status": "accepted", "justification": waiver.message}
            ]
        return entry, level

    def location(self, endpoint: EndpointResult, ip: str | None, rule_line: int) -> dict[str, Any]:
        host = endpoint.endpoint.host
        location: dict[str, Any] = {
            "logicalLocations": [
                {
                    "name": ip or host,
                    "fullyQualifiedName": f"{host}/{ip}" if ip else host,
                    "kind": "resource",
                }
            ]
        }
        location["physicalLocation"] = self.physical(endpoint.endpoint.origin or "", rule_line)
        return location

    def physical(self, origin: str, rule_line: int = 0) -> dict[str, Any]:
        """Where to point a code-scanning dashboard; it rejects results without one.

        The input line the endpoint came from (lists, zone files give ``FILE:LINE``);
        else line 1 of the input file (HAR entries, zone owners carry no line);
        else (command-line targets) the line of the policy rule that decided it, or line 1
        of the policy file when a policy-wide setting decided.
        """
        found = _ORIGIN_LINE.match(origin)
        if found:
            uri, line = found.group("file"), int(found.group("line"))
        elif origin.split(" ")[0] not in _NO_FILE:
            uri, line = origin.split(" ")[0], 1
        else:
            uri, line = self.policy_uri, rule_line or 1
        return {"artifactLocation": {"uri": uri}, "region": {"startLine": line}}


_INDETERMINATE_CODES = {
    "cdn-edge",
    "anycast",
    "sources-disagree",
    "no-data",
    "not-routable",
    "resolution-failed",
    "region-unknown",
    "operator-unknown",
}
