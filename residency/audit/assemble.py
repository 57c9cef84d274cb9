"""Build the pieces of an audit from an ``AuditRequest``, once, for both paths.

The batch report and the ``--format jsonl`` stream differ only in how results are
collected and written; what is audited (targets, ``--har``/``--zone``/``--pcap``
files), how (resolver, vantages, RDAP), against what (policy) and where it is recorded
(``--db``) is decided here, so the two cannot drift apart again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from residency.audit.core import AuditError, Auditor
from residency.model import Endpoint, InputProblem

if TYPE_CHECKING:
    from residency.audit.run import AuditRequest
    from residency.policy import Policy


@dataclass
class Assembly:
    """Everything an audit run needs; ``close()`` releases resolver, RDAP and store."""

    auditor: Auditor
    policy: Policy | None
    locator: Any
    resolver: Any
    store: Any
    registrar: Any
    notes: list[str] = field(default_factory=list)
    prober: Any = None
    geofeeds: Any = None

    def close(self) -> None:
        if self.auditor.control is not None:
            self.auditor.control.close()
        if self.geofeeds is not None:
            self.geofeeds.close()
        if self.prober is not None:
            self.prober.close()
        if self.registrar is not None:
            self.registrar.close()
        if self.resolver is not None:
            self.resolver.close()
        if self.store is not None:
            self.store.close()


def load_request_policy(request: AuditRequest) -> Policy | None:
    """The ``--policy`` file; a broken policy stops everything, before inputs are read."""
    if request.policy_path is None:
        return None
    from residency.policy import load_policy

    return load_policy(request.policy_path)


def assemble(
    request: AuditRequest,
    notes: list[str],
    policy: Policy | None,
    check_resolver: bool = True,
) -> Assembly:
    """Locator, resolver, vantages, store and RDAP for ``request``, judged by ``policy``.

    Raises ResidencyError (no dataset, bad vantage, broken database URL) before anything
    is audited. ``check_resolver`` adds the resolver's reachability notes to ``notes``."""
    from residency.locate.locator import Locator

    prober = _prober(request, policy)  # a bad --probe value stops the run before anything opens
    locator = Locator.load(request.data_dir, request.geoip)
    resolver = _resolver(request) if request.resolve else None
    store = registrar = geofeeds = None
    try:
        vantages = _vantages(request, locator)
        if request.db:  # opened first: a broken database URL stops the run before any query
            from residency.store import open_store

            store = open_store(request.db)
        registrar = _registrar(request, store) if request.rdap else None
        geofeeds = _geofeeds(registrar) if registrar is not None else None
        if request.rdap:
            prober = _with_registrants(prober, store, notes)
        control = _control(request, policy, notes, store)
        if resolver is not None and check_resolver:
            notes.extend(resolver.check_or_mark())
    except BaseException:
        Assembly(
            Auditor(None, locator),
            policy,
            locator,
            resolver,
            store,
            registrar,
            prober=prober,
            geofeeds=geofeeds,
        ).close()
        raise
    auditor = Auditor(
        resolver,
        locator,
        policy=policy,
        registrar=registrar,
        vantages=vantages,
        today=request.today,
        prober=prober,
        geofeeds=geofeeds,
        control=control,
    )
    return Assembly(auditor, policy, locator, resolver, store, registrar, notes, prober, geofeeds)


def _control(
    request: AuditRequest, policy: Policy | None, notes: list[str], store: Any = None
) -> Any:
    """Who controls each endpoint: the shipped organisation, customer-domain and
    sovereign-cloud tables, the entity tables when installed, [controllers.known], and
    with --gleif GLEIF's LEI records (cached in the history store's cache when open)."""
    from residency.control.evidence import ControlEvidence

    table = getattr(policy, "controller_table", None) if policy is not None else None
    gleif = None
    if request.gleif:
        from residency.control.gleif import GleifLookup
        from residency.paths import gleif_url_override

        gleif = GleifLookup.open(gleif_url_override(), store)
    return ControlEvidence.load(request.data_dir, table, notes, gleif)


def read_options(request: AuditRequest) -> Any:
    """The readers' knobs a request sets (one place for batch and stream)."""
    from residency.endpoints import ReadOptions

    return ReadOptions(
        zone_origin=request.zone_origin, dns_ports=request.dns_ports, apps=request.apps
    )


