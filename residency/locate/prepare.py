"""Readying a freshly updated dataset: compile the lookup index and measure the
calibration now, so the first ``residency ip`` or audit after an update starts fast."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from residency.locate.locator import Locator
from residency.locate.trust.calibrate import rebuild_calibration


def prepare_dataset(
    notify: Callable[[str], None] | None = None, directory: Path | None = None
) -> None:
    """Build the index of the dataset in ``directory`` (default: the dataset folder),
    then (when provider geofeeds are in place) measure the calibration and merge again
    with it. ``notify`` gets one line per step done, with its time."""
    started = time.monotonic()
    locator = Locator.load(directory)
    if notify is not None:
        sizes = locator.index.sizes()
        notify(
            f"lookup index ready: {len(locator.index.layers)} layers, "
            f"{sizes['v4_intervals'] + sizes['v6_intervals']} intervals "
            f"({time.monotonic() - started:.1f} s)"
        )
    started = time.monotonic()
    calibration = rebuild_calibration(locator, directory)
    if calibration is None:
        return  # no provider geofeed in place: the shipped calibration stays in force
    Locator.load(directory).merge_all()  # merged again with the measured weights
    if notify is not None:
        truths = calibration.provenance.get("ground_truth", [])
        study = calibration.provenance.get("operator_study")
        kept = (
            f"; the shipped rows measured on {study.get('operators')} operators' own places kept"
            if isinstance(study, dict)
            else ""
        )
        notify(
            f"calibration measured against {len(truths)} provider-published feeds, "
            f"{sum(t['samples'] for t in truths)} addresses ({time.monotonic() - started:.1f} s)"
            + kept
        )
