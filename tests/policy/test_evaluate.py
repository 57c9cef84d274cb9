"""Policy semantics: one case per rule of the evaluation, each asserting verdict and reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from residency.model import WITHHELD_BASIS, Confidence, Outcome, Verdict
from residency.policy import apply_policy, evaluate
from tests.policy.factories import facts, policy, result

TODAY = date(2026, 11, 28)

EU_ONLY = """
name = "eu"
version = "1"
[countries]
allow = ["@EU"]
"""


def codes(verdict: object) -> list[str]:
    return [r.code for r in getattr(verdict, "reasons", ())]


def test_group_expands_and_nested_groups_resolve() -> None:
    eu = policy(EU_ONLY)
    assert evaluate(eu, result("a.example", facts(country="DE")), TODAY).verdict is Verdict.PASS
    failed = evaluate(eu, result("a.example", facts(country="CH")), TODAY)
    assert failed.verdict is Verdict.FAIL
    reason = failed.addresses[0].reasons[0]
    assert reason.code == "country-not-allowed"
    assert "CH (Switzerland)" in reason.message and "@EU" in reason.message
    assert reason.evidence and reason.evidence[0].startswith("geoip:dbip-country")
    eea = policy(EU_ONLY.replace("@EU", "@EEA"))  # EEA = @EU + IS, LI, NO
    assert evaluate(eea, result("a", facts(country="NO")), TODAY).verdict is Verdict.PASS
    assert evaluate(eea, result("a", facts(country="FR")), TODAY).verdict is Verdict.PASS
    safe = policy(EU_ONLY.replace("@EU", "@GDPR_SAFE"))
    assert evaluate(safe, result("a", facts(country="CH")), TODAY).verdict is Verdict.PASS
    assert evaluate(safe, result("a", facts(country="US")), TODAY).verdict is Verdict.FAIL


def test_deny_beats_allow_within_a_section() -> None:
    text = EU_ONLY + 'deny = ["DE"]\n'
    judged = evaluate(policy(text), result("a", facts(country="DE")), TODAY)
    assert judged.verdict is Verdict.FAIL
    assert codes(judged.addresses[0]) == ["country-denied"]


SCOPED = """
name = "scoped"
version = "1"
[countries]
allow = ["@EEA"]

[[categories]]
name = "payments"
hosts = ["pay.*"]

[[rules]]
name = "payments-hosts"
hosts = ["payments.*"]
[rules.countries]
allow = ["IN"]

[[rules]]
name = "payments-eu-hosts"
hosts = ["payments.eu.*"]
[rules.countries]
allow = ["@EU"]

[[rules]]
name = "payments-category"
categories = ["payments"]
[rules.countries]
allow = ["IN"]

[[rules]]
name = "analytics"
hosts = ["analytics.*"]
[rules.countries]
allow = ["@EU"]

[[rules]]
name = "health"
categories = ["health"]
[rules.countries]
allow = ["DE", "FR"]
"""


def test_scoped_rules_by_host_pattern() -> None:
    scoped = policy(SCOPED)
    india = facts(country="IN")
    france = facts(country="FR")
    assert evaluate(scoped, result("payments.shop.example", india), TODAY).verdict is Verdict.PASS
    denied = evaluate(scoped, result("payments.shop.example", france), TODAY)
    assert denied.verdict is Verdict.FAIL
    assert denied.addresses[0].reasons[0].rule == "rules[payments-hosts]"
    assert evaluate(scoped, result("analytics.shop.example", france), TODAY).verdict is Verdict.PASS
    # Not matched by any rule: the policy-wide allow list applies.
    fallback = evaluate(scoped, result("www.shop.example", india), TODAY)
    assert fallback.verdict is Verdict.FAIL
    assert fallback.addresses[0].reasons[0].rule == "policy"


def test_scoped_rules_by_category_from_input_and_from_policy() -> None:
    scoped = policy(SCOPED)
    india = facts(country="IN")
    # The input says the endpoint carries payment data.
    tagged = result("api.shop.example", india, categories=("payments",))
    assert evaluate(scoped, tagged, TODAY).verdict is Verdict.PASS
    # The policy assigns the category by host pattern.
    assigned = evaluate(scoped, result("pay.shop.example", india), TODAY)
    assert assigned.verdict is Verdict.PASS
    assert assigned.addresses[0].reasons[0].rule == "rules[payments-category]"


def test_overlapping_rules_most_specific_wins() -> None:
    scoped = policy(SCOPED)
    france = facts(country="FR")
    # payments.eu.* (12 literal characters) beats payments.* (9).
    judged = evaluate(scoped, result("payments.eu.shop.example", france), TODAY)
    assert judged.verdict is Verdict.PASS
    assert judged.addresses[0].reasons[0].rule == "rules[payments-eu-hosts]"
    # A host-pattern rule beats a category rule: analytics.* (EU) over payments category (IN).
    both = result("analytics.shop.example", france, categories=("payments",))
    assert evaluate(scoped, both, TODAY).addresses[0].reasons[0].rule == "rules[analytics]"
    # Two category rules: the strictest outcome counts (health allows FR, payments does not).
    two = evaluate(scoped, result("x.example", france, categories=("health", "payments")), TODAY)
    assert two.verdict is Verdict.FAIL
    assert two.addresses[0].reasons[0].rule == "rules[payments-category]"


def test_rule_inherits_sections_it_does_not_set() -> None:
    text = """
