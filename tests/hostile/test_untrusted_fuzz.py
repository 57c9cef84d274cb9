"""Arbitrary Unicode (unpaired surrogates, controls, bidi, non-characters included) in
every untrusted field, through every renderer, read by each output's strict consumer."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.untrusted import FIELDS, OUTPUTS, build, built, check

#: Every code point, surrogates too (hypothesis leaves category Cs out by default).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, field=st.sampled_from(FIELDS))
def test_any_unicode_in_any_field_stays_text(text: str, field: str) -> None:
    result = build(field, text)
    for output, render in OUTPUTS.items():
        shown = render(result)
        check(output, shown, result, render(built(field, "benign")), exact=False)
