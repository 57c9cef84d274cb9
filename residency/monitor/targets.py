"""Watch targets from files and options: durations, bounds and validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from residency.endpoints.errors import InvalidEntry
from residency.endpoints.normalise import normalise_host
from residency.monitor.base import TargetFileInvalid
from residency.store import TargetSpec
from residency.timefmt import parse_duration as parse_duration  # read there; named here too

#: A fixed cadence: at least 10 s (a tighter loop is a load test), at most a leap year.
CADENCE_BOUNDS = (10.0, 366 * 86400.0)
#: The TTL window [min_interval, max_interval]: 1 s .. a leap year.
INTERVAL_BOUNDS = (1.0, 366 * 86400.0)


def _fmt_seconds(seconds: float) -> str:
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def bounded_duration(value: str | float | int, what: str, low: float, high: float) -> float:
    """``parse_duration`` within [low, high]; ValueError naming ``what`` and the range."""
    seconds = parse_duration(value)
    if not low <= seconds <= high:
        raise ValueError(
            f"{what} {value!r} is out of range ({_fmt_seconds(low)} .. {_fmt_seconds(high)})"
        )
    return seconds


_OPTION_KEYS = {"policy", "vantage", "cadence", "min_interval", "max_interval", "jitter"}


def target_spec(host: str, options: dict[str, Any], origin: str = "") -> TargetSpec:
    """A validated TargetSpec; raises ValueError/InvalidEntry naming the bad option."""
    unknown = set(options) - _OPTION_KEYS
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}")
    endpoint = normalise_host(host, origin)
    cadence = options.get("cadence")
    low = bounded_duration(options.get("min_interval", 300), "min_interval", *INTERVAL_BOUNDS)
    high = bounded_duration(options.get("max_interval", 86400), "max_interval", *INTERVAL_BOUNDS)
    if low > high:
        raise ValueError(f"min_interval ({low:g}s) is above max_interval ({high:g}s)")
    jitter = float(options.get("jitter", 0.1))
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter {jitter} must be a share between 0 and 1 (e.g. 0.1)")
    vantage = options.get("vantage")
    if vantage is not None and not (isinstance(vantage, str) and len(vantage) == 2):
        raise ValueError(f"vantage {vantage!r} must be a two-letter country code")
    policy = options.get("policy")
    return TargetSpec(
        host=endpoint.host,
        display=endpoint.display,
        vantage=vantage.upper() if vantage else None,
        policy=str(policy) if policy else None,
        cadence=None if cadence is None else bounded_duration(cadence, "cadence", *CADENCE_BOUNDS),
        min_interval=low,
        max_interval=high,
        jitter=jitter,
    )


def load_targets_file(path: Path) -> list[TargetSpec]:
    """Watch targets from a file: TOML (``[defaults]`` + ``[[target]]`` tables with
    ``host`` and options) or a plain list, one host per line, ``#`` comments allowed."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise TargetFileInvalid(f"{path}: cannot read target file ({err.strerror})") from err
    text = raw.decode("utf-8", errors="replace")
    specs: list[TargetSpec] = []
    if path.suffix == ".toml":
        import tomllib

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise TargetFileInvalid(f"{path}: not valid TOML ({err})") from err
        defaults = doc.get("defaults", {})
        for index, item in enumerate(doc.get("target", []), start=1):
            where = f"{path}: target #{index}"
            if not isinstance(item, dict) or "host" not in item:
                raise TargetFileInvalid(f"{where}: needs a host")
            options = {**defaults, **{k: v for k, v in item.items() if k != "host"}}
            if "policy" in options and not Path(str(options["policy"])).is_absolute():
                options["policy"] = str((path.parent / str(options["policy"])).resolve())
            try:
                specs.append(target_spec(str(item["host"]), options, where))
            except (ValueError, InvalidEntry) as err:
                raise TargetFileInvalid(f"{where} ({item['host']!r}): {err}") from err
        return specs
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            specs.append(target_spec(entry, {}, f"{path}:{number}"))
        except (ValueError, InvalidEntry) as err:
            raise TargetFileInvalid(f"{path}:{number}: {entry!r}: {err}") from err
    return specs
