"""Merge the claims of every source about one address into one answer with a confidence.

A weighted vote (weights and confidence levels measured, from residency.locate.trust.calibration):
the provider's own feeds and RFC 8805 geofeeds decide, GeoIP breaks their ties or, without
them, votes alone; registration is the last resort. Only a real tie or all-weak sources
leave the place unknown. Anycast and CDN edges have no single place, whatever a GeoIP
database claims. Disagreements are listed, never hidden.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from residency.datasets.anycast_table import DOCUMENTED_ANYCAST_LAYER as DOCUMENTED_ANYCAST
from residency.datasets.anycast_table import whole_network_anycast
from residency.locate.index.read import LayerInfo
from residency.locate.trust.calibration import WEAK_BELOW, Calibration, shipped_calibration
from residency.model import (
    WITHHELD_BASIS,
    CdnEdge,
    Confidence,
    Evidence,
    EvidenceKind,
    IpFacts,
    Location,
    Operator,
    Place,
    Registration,
)

#: Providers whose addresses are CDN edges (served from many places).
CDN_PROVIDERS = frozenset({"cloudflare", "fastly", "akamai"})
#: Feed services whose ranges are client-facing CDN edges.
CDN_SERVICES = frozenset({"CDN", "CLOUDFRONT"})
#: Feeds that describe a provider only broadly (no regions): lower priority.
GENERIC_FEEDS = frozenset({"google", "google-goog", "cloudip"})


class ProviderLookup(Protocol):
    """What merging needs from the provider registry (residency.locate.providers)."""

    def operator_for(
        self,
        provider: str | None,
        asn: int | None,
        org: str | None = None,
        provider_basis: str = "provider-feed",
    ) -> Operator: ...

    def get(self, provider_id: str) -> _EdgeFlags | None: ...


class _EdgeFlags(Protocol):
    @property
    def cdn(self) -> bool: ...

    @property
    def anycast(self) -> bool: ...

    @property
    def kind(self) -> str: ...


def place_from_claim(claim: dict[str, Any]) -> Place | None:
    cc = claim.get("cc")
    if not cc:
        return None
    return Place(country=cc, subdivision=claim.get("sub"), city=claim.get("city"))


def claim_evidence(layer: LayerInfo, claim: dict[str, Any]) -> Evidence:
    """Turn a compiled claim back into an Evidence record."""
    kind = EvidenceKind(claim.get("kind", layer.kind))
    return Evidence(
        source=layer.layer_id,
        kind=kind,
        version=layer.version,
        prefix=claim.get("p"),
        place=place_from_claim(claim),
        provider=claim.get("prov"),
        region=claim.get("reg"),
        service=claim.get("svc"),
        asn=claim.get("asn"),
        org=claim.get("org"),
        anycast=bool(claim.get("any", False)),
        note=str(claim.get("note", "")),
    )


def _prefixlen(e: Evidence) -> int:
    if not e.prefix:
        return 0
    try:
        return ipaddress.ip_network(e.prefix, strict=False).prefixlen
    except ValueError:
        return 0


def _is_generic(e: Evidence) -> bool:
    return e.source in GENERIC_FEEDS or e.provider in GENERIC_FEEDS


def _feed_rank(e: Evidence) -> tuple[int, int, int]:
    return (0 if _is_generic(e) else 1, 1 if (e.region or e.place) else 0, _prefixlen(e))


def network_of(
    provider: str | None, registry: ProviderLookup | None, calibration: Calibration
) -> str:
    """The kind of network (calibration.NETWORK_CLASSES) of an address run by ``provider``."""
    entry = registry.get(provider) if registry is not None and provider else None
    return calibration.network_class(provider, entry.kind if entry is not None else None)


def not_routable(ip: str, reason: str) -> IpFacts:
    return IpFacts(
        ip=ip,
        routable=False,
        not_routable_reason=reason,
        location=Location(
            place=None,
            confidence=Confidence.NONE,
            basis="not-routable",
            why=f"not publicly routable: {reason}",
        ),
    )


def merge_facts(
    ip: str,
    evidence: Sequence[Evidence],
    hints: Sequence[Evidence] = (),
    registry: ProviderLookup | None = None,
    registration: Registration | None = None,
    calibration: Calibration | None = None,
    family: int | None = None,
) -> IpFacts:
    """One IpFacts from all the evidence about ``ip`` (special-purpose handled by caller).

    ``calibration`` gives the vote's weights and the confidence levels (the shipped
    default when None). ``family`` (4 or 6) is the address family, from ``ip`` when
    None (a template merged for a combo id has no address: the index knows its family)."""
    calibration = calibration or shipped_calibration()
    if family is None:
        family = _family_of(ip)
    feeds = sorted(
        (e for e in evidence if e.kind is EvidenceKind.PROVIDER_FEED), key=_feed_rank, reverse=True
    )
    geofeeds = [e for e in evidence if e.kind is EvidenceKind.GEOFEED and e.place]
    geoip = [e for e in evidence if e.kind is EvidenceKind.GEOIP and e.place]
    asns = [e for e in evidence if e.kind is EvidenceKind.ASN and e.asn is not None]
    disagreements: list[str] = []

    primary = feeds[0] if feeds else None
    provider = primary.provider if primary else None
    region = primary.region if primary else None
    service = primary.service if primary else None
    asn = asns[0].asn if asns else (primary.asn if primary else None)
    as_org = asns[0].org if asns else (primary.org if primary else None)
    provider_basis = "provider-feed"
    if provider is None:
        hinted = [h for h in hints if h.provider]
        if hinted:
            provider, region, service = hinted[0].provider, hinted[0].region, hinted[0].service
            provider_basis = "hostname-hint"

    registrant = registration.org if registration is not None else None
    operator = (
        registry.operator_for(provider, asn, as_org or registrant, provider_basis)
        if registry
        else None
    )
    registry_cdn = False
    if operator is not None and operator.provider:
        if provider is None:
            provider = operator.provider  # known only from the ASN: say so via operator.basis
        entry = registry.get(operator.provider) if registry else None
        if entry is not None:
            registry_cdn = entry.cdn
    net = network_of(operator.provider if operator else provider, registry, calibration)
    # Anycast only where it is published (the provider's own feed flags the range) or
    # measured (a list of prefixes seen answering from many places). A provider or ASN
    # that runs anycast somewhere says nothing about this address: Google, Gcore and
    # many others announce mostly unicast space.
    published = next((e for e in feeds if e.anycast), None)
    documented = next(
        (e for e in evidence if e.kind is EvidenceKind.ANYCAST and e.source == DOCUMENTED_ANYCAST),
        None,
    )
    measured = next(
        (e for e in evidence if e.kind is EvidenceKind.ANYCAST and e is not documented), None
    )
    if measured is not None and _placed_more_specifically(measured, feeds, geofeeds):
        # bgp.tools marks a whole announced aggregate (Google's 34.32.0.0/11) anycast when
        # part of it is; the provider's own placement of a narrower prefix inside it
        # (a Google Cloud region) is the better claim for this address
        measured = None
    cdn_edge = _cdn_edge(feeds, hints, provider, operator, registry_cdn)
    whole = whole_network_anycast().get(cdn_edge.vendor) if cdn_edge is not None else None
    anycast = any(e is not None for e in (published, documented, measured, whole))
    anycast_basis = ""
    if published is not None:
        anycast_basis = f"published by {_claim_of(published)}"
    elif documented is not None:
        anycast_basis = f"{documented.note or 'documented'}, {_claim_of(documented)}"
    elif measured is not None:
        anycast_basis = f"measured, {_claim_of(measured)}"
    elif whole is not None:
        # an edge of a provider whose whole network is anycast, outside its listed ranges:
        # a GeoIP database's place for it is where the block is registered, not served
        anycast_basis = f"{whole.operator}'s whole network is anycast, {whole.cited}"
    for h in hints:
        if h.provider and provider and h.provider != provider:
            disagreements.append(
                f"{h.note or 'hostname'} suggests {h.provider}, feeds say {provider}"
            )
        elif h.region and region and h.region != region and h.provider == provider:
            disagreements.append(
                f"{h.note or 'hostname'} suggests region {h.region}, feeds say {region}"
            )

    location = _locate(
        primary, feeds, geofeeds, geoip, registration, disagreements, calibration, net, family
    )
    if anycast:
        claimed = location.country
        why = f"anycast address ({anycast_basis}): served from many places at once"
        if claimed:
            why += f"; GeoIP/feeds would say {claimed}, which is not where data goes"
        location = Location(place=None, confidence=Confidence.NONE, basis="anycast", why=why)
    elif cdn_edge is not None:
        # a unicast edge in one place: that place stands (and is judged); the origin
        # behind it is unknown, which the policy's `cdn` key decides
        edge = f"CDN edge of {cdn_edge.vendor} ({cdn_edge.basis})"
        if location.place is not None:
            edge += ": the edge's own place"
        confidence = location.confidence
        if confidence is Confidence.HIGH:
            # edges move between places and GeoIP places them by registration: never
            # a confident answer, whatever the tier measured elsewhere
            confidence = Confidence.MEDIUM
        location = replace(
            location, confidence=confidence, why=f"{location.why}; {edge}, origin unknown"
        )

    return IpFacts(
        ip=ip,
        routable=True,
        location=location,
        asn=asn,
        as_org=as_org,
        provider=provider,
        region=region,
        service=service,
        cdn=cdn_edge is not None,
        anycast=anycast,
        evidence=tuple(evidence) + tuple(hints),
        disagreements=tuple(dict.fromkeys(disagreements)),
        operator=operator,
        registration=registration,
        anycast_basis=anycast_basis,
        cdn_edge=cdn_edge,
    )


def _family_of(ip: str) -> int | None:
    try:
        return ipaddress.ip_address(ip.split("%", 1)[0]).version
    except ValueError:
        return None


def _placed_more_specifically(
    measured: Evidence, feeds: Sequence[Evidence], geofeeds: Sequence[Evidence]
) -> bool:
    """Whether a provider feed or geofeed places the address by a prefix at least as
    narrow as the measured anycast one."""
    width = _prefixlen(measured)
    return any(
        e.place is not None and not e.anycast and _prefixlen(e) >= width
        for e in (*feeds, *geofeeds)
    )


def _claim_of(e: Evidence) -> str:
    return f"{e.source} [{e.prefix}]" if e.prefix else e.source


def _is_cdn_service(service: str | None) -> bool:
    """A feed service that names client-facing CDN edges (CloudFront, Cloudflare, Fastly).

    AWS joins several services with ``+``; ``CLOUDFRONT_ORIGIN_FACING`` is the side
    that fetches from origins, not an edge clients reach."""
    if not service:
        return False
    return any(part in CDN_SERVICES for part in service.split("+"))


def _cdn_edge(
    feeds: Sequence[Evidence],
    hints: Sequence[Evidence],
    provider: str | None,
    operator: Operator | None,
    registry_cdn: bool,
) -> CdnEdge | None:
    """Which CDN serves the address, and how we know; None when no CDN does."""
    for e in feeds:
        if e.provider and (_is_cdn_service(e.service) or e.provider in CDN_PROVIDERS):
            return CdnEdge(vendor=e.provider, basis=f"{e.source}: {e.service or 'CDN'}")
    for h in hints:
        if h.anycast:  # a hostname pattern marked cdn (hints.py sets this flag for it)
            return CdnEdge(vendor=h.provider or provider or "unknown", basis=h.summary())
    # a provider whose whole network is CDN edges (Akamai, bunny.net) marks the address
    # even when its range is missing from any published feed
    vendor = operator.provider if operator is not None else None
    if registry_cdn and vendor and not any(e.place for e in feeds if e.provider == vendor):
        assert operator is not None
        return CdnEdge(vendor=vendor, basis=operator.basis or "provider registry")
    return None


#: Two weighted scores closer than this are a tie.
_TIE = 1e-9


def answer_pattern(
    kind: str, winner: str, votes: Sequence[tuple[Evidence, float]], family: int | None = None
) -> str:
    """The disagreement pattern of one answer, the key of the calibration's ``patterns``:
    its kind and address family, the sources that said the winning country, then (after
    ``vs``) those that said each other country, e.g. ``geoip:majority v6: geoip:b vs
    geoip:a``. Copies of a provider's feed that do not vote are part of the pattern."""
    if not votes:
        return ""
    if family is not None:
        kind = f"{kind} v{family}"
    sides: dict[str, set[str]] = {}
    for e, _ in votes:
        if e.place is not None:
            sides.setdefault(e.place.country, set()).add(e.source)
    won = "+".join(sorted(sides.pop(winner, set())))
    lost = sorted("+".join(sorted(side)) for side in sides.values())
    return " vs ".join([f"{kind}: {won}", *lost])


