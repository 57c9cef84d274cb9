"""Measured trust, kept as data: how often each source and each kind of merged answer was right.

A calibration table (``calibration.json``) holds, per source (layer id) and per kind of
network, how many addresses the source placed and how many of those were right against
the providers' own published locations; and the same for each kind of merged answer.
Weights for the vote and the confidence levels are read from it, so a new source needs
only a row (and until it has one, it votes with the default weight of its evidence kind).
The shipped default is ``data/calibration.json``; ``residency data update`` writes a
dataset's own when the ground-truth feeds are in place (residency.locate.calibrate).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from residency import paths
from residency.digest import sha256
from residency.errors import ResidencyError
from residency.model import Confidence

#: The file name, in the dataset folder (measured there) and in data/ (shipped default).
CALIBRATION_FILE = "calibration.json"
#: A kind of answer is "high" only where it measured at least this share right (the
#: Wilson 95% lower bound of the measured share, see Measured.lower_bound)...
HIGH_AT = 0.99
#: ..."medium" at least this; anything less, or not measured, is "low".
MEDIUM_AT = 0.95
#: Fewer placed samples than this is "not measured" (a 99% claim needs a few hundred).
MIN_SAMPLES = 200
#: A source measured less often right than this does not vote at all.
WEAK_BELOW = 0.5
#: The row that pools every kind of network, used where a class was not measured.
ALL = "all"
#: The kinds of network, from the provider registry's ``kind`` (data/providers.toml).
NETWORK_CLASSES = ("hyperscaler", "hosting", "cdn", "platform", "access", "unlisted")
_Z95 = 1.96
_CLASS_OF_KIND = {"cloud": "hosting", "cdn": "cdn", "platform": "platform", "isp": "access"}


class CalibrationError(ResidencyError):
    """A calibration table that cannot be read."""


@dataclass(frozen=True)
class Measured:
    """Of ``given`` placed samples, ``right`` had the ground truth's country."""

    right: int
    given: int

    @property
    def precision(self) -> float:
        return self.right / self.given if self.given else 0.0

    @property
    def lower_bound(self) -> float:
        """The Wilson 95% lower bound of the share right: what a level is judged by,
        so that 200 out of 200 right does not pass for 99%."""
        if not self.given:
            return 0.0
        n, p, z = self.given, self.precision, _Z95
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return (centre - spread) / (1 + z * z / n)

    def text(self) -> str:
        return f"{self.precision:.1%} of {self.given}"


def _rows(doc: Any, what: str) -> dict[str, dict[str, Measured]]:
    if not isinstance(doc, dict):
        raise CalibrationError(f"calibration: {what} is not a table")
    out: dict[str, dict[str, Measured]] = {}
    for name, by_class in doc.items():
        if not isinstance(by_class, dict):
            raise CalibrationError(f"calibration: {what}.{name} is not a table")
        out[name] = {}
        for cls, row in by_class.items():
            try:
                out[name][cls] = Measured(right=int(row["right"]), given=int(row["given"]))
            except (KeyError, TypeError, ValueError) as err:
                raise CalibrationError(
                    f"calibration: {what}.{name}.{cls} needs integer right and given"
                ) from err
    return out


