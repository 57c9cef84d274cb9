"""Issue 18's hostile matrix: every hostile string, in every untrusted field, in every
output kind, read by that output's strict consumer (see tests/hostile/untrusted.py)."""

from __future__ import annotations

import pytest

from tests.hostile.untrusted import FIELDS, HOSTILE, OUTPUTS, built, check


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_text_stays_text(name: str, field: str, output: str) -> None:
    result = built(field, name)
    render = OUTPUTS[output]
    check(output, render(result), result, render(built(field, "benign")))


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("field", FIELDS)
def test_benign_text_passes_its_consumer(field: str, output: str) -> None:
    """The consumers themselves accept residency's ordinary output (no false alarm)."""
    result = built(field, "benign")
    text = OUTPUTS[output](result)
    check(output, text, result, text)
