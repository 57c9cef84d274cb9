"""residency.http's one exchange deadline: a cancel event ends a blocked exchange (a
stopping monitor's webhook), nested blocks keep the tighter deadline and the outer event,
and ``configured_client`` (webhooks) obeys it like a ``Fetcher``. Real sockets on
127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from residency.http import _EXCHANGE, configured_client, exchange_deadline
from tests.probe.servers import tls_server

pytestmark = pytest.mark.timeout(60)


@contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: every read blocks."""
    with tls_server(None, mode="stall") as port:
        yield f"http://127.0.0.1:{port}/hook"


def test_a_cancel_event_ends_a_blocked_exchange() -> None:
    cancel = threading.Event()
    with silent_server() as url, configured_client(timeout=600) as client:
        threading.Timer(0.5, cancel.set).start()
        with exchange_deadline(600, cancel=cancel), pytest.raises(httpx.ReadError) as caught:
            client.post(url, json={"x": 1})
    assert "cancelled" in str(caught.value)


def test_the_whole_exchange_deadline_ends_a_silent_webhook() -> None:
    with (
        silent_server() as url,
        configured_client(timeout=600) as client,
        exchange_deadline(0.5),
        pytest.raises(httpx.TimeoutException),
    ):
        client.post(url, json={"x": 1})


def test_nested_blocks_keep_the_tighter_deadline_and_the_outer_cancel_event() -> None:
    cancel = threading.Event()
    with exchange_deadline(5, cancel=cancel):
        outer = _EXCHANGE.get()
        assert outer is not None
        with exchange_deadline(600):
            inner = _EXCHANGE.get()
            assert inner is not None
            assert inner.deadline == outer.deadline and inner.cancel is cancel
        with exchange_deadline(1):
            tighter = _EXCHANGE.get()
            assert tighter is not None and tighter.deadline < outer.deadline
    assert _EXCHANGE.get() is None