@dataclass(frozen=True)
class Calibration:
    """Weights and confidence levels, as measured (see the module docstring)."""

    sources: Mapping[str, Mapping[str, Measured]] = field(default_factory=dict)
    answers: Mapping[str, Mapping[str, Measured]] = field(default_factory=dict)
    #: The weight of an unmeasured source, by evidence kind (provider-feed, geofeed, geoip).
    default_weight: Mapping[str, float] = field(default_factory=dict)
    #: Providers counted as "hyperscaler" rather than "hosting".
    hyperscalers: frozenset[str] = frozenset()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    digest: str = ""

    @classmethod
    def from_json(cls, text: str, origin: str = "calibration") -> Calibration:
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != 1:
                raise CalibrationError(f"{origin}: not a format 1 calibration table")
            defaults = {str(k): float(v) for k, v in doc["default_weight"].items()}
            hyper = frozenset(str(p) for p in doc.get("hyperscalers", ()))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise CalibrationError(f"{origin}: not a calibration table ({err})") from err
        return cls(
            sources=_rows(doc.get("sources", {}), "sources"),
            answers=_rows(doc.get("answers", {}), "answers"),
            default_weight=defaults,
            hyperscalers=hyper,
            provenance=doc.get("provenance", {}),
            digest=sha256(text.encode()).hexdigest()[:16],
        )

    def to_json(self) -> str:
        def rows(table: Mapping[str, Mapping[str, Measured]]) -> dict[str, Any]:
            return {
                name: {c: {"right": m.right, "given": m.given} for c, m in sorted(row.items())}
                for name, row in sorted(table.items())
            }

        doc = {
            "format": 1,
            "provenance": dict(self.provenance),
            "thresholds": {
                "high_at": HIGH_AT,
                "medium_at": MEDIUM_AT,
                "min_samples": MIN_SAMPLES,
                "weak_below": WEAK_BELOW,
            },
            "hyperscalers": sorted(self.hyperscalers),
            "default_weight": dict(sorted(self.default_weight.items())),
            "sources": rows(self.sources),
            "answers": rows(self.answers),
        }
        return json.dumps(doc, indent=1) + "\n"

    def network_class(self, provider: str | None, kind: str | None) -> str:
        """The kind of network an address is on, from its operator."""
        if provider is None:
            return "unlisted"
        if provider in self.hyperscalers:
            return "hyperscaler"
        return _CLASS_OF_KIND.get(kind or "", "unlisted")

    def _measured(
        self, table: Mapping[str, Mapping[str, Measured]], name: str, net: str
    ) -> tuple[Measured | None, bool]:
        """The row for ``net``, else the pooled row (flagged as not this class's)."""
        row = table.get(name, {})
        own = row.get(net)
        if own is not None and own.given >= MIN_SAMPLES:
            return own, True
        pooled = row.get(ALL)
        if pooled is not None and pooled.given >= MIN_SAMPLES:
            return pooled, False
        return None, False

    def weight(self, source: str, kind: str, net: str) -> float:
        """How much ``source`` counts in the vote: its measured share right."""
        measured, _ = self._measured(self.sources, source, net)
        if measured is not None:
            return measured.precision
        return self.default_weight.get(kind, WEAK_BELOW)

    def level(self, answer: str, net: str, source: str | None = None) -> tuple[Confidence, str]:
        """The confidence a kind of answer earned, and the figure it rests on. An answer
        resting on one ``source`` alone is judged by that source's own measured share."""
        if source is not None:
            measured, own = self._measured(self.sources, source, net)
            answer = f"{source} alone"
        else:
            measured, own = self._measured(self.answers, answer, net)
        if measured is None:
            return Confidence.LOW, f"{answer} answers not measured"
        p = measured.lower_bound
        level = (
            Confidence.HIGH
            if p >= HIGH_AT
            else Confidence.MEDIUM
            if p >= MEDIUM_AT
            else Confidence.LOW
        )
        where = net if own else f"all networks pooled, too few on {net}"
        if not own and level is Confidence.HIGH:
            level = Confidence.MEDIUM  # measured, but not on this kind of network
        return level, f"{answer} answers measured {measured.text()} right on {where}"


def load_calibration(path: Path) -> Calibration:
    try:
        text = path.read_text()
    except OSError as err:
        raise CalibrationError(f"{path}: cannot read the calibration table ({err})") from err
    return Calibration.from_json(text, str(path))


@cache
def shipped_calibration() -> Calibration:
    """The default measured from the shared data snapshots (data/calibration.json)."""
    return load_calibration(paths.project_data_dir() / CALIBRATION_FILE)


def calibration_for(dataset_dir: Path) -> Calibration:
    """The dataset's own measured table when present, else the shipped default."""
    own = dataset_dir / CALIBRATION_FILE
    return load_calibration(own) if own.is_file() else shipped_calibration()
