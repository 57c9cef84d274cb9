"""The resolve stage's error family: bad resolver settings, unreachable resolvers, local servers."""

from __future__ import annotations

from residency.errors import ResidencyError


class ResolveError(ResidencyError):
    """Base of every error the resolve stage raises on purpose."""


class BadResolverSpec(ResolveError):
    """A ``--nameserver``, ``--doh`` or ``--dot`` value that cannot be used as given."""


class ResolverUnreachable(ResolveError):
    """No configured resolver answered at all within the configured timeout."""


class QueryFailed(ResolveError):
    """One query could not be completed (network error, malformed reply...).

    Internal to the engine: it ends up as ``Outcome.ERROR`` with this message, never raised
    out of ``ChainResolver.resolve``.
    """


class QueryTimeout(QueryFailed):
    """One query got no answer within its time budget (ends up as ``Outcome.TIMEOUT``)."""


class LocalServerError(ResolveError):
    """The local authoritative DNS server (demo, tests) could not be started or reloaded."""
