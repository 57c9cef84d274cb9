"""Leave-one-operator-out: how the merge does on an operator's addresses it never learnt from.

Ground truth is every operator's own statement of where its prefixes are: the cloud and
hosting providers' feeds (AWS, Google Cloud, Azure, Oracle through the region tables;
the DigitalOcean, Linode and Vultr geofeeds) and a corpus of RFC 8805 geofeeds published
by access, hosting and enterprise operators (``../shared/data/geofeeds``). Addresses are
sampled inside each published prefix; the truth at an address is the operator's most
specific row covering it.

For each operator the calibration (the sources' shares right, the answer kinds' and the
disagreement patterns' shares right) is counted on every *other* operator's addresses,
and the operator's own addresses are then graded with it. One operator's addresses are
one policy seen many times, so in the tables that decide which answer to give (the
sources' weights, the disagreement patterns) each operator counts at most OPERATOR_CAP
addresses: a pattern right for one large operator is not trusted for the next. The
merged answers that the answer and pattern tables count are merged again for each
held-out operator, with the weights learnt without it, so nothing of the operator
reaches its own grading.

Figures are reported per class of network as the operator publishes it (cloud, hosting,
access, CDN/anycast, other) and per address family.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER
from residency.locate.trust.calibration import ALL, Calibration, Measured, Tally, country_of
from residency.locate.trust.merge import claim_evidence, merge_facts, network_of
from residency.model import WITHHELD_BASIS, Confidence, Evidence, EvidenceKind, IpFacts

if TYPE_CHECKING:
    from residency.locate.locator import Locator

#: The classes figures are reported by (the operator's own kind of network).
CLASSES = ("cloud", "hosting", "access", "cdn-anycast", "other")
#: The registry country: where a block is registered (a tie-breaker, never a vote).
REGISTRY_COUNTRY = "geoip:geo-whois-asn-country"
#: Two GeoIP databases this close in measured share are split, not outweighed: each is
#: right 90-99% of the time, so a few points between them say nothing about which one is
#: right where they disagree (the shipped data/calibration.json carries the same).
GEOIP_SPLIT = 0.1
#: Which answer to give, and whether to give one, rests on the sources' weights and the
#: disagreement patterns: those rows are capped, so that what one operator does decides
#: nothing for the next. How sure an answer is (the answer kinds' levels) is a share of
#: addresses, as a user reads it: those rows count every address.
OPERATOR_CAP = 20
CAPPED = frozenset({"sources", "patterns"})
_COUNTRY = re.compile(r"^[A-Z]{2}$")
#: Codes geofeeds use that name no country (RFC 8805 wants ISO 3166-1 alpha-2).
_NOT_COUNTRIES = frozenset({"EU", "AP", "UK", "ZZ", "XX", "XK"})
_EMBEDDED = (ipaddress.ip_network("::ffff:0:0/96"), ipaddress.ip_network("64:ff9b::/96"))

#: The provider feeds in ../shared/data/feeds used as ground truth: (file, parser, class).
PROVIDER_FEEDS = (
    ("aws/aws-ip-ranges_2026-08-22.json", "aws-ip-ranges", "cloud"),
    ("gcp/gcp-cloud_2026-08-22.json", "gcp-cloud", "cloud"),
    ("azure/azure-ServiceTags_Public_2026-05-06.json", "azure-service-tags", "cloud"),
    ("oracle/oracle-public_ip_ranges_2025-07-21.json", "oracle-ip-ranges", "cloud"),
    ("digitalocean/digitalocean-geofeed-google_2025-07-22.csv", "digitalocean-geofeed", "hosting"),
    ("linode/linode-geofeed_2025-07-24.csv", "linode-geofeed", "hosting"),
    ("vultr/vultr-geofeed-constant-json_2024-04-18.json", "vultr-geofeed", "hosting"),
)


def corpus_class(operator_type: str) -> str:
    """The reported class of a corpus operator, from INDEX.csv's operator type."""
    kind = operator_type.lower()
    if "hosting" in kind or "leasing" in kind or "vps" in kind:
        return "hosting"
    if "isp" in kind or "access" in kind or "transit" in kind or "satellite" in kind:
        return "access"
    if "cdn" in kind or "anycast" in kind:
        return "cdn-anycast"
    return "other"


