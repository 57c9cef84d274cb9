"""Recorded DNS answers (from zone files, dig output, captures) as a small name graph."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_CHAIN = 16


@dataclass
class RecordGraph:
    """Owner name -> CNAME target and addresses, as recorded somewhere."""

    cnames: dict[str, str] = field(default_factory=dict)
    addresses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # (ip, "A"/"AAAA")
    order: list[str] = field(default_factory=list)  # owners in the order first seen

    def _seen(self, owner: str) -> None:
        if owner not in self.cnames and owner not in self.addresses:
            self.order.append(owner)

    def add_cname(self, owner: str, target: str) -> None:
        self._seen(owner)
        self.cnames[owner] = target

    def add_address(self, owner: str, ip: str, rtype: str) -> None:
        self._seen(owner)
        known = self.addresses.setdefault(owner, [])
        if (ip, rtype) not in known:
            known.append((ip, rtype))

    def follow(self, name: str) -> tuple[list[tuple[str, str]], list[str], str]:
        """(addresses, CNAME targets walked, problem) for ``name`` using only this graph.

        ``problem`` is "" when the chain ended normally, otherwise "CNAME loop"
        or "chain too long"; a chain leaving the recorded data ends quietly.
        """
        chain: list[str] = []
        current = name
        seen = {name}
        while current in self.cnames:
            current = self.cnames[current]
            chain.append(current)
            if current in seen:
                return [], chain, "CNAME loop"
            if len(chain) > MAX_CHAIN:
                return [], chain, "chain too long"
            seen.add(current)
        return list(self.addresses.get(current, [])), chain, ""


def chain_text(kind: str, rtype: str, chain: list[str]) -> str:
    """Context text for an observed address, e.g. ``zone file A via a.cdn.example``."""
    return f"{kind} {rtype}" + (f" via {' -> '.join(chain)}" if chain else "")
