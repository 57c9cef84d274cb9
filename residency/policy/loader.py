"""Read a policy TOML file into a validated ``Policy``; every problem gets ``FILE:LINE``.

Validation is strict on purpose: an unknown key, country, provider or region is an error,
never silently ignored, because a typo in a residency policy would otherwise pass audits.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from residency.policy.errors import PolicyInvalid, PolicyProblem, PolicyUnreadable
from residency.policy.jurisdictions import Jurisdictions
from residency.policy.model import (
    EDGE_KEYS,
    HANDLING_KEYS,
    JURISDICTION_BASES,
    CategoryAssignment,
    CodeConstraint,
    Handling,
    Policy,
    ProviderConstraint,
    ProviderSelector,
    Rule,
    Scope,
    SovereignConstraint,
    Waiver,
)
from residency.policy.positions import Path as KeyPath
from residency.policy.positions import Positions
from residency.policy.regions import RegionCatalog, default_region_catalog

SCOPE_KEYS = {
    "countries",
    "providers",
    "operator_jurisdictions",
    "controllers",
    "sovereign",
    *HANDLING_KEYS,
}
TOP_KEYS = {"name", "description", "version", "rules", "categories", "waivers", *SCOPE_KEYS}
RULE_KEYS = {"name", "description", "hosts", "categories", *SCOPE_KEYS}
CATEGORY_KEYS = {"name", "description", "hosts"}
WAIVER_KEYS = {"host", "address", "justification", "owner", "expires", "reference"}
CONSTRAINT_KEYS = {"allow", "deny"}
#: controllers / operator_jurisdictions may also say whose jurisdiction counts, and (for
#: controllers) which countries' recipients pass only when on the EU-US DPF list.
JUDGED_KEYS = {"allow", "deny", "jurisdiction"}
CONTROLLER_KEYS = {"allow", "deny", "jurisdiction", "dpf"}

_HOST_PATTERN = re.compile(r"^[a-z0-9*?.\-_\[\]:!]+$")
_CATEGORY_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


def load_policy(
    path: str | Path,
    *,
    jurisdictions: Jurisdictions | None = None,
    regions: RegionCatalog | None = None,
) -> Policy:
    """Load and validate a policy file, or a shipped policy by name (``"eu-only-gdpr"``).
    Raises ``PolicyInvalid`` listing every problem."""
    from residency.policy.catalogue import resolve_policy

    path = resolve_policy(path)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8")
    except OSError as err:
        raise PolicyUnreadable(f"{path}: cannot read policy: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise PolicyUnreadable(f"{path}: policy is not UTF-8 text: {err.reason}") from err
    policy = parse_policy(text, str(path), jurisdictions=jurisdictions, regions=regions)
    return _with_source(policy, str(path), hashlib.sha256(data).hexdigest())


def _with_source(policy: Policy, path: str, sha256: str) -> Policy:
    from dataclasses import replace

    return replace(policy, path=path, sha256=sha256)


def parse_policy(
    text: str,
    origin: str = "<policy>",
    *,
    jurisdictions: Jurisdictions | None = None,
    regions: RegionCatalog | None = None,
) -> Policy:
    """Validate policy text; ``origin`` names it in messages (usually the file path)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        found = _TOML_POSITION.search(message)
        line = int(found.group(1)) if found else 0
        detail = _TOML_POSITION.sub("", message)
        if found:
            detail += f" (column {found.group(2)})"
        elif "end of document" in message:
            line = max(1, len(text.splitlines()))
            detail = detail.replace(" (at end of document)", "")
            detail += " at the end of the file (an unclosed bracket or string?)"
        raise PolicyInvalid((PolicyProblem(origin, line, f"bad TOML: {detail}"),)) from err
    except RecursionError:
        # tomllib recurses per nesting level; thousands of nested arrays exhaust the stack.
        raise PolicyInvalid((PolicyProblem(origin, 0, "nesting too deep"),)) from None
    checker = _Checker(
        origin,
        Positions(text),
        jurisdictions or Jurisdictions.load(),
        regions if regions is not None else default_region_catalog(),
    )
    policy = checker.policy(raw)
    if checker.problems or policy is None:
        raise PolicyInvalid(grouped(checker.problems))
    return policy


#: Lines listed when identical problems are folded into one.
_LINES_SHOWN = 5
_INDEX = re.compile(r"\[\d+\]")


