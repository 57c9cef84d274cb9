"""Merge endpoints from many inputs so that each host is audited once."""

from __future__ import annotations

from dataclasses import replace

from residency.endpoints.interface import Targets
from residency.model import Endpoint, InputProblem, ObservedAddress
from residency.text import shorten

#: Observations kept per endpoint; beyond it they are counted in a note, not stored.
MAX_OBSERVED = 256


class EndpointCollector:
    """Accumulates endpoints keyed by host, merging categories and observations.

    The first occurrence keeps its display form and origin; later duplicates add
    their categories and observed addresses (in order, without repeats).
    """

    def __init__(self) -> None:
        self._by_host: dict[str, Endpoint] = {}
        self._problems: list[InputProblem] = []
        self._notes: list[str] = []
        self._dropped_observations = 0

    def add(self, endpoint: Endpoint) -> None:
        known = self._by_host.get(endpoint.host)
        if known is None:
            self._by_host[endpoint.host] = endpoint
            return
        categories = known.categories + tuple(
            c for c in endpoint.categories if c not in known.categories
        )
        observed = known.observed
        if endpoint.observed:
            seen = set(observed)
            extra = [o for o in endpoint.observed if o not in seen]
            room = MAX_OBSERVED - len(observed)
            self._dropped_observations += max(0, len(extra) - room)
            observed = observed + tuple(extra[: max(0, room)])
        if categories != known.categories or observed != known.observed:
            self._by_host[endpoint.host] = replace(known, categories=categories, observed=observed)

    def observe(self, host: str, display: str, origin: str, seen: ObservedAddress) -> None:
        self.add(Endpoint(host=host, display=display, origin=origin, observed=(seen,)))

    def problem(self, entry: str, origin: str, problem: str) -> None:
        # Entries are user input: a huge line must not come back whole in a report.
        self._problems.append(
            InputProblem(
                entry=shorten(entry), origin=shorten(origin, 200), problem=shorten(problem, 300)
            )
        )

    def note(self, text: str) -> None:
        self._notes.append(text)

    def extend(self, targets: Targets) -> None:
        for endpoint in targets.endpoints:
            self.add(endpoint)
        self._problems.extend(targets.problems)
        self._notes.extend(targets.notes)

    def __len__(self) -> int:
        return len(self._by_host)

    def targets(self) -> Targets:
        notes = list(self._notes)
        if self._dropped_observations:
            notes.append(
                f"{self._dropped_observations} further observations not kept "
                f"(at most {MAX_OBSERVED} per endpoint)"
            )
        return Targets(
            endpoints=tuple(self._by_host.values()),
            problems=tuple(self._problems),
            notes=tuple(notes),
        )
