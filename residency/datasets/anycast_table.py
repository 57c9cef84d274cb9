"""The documented anycast services (``data/anycast.toml``): addresses whose operators say
they are anycast, known on a fresh offline install without the measured list."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache

from residency import paths
from residency.datasets.errors import DatasetError

FILE_NAME = "anycast.toml"
#: The index layer compiled from the table (residency.locate.index.layers).
DOCUMENTED_ANYCAST_LAYER = "documented-anycast"


class AnycastTableInvalid(DatasetError):
    """data/anycast.toml cannot be read or an entry is malformed."""


@dataclass(frozen=True)
class AnycastService:
    """One documented anycast service and where its operator says so."""

    service: str
    operator: str
    prefixes: tuple[str, ...]
    source: str
    anycast_source: str
    provider: str | None = None
    #: the operator documents its whole network as anycast
    whole_network: bool = False

    @property
    def cited(self) -> str:
        """Who says it is anycast, and where."""
        return f"documented by {self.operator} ({self.anycast_source})"


def parse_anycast_table(text: str, origin: str = FILE_NAME) -> tuple[AnycastService, ...]:
    """The services of one table; AnycastTableInvalid names the first bad entry."""
    import tomllib  # only when the table is read: a single lookup never parses TOML

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise AnycastTableInvalid(f"{origin}: not TOML ({err})") from err
    entries = doc.get("service", [])
    if not isinstance(entries, list):
        raise AnycastTableInvalid(f"{origin}: 'service' must be an array of tables")
    out: list[AnycastService] = []
    for n, entry in enumerate(entries, 1):
        where = f"{origin}: service {n}"
        if not isinstance(entry, dict):
            raise AnycastTableInvalid(f"{where} is not a table")
        try:
            service, operator, source = entry["id"], entry["operator"], entry["source"]
            prefixes = entry["prefixes"]
        except KeyError as err:
            raise AnycastTableInvalid(f"{where} lacks {err.args[0]!r}") from err
        if not all(isinstance(v, str) and v for v in (service, operator, source)):
            raise AnycastTableInvalid(f"{where}: id, operator and source must be text")
        if not source.startswith("https://"):
            raise AnycastTableInvalid(f"{where} ({service}): source must be an https URL")
        if not isinstance(prefixes, list) or not prefixes:
            raise AnycastTableInvalid(f"{where} ({service}): prefixes must be a non-empty list")
        for prefix in prefixes:
            try:
                ipaddress.ip_network(prefix)
            except (TypeError, ValueError) as err:
                raise AnycastTableInvalid(f"{where} ({service}): bad prefix {prefix!r}") from err
        provider = entry.get("provider")
        out.append(
            AnycastService(
                service=service,
                operator=operator,
                prefixes=tuple(prefixes),
                source=source,
                anycast_source=str(entry.get("anycast_source") or source),
                provider=provider if isinstance(provider, str) else None,
                whole_network=entry.get("whole_network") is True,
            )
        )
    return tuple(out)


@cache
def anycast_services() -> tuple[AnycastService, ...]:
    """The shipped table."""
    text = paths.project_data().joinpath(FILE_NAME).read_text("utf-8")
    return parse_anycast_table(text)


def whole_network_anycast() -> dict[str, AnycastService]:
    """Provider id -> the service documenting its whole network as anycast."""
    return {s.provider: s for s in anycast_services() if s.whole_network and s.provider}


def summary() -> str:
    """The table in one phrase, for status lines."""
    services = anycast_services()
    count = sum(len(s.prefixes) for s in services)
    names = ", ".join(dict.fromkeys(s.operator for s in services))
    return f"{count} prefixes of {len(services)} services by {names}"