name = "inherit"
version = "1"
cdn = "fail"
[operator_jurisdictions]
deny = ["US"]
[[rules]]
name = "r"
hosts = ["*.example"]
[rules.countries]
allow = ["DE"]
"""
    judged = evaluate(
        policy(text), result("a.example", facts(country="DE", jurisdiction="US")), TODAY
    )
    assert judged.verdict is Verdict.FAIL
    assert judged.addresses[0].aspect == "operator"
    edge = evaluate(policy(text), result("a.example", facts(country="DE", cdn=True)), TODAY)
    assert edge.verdict is Verdict.FAIL and "cdn-edge" in codes(edge.addresses[0])


WAIVERS = (
    EU_ONLY
    + """
[[waivers]]
host = "legacy.example"
justification = "migration to eu-west-1 in Q1"
owner = "platform-team"
expires = 2027-03-31
reference = "JIRA-42"

[[waivers]]
host = "old.example"
justification = "was to be migrated"
owner = "ops"
expires = 2026-01-31

[[waivers]]
host = "soon.example"
justification = "short one"
owner = "ops"
expires = 2026-12-05

[[waivers]]
address = "198.51.100.0/24"
justification = "address waiver, expired"
owner = "netops"
expires = 2025-12-31
"""
)


def test_waiver_valid_expired_and_expiring() -> None:
    waivers = policy(WAIVERS)
    us = facts(country="US")
    waived = evaluate(waivers, result("legacy.example", us), TODAY)
    assert waived.verdict is Verdict.WAIVED
    first = waived.addresses[0].reasons[0]
    assert first.code == "waived" and "platform-team" in first.message
    assert "migration to eu-west-1" in first.message and "JIRA-42" in first.message
    assert "country-not-allowed" in codes(waived.addresses[0])  # what was waived stays visible

    expired = evaluate(waivers, result("old.example", us), TODAY)
    assert expired.verdict is Verdict.FAIL
    reason = expired.addresses[0].reasons[0]
    assert reason.code == "waiver-expired"
    assert reason.message.startswith("warning:") and "2026-01-31" in reason.message

    soon = evaluate(waivers, result("soon.example", us), TODAY)
    assert soon.verdict is Verdict.WAIVED
    assert "warn-waiver-expiring" in codes(soon.addresses[0])

    # A waiver expired on an address that now passes: PASS, with a warning to remove it.
    passing = evaluate(waivers, result("old.example", facts(country="DE")), TODAY)
    assert passing.verdict is Verdict.PASS
    assert "warn-waiver-expired" in codes(passing.addresses[0])
    # The expiry date itself is still covered.
    assert evaluate(waivers, result("old.example", us), date(2026, 1, 31)).verdict is Verdict.WAIVED


def test_address_waiver_beats_host_waiver() -> None:
    waivers = policy(WAIVERS)
    # legacy.example has a valid host waiver, but this address has its own (expired) one.
    covered = facts("198.51.100.7", country="US")
    judged = evaluate(waivers, result("legacy.example", covered, facts(country="US")), TODAY)
    by_ip = {a.ip: a for a in judged.addresses}
    assert by_ip["198.51.100.7"].verdict is Verdict.FAIL
    assert by_ip["198.51.100.7"].reasons[0].rule == "waivers[198.51.100.0/24]"
    assert by_ip["192.0.2.10"].verdict is Verdict.WAIVED
    assert judged.verdict is Verdict.FAIL  # the worst address


CDN = """
name = "cdn"
version = "1"
{handling}
[countries]
allow = ["IN"]
"""


def test_cdn_and_anycast_handling() -> None:
    edge = facts(country=None, provider="cloudflare", cdn=True, anycast=True)
    cdn_only = facts(country=None, provider="fastly", cdn=True)
    default = evaluate(policy(CDN.format(handling="")), result("a", edge), TODAY)
    assert default.verdict is Verdict.INDETERMINATE
    assert codes(default.addresses[0]) == ["anycast"]
    assert "origin behind it is unknown" in default.addresses[0].reasons[0].message

    allow = evaluate(policy(CDN.format(handling='cdn = "allow"')), result("a", edge), TODAY)
    assert allow.verdict is Verdict.PASS  # anycast follows cdn unless set

    warn = evaluate(policy(CDN.format(handling='cdn = "warn"')), result("a", cdn_only), TODAY)
    assert warn.verdict is Verdict.WARN and codes(warn.addresses[0]) == ["cdn-edge"]

    split = CDN.format(handling='cdn = "allow"\nanycast = "fail"')
    assert evaluate(policy(split), result("a", edge), TODAY).verdict is Verdict.FAIL
    assert evaluate(policy(split), result("a", cdn_only), TODAY).verdict is Verdict.PASS

    # An edge with a known place is still judged on that place.
    placed_edge = facts(country="US", provider="aws", cdn=True)
    judged = evaluate(policy(CDN.format(handling='cdn = "allow"')), result("a", placed_edge), TODAY)
    assert judged.verdict is Verdict.FAIL and "country-not-allowed" in codes(judged.addresses[0])


def test_unknown_location_no_data_and_disagreement() -> None:
    unknown = facts(country=None, why="no source covers 192.0.2.10")
    judged = evaluate(policy(EU_ONLY), result("a", unknown), TODAY)
    assert judged.verdict is Verdict.INDETERMINATE
    assert judged.addresses[0].reasons[0].code == "no-data"
    assert "no source covers" in judged.addresses[0].reasons[0].message

    disagree = facts(country=None, disagreements=("dbip says DE, ipinfo says US",))
    judged = evaluate(policy(EU_ONLY), result("a", disagree), TODAY)
    assert judged.addresses[0].reasons[0].code == "sources-disagree"
    assert "dbip says DE" in judged.addresses[0].reasons[0].message

    strict = policy(EU_ONLY.replace("[countries]", 'unknown_location = "fail"\n[countries]'))
    assert evaluate(strict, result("a", unknown), TODAY).verdict is Verdict.FAIL

    # a place withheld because its disagreement pattern measured weak: the figure is said
    weak = facts(
        country=None,
        why="unknown, because the sources are weak here: ... this pattern measured 36.4% of 88",
        disagreements=("GeoIP sources disagree: a says US, b says DE",),
    )
    weak = replace(weak, location=replace(weak.location, basis=WITHHELD_BASIS))
    judged = evaluate(policy(EU_ONLY), result("a", weak), TODAY)
    assert judged.verdict is Verdict.INDETERMINATE
    reason = judged.addresses[0].reasons[0]
    assert reason.code == "sources-disagree" and "measured 36.4% of 88" in reason.message


def test_sources_disagree_only_matters_when_outcome_differs() -> None:
    # Merged DE, another GeoIP source says US: the outcome differs -> INDETERMINATE.
    split = facts(country="DE", extra_countries=("US",), disagreements=("a says DE, b says US",))
    judged = evaluate(policy(EU_ONLY), result("a", split), TODAY)
    assert judged.verdict is Verdict.INDETERMINATE
    assert judged.addresses[0].reasons[0].code == "sources-disagree"
    # Both claims are in the EU: no matter.
    fine = facts(country="DE", extra_countries=("FR",), disagreements=("a says DE, b says FR",))
    assert evaluate(policy(EU_ONLY), result("a", fine), TODAY).verdict is Verdict.PASS
    # The provider's own feed decided: trusted, the disagreement is noted.
    feed = facts(
        country="DE",
        provider="aws",
        region="eu-central-1",
        basis="provider-feed",
        confidence=Confidence.MEDIUM,
        extra_countries=("US",),
    )
    judged = evaluate(policy(EU_ONLY), result("a", feed), TODAY)
    assert judged.verdict is Verdict.PASS
    assert "other sources disagree" in judged.addresses[0].reasons[0].message


def test_operator_jurisdiction_side_by_side_with_location() -> None:
    sovereign = policy(EU_ONLY + '[operator_jurisdictions]\ndeny = ["US"]\n')
    aws_frankfurt = facts(
        country="DE",
        provider="aws",
        region="eu-central-1",
        jurisdiction="US",
        entity="Amazon Web Services, Inc.",
    )
    judged = evaluate(sovereign, result("a", aws_frankfurt), TODAY)
    assert judged.verdict is Verdict.FAIL
    address = judged.addresses[0]
    assert address.aspect == "operator"
    assert address.reasons[0].code == "operator-jurisdiction-denied"
    assert "Amazon Web Services, Inc." in address.reasons[0].message
    assert "country-allowed" in codes(address)  # the location side passed and says so

    both = facts(country="US", jurisdiction="US", entity="X")
    assert evaluate(sovereign, result("a", both), TODAY).addresses[0].aspect == "both"

    allow_in = policy('name = "x"\nversion = "1"\n[operator_jurisdictions]\nallow = ["IN"]\n')
    indian = facts(country="SG", jurisdiction="IN", entity="Reliance Jio")
    assert evaluate(allow_in, result("a", indian), TODAY).verdict is Verdict.PASS
    unknown = evaluate(allow_in, result("a", facts(country="SG")), TODAY)
    assert unknown.verdict is Verdict.INDETERMINATE
    assert unknown.addresses[0].reasons[0].code == "operator-unknown"


def test_providers_and_regions() -> None:
    text = """