@dataclass(frozen=True)
class TruthRow:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    country: str


@dataclass(frozen=True)
class Operator:
    """One operator's published places, and what was wrong in its file."""

    name: str
    truth_class: str
    rows: tuple[TruthRow, ...]
    problems: tuple[str, ...] = ()
    provider: str | None = None  # the provider id, for a cloud or hosting feed


def parse_operator_geofeed(text: str, name: str, truth_class: str) -> Operator:
    """An RFC 8805 geofeed as ground truth. A bad line (not a prefix, not an ISO 3166
    country, non-public space, IPv4 space written as IPv6) is skipped and named."""
    rows: list[TruthRow] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            fields = next(csv.reader(io.StringIO(line)), [])
        except csv.Error as err:  # a field over csv's size limit, a stray quote
            problems.append(f"{name} line {number}: not CSV ({err})")
            continue
        if len(fields) < 2:
            problems.append(f"{name} line {number}: fewer than two fields")
            continue
        try:
            network = ipaddress.ip_network(fields[0].strip(), strict=False)
        except ValueError:
            problems.append(f"{name} line {number}: {fields[0][:60]!r} is not a prefix")
            continue
        country = fields[1].strip().upper()
        if not _COUNTRY.match(country) or country in _NOT_COUNTRIES:
            problems.append(f"{name} line {number}: {country[:10]!r} is not an ISO 3166 country")
            continue
        if network.version == 6 and any(network.subnet_of(e) for e in _EMBEDDED):  # type: ignore[arg-type]
            problems.append(f"{name} line {number}: IPv4 space written as IPv6 ({network})")
            continue
        if not network.is_global:
            problems.append(f"{name} line {number}: {network} is not public space")
            continue
        rows.append(TruthRow(network, country))
    return Operator(name, truth_class, tuple(rows), tuple(problems))


def load_corpus(directory: Path) -> list[Operator]:
    """The operators of a geofeed corpus (``INDEX.csv`` names each file and its kind)."""
    index = directory / "INDEX.csv"
    if not index.is_file():
        return []
    out = []
    with index.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            path = directory / row.get("file", "")
            if not row.get("file") or not path.is_file():
                continue
            name = row.get("repo") or path.stem
            text = path.read_text(encoding="utf-8", errors="replace")
            out.append(
                parse_operator_geofeed(text, name, corpus_class(row.get("operator_type_guess", "")))
            )
    return out


def provider_operators(feeds: Path) -> list[Operator]:
    """The providers' own feeds as operators (provider ranges placed by the region tables)."""
    from residency.datasets.parsers import PARSERS
    from residency.datasets.regions import RegionTable

    regions = RegionTable.load()
    out = []
    for rel, parser, truth_class in PROVIDER_FEEDS:
        path = feeds / rel
        if not path.is_file():
            continue
        parsed = PARSERS[parser](path.read_bytes())
        rows = []
        provider = None
        for rec in parsed.records:
            provider = provider or rec.provider
            if rec.anycast:
                continue
            place = rec.place
            if place is None and rec.provider and rec.region:
                place = regions.place_of(rec.provider, rec.region)
            country = country_of(place)
            if country:
                rows.append(TruthRow(ipaddress.ip_network(rec.network), country))
        out.append(Operator(parser, truth_class, tuple(rows), (), provider))
    return out


@dataclass(frozen=True)
class Sample:
    ip: str
    truth: str
    operator: str
    truth_class: str
    family: int


def _longest_match(rows: Sequence[TruthRow]) -> Callable[[int, int], str | None]:
    """The country of the most specific row covering an address (version, integer)."""
    table: dict[tuple[int, int], dict[int, str]] = {}
    for row in rows:
        net = row.network
        table.setdefault((net.version, net.prefixlen), {})[int(net.network_address)] = row.country
    lengths = sorted(table, key=lambda k: -k[1])

    def find(version: int, value: int) -> str | None:
        bits = 32 if version == 4 else 128
        for v, length in lengths:
            if v != version:
                continue
            mask = ((1 << length) - 1) << (bits - length) if length else 0
            hit = table[(v, length)].get(value & mask)
            if hit is not None:
                return hit
        return None

    return find


