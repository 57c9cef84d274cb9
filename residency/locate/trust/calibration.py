"""Measured trust, kept as data: how often each source and each kind of merged answer was right.

A calibration table (``calibration.json``) holds, per source (layer id) and per kind of
network, how many addresses the source placed and how many of those were right against
the providers' own published locations; and the same for each kind of merged answer.
Weights for the vote and the confidence levels are read from it, so a new source needs
only a row (and until it has one, it votes with the default weight of its evidence kind).
The shipped default is ``data/calibration.json``; ``residency data update`` writes a
dataset's own when the ground-truth feeds are in place (residency.locate.trust.calibrate).
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
from residency.model import Confidence, IpFacts, Place

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
#: A disagreement pattern measured (Wilson 95% upper bound) less often right than this
#: gives no place: "unknown, because the sources are weak here", with the figure.
WITHHELD_BELOW = 0.8
#: Fewer samples than this never lowers a level nor withholds an answer.
MIN_AGAINST = 20
#: The row that pools every kind of network, used where a class was not measured.
ALL = "all"
#: The kinds of network, from the provider registry's ``kind`` (data/providers.toml).
NETWORK_CLASSES = ("hyperscaler", "hosting", "cdn", "platform", "access", "unlisted")
_Z95 = 1.96
#: The same place under two ISO 3166 codes: AWS writes Hong Kong as CN with CN-HK.
_SAME_AS_SUBDIVISION = {"CN-HK": "HK", "CN-MO": "MO", "CN-TW": "TW"}
_CLASS_OF_KIND = {"cloud": "hosting", "cdn": "cdn", "platform": "platform", "isp": "access"}


def country_of(place: Place | None) -> str | None:
    """The country for comparing answers (CN with subdivision CN-HK is HK)."""
    if place is None:
        return None
    return _SAME_AS_SUBDIVISION.get(place.subdivision or "", place.country)


@dataclass
class Tally:
    """Coverage, precision and wrong at ``high`` of one answerer over ground-truth
    samples, with the share right at each confidence level (how every accuracy figure,
    calibration's and the held-out one's, is counted)."""

    samples: int = 0
    given: int = 0
    right: int = 0
    wrong_high: int = 0
    by_level: dict[str, list[int]] = field(default_factory=dict)  # level -> [right, given]

    def add(self, answer: str | None, truth: str, level: Confidence | None = None) -> None:
        """One sample: ``answer`` the country given (None: no place), ``level`` its
        confidence where the answerer gives one."""
        self.samples += 1
        if answer is None:
            return
        ok = answer == truth
        self.given += 1
        self.right += ok
        if level is not None:
            row = self.by_level.setdefault(level.value, [0, 0])
            row[0] += ok
            row[1] += 1
        if not ok and level is Confidence.HIGH:
            self.wrong_high += 1

    def add_facts(self, facts: IpFacts | None, truth: str) -> None:
        """One merged answer (None: no answer at all)."""
        if facts is None:
            self.add(None, truth)
        else:
            self.add(country_of(facts.location.place), truth, facts.location.confidence)

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts to this one."""
        self.samples += other.samples
        self.given += other.given
        self.right += other.right
        self.wrong_high += other.wrong_high
        for level, (r, g) in other.by_level.items():
            row = self.by_level.setdefault(level, [0, 0])
            row[0] += r
            row[1] += g

    @property
    def coverage(self) -> float:
        return self.given / self.samples if self.samples else 0.0

    @property
    def precision(self) -> float:
        return self.right / self.given if self.given else 0.0


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

    @property
    def upper_bound(self) -> float:
        """The Wilson 95% upper bound: what caps a level or withholds an answer, so
        that 15 out of 20 right does not pass for weak."""
        if not self.given:
            return 1.0
        n, p, z = self.given, self.precision, _Z95
        centre = p + z * z / (2 * n)
        spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return (centre + spread) / (1 + z * z / n)

    def text(self) -> str:
        return f"{self.precision:.1%} of {self.given}"


def level_at(share: float) -> Confidence:
    """The confidence a share right earns (HIGH_AT, MEDIUM_AT)."""
    if share >= HIGH_AT:
        return Confidence.HIGH
    return Confidence.MEDIUM if share >= MEDIUM_AT else Confidence.LOW


_RANK = (Confidence.LOW, Confidence.MEDIUM, Confidence.HIGH)


@dataclass(frozen=True)
class Judgement:
    """The confidence one merged answer earned, the measured figure it rests on, and
    whether its disagreement pattern measured too weak to give a place at all."""

    level: Confidence
    measured: str
    withheld: bool = False


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
                right, given = row["right"], row["given"]
            except (KeyError, TypeError) as err:
                raise CalibrationError(
                    f"calibration: {what}.{name}.{cls} needs integer right and given"
                ) from err
            if not all(type(n) is int for n in (right, given)) or not 0 <= right <= given:
                # a share over 1 (or under 0) would read as a measured certainty
                raise CalibrationError(
                    f"calibration: {what}.{name}.{cls} needs integer right and given, "
                    f"0 <= right <= given (got right={right!r}, given={given!r})"
                )
            out[name][cls] = Measured(right=right, given=given)
    return out


