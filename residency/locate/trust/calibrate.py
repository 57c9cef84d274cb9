"""Measure each source and each kind of merged answer against the providers' published places.

Ground truth is every layer that states where a provider's own prefixes are: the RFC 8805
geofeeds (AWS, DigitalOcean, Linode, Vultr, any other geofeed) and the region-mapped
provider feeds (AWS ip-ranges, Google Cloud, Azure, Oracle: region -> country by
data/regions). Addresses are sampled inside each published prefix. A source is never
measured against itself, and a merged answer is measured with every layer of the truth's
own provider held out (leave-one-provider-out; the multi-provider cloudip mirror stays,
as it stays in a mirror-only dataset), so the figures are not circular.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from residency import paths
from residency.locate.trust.calibration import (
    ALL,
    CALIBRATION_FILE,
    Calibration,
    Measured,
    Tally,
    country_of,
    shipped_calibration,
)
from residency.locate.trust.merge import GENERIC_FEEDS, claim_evidence, merge_facts, network_of
from residency.model import WITHHELD_BASIS, Evidence, EvidenceKind, IpFacts, Place
from residency.timefmt import iso_day

if TYPE_CHECKING:
    from residency.locate.locator import Locator

#: Multi-provider layers that are never held out (they are the mirror under test).
MIRRORS = frozenset({"cloudip"})
#: Layers whose place is not a provider's own statement about its prefixes.
_NOT_TRUTH = GENERIC_FEEDS | MIRRORS


@dataclass(frozen=True)
class TruthSet:
    """One layer used as ground truth, and whose layers are held out while it is."""

    layer: int
    layer_id: str
    version: str
    provider: str
    prefixes: int


@dataclass(frozen=True)
class Sample:
    ip: str
    truth: str  # country, normalised by country_of
    truth_set: str  # layer id


def _layer_provider(claims: Sequence[dict[str, Any]]) -> str | None:
    provs = {c.get("prov") for c in claims}
    return next(iter(provs)) if len(provs) == 1 and None not in provs else None


def truth_sets(locator: Locator) -> list[TruthSet]:
    """The layers of ``locator`` that can serve as ground truth."""
    out = []
    for i, layer in enumerate(locator.index.layers):
        if layer.kind not in (EvidenceKind.GEOFEED.value, EvidenceKind.PROVIDER_FEED.value):
            continue
        if layer.layer_id in _NOT_TRUTH:
            continue
        claims = locator.index.claims(i)
        placed = [c for c in claims if c.get("cc") and not c.get("any")]
        provider = _layer_provider(claims)
        if placed and provider:
            out.append(TruthSet(i, layer.layer_id, layer.version, provider, len(placed)))
    return out


def _random_address(prefix: str, rng: random.Random) -> str:
    net = ipaddress.ip_network(prefix, strict=False)
    return str(net.network_address + rng.randrange(net.num_addresses))


def sample_truth(
    locator: Locator,
    sets: Sequence[TruthSet],
    per_prefix: int = 2,
    max_prefixes: int = 6000,
    seed: int = 8805,
) -> list[Sample]:
    """Addresses inside each published prefix, with the truth layer's country there
    (the layer's most specific claim at the address, not just the sampled prefix)."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for ts in sets:
        placed = [c for c in locator.index.claims(ts.layer) if c.get("cc") and not c.get("any")]
        if len(placed) > max_prefixes:
            placed = rng.sample(placed, max_prefixes)
        ips = [_random_address(c["p"], rng) for c in placed for _ in range(per_prefix)]
        for ip, combo in zip(ips, locator.combos(ips), strict=True):
            for layer, claim_id in locator.index.combo_claims(int(combo)):
                if layer == ts.layer:
                    claim = locator.index.claim(layer, claim_id)
                    if not claim.get("cc") or claim.get("any"):
                        continue  # a narrower prefix of the layer gives no place here
                    truth = country_of(Place(claim["cc"], claim.get("sub")))
                    if truth:
                        out.append(Sample(ip, truth, ts.layer_id))
    return out


@dataclass(frozen=True)
class Graded:
    """One merged answer against its truth (bench/accuracy.py --wrong dumps these)."""

    sample: Sample
    network: str
    facts: IpFacts
    #: what a withheld answer would have said (None when it was not withheld)
    withheld: str | None = None

    def record(self) -> dict[str, Any]:
        loc = self.facts.location
        return {
            "ip": self.sample.ip,
            "truth": self.sample.truth,
            "truth_set": self.sample.truth_set,
            "network": self.network,
            "answer": country_of(loc.place),
            "withheld": self.withheld,
            "confidence": loc.confidence.value,
            "kind": loc.answer,
            "pattern": loc.pattern,
            "why": loc.why,
            "provider": self.facts.provider,
            "asn": self.facts.asn,
            "claims": [
                f"{e.source} [{e.prefix}] {country_of(e.place)}"
                for e in self.facts.evidence
                if e.place is not None
            ],
        }


@dataclass
class Measurement:
    """Everything measured in one pass over the samples."""

    #: source layer id -> network class -> [right, given] (the claim alone, no merge)
    sources: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: answer kind -> network class -> [right, given] (merged, provider held out)
    answers: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: disagreement pattern -> network class -> [right, given] (the same answers; a
    #: withheld answer counted as the place it would have given)
    patterns: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    #: answerer ("merged" or a layer id) -> truth set -> Tally
    tallies: dict[str, dict[str, Tally]] = field(default_factory=dict)
    #: the merged answers that were wrong or withheld (``keep`` in measure)
    kept: list[Graded] = field(default_factory=list)

    def tally(self, who: str, truth_set: str) -> Tally:
        return self.tallies.setdefault(who, {}).setdefault(truth_set, Tally())


def _count(table: dict[str, dict[str, list[int]]], name: str, net: str, ok: bool) -> None:
    for cls in (net, ALL):
        row = table.setdefault(name, {}).setdefault(cls, [0, 0])
        row[0] += ok
        row[1] += 1


def measure(
    locator: Locator,
    samples: Iterable[Sample],
    calibration: Calibration,
    holdout: Callable[[str], frozenset[int]],
    alone: bool = False,
    keep: bool = False,
) -> Measurement:
    """Merge each sample's evidence without the layers ``holdout(truth_set)`` names.
    ``alone`` also merges each placing source on its own (the side-by-side table);
    ``keep`` keeps every wrong or withheld merged answer (Measurement.kept)."""
    index = locator.index
    registry = locator._registry
    out = Measurement()
    counting = replace(calibration, withhold=False)
    merged_cache: dict[tuple[int, frozenset[int]], tuple[IpFacts, str, IpFacts]] = {}
    alone_cache: dict[tuple[int, int], IpFacts] = {}
    sample_list = list(samples)
    combos = locator.combos([s.ip for s in sample_list])
    for sample, combo_ in zip(sample_list, combos, strict=True):
        combo = int(combo_)
        dropped = holdout(sample.truth_set)
        key = (combo, dropped)
        found = merged_cache.get(key)
        claims = [(j, index.claim(j, c)) for j, c in index.combo_claims(combo)]
        if found is None:
            evidence = [claim_evidence(index.layers[j], c) for j, c in claims if j not in dropped]
            if any(c.get("bogon") for _, c in claims):
                continue
            family = index.family_of(combo)
            facts = merge_facts("", evidence, (), registry, None, calibration, family)
            counted = facts
            if facts.location.basis == WITHHELD_BASIS:
                counted = merge_facts("", evidence, (), registry, None, counting, family)
            provider = facts.operator.provider if facts.operator else facts.provider
            net = network_of(provider, registry, calibration)
            found = merged_cache[key] = (facts, net, counted)
        facts, net, counted = found
        out.tally("merged", sample.truth_set).add_facts(facts, sample.truth)
        if counted.location.place is not None and counted.location.answer:
            ok = country_of(counted.location.place) == sample.truth
            _count(out.answers, counted.location.answer, net, ok)
            if counted.location.pattern:
                _count(out.patterns, counted.location.pattern, net, ok)
            if keep and (not ok or counted is not facts):
                withheld = country_of(counted.location.place) if counted is not facts else None
                out.kept.append(Graded(sample, net, replace(facts, ip=sample.ip), withheld))
        asn_only: list[Evidence] = [
            claim_evidence(index.layers[j], c)
            for j, c in claims
            if index.layers[j].kind == EvidenceKind.ASN.value
        ]
        for j, claim in claims:
            layer = index.layers[j]
            if layer.layer_id == sample.truth_set or not claim.get("cc") or claim.get("any"):
                continue
            ok = country_of(Place(claim["cc"], claim.get("sub"))) == sample.truth
            _count(out.sources, layer.layer_id, net, ok)
        if alone:
            family_ = index.family_of(combo)
            for j, layer in enumerate(index.layers):
                if layer.kind not in _PLACING or layer.layer_id == sample.truth_set:
                    continue
                one = alone_cache.get((combo, j))
                if one is None:
                    own = [claim_evidence(layer, c) for k, c in claims if k == j]
                    one = merge_facts(
                        "", [*own, *asn_only], (), registry, None, calibration, family_
                    )
                    alone_cache[(combo, j)] = one
                out.tally(layer.layer_id, sample.truth_set).add_facts(one, sample.truth)
    return out


_PLACING = frozenset(
    {EvidenceKind.GEOFEED.value, EvidenceKind.PROVIDER_FEED.value, EvidenceKind.GEOIP.value}
)


def holdout_for(
    locator: Locator, sets: Sequence[TruthSet], mode: str = "provider"
) -> Callable[[str], frozenset[int]]:
    """The layers of ``locator`` to leave out while a truth set grades the merged answer:
    ``provider``: every layer run by the truth's provider (not the multi-provider mirror);
    ``feed``: the truth layer itself only (the provider's other feeds still vote)."""
    own = {layer.layer_id: i for i, layer in enumerate(locator.index.layers)}
    if mode == "feed":
        frozen_own = {k: frozenset({v}) for k, v in own.items()}
        return lambda truth_set: frozen_own.get(truth_set, frozenset())
    by_provider: dict[str, set[int]] = {}
    for i, layer in enumerate(locator.index.layers):
        if layer.kind not in _PLACING or layer.layer_id in MIRRORS:
            continue
        provider = _layer_provider(locator.index.claims(i)) if layer.kind != "geoip" else None
        if provider:
            by_provider.setdefault(provider, set()).add(i)
    provider_of = {ts.layer_id: ts.provider for ts in sets}
    frozen = {p: frozenset(s) for p, s in by_provider.items()}
    return lambda truth_set: frozen.get(provider_of.get(truth_set, ""), frozenset())


def as_measured(table: dict[str, dict[str, list[int]]]) -> dict[str, dict[str, Measured]]:
    return {
        name: {cls: Measured(right=r, given=g) for cls, (r, g) in row.items()}
        for name, row in table.items()
    }


def build_calibration(
    locator: Locator,
    base: Calibration | None = None,
    now: datetime | None = None,
    holdout: str = "feed",
    max_prefixes: int = 6000,
) -> tuple[Calibration, Measurement, list[Sample]] | None:
    """Measure a calibration table from the ground-truth layers ``locator`` holds;
    None when it holds none. Two passes: the sources' shares right set the vote's
    weights; the answers merged with those weights set the confidence levels.

    ``holdout`` (see holdout_for): ``feed`` for a dataset that keeps its official feeds
    (the answers then look like the ones it will give), ``provider`` for the shipped
    default, which serves mirror-only datasets."""
    base = base or shipped_calibration()
    sets = truth_sets(locator)
    if not sets:
        return None
    samples = sample_truth(locator, sets, max_prefixes=max_prefixes)
    leave_out = holdout_for(locator, sets, holdout)
    first = measure(locator, samples, base, leave_out)
    weighted = Calibration(
        sources=as_measured(first.sources),
        patterns=as_measured(first.patterns),
        default_weight=base.default_weight,
        hyperscalers=base.hyperscalers,
        tie_breakers=base.tie_breakers,
        geoip_split=base.geoip_split,
    )
    second = measure(locator, samples, weighted, leave_out)
    counts: dict[str, int] = {}
    for s in samples:
        counts[s.truth_set] = counts.get(s.truth_set, 0) + 1
    provenance = {
        "measured": iso_day(now or datetime.now(UTC)),
        "method": (
            "addresses sampled inside each prefix of each ground-truth layer; a source is "
            "counted against every truth but its own; merged answers with "
            + (
                "every layer of the truth's provider held out (cloudip mirror kept)"
                if holdout == "provider"
                else "the truth layer held out"
            )
            + "; HK written CN/CN-HK = HK"
        ),
        "holdout": holdout,
        "ground_truth": [
            {
                "layer": ts.layer_id,
                "version": ts.version,
                "provider": ts.provider,
                "prefixes": ts.prefixes,
                "samples": counts.get(ts.layer_id, 0),
            }
            for ts in sets
        ],
        "layers": {layer.layer_id: layer.version for layer in locator.index.layers},
    }
    final = Calibration(
        sources=weighted.sources,
        answers=as_measured(second.answers),
        patterns=as_measured(second.patterns),
        default_weight=base.default_weight,
        hyperscalers=base.hyperscalers,
        tie_breakers=base.tie_breakers,
        geoip_split=base.geoip_split,
        provenance=provenance,
    )
    final = Calibration.from_json(final.to_json())  # with its digest
    return final, second, samples


def rebuild_calibration(locator: Locator, directory: Path | None = None) -> Calibration | None:
    """Write ``directory`` (the dataset folder)/calibration.json from the ground truth in
    place; None when there is none, and the shipped default stays in force."""
    built = build_calibration(locator)
    if built is None:
        return None
    directory = directory or paths.dataset_dir()
    target = directory / CALIBRATION_FILE
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(built[0].to_json())
    tmp.replace(target)
    return built[0]
