"""A HAR's IPv4-mapped serverIPAddress is the IPv4 address actually contacted."""

from __future__ import annotations

import pytest

from residency.endpoints.har import server_ip


@pytest.mark.parametrize(
    ("recorded", "observed"),
    [
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("[::ffff:13.228.0.1]", "13.228.0.1"),
        ("1.2.3.4", "1.2.3.4"),
        ("[2001:db8::1]", "2001:db8::1"),
    ],
)
def test_mapped_server_address_counts_as_its_ipv4(recorded: str, observed: str) -> None:
    assert server_ip(recorded) == observed
