"""The resolution engine: a name -> its CNAME chain, addresses and an explicit outcome.

``ChainResolver.resolve`` asks for A, AAAA (and HTTPS, for address hints) at the name,
follows each CNAME chain across zones with one query per hop the server did not
already answer, keeps every step's TTL, and ends in exactly one ``Outcome``.
``resolve_many`` streams any iterable of names through a bounded window of in-flight
names, with queries bounded by ``concurrency`` and the rate by ``qps``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import dns.edns
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

from residency.model import ChainStep, Outcome, Resolution, ResolvedAddress
from residency.resolve.chain import AAAA, HTTPS, TYPE_NAMES, A, walk_answer
from residency.resolve.dns_message import (
    MalformedReply,
    Reply,
    build_query,
    ecs_option_wire,
    encode_name,
    host_wire,
    parse_reply,
)
from residency.resolve.doh import DohTransport
from residency.resolve.dot import DotTransport
from residency.resolve.errors import BadResolverSpec, QueryFailed, QueryTimeout, ResolverUnreachable
from residency.resolve.nameservers import parse_nameserver, system_nameservers
from residency.resolve.ratelimit import RateLimiter
from residency.resolve.transport import Transport
from residency.resolve.udp import UdpTransport
from residency.timefmt import utc_iso

NS = 2


@dataclass(frozen=True)
class ResolverSettings:
    """How to resolve. No nameserver, DoH or DoT given means the system's resolvers.

    ``timeout`` is the whole budget of one query, retries included: attempt ``i`` waits
    ``timeout * 2**i / (2**attempts - 1)``, so retransmissions back off exponentially and
    an unreachable resolver is reported within ``timeout``.
    """

    nameservers: tuple[str, ...] = ()  # "ADDR", "ADDR:PORT", "[IPv6]:PORT"
    doh: str | None = None  # https://host/dns-query
    dot: str | None = None  # "ADDR[:PORT][#TLS-NAME]"
    timeout: float = 3.0
    attempts: int = 3
    concurrency: int = 256
    qps: float | None = None
    max_chain: int = 16
    https_hints: bool = True
    tls_verify: bool | str = True  # for DoH/DoT: False, or a CA bundle path

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise BadResolverSpec(f"timeout must be positive, not {self.timeout}")
        if self.attempts < 1:
            raise BadResolverSpec(f"attempts must be at least 1, not {self.attempts}")
        if self.concurrency < 1:
            raise BadResolverSpec(f"concurrency must be at least 1, not {self.concurrency}")
        if self.qps is not None and self.qps <= 0:
            raise BadResolverSpec(f"qps must be positive, not {self.qps}")
        if self.max_chain < 1:
            raise BadResolverSpec(f"max_chain must be at least 1, not {self.max_chain}")


@dataclass(frozen=True)
class Vantage:
    """Resolve as a client in ``country`` would: ``prefix`` is sent as EDNS Client Subnet."""

    country: str
    prefix: str  # e.g. "49.36.0.0/24"


def build_transports(settings: ResolverSettings) -> list[Transport]:
    """The transports the settings ask for (the system's resolvers when none is given)."""
    transports: list[Transport] = [UdpTransport(parse_nameserver(s)) for s in settings.nameservers]
    if settings.doh:
        transports.append(DohTransport(settings.doh, verify=settings.tls_verify))
    if settings.dot:
        transports.append(DotTransport(settings.dot, verify=settings.tls_verify))
    if not transports:
        transports = [UdpTransport(server) for server in system_nameservers()]
    return transports


@dataclass
class _Chase:
    """One record type followed from the queried name to its end."""

    rdtype: int
    outcome: Outcome
    steps: list[ChainStep] = field(default_factory=list)
    addresses: list[ResolvedAddress] = field(default_factory=list)
    error: str = ""
    scope: int | None = None


class _LoopState:
    """Per-event-loop primitives (asyncio objects must not cross loops)."""

    def __init__(self, settings: ResolverSettings) -> None:
        self.slots = asyncio.Semaphore(settings.concurrency)
        self.limiter = RateLimiter(settings.qps) if settings.qps else None


class ChainResolver:
    """Resolves names through the configured resolvers; never raises for a bad name."""

    def __init__(
        self, settings: ResolverSettings, transports: Sequence[Transport] | None = None
    ) -> None:
        self.settings = settings
        self.transports: list[Transport] = (
            list(transports) if transports is not None else build_transports(settings)
        )
        if not self.transports:
            raise BadResolverSpec("no resolver to query")
        self._state: _LoopState | None = None
        self._state_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._rotate = 0
        self._options: dict[str | None, bytes] = {None: b""}
        self._label = ",".join(t.label for t in self.transports)
        self._clock: tuple[int, str] = (0, "")
        # Wire forms of the names being resolved, so their queries need not re-encode them.
        self._wire_cache: dict[str, bytes] = {}
        # Set when the start-up check found no resolver answering: every name then ends
        # in RESOLVER_UNREACHABLE with this reason, without waiting out its own timeout.
        self.unreachable: str | None = None

    @property
    def label(self) -> str:
        """The resolvers used, as results name them (``Resolution.resolver``)."""
        return self._label

    def _now(self) -> str:
        """ISO-8601 UTC time to the second (formatted once per second, not per name)."""
        second = int(time.time())
        if second != self._clock[0]:
            self._clock = (second, utc_iso(second))
        return self._clock[1]

    # ------------------------------------------------------------------ one name

    async def resolve(self, name: str, vantage: Vantage | None = None) -> Resolution:
        """Resolve ``name`` (A, AAAA, and HTTPS hints) as seen from ``vantage``."""
        when = self._now()
        ecs_prefix = None
        base = Resolution(
            name=name,
            outcome=Outcome.ERROR,
            resolver=self._label,
            vantage=vantage.country if vantage else None,
            ecs_prefix=vantage.prefix if vantage else None,
            when=when,
        )
        if self.unreachable is not None:
            return replace(base, outcome=Outcome.RESOLVER_UNREACHABLE, error=self.unreachable)
        if vantage is not None:
            ecs_prefix = vantage.prefix
            if ecs_prefix not in self._options:
                try:
                    self._options[ecs_prefix] = _ecs(ecs_prefix)
                except BadResolverSpec as err:
                    return replace(base, error=str(err))
        try:
            start, start_wire = host_wire(name)
        except dns.exception.DNSException as err:
            return replace(base, error=f"invalid name: {err}")
        if start_wire == b"\x00":
            return replace(base, error="invalid name: empty")
        if len(self._wire_cache) > 4 * self.settings.concurrency + 64:
            self._wire_cache.clear()
        self._wire_cache[start] = start_wire
        # A runs in this task; AAAA (and HTTPS) alongside it in their own.
        loop = asyncio.get_running_loop()
        others = [loop.create_task(self._chase(start, AAAA, ecs_prefix))]
        if self.settings.https_hints:
            others.append(loop.create_task(self._chase(start, HTTPS, ecs_prefix)))
        try:
            chases = [await self._chase(start, A, ecs_prefix)]
            for task in others:
                chases.append(await task)
        finally:
            for task in others:
                task.cancel()
        return _combine(base, chases)

    async def _chase(self, start: str, rdtype: int, ecs_prefix: str | None) -> _Chase:
        chase = _Chase(rdtype, Outcome.ERROR)
        seen: set[str] = set()
        current = start
        cnames = 0
        type_text = TYPE_NAMES[rdtype]
        for _ in range(self.settings.max_chain + 1):
            try:
                reply = await self._query(current, rdtype, ecs_prefix)
            except QueryTimeout as err:
                chase.outcome, chase.error = Outcome.TIMEOUT, f"{type_text} {current}: {err}"
                return chase
            except QueryFailed as err:
                chase.outcome, chase.error = Outcome.ERROR, f"{type_text} {current}: {err}"
                return chase
            if reply.ecs_scope is not None:
                chase.scope = reply.ecs_scope
            walk = walk_answer(reply, current, rdtype, seen)
            chase.steps.extend(walk.steps)
            chase.addresses.extend(walk.addresses)
            cnames += walk.cnames
            if walk.loop:
                chase.outcome = Outcome.CNAME_LOOP
                chase.error = f"CNAME loop: {walk.final} is already in the chain"
                return chase
            if cnames > self.settings.max_chain:
                return _too_long(chase, self.settings.max_chain)
            rcode = reply.rcode
            final = walk.final
            if rcode == dns.rcode.NXDOMAIN:
                chase.outcome, chase.error = Outcome.NXDOMAIN, f"{final} does not exist"
                return chase
            if rcode == dns.rcode.SERVFAIL:
                chase.outcome, chase.error = Outcome.SERVFAIL, f"server failure for {final}"
                return chase
            if rcode == dns.rcode.REFUSED:
                chase.outcome, chase.error = Outcome.REFUSED, f"query for {final} refused"
                return chase
            if rcode != dns.rcode.NOERROR:
                chase.outcome = Outcome.ERROR
                chase.error = f"{_rcode_text(rcode)} for {final} {type_text}"
                return chase
            if walk.has_records:
                chase.outcome = Outcome.RESOLVED
                return chase
            if (
                not walk.dangling
                and reply.referral
                and not reply.soa_owners
                and not reply.flags & 0x0400  # AA clear: a referral, not an answer
            ):
                # Following it would mean asking servers the user did not choose.
                chase.outcome = Outcome.DELEGATED
                chase.error = (
                    f"{final} is delegated to {reply.referral_zone or '.'} "
                    f"(NS {', '.join(sorted(reply.referral))}); the resolver does not recurse "
                    "and referrals are not followed: give a recursive --nameserver"
                )
                return chase
            if not walk.dangling:
                chase.outcome, chase.error = Outcome.NODATA, f"{final} has no {type_text} record"
                return chase
            current = final  # the server stopped at a zone boundary: ask at the target
        return _too_long(chase, self.settings.max_chain)

    async def _query(self, qname: str, rdtype: int, ecs_prefix: str | None) -> Reply:
        """One question, retransmitted with backoff and over the other resolvers.

        ``timeout`` is the whole budget of the question, from the first send: every
        attempt stays outstanding until the deadline, so a slow reply to the first
        attempt is accepted while later retransmissions are still waiting. Attempt
        ``i`` is sent ``timeout * (2**i - 1) / (2**attempts - 1)`` after the first.
        Raises QueryFailed/QueryTimeout when nothing usable came back in time.
        """
        loop = asyncio.get_running_loop()
        state = self._loop_state(loop)
        try:
            qname_wire = self._wire_cache.get(qname) or encode_name(qname)
        except dns.exception.DNSException as err:
            raise QueryFailed(f"cannot ask for {qname!r}: {err}") from None
        query = build_query(qname_wire, rdtype, 0, self._options[ecs_prefix])
        attempts = self.settings.attempts
        budget = self.settings.timeout
        first_wait = budget / (2**attempts - 1)
        transports = self.transports
        start = self._rotate
        self._rotate = (self._rotate + 1) % len(transports)
        error: QueryFailed | None = None
        fallback: Reply | None = None
        outstanding: set[asyncio.Task[Reply]] = set()

        async def ask(transport: Transport, wait: float) -> Reply:
            wire = await transport.exchange(query, wait)
            try:
                reply = parse_reply(wire)
            except MalformedReply as err:
                raise QueryFailed(f"{transport.label}: malformed reply ({err})") from None
            if reply.qname != qname or reply.qtype != rdtype:
                raise QueryFailed(f"{transport.label}: reply for another question")
            return reply

        async with state.slots:
            deadline = loop.time() + budget  # the budget starts when the first query is sent
            try:
                for attempt in range(attempts + 1):
                    now = loop.time()
                    if now >= deadline:
                        break
                    if attempt < attempts:
                        if state.limiter is not None:
                            await state.limiter.acquire()
                        transport = transports[(start + attempt) % len(transports)]
                        outstanding.add(
                            loop.create_task(ask(transport, max(0.001, deadline - loop.time())))
                        )
                        # The next retransmission is due after this attempt's share.
                        until = min(deadline, now + first_wait * 2**attempt)
                    else:
                        until = deadline  # every attempt sent: wait for any of them
                    while outstanding and loop.time() < until:
                        done, _ = await asyncio.wait(
                            outstanding,
                            timeout=until - loop.time(),
                            return_when=asyncio.FIRST_COMPLETED,
                        )
                        if not done:
                            break
                        for task in done:
                            outstanding.discard(task)
                            try:
                                reply = task.result()
                            except QueryTimeout as err:
                                error = err
                                continue
                            except QueryFailed as err:
                                error = err
                                continue
                            if (
                                reply.rcode in (dns.rcode.SERVFAIL, dns.rcode.REFUSED)
                                and len(transports) > 1
                            ):
                                fallback = reply  # another resolver may do better
                                continue
                            return reply
                        if not outstanding and error is not None and attempt < attempts:
                            # An immediate failure (refused, unreachable): back off a little
                            # before trying again rather than spinning.
                            pause = min(first_wait * 2**attempt / 4, until - loop.time())
                            await asyncio.sleep(max(0.0, pause))
                            break
                    if fallback is not None and not outstanding and attempt >= attempts - 1:
                        break
            finally:
                for task in outstanding:
                    task.cancel()
                if outstanding:
                    await asyncio.gather(*outstanding, return_exceptions=True)
        if fallback is not None:
            return fallback
        if error is None or isinstance(error, QueryTimeout):
            error = QueryTimeout(
                f"no answer from {self.label} within {budget:.2g}s"
                if attempts == 1
                else f"no answer from {self.label} in {attempts} attempts within {budget:.2g}s"
            )
        raise error

    def _loop_state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        if self._state is None or self._state_loop is None or self._state_loop() is not loop:
            self._state, self._state_loop = _LoopState(self.settings), weakref.ref(loop)
        return self._state

    # ----------------------------------------------------------------- many names

    async def resolve_vantages(
        self, name: str, vantages: Sequence[Vantage | None]
    ) -> tuple[str, tuple[Resolution, ...]]:
        """``name`` resolved once per vantage."""
        if len(vantages) == 1:
            return name, (await self.resolve(name, vantages[0]),)
        found = await asyncio.gather(*(self.resolve(name, v) for v in vantages))
        return name, tuple(found)

    def resolve_many(
        self, names: Iterable[str], vantages: Sequence[Vantage | None] = (None,)
    ) -> Iterator[tuple[str, tuple[Resolution, ...]]]:
        """Resolve a stream of names; yields ``(name, resolutions)`` as each completes.

        Synchronous and streaming: at most ``concurrency`` names are in flight and only
        finished results wait to be taken, so memory stays flat however long ``names`` is.
        Order is not preserved. Must not be called from inside a running event loop.
        """
        chosen: tuple[Vantage | None, ...] = tuple(vantages) or (None,)
        loop = asyncio.new_event_loop()
        finished: deque[tuple[str, tuple[Resolution, ...]]] = deque()
        wake = asyncio.Event()
        in_flight: set[asyncio.Task[tuple[str, tuple[Resolution, ...]]]] = set()
        failures: list[BaseException] = []  # a bug, not a DNS failure: re-raised to the caller

        def collect(task: asyncio.Task[tuple[str, tuple[Resolution, ...]]]) -> None:
            in_flight.discard(task)
            if not task.cancelled():
                error = task.exception()
                if error is not None:
                    failures.append(error)
                else:
                    finished.append(task.result())
            wake.set()

        async def wait_for_some() -> None:
            if not finished and not failures:
                await wake.wait()
            wake.clear()

        # Each name has up to this many queries in flight at once (one per record type and
        # vantage), so this many names keep ``concurrency`` queries busy without queueing
        # on the semaphore (whose wake-up scans every waiter).
        per_name = (3 if self.settings.https_hints else 2) * len(chosen)
        window = max(1, -(-self.settings.concurrency // per_name))
        source = iter(names)
        exhausted = False
        try:
            while True:
                while not exhausted and len(in_flight) < window:
                    try:
                        name = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    task = loop.create_task(self.resolve_vantages(name, chosen))
                    in_flight.add(task)
                    task.add_done_callback(collect)
                if not in_flight and not finished:
                    break
                loop.run_until_complete(wait_for_some())
                if failures:
                    raise failures[0]
                while finished:
                    yield finished.popleft()
        finally:
            for task in list(in_flight):
                task.cancel()
            if in_flight:
                loop.run_until_complete(asyncio.gather(*in_flight, return_exceptions=True))
            loop.run_until_complete(self.aclose())
            loop.close()

    # ----------------------------------------------------------------- reachability

    async def probe(self) -> tuple[str, ...]:
        """Ask every resolver one question; returns one line per resolver that did not answer.

        Raises ``ResolverUnreachable`` when none answered. Any reply, whatever its rcode,
        counts as reachable.
        """
        query = build_query(b"\x00", NS)
        problems: list[str] = []

        async def ask(transport: Transport) -> None:
            try:
                parse_reply(await transport.exchange(query, self.settings.timeout))
            except QueryFailed as err:
                problems.append(str(err))

        await asyncio.gather(*(ask(t) for t in self.transports))
        if len(problems) == len(self.transports):
            raise ResolverUnreachable(
                "no resolver answered: " + "; ".join(problems)
                if len(problems) > 1
                else f"resolver unreachable: {problems[0]}"
            )
        return tuple(problems)

    def check_reachable(self) -> tuple[str, ...]:
        """Synchronous ``probe()`` (for the CLI, before a run): raises ResolverUnreachable."""

        async def run() -> tuple[str, ...]:
            try:
                return await self.probe()
            finally:
                await self.aclose()

        return asyncio.run(run())

    def check_or_mark(self) -> tuple[str, ...]:
        """``check_reachable``, but a resolver that does not answer does not stop the run:
        it is marked unreachable (each name then gets its own RESOLVER_UNREACHABLE outcome)
        and the reason comes back as a note."""
        try:
            return self.check_reachable()
        except ResolverUnreachable as err:
            self.unreachable = str(err)
            return (f"{err}; names were not resolved, literal and observed addresses were",)

    async def aclose(self) -> None:
        for transport in self.transports:
            with contextlib.suppress(Exception):
                await transport.aclose()

    def close(self) -> None:
        """Release sockets (only needed after ``resolve`` in your own event loop)."""
        for transport in self.transports:
            if isinstance(transport, UdpTransport):
                transport._close_now()


def _ecs(prefix: str) -> bytes:
    try:
        return ecs_option_wire(prefix)
    except ValueError:
        raise BadResolverSpec(
            f"vantage prefix {prefix!r} is not a network (e.g. 49.36.0.0/24)"
        ) from None


def _rcode_text(rcode: int) -> str:
    try:
        return dns.rcode.to_text(dns.rcode.Rcode(rcode))
    except ValueError:
        return f"rcode {rcode}"


def _too_long(chase: _Chase, limit: int) -> _Chase:
    chase.outcome = Outcome.CHAIN_TOO_LONG
    chase.error = f"CNAME chain longer than {limit} links (the limit; not followed further)"
    return chase


#: Outcomes in the order they decide a name that resolved to no address at all.
_DECIDING = (
    Outcome.CNAME_LOOP,
    Outcome.CHAIN_TOO_LONG,
    Outcome.NXDOMAIN,
    Outcome.SERVFAIL,
    Outcome.REFUSED,
    Outcome.DELEGATED,
    Outcome.TIMEOUT,
    Outcome.ERROR,
)


def _combine(base: Resolution, chases: Sequence[_Chase]) -> Resolution:
    """One Resolution from the A, AAAA (and HTTPS) chases of the same name."""
    steps: list[ChainStep] = []
    seen_cnames: set[tuple[str, str]] = set()
    for chase in chases:
        for step in chase.steps:
            if step.rtype == "CNAME" and (step.owner, step.target) not in seen_cnames:
                seen_cnames.add((step.owner, step.target))
                steps.append(step)
    for chase in chases:
        steps.extend(s for s in chase.steps if s.rtype != "CNAME")
    addresses: list[ResolvedAddress] = []
    seen_ips: set[str] = set()
    for chase in chases:
        for address in chase.addresses:
            if address.ip not in seen_ips:
                seen_ips.add(address.ip)
                addresses.append(address)
    scope = next((c.scope for c in chases if c.scope is not None), None)
    address_chases = [c for c in chases if c.rdtype != HTTPS]
    if addresses:
        outcome = Outcome.RESOLVED
        # Say what went wrong for the other type (e.g. AAAA timed out), if anything did.
        error = "; ".join(c.error for c in address_chases if c.outcome in _DECIDING)
    else:
        outcome = Outcome.NODATA
        for candidate in _DECIDING:
            if any(c.outcome == candidate for c in address_chases):
                outcome = candidate
                break
        deciding = [c for c in address_chases if c.outcome == outcome]
        error = deciding[0].error if deciding else ""
        if outcome == Outcome.NODATA:
            cnames = [s.target for s in steps if s.rtype == "CNAME"]
            final = cnames[-1] if cnames else base.name
            error = f"{final} has no A or AAAA record"
    return Resolution(
        name=base.name,
        outcome=outcome,
        chain=tuple(steps),
        addresses=tuple(addresses),
        resolver=base.resolver,
        vantage=base.vantage,
        ecs_prefix=base.ecs_prefix,
        ecs_scope=scope,
        error=error,
        when=base.when,
    )
