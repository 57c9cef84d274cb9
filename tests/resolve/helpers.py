"""Build replies from text for resolve unit tests (no network)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

from residency.resolve.errors import QueryFailed, QueryTimeout


def reply_to(query: bytes, answers: list[str] = (), rcode: int = dns.rcode.NOERROR) -> bytes:  # type: ignore[assignment]
    """The wire reply to ``query`` with answer records given as zone-file lines."""
    message = dns.message.from_wire(query)
    response = dns.message.make_response(message)
    response.set_rcode(rcode)
    for line in answers:
        response.answer.append(dns.rrset.from_text(*line.split(maxsplit=4)))
    return response.to_wire()


Responder = Callable[[str, str, bytes], bytes]


class ScriptedTransport:
    """Answers from a function of (qname, qtype, query wire); raises what it returns if an error."""

    def __init__(
        self, respond: Callable[[str, str, bytes], bytes | Exception], label: str = "fake"
    ) -> None:
        self.respond = respond
        self._label = label
        self.queries: list[tuple[str, str]] = []

    @property
    def label(self) -> str:
        return self._label

    async def exchange(self, query: bytes, timeout: float) -> bytes:
        message = dns.message.from_wire(query)
        question = message.question[0]
        qname = question.name.to_text(omit_final_dot=True)
        qtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((qname, qtype))
        result = self.respond(qname, qtype, query)
        if isinstance(result, QueryTimeout):
            await asyncio.sleep(timeout)
            raise result
        if isinstance(result, Exception):
            raise result
        return result

    async def aclose(self) -> None:
        return None


__all__ = ["QueryFailed", "QueryTimeout", "ScriptedTransport", "reply_to"]
