"""EDNS Client Subnet (RFC 7871): the option a vantage sends and the scope a server returns."""

from __future__ import annotations

import ipaddress

import dns.edns
import dns.message

from residency.resolve.errors import BadResolverSpec


def ecs_option(prefix: str) -> dns.edns.ECSOption:
    """The ECS option for a client subnet such as ``49.36.0.0/24`` or ``2405:200::/48``."""
    try:
        network = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        raise BadResolverSpec(
            f"vantage prefix {prefix!r} is not a network (e.g. 49.36.0.0/24)"
        ) from None
    return dns.edns.ECSOption(str(network.network_address), network.prefixlen)


def ecs_scope(reply: dns.message.Message) -> int | None:
    """The scope prefix length a server returned in its ECS option, or None without one."""
    for option in reply.options:
        if isinstance(option, dns.edns.ECSOption):
            return int(option.scopelen)
    return None
