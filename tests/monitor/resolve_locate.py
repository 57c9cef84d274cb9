"""A lean ``Batch -> AuditResult`` for monitor tests: resolver + batched locate + policy.

It skips what the production ``AuditorAudit`` adds (hostname hints, RDAP), so monitor
tests can drive the schedule with a stand-in locate function.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from residency import __version__
from residency.model import (
    AuditResult,
    DataVersion,
    EndpointResult,
    IpFacts,
    Outcome,
    Resolution,
    ResolvedAddress,
)
from residency.monitor.audit import file_version
from residency.monitor.base import Batch, MonitorError
from residency.policy.evaluate import apply_policy
from residency.policy.loader import load_policy
from residency.policy.model import Policy
from residency.resolve.engine import ChainResolver, Vantage
from residency.timefmt import utc_iso

LocateMany = Callable[[Sequence[str]], list[IpFacts]]
Clock = Callable[[], float]


class ResolveLocateAudit:
    """``Batch -> AuditResult`` from a resolver, a locate function and policy files.

    Endpoints flagged ``is_ip`` are taken as they are; the others are resolved.
    """

    def __init__(
        self,
        resolver: ChainResolver,
        locate_many: LocateMany,
        data_versions: tuple[DataVersion, ...] = (),
        *,
        prefix_for_country: Callable[[str], str | None] | None = None,
        clock: Clock | None = None,
        policy_loader: Callable[[str], Policy] = load_policy,
    ) -> None:
        self.resolver = resolver
        self.locate_many = locate_many
        self.data_versions = data_versions
        self.prefix_for_country = prefix_for_country
        self.clock = clock
        self._load_policy = policy_loader
        self._policies: dict[str, tuple[int, Policy]] = {}

    def _now(self) -> datetime:
        if self.clock is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self.clock(), UTC)

    def _vantage(self, country: str | None) -> Vantage | None:
        if not country:
            return None
        prefix = self.prefix_for_country(country) if self.prefix_for_country else None
        if prefix is None:
            raise MonitorError(f"vantage {country}: no address prefix known in that country")
        return Vantage(country, prefix)

    def _policy(self, path: str) -> Policy:
        version = file_version(path)  # reloaded when the file is edited
        cached = self._policies.get(path)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = self._load_policy(path)
        self._policies[path] = (version, found)
        return found

    def __call__(self, batch: Batch) -> AuditResult:
        started = self._now()
        vantage = self._vantage(batch.vantage)
        policy = self._policy(batch.policy) if batch.policy else None
        names = [e.host for e in batch.endpoints if not e.is_ip]
        resolved: dict[str, tuple[Resolution, ...]] = dict(
            self.resolver.resolve_many(names, (vantage,))
        )
        per_endpoint: list[tuple[Resolution, ...]] = []
        wanted: dict[str, None] = {}
        for endpoint in batch.endpoints:
            if endpoint.is_ip:
                res: tuple[Resolution, ...] = (
                    Resolution(
                        name=endpoint.host,
                        outcome=Outcome.LITERAL,
                        addresses=(ResolvedAddress(endpoint.host, None, "literal"),),
                        resolver="literal",
                    ),
                )
            else:
                res = resolved.get(endpoint.host, ())
            per_endpoint.append(res)
            for r in res:
                for a in r.addresses:
                    wanted.setdefault(a.ip, None)
        ips = list(wanted)
        facts_by_ip = dict(zip(ips, self.locate_many(ips), strict=True)) if ips else {}
        results = []
        for endpoint, res in zip(batch.endpoints, per_endpoint, strict=True):
            seen: dict[str, IpFacts] = {}
            for r in res:
                for a in r.addresses:
                    seen.setdefault(a.ip, facts_by_ip[a.ip])
            results.append(EndpointResult(endpoint, res, tuple(seen.values())))
        finished = self._now()
        result = AuditResult(
            run_id=f"m-{started.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:10]}",
            started=utc_iso(started),
            finished=utc_iso(finished),
            endpoints=tuple(results),
            data_versions=self.data_versions,
            resolvers=(self.resolver.label,),
            vantages=(batch.vantage,) if batch.vantage else (),
            tool_version=__version__,
        )
        if policy is not None:
            result = apply_policy(policy, result, started.date())
        return result