def _read_files(request: AuditRequest, collector: Any) -> None:
    """``--zone``/``--har``/``--pcap`` files and ``--crawl`` sites into ``collector``; an
    unreadable file or a bad crawl URL is a problem of that input, the others are still
    audited."""
    from residency.endpoints import InputError, read_input

    options = read_options(request)
    for fmt, paths in (("zone", request.zones), ("har", request.hars), ("pcap", request.pcaps)):
        for path in paths:
            # --pcap also takes PCAPdroid's CSV export of the same capture
            chosen = None if fmt == "pcap" and str(path).lower().endswith(".csv") else fmt
            try:
                collector.extend(read_input(path, chosen, options))
            except InputError as err:
                collector.problem(str(path), f"--{fmt}", str(err))
    _read_crawls(request, collector)


def _read_crawls(request: AuditRequest, collector: Any) -> None:
    """Each ``--crawl`` URL crawled in Chromium, names resolved by this audit's resolver
    (and first vantage), so the browser connects to the addresses the audit judges.
    No browser at all stops the run (``BrowserMissing``); a bad URL is one problem."""
    if not request.crawls:
        return
    from residency.endpoints.crawl import BadCrawlUrl, CrawlSettings
    from residency.endpoints.crawl.lookup import crawl_with_resolver
    from residency.endpoints.crawl.targets import crawl_targets

    vantage = _crawl_vantage(request, collector)
    for url in request.crawls:
        try:
            settings = CrawlSettings.start(url, request.crawl_options)
        except BadCrawlUrl as err:
            collector.problem(url, "--crawl", err.reason)
            continue
        resolver = _resolver(request)
        try:
            record = crawl_with_resolver(settings, resolver, vantage)
        finally:
            resolver.close()
        collector.extend(crawl_targets(record))


def _crawl_vantage(request: AuditRequest, collector: Any) -> Any:
    """The crawl's browser lives in one place: it resolves from the first ``--vantage``."""
    if not request.vantages:
        return None
    from residency.locate.locator import Locator

    chosen = _vantages(request, Locator.load(request.data_dir, request.geoip))[0]
    if len(request.vantages) > 1:
        collector.note(
            f"--crawl: the browser resolved names from the first vantage only "
            f"({request.vantages[0]}); the audit re-resolves from every vantage"
        )
    return chosen


def _nothing_to_audit() -> AuditError:
    return AuditError("nothing to audit: give host names, URLs, files or '-' for stdin")


def read_all_inputs(request: AuditRequest) -> tuple[list[Endpoint], list[InputProblem], list[str]]:
    """Every endpoint from arguments and files; bad entries become problems."""
    from residency.endpoints import read_targets
    from residency.endpoints.collect import EndpointCollector

    options = read_options(request)
    collector = EndpointCollector()
    if request.targets:
        collector.extend(read_targets(request.targets, options=options))
    _read_files(request, collector)
    targets = collector.targets()
    if not targets.endpoints and not targets.problems:
        raise _nothing_to_audit()
    notes = list(targets.notes)
    problems = list(targets.problems)
    _tracker_evidence(request, targets.endpoints, notes, problems)
    return list(targets.endpoints), problems, notes


def _tracker_evidence(
    request: AuditRequest,
    endpoints: tuple[Endpoint, ...],
    notes: list[str],
    problems: list[InputProblem],
) -> None:
    """``--android-trackers FILE``: tracker owners of the hosts and apps, as notes."""
    if request.android_trackers is None:
        return
    from residency.endpoints import InputError
    from residency.endpoints.android_trackers import AndroidTrackers

    try:
        table = AndroidTrackers.load(request.android_trackers)
    except InputError as err:
        problems.append(InputProblem(str(request.android_trackers), "--android-trackers", str(err)))
        return
    notes.extend(table.notes(endpoints))


