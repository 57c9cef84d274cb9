"""The host-pattern index answers exactly as fnmatch does, and the precedence it feeds
(most specific pattern, category-bound rule, file order) is unchanged."""

from __future__ import annotations

import fnmatch
import random
from datetime import date

from residency.model import Verdict
from residency.policy import evaluate
from residency.policy.evaluate import scopes_for
from residency.policy.hostindex import HostPatterns
from tests.policy.factories import facts, policy, result

TODAY = date(2026, 12, 1)

PATTERNS = [
    "api.example.com",
    "API.Example.com",
    "*.example.com",
    "*example.com",
    "*",
    "api.*",
    "*.eu.*",
    "a?i.example.com",
    "[ab]pi.example.com",
    "[!a]pi.example.com",
    "*.[",
    "x[.example",
    "**.example.com",
    "",
    "*.cdn.example.net",
    "cdn.example.net",
    "*.example.com.",
    "a[*]b",
    "*[.]example.com",
    "api?example.com",
    "*?.net",
]

HOSTS = [
    "api.example.com",
    "API.EXAMPLE.COM",
    "bpi.example.com",
    "example.com",
    "www.eu.shop",
    "x[.example",
    "a.[",
    "",
    "cdn.example.net",
    "edge.cdn.example.net",
    "api.example.com.",
    "apiexample.com",
    "a*b",
    "x.example.com",
    "api.example.net",
]


def _fnmatch_positions(patterns: list[str], host: str) -> list[int]:
    return [i for i, p in enumerate(patterns) if fnmatch.fnmatchcase(host.lower(), p.lower())]


def test_the_index_matches_exactly_what_fnmatch_matches() -> None:
    index = HostPatterns(PATTERNS)
    for host in HOSTS:
        assert index.matching(host) == _fnmatch_positions(PATTERNS, host), host


def test_random_patterns_and_names_agree_with_fnmatch() -> None:
    rng = random.Random(18)
    labels = ["a", "b", "api", "eu", "cdn", "x", "*", "?", "[ab]", "a*", "?b", "[!a]*"]
    patterns = [".".join(rng.choice(labels) for _ in range(rng.randint(1, 4))) for _ in range(400)]
    index = HostPatterns(patterns)
    for _ in range(400):
        host = ".".join(rng.choice(["a", "b", "api", "eu", "cdn", "x", "ab"]) for _ in range(3))
        assert index.matching(host) == _fnmatch_positions(patterns, host), host


RULES = """
name = "precedence"
version = "1"
[countries]
allow = ["DE"]
[[categories]]
name = "payments"
hosts = ["pay.*", "*.pay.example"]
[[rules]]
name = "wide"
hosts = ["*.example", "*.shop.example"]
[rules.countries]
allow = ["FR"]
[[rules]]
name = "same-width-later"
hosts = ["*.shop.example"]
[rules.countries]
allow = ["IT"]
[[rules]]
name = "exact"
hosts = ["api.shop.example"]
[rules.countries]
allow = ["ES"]
[[rules]]
name = "category-bound"
hosts = ["*.shop.example"]
categories = ["payments"]
[rules.countries]
allow = ["PT"]
[[rules]]
name = "by-category"
categories = ["payments"]
[rules.countries]
allow = ["NL"]
[[waivers]]
host = "*.example"
justification = "wide"
owner = "o"
expires = 2099-01-01
[[waivers]]
host = "legacy.shop.example"
justification = "exact"
owner = "o"
expires = 2099-01-01
"""


def _rule(host: str, categories: tuple[str, ...] = ()) -> str:
    return scopes_for(policy(RULES), host, categories)[0].label


def test_most_specific_pattern_then_file_order() -> None:
    # exact (16 literal characters) beats every glob
    assert _rule("api.shop.example") == "rules[exact]"
    # same specificity: the first rule in the file wins ("wide"'s second pattern)
    assert _rule("www.shop.example") == "rules[wide]"
    assert _rule("www.other.example") == "rules[wide]"


def test_a_rule_bound_to_a_category_beats_the_same_pattern_without() -> None:
    assert _rule("www.shop.example", ("payments",)) == "rules[category-bound]"


def test_categories_from_host_patterns_and_category_rules() -> None:
    loaded = policy(RULES)
    assert loaded.categories_of("pay.anything") == ("payments",)
    assert loaded.categories_of("a.pay.example", ("health",)) == ("health", "payments")
    assert _rule("pay.anything") == "rules[by-category]"
    assert _rule("nothing.test") == "policy"


def test_the_most_specific_waiver_wins() -> None:
    loaded = policy(RULES)
    judged = evaluate(loaded, result("legacy.shop.example", facts(country="US")), TODAY)
    assert judged.verdict is Verdict.WAIVED
    assert judged.addresses[0].reasons[0].code == "waived"
    assert "exact" in judged.addresses[0].reasons[0].message  # not the wide waiver
    from residency.policy.evaluate import Evaluator

    chosen = Evaluator(loaded).waiver_for("legacy.shop.example", None)
    assert chosen is not None and chosen.host == "legacy.shop.example"