@dataclass(frozen=True)
class Calibration:
    """Weights and confidence levels, as measured (see the module docstring)."""

    sources: Mapping[str, Mapping[str, Measured]] = field(default_factory=dict)
    answers: Mapping[str, Mapping[str, Measured]] = field(default_factory=dict)
    #: Per disagreement pattern (merge.answer_pattern: the kind of answer, then which
    #: sources said the winning country and which said each other one), per network.
    patterns: Mapping[str, Mapping[str, Measured]] = field(default_factory=dict)
    #: The weight of an unmeasured source, by evidence kind (provider-feed, geofeed, geoip).
    default_weight: Mapping[str, float] = field(default_factory=dict)
    #: Providers counted as "hyperscaler" rather than "hosting".
    hyperscalers: frozenset[str] = frozenset()
    #: Sources that only break a tie between the others, never outvote one: the registry
    #: country (geo-whois-asn-country), which is where a block is registered.
    tie_breakers: frozenset[str] = frozenset()
    #: GeoIP databases whose summed weights for two countries differ by less than this
    #: are split, not outweighed (0: the heavier always wins, the rule before issue 21).
    geoip_split: float = 0.0
    provenance: Mapping[str, Any] = field(default_factory=dict)
    digest: str = ""
    #: False while measuring: a withheld answer is still counted (calibrate.measure).
    withhold: bool = True
    #: judge's answers so far: a table is read-only once built, and a bulk merge asks
    #: the same few hundred questions for every one of ~300,000 combinations
    _judged: dict[tuple[str, str, str, str | None], Judgement] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @classmethod
    def from_json(cls, text: str, origin: str = "calibration") -> Calibration:
        try:
            doc = json.loads(text)
            if not isinstance(doc, dict) or doc.get("format") != 1:
                raise CalibrationError(f"{origin}: not a format 1 calibration table")
            defaults = {str(k): float(v) for k, v in doc["default_weight"].items()}
            hyper = frozenset(str(p) for p in doc.get("hyperscalers", ()))
            breakers = frozenset(str(p) for p in doc.get("tie_breakers", ()))
            split = float(doc.get("geoip_split", 0.0))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise CalibrationError(f"{origin}: not a calibration table ({err})") from err
        return cls(
            sources=_rows(doc.get("sources", {}), "sources"),
            answers=_rows(doc.get("answers", {}), "answers"),
            patterns=_rows(doc.get("patterns", {}), "patterns"),
            default_weight=defaults,
            hyperscalers=hyper,
            tie_breakers=breakers,
            geoip_split=split,
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
                "withheld_below": WITHHELD_BELOW,
                "min_against": MIN_AGAINST,
            },
            "hyperscalers": sorted(self.hyperscalers),
            "tie_breakers": sorted(self.tie_breakers),
            "geoip_split": self.geoip_split,
            "default_weight": dict(sorted(self.default_weight.items())),
            "sources": rows(self.sources),
            "answers": rows(self.answers),
            "patterns": rows(self.patterns),
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
        level = level_at(p)
        where = net if own else f"all networks pooled, too few on {net}"
        if not own and level is Confidence.HIGH:
            level = Confidence.MEDIUM  # measured, but not on this kind of network
        return level, f"{answer} answers measured {measured.text()} right on {where}"

    def judge(self, answer: str, pattern: str, net: str, source: str | None = None) -> Judgement:
        """The confidence of one answer of kind ``answer`` whose sources split as
        ``pattern``. The pattern's own measured share decides where it has enough
        samples on this network; otherwise the kind's level (``level``) stands, capped by
        what the pattern measured (its upper bound: a pattern measured below 99% is not
        ``high``, below 95% not ``medium``), and a pattern measured weak (upper bound under
        WITHHELD_BELOW) withholds the place. The sources are not independent (the registry
        country and a GeoIP database agreeing on a multi-country provider's block): the
        pattern's conditional share measures that, where per-source weights cannot."""
        key = (answer, pattern, net, source)
        found = self._judged.get(key)
        if found is None:
            found = self._judged[key] = self._judge(answer, pattern, net, source)
        return found

    def _judge(self, answer: str, pattern: str, net: str, source: str | None) -> Judgement:
        level, text = self.level(answer, net, source)
        row = self.patterns.get(pattern, {}) if pattern else {}
        own = row.get(net)
        measured = own if own is not None and own.given >= MIN_AGAINST else row.get(ALL)
        if measured is None or measured.given < MIN_AGAINST:
            return Judgement(level, text)
        where = net if measured is own else "all networks pooled"
        figure = f"this pattern measured {measured.text()} right on {where}"
        if self.withhold and measured.upper_bound < WITHHELD_BELOW:
            return Judgement(Confidence.NONE, figure, withheld=True)
        if measured is own and own.given >= MIN_SAMPLES:
            return Judgement(level_at(own.lower_bound), figure)
        cap = level_at(measured.upper_bound)
        if _RANK.index(cap) < _RANK.index(level):
            return Judgement(cap, f"{text}; {figure}")
        return Judgement(level, text)


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