def _weighted(
    evidence: Sequence[Evidence], calibration: Calibration, net: str
) -> list[tuple[Evidence, float]]:
    return [(e, calibration.weight(e.source, e.kind.value, net)) for e in evidence]


def _tally(votes: Sequence[tuple[Evidence, float]]) -> list[tuple[str, float]]:
    """Countries by summed weight of the sources that are not weak, best first."""
    scores: dict[str, float] = {}
    for e, w in votes:
        if e.place is not None and w >= WEAK_BELOW:
            scores[e.place.country] = scores.get(e.place.country, 0.0) + w
    return sorted(scores.items(), key=lambda kv: -kv[1])


def _clear(tally: Sequence[tuple[str, float]]) -> str | None:
    """The winning country, or None for a real tie or no strong vote."""
    if not tally:
        return None
    if len(tally) > 1 and tally[0][1] - tally[1][1] <= _TIE:
        return None
    return tally[0][0]


def _tie_broken(
    tally: Sequence[tuple[str, float]],
    breaking: Sequence[tuple[Evidence, float]],
    margin: float = _TIE,
) -> str | None:
    """The winner of ``tally`` when it leads by more than ``margin``; else the country
    of those close to the top that a tie-breaker (the registry country) says, when it
    is not weak and says one of them; else None (the sources disagree: splitting them by
    a few points of measured share would be a coin flip). A tie-breaker never brings a
    country no voter said; where every voter says one country and a tie-breaker within
    ``margin`` of their weight says another, it is None too (a split, not a verdict)."""
    if not tally:
        return None
    close = {c for c, score in tally if tally[0][1] - score <= margin}
    if len(close) == 1:
        if (
            margin > _TIE
            and len(tally) == 1
            and any(
                e.place
                and w >= WEAK_BELOW
                and e.place.country != tally[0][0]
                and tally[0][1] - w <= margin
                for e, w in breaking
            )
        ):
            # the voters agree and only the registry country, as trusted as they give or
            # take the margin, says otherwise (one database against it, where the other
            # has no row): a split the registry is a party to, so it cannot settle it,
            # and it never outvotes the database either
            return None
        return tally[0][0]
    said = {
        e.place.country
        for e, w in breaking
        if e.place and w >= WEAK_BELOW and e.place.country in close
    }
    if len(said) == 1:
        return said.pop()
    return None if margin > _TIE else _clear(tally)


