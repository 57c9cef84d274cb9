"""Residency policies: load a TOML policy, then judge audited endpoints against it."""

from residency.policy.errors import PolicyError, PolicyInvalid, PolicyProblem, PolicyUnreadable
from residency.policy.evaluate import (
    WARNING_PREFIX,
    Evaluator,
    apply_policy,
    evaluate,
    judge_recorded,
    overall_verdict,
    scopes_for,
)
from residency.policy.jurisdictions import JurisdictionGroup, Jurisdictions
from residency.policy.loader import load_policy, parse_policy
from residency.policy.model import Handling, Policy, Rule, Scope, Waiver

__all__ = [
    "WARNING_PREFIX",
    "Evaluator",
    "Handling",
    "JurisdictionGroup",
    "Jurisdictions",
    "Policy",
    "PolicyError",
    "PolicyInvalid",
    "PolicyProblem",
    "PolicyUnreadable",
    "Rule",
    "Scope",
    "Waiver",
    "apply_policy",
    "evaluate",
    "judge_recorded",
    "load_policy",
    "overall_verdict",
    "parse_policy",
    "scopes_for",
]