def sample_operators(
    operators: Iterable[Operator], per_prefix: int = 2, max_prefixes: int = 1500, seed: int = 8805
) -> list[Sample]:
    """Addresses inside each operator's prefixes, with its most specific row's country."""
    rng = random.Random(seed)
    out = []
    for op in operators:
        rows = list(op.rows)
        if len(rows) > max_prefixes:
            rows = rng.sample(rows, max_prefixes)
        find = _longest_match(op.rows)
        for row in rows:
            net = row.network
            for _ in range(per_prefix):
                value = int(net.network_address) + rng.randrange(net.num_addresses)
                truth = find(net.version, value)
                if truth is not None:
                    ip = str(ipaddress.ip_address(value))
                    out.append(Sample(ip, truth, op.name, op.truth_class, net.version))
    return out


Counts = dict[str, dict[str, list[int]]]


def _count(table: Counts, name: str, net: str, ok: bool) -> None:
    for cls in (net, ALL):
        row = table.setdefault(name, {}).setdefault(cls, [0, 0])
        row[0] += ok
        row[1] += 1


def _measured(total: Counts) -> dict[str, dict[str, Measured]]:
    """Counts as a calibration table's rows (rows with no sample left out)."""
    return {
        name: {cls: Measured(r, g) for cls, (r, g) in by_class.items() if g > 0}
        for name, by_class in total.items()
        if any(g > 0 for _, g in by_class.values())
    }


@dataclass
class Grades:
    """Tallies by answerer ("merged" or a source), then by group ("all", a class,
    "v4"/"v6", or "class v4")."""

    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)
    #: the merged answers graded, for ``--wrong`` dumps: (sample, facts)
    wrong: list[tuple[Sample, IpFacts]] = field(default_factory=list)
    #: every answer in sample order, per answerer (to compare two at the same coverage)
    answers: dict[str, list[tuple[Sample, str | None]]] = field(default_factory=dict)

    def add(self, who: str, sample: Sample, answer: str | None, level: Confidence | None) -> None:
        self.answers.setdefault(who, []).append((sample, answer))
        by = self.tallies.setdefault(who, {})
        for group in ("all", sample.truth_class, f"v{sample.family}"):
            by.setdefault(group, Tally()).add(answer, sample.truth, level)

    def on_answered_by(self, who: str, reference: str, group: str) -> Tally:
        """``who`` graded only on the addresses ``reference`` answered (same coverage)."""
        out = Tally()
        mine = self.answers.get(who, [])
        theirs = self.answers.get(reference, [])
        for (sample, answer), (_, given) in zip(mine, theirs, strict=True):
            in_group = group in ("all", sample.truth_class, f"v{sample.family}")
            if in_group and given is not None:
                out.add(answer, sample.truth)
        return out

    def get(self, who: str, group: str) -> Tally:
        return self.tallies.get(who, {}).get(group, Tally())


class Study:
    """The samples' evidence from one locator, merged under any calibration (cached).

    A sample in space its operator does not hold is dropped and counted: never-routable
    space, a documented anycast service's, or a cloud provider's published range when
    the operator is not that provider."""

    def __init__(
        self, locator: Locator, samples: Sequence[Sample], operators: Sequence[Operator] = ()
    ) -> None:
        self.locator = locator
        self.samples: list[Sample] = []
        self.combos: list[int] = []
        self.dropped: dict[str, int] = {}  # operator -> samples dropped (space not held)
        self._evidence: dict[int, tuple[list[Evidence], int, str, frozenset[str]]] = {}
        provider_of = {op.name: op.provider for op in operators}
        combos = locator.combos([s.ip for s in samples]) if samples else []
        for sample, combo_ in zip(samples, combos, strict=True):
            combo = int(combo_)
            found = self._evidence.get(combo)
            if found is None:
                found = self._evidence[combo] = self._read(combo)
            _, _, held_by, providers = found
            own = provider_of.get(sample.operator)
            if held_by or (providers and own not in providers):
                self.dropped[sample.operator] = self.dropped.get(sample.operator, 0) + 1
                continue
            self.samples.append(sample)
            self.combos.append(combo)

    def _read(self, combo: int) -> tuple[list[Evidence], int, str, frozenset[str]]:
        index = self.locator.index
        evidence: list[Evidence] = []
        held_by = ""
        for layer, claim_id in index.combo_claims(combo):
            info = index.layers[layer]
            claim = index.claim(layer, claim_id)
            if claim.get("bogon"):
                held_by = "never-routable space"
                continue
            if info.layer_id == DOCUMENTED_ANYCAST_LAYER:
                held_by = held_by or str(claim.get("org") or "an anycast service")
            evidence.append(claim_evidence(info, claim))
        providers = frozenset(
            e.provider for e in evidence if e.kind is EvidenceKind.PROVIDER_FEED and e.provider
        )
        return evidence, index.family_of(combo), held_by, providers

    def evidence(self, combo: int) -> tuple[list[Evidence], int]:
        found = self._evidence[combo]
        return found[0], found[1]

    def merged(self, combo: int, calibration: Calibration) -> IpFacts:
        evidence, family = self.evidence(combo)
        registry = self.locator._registry
        return merge_facts("", evidence, (), registry, None, calibration, family)

    def network(self, combo: int, calibration: Calibration) -> str:
        facts = self.merged(combo, calibration)
        provider = facts.operator.provider if facts.operator else facts.provider
        return network_of(provider, self.locator._registry, calibration)