def grouped(problems: list[PolicyProblem]) -> tuple[PolicyProblem, ...]:
    """Identical messages folded into the first, so 20,000 copies print as one bounded line."""
    by_message: dict[str, list[PolicyProblem]] = {}
    for problem in problems:
        # "waivers[0]" and "waivers[1]" with the same fault are the same problem.
        by_message.setdefault(_INDEX.sub("[]", problem.message), []).append(problem)
    out: list[PolicyProblem] = []
    for same in by_message.values():
        first, rest = same[0], same[1:]
        message = first.message
        if rest:
            lines = ", ".join(str(p.line) for p in rest[:_LINES_SHOWN])
            if len(rest) > _LINES_SHOWN:
                lines += ", ..."
            message = f"{message} (and {len(rest):,} more like it, lines {lines})"
        out.append(PolicyProblem(first.file, first.line, message))
    return tuple(out)


@dataclass
class _Checker:
    origin: str
    positions: Positions
    jurisdictions: Jurisdictions
    regions: RegionCatalog
    problems: list[PolicyProblem] = field(default_factory=list)

    # -- reporting
    def problem(self, path: KeyPath, message: str, literal: str | None = None) -> None:
        line = (
            self.positions.line_of_value(path, literal)
            if literal is not None
            else self.positions.line_of(path)
        )
        self.problems.append(PolicyProblem(self.origin, line, message))

    def name_of(self, path: KeyPath) -> str:
        out = ""
        for part in path:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out

    def check_keys(self, table: dict[str, Any], path: KeyPath, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                near = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                if path and path[0] != "rules" and key in TOP_KEYS:
                    hint = " (policy-wide keys go above the first [table] header)"
                elif path and key in RULE_KEYS and path[0] == "rules" and len(path) > 2:
                    hint = f" (rule keys go above the first [{self.name_of(path[:1])}.*] header)"
                where = f" in [{self.name_of(path)}]" if path else ""
                known = ", ".join(sorted(allowed))
                self.problem((*path, key), f"unknown key {key!r}{where}{hint}; known keys: {known}")

    # -- value helpers
    def string(self, table: dict[str, Any], key: str, path: KeyPath, required: bool = False) -> str:
        value = table.get(key)
        if value is None:
            if required:
                self.problem(path, f"missing required key {key!r} in {self.where(path)}")
            return ""
        if not isinstance(value, str):
            self.problem((*path, key), f"{self.name_of((*path, key))} must be a string")
            return ""
        if required and not value.strip():
            self.problem((*path, key), f"{self.name_of((*path, key))} must not be empty")
        return value.strip()

    def where(self, path: KeyPath) -> str:
        return f"[{self.name_of(path)}]" if path else "the policy header"

    def string_list(self, value: Any, path: KeyPath) -> list[str] | None:
        if isinstance(value, str):
            self.problem(path, f"{self.name_of(path)} must be a list, e.g. [{value!r}]")
            return None
        if not isinstance(value, list):
            self.problem(path, f"{self.name_of(path)} must be a list of strings")
            return None
        out: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problem(path, f"{self.name_of(path)}[{index}] must be a string, not {item!r}")
                continue
            out.append(item)
        return out

    def table(self, value: Any, path: KeyPath, example: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problem(path, f"{self.name_of(path)} must be a table, e.g. {example}")
            return None
        return value

    # -- sections
    def codes(
        self, value: Any, path: KeyPath, what: str, keys: set[str] = CONSTRAINT_KEYS
    ) -> CodeConstraint | None:
        section = self.table(value, path, f"[{self.name_of(path)}] allow = [...]")
        if section is None:
            return None
        self.check_keys(section, path, keys)
        extra: dict[str, Any] = {}
        if "jurisdiction" in section:
            judged = section["jurisdiction"]
            if judged not in JURISDICTION_BASES:
                self.problem(
                    (*path, "jurisdiction"),
                    f"{self.name_of((*path, 'jurisdiction'))} must be one of "
                    f"{', '.join(repr(b) for b in JURISDICTION_BASES)}",
                )
            else:
                extra["jurisdiction"] = judged
        if "dpf" in section:
            listed = self.string_list(section["dpf"], (*path, "dpf")) or []
            codes: set[str] = set()
            for item in listed:
                trouble = self.jurisdictions.problem_with(item)
                if trouble:
                    self.problem((*path, "dpf"), trouble, literal=item)
                else:
                    codes |= self.jurisdictions.expand(item)
            extra["dpf"] = frozenset(codes)
        lists: dict[str, tuple[frozenset[str] | None, tuple[str, ...]]] = {}
        for key in ("allow", "deny"):
            if key not in section:
                lists[key] = (None, ())
                continue
            items = self.string_list(section[key], (*path, key))
            if items is None:
                lists[key] = (frozenset(), ())
                continue
            if key == "allow" and not items:
                self.problem(
                    (*path, key),
                    f"{self.name_of((*path, key))} is empty and would allow no {what}; "
                    "remove the key to allow any",
                )
            expanded: set[str] = set()
            for item in items:
                trouble = self.jurisdictions.problem_with(item)
                if trouble:
                    self.problem((*path, key), trouble, literal=item)
                else:
                    expanded |= self.jurisdictions.expand(item)
            lists[key] = (frozenset(expanded), tuple(items))
        allow, allow_text = lists["allow"]
        deny, deny_text = lists["deny"]
        return CodeConstraint(
            allow=allow,
            deny=deny or frozenset(),
            allow_text=allow_text,
            deny_text=deny_text,
            **extra,
        )

    def offerings(self, value: Any, path: KeyPath) -> SovereignConstraint | None:
        """``[sovereign] allow/deny = ["aws-eusc", ...]``: named sovereign-cloud offerings."""
        from residency.control.sovereign import default_sovereign_clouds

        section = self.table(value, path, f"[{self.name_of(path)}] deny = [...]")
        if section is None:
            return None
        self.check_keys(section, path, CONSTRAINT_KEYS)
        known = default_sovereign_clouds().offerings
        found: dict[str, frozenset[str] | None] = {"allow": None, "deny": frozenset()}
        for key in ("allow", "deny"):
            if key not in section:
                continue
            items = self.string_list(section[key], (*path, key)) or []
            for item in items:
                if item.lower() not in known:
                    self.problem(
                        (*path, key),
                        f"unknown sovereign offering {item!r}; known: {', '.join(sorted(known))}",
                        literal=item,
                    )
            found[key] = frozenset(i.lower() for i in items)
        return SovereignConstraint(allow=found["allow"], deny=found["deny"] or frozenset())

    def selector(self, item: str, path: KeyPath) -> ProviderSelector | None:
        provider, _, region = item.strip().lower().partition(":")
        if not self.regions.knows_provider(provider):
            near = difflib.get_close_matches(provider, sorted(_known_providers(self.regions)), 1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            self.problem(path, f"unknown provider {provider!r} in {item!r}{hint}", literal=item)
            return None
        if region in ("", "*"):
            return ProviderSelector(provider, None)
        if not self.regions.knows_region(provider, region):
            near = difflib.get_close_matches(region, self.regions.regions_of(provider), n=1)
            hint = f" (did you mean '{provider}:{near[0]}'?)" if near else ""
            self.problem(path, f"unknown {provider} region {region!r} in {item!r}{hint}", item)
            return None
        return ProviderSelector(provider, region)

    def providers(self, value: Any, path: KeyPath) -> ProviderConstraint | None:
        section = self.table(value, path, '[providers] allow = ["aws:ap-south-1"]')
        if section is None:
            return None
        self.check_keys(section, path, CONSTRAINT_KEYS)
        found: dict[str, tuple[ProviderSelector, ...] | None] = {"allow": None, "deny": None}
        for key in ("allow", "deny"):
            if key not in section:
                continue
            items = self.string_list(section[key], (*path, key)) or []
            if key == "allow" and not items:
                self.problem((*path, key), f"{self.name_of((*path, key))} is empty")
            chosen = [self.selector(item, (*path, key)) for item in items]
            found[key] = tuple(s for s in chosen if s is not None)
        return ProviderConstraint(allow=found["allow"], deny=found["deny"] or ())

    def scope(self, table: dict[str, Any], path: KeyPath) -> Scope:
        values: dict[str, Any] = {}
        if "countries" in table:
            values["countries"] = self.codes(table["countries"], (*path, "countries"), "country")
        if "operator_jurisdictions" in table:
            values["operator_jurisdictions"] = self.codes(
                table["operator_jurisdictions"],
                (*path, "operator_jurisdictions"),
                "jurisdiction",
                JUDGED_KEYS,
            )
        if "sovereign" in table:
            values["sovereign"] = self.offerings(table["sovereign"], (*path, "sovereign"))
        if "providers" in table:
            values["providers"] = self.providers(table["providers"], (*path, "providers"))
        if "controllers" in table:
            section = table["controllers"]
            if isinstance(section, dict):  # [controllers.known] is the top-level table, not a limit
                section = {k: v for k, v in section.items() if k != "known" or path}
            values["controllers"] = self.codes(
                section, (*path, "controllers"), "controller country", CONTROLLER_KEYS
            )
        for key in HANDLING_KEYS:
            if key not in table:
                continue
            raw = table[key]
            allowed = [h for h in Handling if h is not Handling.EDGE or key in EDGE_KEYS]
            choices = ", ".join(h.value for h in allowed)
            if isinstance(raw, str) and raw.lower() in {h.value for h in allowed}:
                values[key] = Handling(raw.lower())
            else:
                self.problem((*path, key), f"{self.name_of((*path, key))} must be one of {choices}")
        return Scope(**values)

    def hosts(self, value: Any, path: KeyPath) -> tuple[str, ...]:
        items = self.string_list(value, path)
        if items is None:
            return ()
        out: list[str] = []
        for item in items:
            pattern = _ascii_pattern(item.strip().lower().rstrip("."))
            if "://" in pattern or "/" in pattern:
                self.problem(path, f"{item!r} is a URL; hosts take names or globs", literal=item)
            elif not pattern or not _HOST_PATTERN.match(pattern):
                self.problem(path, f"{item!r} is not a host name or glob pattern", literal=item)
            else:
                out.append(pattern)
        return tuple(out)

    def array_of_tables(self, raw: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem((key,), f"{key} must be an array of tables: [[{key}]]")
            return []
        return value

    def rule(self, table: dict[str, Any], index: int, names: set[str]) -> Rule | None:
        path: KeyPath = ("rules", index)
        self.check_keys(table, path, RULE_KEYS)
        name = self.string(table, "name", path) or str(index + 1)
        if name in names:
            self.problem((*path, "name"), f"duplicate rule name {name!r}")
        names.add(name)
        hosts = self.hosts(table["hosts"], (*path, "hosts")) if "hosts" in table else ()
        categories: tuple[str, ...] = ()
        if "categories" in table:
            items = self.string_list(table["categories"], (*path, "categories")) or []
            categories = tuple(self.category_name(c, (*path, "categories")) for c in items)
        if "hosts" not in table and "categories" not in table:
            self.problem(path, f"rule {name!r} needs hosts or categories to say what it covers")
        scope = self.scope(table, path)
        if scope == Scope() and set(table) <= RULE_KEYS:
            self.problem(path, f"rule {name!r} sets nothing: add countries, providers, cdn, ...")
        return Rule(
            name=name,
            hosts=hosts,
            categories=categories,
            scope=scope,
            line=self.positions.line_of(path),
            description=self.string(table, "description", path),
        )

    def category_name(self, value: str, path: KeyPath) -> str:
        name = value.strip().lower()
        if not _CATEGORY_NAME.match(name):
            self.problem(path, f"category {value!r} must be a lower-case word", literal=value)
        return name

    def category(self, table: dict[str, Any], index: int) -> CategoryAssignment:
        path: KeyPath = ("categories", index)
        self.check_keys(table, path, CATEGORY_KEYS)
        name = self.category_name(self.string(table, "name", path, required=True), path)
        if "hosts" not in table:
            self.problem(path, f"missing required key 'hosts' in {self.where(path)}")
        hosts = self.hosts(table.get("hosts", []), (*path, "hosts"))
        return CategoryAssignment(
            name=name,
            hosts=hosts,
            line=self.positions.line_of(path),
            description=self.string(table, "description", path),
        )

    def waiver(self, table: dict[str, Any], index: int) -> Waiver | None:
        path: KeyPath = ("waivers", index)
        self.check_keys(table, path, WAIVER_KEYS)
        host = self.string(table, "host", path) or None
        address = self.string(table, "address", path) or None
        if (host is None) == (address is None):
            self.problem(path, "a waiver names exactly one of 'host' or 'address'")
        if host is not None:
            found = self.hosts([host], (*path, "host"))
            host = found[0] if found else None
        if address is not None:
            try:
                address = str(ipaddress.ip_network(address))
            except ValueError:
                try:
                    # 10.0.0.1/8 would silently widen to all of 10.0.0.0/8: say so.
                    meant = ipaddress.ip_network(address, strict=False)
                    self.problem(
                        (*path, "address"), f"host bits set; did you mean {meant}?", literal=address
                    )
                except ValueError:
                    self.problem((*path, "address"), f"{address!r} is not an IP address or CIDR")
                address = None
        justification = self.string(table, "justification", path, required=True)
        owner = self.string(table, "owner", path, required=True)
        expires = table.get("expires")
        if isinstance(expires, datetime):
            # A waiver lapses on a day; a time (and its zone) would be silently dropped.
            self.problem(
                (*path, "expires"),
                f"expires must be a date such as 2026-12-31, not a date and time ({expires})",
            )
            return None
        if expires is None:
            self.problem(path, f"missing required key 'expires' in {self.where(path)}")
        elif not isinstance(expires, date):
            self.problem(
                (*path, "expires"),
                f"expires must be a TOML date such as 2026-12-31 (unquoted), not {expires!r}",
            )
        if not isinstance(expires, date):
            return None
        return Waiver(
            justification=justification,
            owner=owner,
            expires=expires,
            host=host,
            address=address,
            line=self.positions.line_of(path),
            reference=self.string(table, "reference", path),
        )

    def policy(self, raw: dict[str, Any]) -> Policy | None:
        self.check_keys(raw, (), TOP_KEYS)
        name = self.string(raw, "name", (), required=True)
        version_raw = raw.get("version", "")
        if isinstance(version_raw, bool) or not isinstance(version_raw, str | int | float):
            self.problem(("version",), 'version must be a string such as "1.0"')
            version_raw = ""
        base = self.scope(raw, ())
        names: set[str] = set()
        rules = [self.rule(t, i, names) for i, t in enumerate(self.array_of_tables(raw, "rules"))]
        categories = [
            self.category(t, i) for i, t in enumerate(self.array_of_tables(raw, "categories"))
        ]
        first_line: dict[str, int] = {}
        for index, category in enumerate(categories):
            if category.name in first_line:
                self.problem(
                    ("categories", index, "name"),
                    f"duplicate category {category.name!r} "
                    f"(first defined on line {first_line[category.name]})",
                    literal=category.name,
                )
            first_line.setdefault(category.name, category.line)
        waivers = [self.waiver(t, i) for i, t in enumerate(self.array_of_tables(raw, "waivers"))]
        known = self.controllers_known(raw.get("controllers"))
        if self.problems:
            return None
        assigned = {c.name for c in categories}
        notes = tuple(
            f"{self.origin}:{rule.line}: note: {rule.label} uses category {category!r}, which no "
            "[[categories]] entry assigns; it applies only where the input names it"
            for rule in rules
            if rule is not None
            for category in rule.categories
            if category not in assigned
        )
        return Policy(
            notes=notes,
            name=name,
            version=str(version_raw) or "unversioned",
            description=self.string(raw, "description", ()),
            base=base,
            rules=tuple(r for r in rules if r is not None),
            categories=tuple(categories),
            waivers=tuple(w for w in waivers if w is not None),
            controllers_known=known,
        )

    def controllers_known(self, section: Any) -> tuple[tuple[str, str, str | None], ...]:
        """``[controllers.known] "example.com" = { entity = "...", country = "GB" }``."""
        if not isinstance(section, dict) or "known" not in section:
            return ()
        path: KeyPath = ("controllers", "known")
        table = self.table(section["known"], path, '[controllers.known] "example.com" = {...}')
        found: list[tuple[str, str, str | None]] = []
        for domain, entry in (table or {}).items():
            where = (*path, domain)
            if not isinstance(entry, dict):
                self.problem(
                    where, f'{self.name_of(where)} must be {{ entity = "...", country = "XX" }}'
                )
                continue
            self.check_keys(entry, where, {"entity", "country"})
            entity = self.string(entry, "entity", where, required=True)
            country = self.string(entry, "country", where) or None
            if country is not None and self.jurisdictions.problem_with(country):
                self.problem((*where, "country"), str(self.jurisdictions.problem_with(country)))
            found.append((domain.lower().rstrip("."), entity, country.upper() if country else None))
        return tuple(found)


def _ascii_pattern(pattern: str) -> str:
    """Unicode labels (IDN) to punycode, as endpoint hosts are; wildcard labels stay as they are."""
    labels = []
    for part in pattern.split("."):
        if part.isascii() or any(c in part for c in "*?[]"):
            labels.append(part)
            continue
        try:
            labels.append(part.encode("idna").decode("ascii"))
        except UnicodeError:
            labels.append(part)  # rejected by the pattern check with the original text
    return ".".join(labels)


def _known_providers(regions: RegionCatalog) -> set[str]:
    from residency.policy.regions import known_providers

    return {p for p in known_providers() if regions.knows_provider(p)}