def iter_inputs(request: AuditRequest, notes: list[str]) -> Iterator[Endpoint | InputProblem]:
    """The same inputs as ``read_all_inputs``, streamed: positional targets flow through
    lazily; ``--zone``/``--har``/``--pcap`` files (bounded by their size) are read first
    and each of their hosts is merged with the same host among the targets, as the batch
    path merges them, so observed addresses and categories are never audited apart."""
    from residency.endpoints.collect import EndpointCollector
    from residency.endpoints.stream import iter_targets

    if not request.targets and not (
        request.zones or request.hars or request.pcaps or request.crawls
    ):
        raise _nothing_to_audit()
    collector = EndpointCollector()
    _read_files(request, collector)
    files = collector.targets()
    notes.extend(files.notes)
    yield from files.problems
    tracker_problems: list[InputProblem] = []
    _tracker_evidence(request, files.endpoints, notes, tracker_problems)  # files' hosts only
    yield from tracker_problems
    from_files = {e.host: e for e in files.endpoints}
    options = read_options(request)
    for item in iter_targets(request.targets, options=options, notes=notes):
        if isinstance(item, Endpoint) and item.host in from_files:
            merger = EndpointCollector()
            merger.add(from_files.pop(item.host))
            merger.add(item)
            yield merger.targets().endpoints[0]
            continue
        yield item
    yield from from_files.values()


def _vantages(request: AuditRequest, locator: Any) -> list[object | None]:
    from residency.resolve.engine import Vantage

    chosen: list[object | None] = []
    for cc in request.vantages:
        prefix = locator.prefix_for_country(cc)
        if prefix is None:
            raise AuditError(
                f"--vantage {cc}: no routable prefix in that country in the GeoIP data"
            )
        chosen.append(Vantage(cc, prefix))
    return chosen or [None]


def _resolver(request: AuditRequest) -> Any:
    from residency.resolve.engine import ChainResolver, ResolverSettings

    return ChainResolver(
        ResolverSettings(
            nameservers=request.nameservers,
            doh=request.doh,
            dot=request.dot,
            timeout=request.timeout,
            concurrency=request.concurrency,
            qps=request.qps,
        )
    )


def _registrar(request: AuditRequest, store: Any = None) -> Any:
    """RDAP lookups; with a history store, its cache table is shared by every worker."""
    from residency.locate.registration.rdap_client import RdapLookup

    cache = None
    if store is not None:
        from residency.locate.registration.rdap_cache import StoreRdapCache

        cache = StoreRdapCache(store)
    return RdapLookup.open(request.rdap_url, cache)


def _geofeeds(registrar: Any) -> Any:
    """RFC 9092 discovery of the geofeeds RDAP registrations link, cached beside them."""
    from residency.locate.registration.geofeed_discovery import GeofeedDiscovery

    return GeofeedDiscovery.open(registrar.cache)


def _with_registrants(prober: Any, store: Any, notes: list[str]) -> Any:
    """``--rdap`` also asks each domain's registry for its registrant (controller
    evidence); the answers share the history store's key-value cache when one is open."""
    from residency.locate.registration.domain_rdap import DomainRdapLookup
    from residency.probe import Prober, ProbeSettings

    registrants = DomainRdapLookup.open(store)
    notes.extend(registrants.notes)
    if prober is None:
        return Prober(ProbeSettings(), registrants=registrants)
    prober.registrants = registrants
    return prober


def _prober(request: AuditRequest, policy: Any) -> Any:
    """The opt-in probes, or None; a bad --probe value stops the run before anything."""
    from residency.probe import ConnectTo, ProbeError, Prober, ProbeSettings

    table = getattr(policy, "controller_table", None) if policy is not None else None
    if not request.probes:
        if request.probe_connect_to:
            raise ProbeError("--probe-connect-to redirects probes: give --probe tls,http too")
        # No probe contacts anything; a [controllers.known] table still names controllers.
        return Prober(ProbeSettings(), table) if table else None
    origin = None
    if "rtt" in request.probes.lower():
        from residency.paths import config_path
        from residency.probe.rtt import ProbeOrigin, origin_from_config

        if request.probe_from:
            origin = ProbeOrigin.parse(request.probe_from)
        else:
            origin = origin_from_config(config_path())
    settings = ProbeSettings.parse(
        request.probes,
        origin=origin,
        port=request.probe_port,
        timeout=request.probe_timeout,
        total=request.probe_total,
        concurrency=request.probe_concurrency,
        rate=request.probe_rate,
        connect_to=tuple(ConnectTo.parse(text) for text in request.probe_connect_to),
    )
    return Prober(settings, table)