_PLACING = frozenset(
    {EvidenceKind.GEOFEED.value, EvidenceKind.PROVIDER_FEED.value, EvidenceKind.GEOIP.value}
)


@dataclass
class OperatorCounts:
    """Per-operator counts: the sources' claims, and the merged answers' kinds and patterns
    (merged with the weights of every operator: the in-sample tables). ``study`` and
    ``nets`` let calibration_without merge the answers again without one operator."""

    sources: dict[str, Counts] = field(default_factory=dict)
    answers: dict[str, Counts] = field(default_factory=dict)
    patterns: dict[str, Counts] = field(default_factory=dict)
    study: Study | None = None
    #: combo -> the kind of network the merge sees there (calibration.NETWORK_CLASSES)
    nets: dict[int, str] = field(default_factory=dict)

    def total(self, what: str, skip: str | None = None) -> Counts:
        """The counts of every operator but ``skip``; in the CAPPED tables each
        operator's row counts at most OPERATOR_CAP addresses (its share right kept)."""
        out: Counts = {}
        for operator, per in getattr(self, what).items():
            if operator == skip:
                continue
            for name, by_class in per.items():
                for cls, (r, g) in by_class.items():
                    if what in CAPPED:
                        r, g = capped(r, g)
                    row = out.setdefault(name, {}).setdefault(cls, [0, 0])
                    row[0] += r
                    row[1] += g
        return out


def capped(right: int, given: int, cap: int | None = None) -> tuple[int, int]:
    """One operator's count, at most ``cap`` (OPERATOR_CAP) addresses: the addresses of
    one operator are one policy seen many times, not independent evidence, so a large
    operator (Viasat's 1,158 sampled addresses) must not outvote twenty small ones."""
    cap = OPERATOR_CAP if cap is None else cap
    if given <= cap:
        return right, given
    return round(right * cap / given), cap


def _weights(sources: dict[str, dict[str, Measured]], base: Calibration) -> Calibration:
    """The vote of ``base`` with the sources' measured shares and nothing else measured
    (no answer levels, no patterns, nothing withheld): how pass 2 merges."""
    return Calibration(
        sources=sources,
        default_weight=base.default_weight,
        hyperscalers=base.hyperscalers,
        tie_breakers=frozenset({REGISTRY_COUNTRY}),
        geoip_split=GEOIP_SPLIT,
        withhold=False,
    )


def _answer_counts(
    counts: OperatorCounts, weighted: Calibration, skip: str | None
) -> dict[str, tuple[Counts, Counts]]:
    """Pass 2: each operator's merged answers (but ``skip``'s) under ``weighted``, counted
    by answer kind and by disagreement pattern: operator -> (answers, patterns)."""
    study = counts.study
    out: dict[str, tuple[Counts, Counts]] = {}
    if study is None:
        return out
    cache: dict[int, IpFacts] = {}
    for sample, combo in zip(study.samples, study.combos, strict=True):
        if sample.operator == skip:
            continue
        facts = cache.get(combo)
        if facts is None:
            facts = cache[combo] = study.merged(combo, weighted)
        loc = facts.location
        if loc.place is None or not loc.answer:
            continue
        answers, patterns = out.setdefault(sample.operator, ({}, {}))
        ok = country_of(loc.place) == sample.truth
        _count(answers, loc.answer, counts.nets[combo], ok)
        if loc.pattern:
            _count(patterns, loc.pattern, counts.nets[combo], ok)
    return out