def _says(votes: Sequence[tuple[Evidence, float]]) -> str:
    return ", ".join(f"{e.source} says {e.place.country}" for e, _ in votes if e.place)


def _locate(
    primary: Evidence | None,
    feeds: Sequence[Evidence],
    geofeeds: Sequence[Evidence],
    geoip: Sequence[Evidence],
    registration: Registration | None,
    disagreements: list[str],
    calibration: Calibration,
    net: str,
    family: int | None = None,
) -> Location:
    """The weighted vote: provider feeds and geofeeds first, GeoIP to break their tie
    or, without them, on its own; the confidence is what that kind of answer measured."""
    placed = [e for e in feeds if e.place and not e.anycast]
    copies: list[Evidence] = []
    if any(not _is_generic(e) for e in placed):
        # a copy or broad view of a provider's ranges (cloudip) does not vote against
        # the provider's own feed: it is listed where it differs, not counted twice
        copies = [e for e in placed if _is_generic(e)]
        placed = [e for e in placed if not _is_generic(e)]
        for e in copies:
            if e.place and all(p.place and p.place.country != e.place.country for p in placed):
                disagreements.append(
                    f"{e.source} says {e.place.country}, the provider's own feed does not"
                )
    if primary is not None and primary in placed:
        placed.remove(primary)
        placed.insert(0, primary)  # the best-ranked feed gives the place detail
    authoritative = _weighted([*placed, *geofeeds], calibration, net)
    geo = _weighted([e for e in geoip if e.place], calibration, net)
    # a registry country (where the block is registered) breaks a tie between the GeoIP
    # databases; it never outvotes one: a multinational registers its blocks at home
    voting = [(e, w) for e, w in geo if e.source not in calibration.tie_breakers]
    breaking = [(e, w) for e, w in geo if e.source in calibration.tie_breakers]
    if not voting:
        voting, breaking = breaking, []

    def answer(
        kind: str,
        place: Place,
        basis: str,
        why: str,
        votes: Sequence[tuple[Evidence, float]],
        alone: str | None = None,
    ) -> Location:
        pattern = answer_pattern(kind, place.country, votes, family)
        judged = calibration.judge(kind, pattern, net, alone)
        if judged.withheld:
            dissent = _says(votes) if " vs " in pattern else ""
            because = (
                f"the sources disagree: {dissent} ({judged.measured})"
                if dissent
                else f"the sources are weak here: {judged.measured}"
            )
            return Location(
                place=None,
                confidence=Confidence.NONE,
                basis=WITHHELD_BASIS,
                why=f"unknown, because {because}; "
                f"the answer would have been {place.country} ({why})",
                answer=kind,
                pattern=pattern,
            )
        return Location(
            place=place,
            confidence=judged.level,
            basis=basis,
            why=f"{why} ({judged.measured})",
            answer=kind,
            pattern=pattern,
        )

    feed_tally = _tally(authoritative)
    if feed_tally:
        winner = _clear(feed_tally)
        split = len(feed_tally) > 1 or any(
            e.place and e.place.country != feed_tally[0][0] for e, _ in authoritative
        )
        if winner is None:  # the feeds tie: GeoIP breaks it, or nothing does
            winner = _tie_broken(_tally([*authoritative, *voting]), breaking)
            if winner is None:
                detail = _says([*authoritative, *geo])
                disagreements.append(f"provider feeds disagree: {detail}")
                return _unknown("sources-disagree", f"sources disagree: {detail}")
        best = max(
            ((e, w) for e, w in authoritative if e.place and e.place.country == winner),
            key=lambda ew: ew[1] + (1.0 if ew[0] is primary else 0.0),
        )[0]
        assert best.place is not None
        place = best.place
        for other, _ in [*authoritative, *geo]:
            if other.place and other.place.country != winner:
                disagreements.append(
                    f"{other.source} says {other.place.country}, {best.source} says {winner}"
                )
        if place.subdivision is None and place.city is None:
            # a geofeed row for the same country can refine the region table's place
            same = next((g.place for g in geofeeds if g.place and g.place.country == winner), None)
            if same is not None:
                place = same
        geo_countries = [e.place.country for e, _ in geo if e.place]
        for_winner = sum(w for e, w in voting if e.place and e.place.country == winner)
        against = sum(w for e, w in voting if e.place and e.place.country != winner)
        if split:
            kind = "feed:split"
        elif not geo_countries:
            kind = "feed:alone"
        elif all(c == winner for c in geo_countries):
            kind = "feed:agreed"
        elif against > for_winner:
            kind = "feed:contradicted"  # GeoIP's weighted majority says elsewhere
        else:
            kind = "feed:contested"  # GeoIP split, not outweighing the feed's side
        what = best.provider or best.source
        region = f" {best.region}" if best.region else ""
        conflict = split or any(c != winner for c in geo_countries)
        basis = "geofeed" if best.kind is EvidenceKind.GEOFEED else "provider-feed"
        why = f"{what}{region} per {best.source}" + ("; other sources disagree" if conflict else "")
        single = kind == "feed:alone" and len(authoritative) == 1
        return answer(
            kind,
            place,
            basis,
            why,
            [*authoritative, *geo, *((e, 0.0) for e in copies)],
            best.source if single else None,
        )

    geo_tally = _tally(voting)
    if geo:
        detail = _says(geo)
        countries = {e.place.country for e, _ in geo if e.place}
        if len(countries) > 1:
            disagreements.append(f"GeoIP sources disagree: {detail}")
        winner = _tie_broken(geo_tally, breaking, max(calibration.geoip_split, _TIE))
        if winner is None:
            reason = "GeoIP sources disagree" if geo_tally else "every GeoIP source is weak"
            return _unknown("sources-disagree", f"{reason}: {detail}")
        first = next(e.place for e, _ in geo if e.place and e.place.country == winner)
        assert first is not None
        voters = sum(1 for e, _ in geo if e.place and e.place.country == winner)
        if len(countries) > 1:
            return answer(
                "geoip:majority",
                Place(winner),
                "geoip-majority",
                f"weighted majority of GeoIP sources says {winner}; {detail}",
                geo,
            )
        if voters >= 2:
            return answer(
                "geoip:unanimous",
                first,
                "geoip-consensus",
                f"{voters} GeoIP sources agree on {winner}",
                geo,
            )
        only = next(e.source for e, _ in geo if e.place)
        return answer(
            "geoip:single", first, "geoip-single", f"1 GeoIP source says {winner}", geo, only
        )

    if registration is not None and registration.status == "known" and registration.country:
        return answer(
            "registration",
            Place(registration.country),
            "registration",
            f"only registration data: block registered in {registration.country} "
            "(registration is not proof of location)",
            (),
        )
    return Location(
        place=None, confidence=Confidence.NONE, basis="no-data", why="no source covers this address"
    )


def _unknown(basis: str, why: str) -> Location:
    return Location(place=None, confidence=Confidence.NONE, basis=basis, why=why)