name = "p"
version = "1"
[providers]
allow = ["aws:ap-south-1", "azure:centralindia"]
deny = ["gcp:*"]
"""
    judged = policy(text)
    ok = facts(country="IN", provider="aws", region="ap-south-1")
    assert evaluate(judged, result("a", ok), TODAY).verdict is Verdict.PASS
    other = evaluate(judged, result("a", facts(provider="aws", region="us-east-1")), TODAY)
    assert other.verdict is Verdict.FAIL
    assert other.addresses[0].reasons[0].code == "provider-not-allowed"
    denied = evaluate(judged, result("a", facts(provider="gcp", region="asia-south1")), TODAY)
    assert denied.addresses[0].reasons[0].code == "provider-denied"
    no_region = evaluate(judged, result("a", facts(provider="aws", region=None)), TODAY)
    assert no_region.verdict is Verdict.INDETERMINATE
    assert no_region.addresses[0].reasons[0].code == "region-unknown"


def test_not_routable_and_resolution_failures() -> None:
    eu = policy(EU_ONLY)
    private = facts("10.1.2.3", country=None, routable=False, not_routable_reason="private")
    judged = evaluate(eu, result("intranet.example", private), TODAY)
    assert judged.verdict is Verdict.INDETERMINATE
    assert judged.addresses[0].reasons[0].code == "not-routable"

    gone = evaluate(eu, result("gone.example", outcome=Outcome.NXDOMAIN), TODAY)
    assert gone.verdict is Verdict.INDETERMINATE
    assert gone.reasons[0].code == "resolution-failed"
    assert "nxdomain" in gone.reasons[0].message
    strict = policy(EU_ONLY.replace("[countries]", 'unresolved = "fail"\n[countries]'))
    assert evaluate(strict, result("gone.example", outcome=Outcome.NXDOMAIN), TODAY).verdict is (
        Verdict.FAIL
    )


def test_apply_policy_sets_worst_verdict_and_reference() -> None:
    from residency.model import AuditResult

    audit = AuditResult(
        run_id="r1",
        started="2026-11-28T00:00:00Z",
        finished="2026-11-28T00:00:01Z",
        endpoints=(
            result("a.example", facts(country="DE")),
            result("b.example", facts(country=None)),
        ),
        data_versions=(),
    )
    judged = apply_policy(policy(EU_ONLY), audit, TODAY)
    assert judged.verdict is Verdict.INDETERMINATE
    assert judged.policy is not None and judged.policy.name == "eu"
    assert judged.notes == ()
    expired = apply_policy(policy(WAIVERS), audit, TODAY)
    assert "policy eu: waivers[old.example] expired on 2026-01-31 (owner ops)" in expired.notes
    assert [e.verdict.verdict for e in judged.endpoints if e.verdict] == [
        Verdict.PASS,
        Verdict.INDETERMINATE,
    ]


def test_unicode_host_patterns_match_punycode_hosts() -> None:
    text = (
        'name = "idn"\n[[rules]]\nhosts = ["*.bücher.example"]\n[rules.countries]\nallow = ["DE"]\n'
    )
    idn = policy(text)
    assert idn.rules[0].hosts == ("*.xn--bcher-kva.example",)
    judged = evaluate(idn, result("shop.xn--bcher-kva.example", facts(country="FR")), TODAY)
    assert judged.verdict is Verdict.FAIL and judged.addresses[0].reasons[0].rule == "rules[1]"


def test_expired_waiver_on_a_failing_endpoint_is_not_called_unneeded() -> None:
    # The address still breaches: the waiver is needed, it has only lapsed. Saying
    # "no longer needed, remove it" next to a FAIL would contradict the verdict.
    verdict = evaluate(policy(WAIVERS), result("old.example", facts(country="US")), TODAY)
    assert verdict.verdict is Verdict.FAIL
    every = [r.message for r in verdict.reasons]
    every += [r.message for a in verdict.addresses for r in a.reasons]
    assert not any("no longer needed" in m for m in every), every
    assert any("expired on 2026-01-31" in m for m in every)
    # Without a breach it is unneeded, and says so.
    passing = evaluate(policy(WAIVERS), result("old.example", facts(country="DE")), TODAY)
    texts = [r.message for a in passing.addresses for r in a.reasons]
    assert any("no longer needed" in m for m in texts)