def count(study: Study, base: Calibration) -> OperatorCounts:
    """Pass 1: every source's claims per operator; pass 2: the merged answers (weights of
    pass 1 over all operators, nothing withheld) per operator."""
    out = OperatorCounts(study=study)
    for sample, combo in zip(study.samples, study.combos, strict=True):
        net = out.nets.get(combo)
        if net is None:
            net = out.nets[combo] = study.network(combo, base)
        evidence, _ = study.evidence(combo)
        own = out.sources.setdefault(sample.operator, {})
        for e in evidence:
            if e.kind.value in _PLACING and e.place is not None and not e.anycast:
                _count(own, e.source, net, country_of(e.place) == sample.truth)
    weighted = _weights(_measured(out.total("sources")), base)
    for operator, (answers, patterns) in _answer_counts(out, weighted, None).items():
        out.answers[operator] = answers
        out.patterns[operator] = patterns
    return out


def calibration_without(
    counts: OperatorCounts,
    base: Calibration,
    operator: str | None,
    provenance: Mapping[str, Any] = {},
) -> Calibration:
    """The calibration measured on every operator but ``operator`` (None: all of them).

    Nothing of ``operator`` reaches it: the sources' weights are counted without its
    addresses, and the other operators' answers are merged again with those weights
    before their kinds and patterns are counted."""
    sources = _measured(counts.total("sources", skip=operator))
    if operator is None:
        answers, patterns = counts.total("answers"), counts.total("patterns")
    else:
        per = _answer_counts(counts, _weights(sources, base), operator)
        answers = OperatorCounts(answers={k: a for k, (a, _) in per.items()}).total("answers")
        patterns = OperatorCounts(patterns={k: p for k, (_, p) in per.items()}).total("patterns")
    return Calibration(
        sources=sources,
        answers=_measured(answers),
        patterns=_measured(patterns),
        default_weight=base.default_weight,
        hyperscalers=base.hyperscalers,
        tie_breakers=frozenset({REGISTRY_COUNTRY}),
        geoip_split=GEOIP_SPLIT,
        provenance=dict(provenance),
    )


def grade(
    study: Study,
    calibration_for: Callable[[str], Calibration],
    who: str = "merged",
    grades: Grades | None = None,
    keep_wrong: bool = False,
) -> Grades:
    """Merge each sample under its operator's calibration and tally it."""
    grades = grades or Grades()
    cache: dict[tuple[int, int], IpFacts] = {}
    by_operator: dict[str, Calibration] = {}
    for sample, combo in zip(study.samples, study.combos, strict=True):
        cal = by_operator.get(sample.operator)
        if cal is None:
            cal = by_operator[sample.operator] = calibration_for(sample.operator)
        key = (id(cal), combo)
        facts = cache.get(key)
        if facts is None:
            facts = cache[key] = study.merged(combo, cal)
        answer = country_of(facts.location.place)
        grades.add(who, sample, answer, facts.location.confidence)
        withheld = answer is None and facts.location.basis == WITHHELD_BASIS
        if keep_wrong and (withheld or (answer is not None and answer != sample.truth)):
            grades.wrong.append((sample, facts))
    return grades


def grade_sources(study: Study, grades: Grades) -> Grades:
    """Each placing source alone: its own claim at the address, no merge."""
    names = sorted(
        {
            info.layer_id
            for info in study.locator.index.layers
            if info.kind in _PLACING and info.layer_id != DOCUMENTED_ANYCAST_LAYER
        }
    )
    for sample, combo in zip(study.samples, study.combos, strict=True):
        evidence, _ = study.evidence(combo)
        said = {e.source: country_of(e.place) for e in evidence if e.place and not e.anycast}
        for name in names:
            grades.add(name, sample, said.get(name), None)
    return grades
