"""How the crawl's proxy resolves a name: residency's resolver, from the audit's vantage."""

from __future__ import annotations

from typing import Any

from residency.endpoints.crawl.proxy import Lookup
from residency.model import Outcome


def resolver_lookup(resolver: Any, vantage: Any = None) -> Lookup:
    """A ``Lookup`` over a ``ChainResolver`` (and an optional ``Vantage``): IPv4 first,
    then IPv6, as the resolver answered; an explicit reason when there is no address."""

    async def lookup(host: str) -> tuple[list[str], str]:
        resolution = await resolver.resolve(host, vantage)
        if resolution.outcome is not Outcome.RESOLVED or not resolution.addresses:
            detail = f": {resolution.error}" if resolution.error else ""
            return [], f"{host} did not resolve ({resolution.outcome.value}{detail})"
        ordered = [a.ip for a in resolution.addresses if a.via == "A"]
        ordered += [a.ip for a in resolution.addresses if a.via == "AAAA"]
        ordered += [a.ip for a in resolution.addresses if a.ip not in ordered]
        return ordered, ""

    return lookup


def crawl_with_resolver(settings: Any, resolver: Any, vantage: Any = None) -> Any:
    """``crawl_site`` with names resolved by ``resolver``; its sockets are closed after."""
    from residency.endpoints.crawl.crawler import crawl_site

    return crawl_site(settings, resolver_lookup(resolver, vantage), on_close=resolver.aclose)
