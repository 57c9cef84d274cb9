"""RDAP network answers (RFC 9083) checked and parsed: who registered an address block.

Parsing is ipwhois's RDAP network and entity parsers, fed only a copy whose types were
checked here (ipwhois trusts what it is given). Bytes and decoded JSON in, a
``model.Registration`` out; no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ipwhois.exceptions import InvalidEntityObject, InvalidNetworkObject
from ipwhois.rdap import _RDAPEntity, _RDAPNetwork

from residency.errors import ResidencyError
from residency.locate.registration.rdap_cache import IPAddress
from residency.model import Registration

_RIR_BY_WHOIS = {
    "whois.arin.net": "ARIN",
    "whois.ripe.net": "RIPE NCC",
    "whois.apnic.net": "APNIC",
    "whois.lacnic.net": "LACNIC",
    "whois.afrinic.net": "AFRINIC",
}
_RIR_BY_HOST = {
    "rdap.arin.net": "ARIN",
    "rdap.db.ripe.net": "RIPE NCC",
    "rdap.apnic.net": "APNIC",
    "rdap.lacnic.net": "LACNIC",
    "rdap.afrinic.net": "AFRINIC",
}
_RIR_BY_HANDLE_SUFFIX = {
    "-ARIN": "ARIN",
    "-RIPE": "RIPE NCC",
    "-AP": "APNIC",
    "-APNIC": "APNIC",
    "-LACNIC": "LACNIC",
    "-AFRINIC": "AFRINIC",
    "-JPNIC": "APNIC",
    "-KRNIC": "APNIC",
}
_RIR_BY_SOURCE_NOTICE = {
    "ARIN": "ARIN",
    "RIPE": "RIPE NCC",
    "APNIC": "APNIC",
    "LACNIC": "LACNIC",
    "AFRINIC": "AFRINIC",
}

# vCard addresses spell countries out; RDAP servers in the ARIN region (which sends no
# network country) use these names. Anything else is left unknown rather than guessed.
_COUNTRY_NAMES = {
    "UNITED STATES": "US",
    "UNITED STATES OF AMERICA": "US",
    "USA": "US",
    "CANADA": "CA",
    "PUERTO RICO": "PR",
    "BAHAMAS": "BS",
    "BARBADOS": "BB",
    "BERMUDA": "BM",
    "CAYMAN ISLANDS": "KY",
    "JAMAICA": "JM",
    "UNITED KINGDOM": "GB",
    "GERMANY": "DE",
    "FRANCE": "FR",
    "NETHERLANDS": "NL",
    "IRELAND": "IE",
    "JAPAN": "JP",
    "CHINA": "CN",
    "HONG KONG": "HK",
    "SINGAPORE": "SG",
    "INDIA": "IN",
    "AUSTRALIA": "AU",
    "BRAZIL": "BR",
    "MEXICO": "MX",
    "KOREA, REPUBLIC OF": "KR",
    "RUSSIAN FEDERATION": "RU",
    "SOUTH AFRICA": "ZA",
    "KENYA": "KE",
}


class RdapMalformed(ResidencyError):
    """An RDAP answer that is not a usable IP network object."""


@dataclass(frozen=True)
class RdapAnswer:
    """A parsed RDAP network answer: the registration and the range it covers."""

    registration: Registration
    first: IPAddress
    last: IPAddress

    def covers(self, address: IPAddress) -> bool:
        return address.version == self.first.version and int(self.first) <= int(address) <= int(
            self.last
        )


def parse_rdap(document: Any, *, url: str | None = None, fetched: str | None = None) -> RdapAnswer:
    """Turn one RDAP IP network object (decoded JSON) into a known ``Registration``.

    ``url`` is where it came from (after redirects): it names the RIR when the answer
    itself does not. Raises ``RdapMalformed`` when the object is unusable.
    """
    if not isinstance(document, dict):
        raise RdapMalformed("not a JSON object")
    error_code = document.get("errorCode")
    if error_code is not None and "startAddress" not in document:
        title = _text(document, "title") or ""
        raise RdapMalformed(f"error object {error_code!s:.20} {title:.200}".strip())
    raw = document
    # ipwhois trusts the types of what it parses; it only ever sees a checked copy.
    document = _checked_network(document)
    network = _RDAPNetwork(document)
    try:
        network.parse()
    except InvalidNetworkObject as err:
        raise RdapMalformed(str(err)) from err
    info: Mapping[str, Any] = network.vars
    first, last = _range(info.get("start_address"), info.get("end_address"))

    entities = list(_entities(document.get("entities")))
    registrant = _registrant(entities)
    abuse = _first_email(e for e in entities if "abuse" in (e.roles or ()))
    org = registrant.name if registrant else None
    country = (registrant.country if registrant else None) or _country_code(info.get("country"))
    registration = Registration(
        status="known",
        network_name=_clean(info.get("name")),
        handle=_clean(info.get("handle")),
        cidr=_clean(info.get("cidr")) or cidr_text(first, last),
        org=org,
        country=country,
        rir=_rir(document, url, [_clean(info.get("handle")), *(e.handle for e in entities)]),
        abuse_email=abuse,
        source=f"rdap {url}" if url else "rdap",
        fetched=fetched,
        geofeed=geofeed_link(raw),
    )
    return RdapAnswer(registration, first, last)


_GEOFEED_REMARK = re.compile(r"^\s*geofeed:?\s+(https?://\S+)\s*$", re.IGNORECASE)


def geofeed_link(document: Mapping[str, Any]) -> str | None:
    """The RFC 9092 geofeed URL of a network object: a ``links`` entry with ``rel``
    "geo" (RIPE serves the ``geofeed:`` attribute so), else a ``Geofeed https://...``
    remark line. Entries of the wrong type are ignored: a geofeed is optional."""
    links = document.get("links")
    for link in links if isinstance(links, list) else ():
        if isinstance(link, dict) and link.get("rel") == "geo":
            href = link.get("href")
            if isinstance(href, str) and href.strip().lower().startswith(("https://", "http://")):
                return href.strip()
    remarks = document.get("remarks")
    for remark in remarks if isinstance(remarks, list) else ():
        lines = remark.get("description") if isinstance(remark, dict) else None
        for line in lines if isinstance(lines, list) else ():
            match = _GEOFEED_REMARK.match(line) if isinstance(line, str) else None
            if match:
                return match.group(1)
    return None


_KINDS = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return _KINDS.get(type(value), type(value).__name__)


def _text(obj: Mapping[str, Any], key: str, path: str = "") -> str | None:
    """A string field, absent as None; any other type is a malformed answer."""
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    raise RdapMalformed(f"{path}{key} is {_kind(value)}, not a string")


def _items(obj: Mapping[str, Any], key: str, path: str = "") -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RdapMalformed(f"{path}{key} is {_kind(value)}, not a list")
    return value


def _objects(obj: Mapping[str, Any], key: str, path: str = "") -> list[dict[str, Any]]:
    items = _items(obj, key, path)
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise RdapMalformed(f"{path}{key}[{n}] is {_kind(item)}, not an object")
    return items


_NETWORK_TEXT = ("handle", "startAddress", "endAddress", "ipVersion", "name", "type", "country")
_VCARD_TEXT = {"fn", "kind", "email"}


def _checked_network(document: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a network object that are read, each checked for its type."""
    checked: dict[str, Any] = {k: v for k in _NETWORK_TEXT if (v := _text(document, k))}
    port43 = _text(document, "port43")
    if port43:
        checked["port43"] = port43
    notices = []
    for n, notice in enumerate(_objects(document, "notices")):
        path = f"notices[{n}]."
        lines = _items(notice, "description", path)
        if not all(isinstance(line, str) for line in lines):
            raise RdapMalformed(f"{path}description holds a non-string")
        notices.append({"title": _text(notice, "title", path), "description": lines})
    checked["notices"] = notices
    checked["entities"] = _checked_entities(document, "", 0)
    return checked


def _checked_entities(obj: Mapping[str, Any], path: str, depth: int) -> list[dict[str, Any]]:
    if depth > 4:
        return []  # deeper entities are never read (see _entities)
    out = []
    for n, entity in enumerate(_objects(obj, "entities", path)):
        here = f"{path}entities[{n}]."
        roles = _items(entity, "roles", here)
        if not all(isinstance(r, str) for r in roles):
            raise RdapMalformed(f"{here}roles holds a non-string")
        clean: dict[str, Any] = {"roles": roles}
        handle = _text(entity, "handle", here)
        if handle:
            clean["handle"] = handle
        vcard = entity.get("vcardArray")
        if vcard is not None:
            clean["vcardArray"] = ["vcard", _checked_vcard(vcard, f"{here}vcardArray")]
        clean["entities"] = _checked_entities(entity, here, depth + 1)
        out.append(clean)
    return out


def _checked_vcard(vcard: Any, path: str) -> list[list[Any]]:
    if not isinstance(vcard, list) or len(vcard) < 2 or not isinstance(vcard[1], list):
        raise RdapMalformed(f"{path} is not a vCard")
    props = []
    for n, prop in enumerate(vcard[1]):
        if not isinstance(prop, list) or len(prop) < 4 or not isinstance(prop[0], str):
            raise RdapMalformed(f"{path}[1][{n}] is not a vCard property")
        name, params, value = prop[0], prop[1] if isinstance(prop[1], dict) else {}, prop[3]
        params = {k: v for k, v in params.items() if k in ("cc", "label") and isinstance(v, str)}
        if name in _VCARD_TEXT:
            if not isinstance(value, str):
                raise RdapMalformed(f"{path}[1][{n}] ({name}) is {_kind(value)}, not a string")
            props.append([name, params, "text", value])
        elif name == "adr":
            parts = value if isinstance(value, list) else [value]
            if not all(isinstance(p, str) for p in parts):
                parts = [p if isinstance(p, str) else "" for p in parts]
            props.append([name, params, "text", parts])
    return props


@dataclass(frozen=True)
class _Entity:
    handle: str
    roles: tuple[str, ...]
    name: str | None
    kind: str | None
    emails: tuple[str, ...]
    country: str | None


def _entities(raw: Any, depth: int = 0) -> Iterator[_Entity]:
    """Every entity, nested ones too (registries put the abuse contact inside the org)."""
    if not isinstance(raw, list) or depth > 4:
        return
    for item in raw:
        if not isinstance(item, dict):
            continue
        parsed = _RDAPEntity(item)
        try:
            parsed.parse()
        except InvalidEntityObject:
            continue  # an entity without a handle names nobody; its children may
        else:
            info = parsed.vars
            contact = info.get("contact") or {}
            roles = info.get("roles") or ()
            emails = tuple(
                str(e["value"]).strip()
                for e in contact.get("email") or ()
                if isinstance(e, dict) and e.get("value")
            )
            yield _Entity(
                handle=str(info["handle"]),
                roles=tuple(str(r).lower() for r in roles) if isinstance(roles, list) else (),
                name=_clean(contact.get("name")),
                kind=_clean(contact.get("kind")),
                emails=emails,
                country=_vcard_country(item.get("vcardArray")),
            )
        yield from _entities(item.get("entities"), depth + 1)


def _registrant(entities: Sequence[_Entity]) -> _Entity | None:
    """The organisation holding the block: the registrant role, else an org entity."""
    for entity in entities:
        if "registrant" in entity.roles and entity.name:
            return entity
    for entity in entities:
        # Some registries write the handle as the vCard name; that names nobody.
        if entity.kind == "org" and entity.name and entity.name != entity.handle:
            return entity
    return None


def _first_email(entities: Iterable[_Entity]) -> str | None:
    for entity in entities:
        if entity.emails:
            return entity.emails[0]
    return None


def _vcard_country(vcard: Any) -> str | None:
    """The country of a vCard address: RFC 8605 ``cc``, the structured field or label."""
    try:
        properties = vcard[1]
    except (TypeError, IndexError, KeyError):
        return None
    if not isinstance(properties, list):
        return None
    for prop in properties:
        if not isinstance(prop, list) or len(prop) < 4 or prop[0] != "adr":
            continue
        params = prop[1] if isinstance(prop[1], dict) else {}
        code = _country_code(params.get("cc"))
        if code:
            return code
        value = prop[3]
        if isinstance(value, list) and len(value) >= 7 and isinstance(value[6], str):
            code = country_name(value[6])
            if code:
                return code
        label = params.get("label")
        if isinstance(label, str) and label.strip():
            code = country_name(label.replace("\\n", "\n").strip().splitlines()[-1])
            if code:
                return code
    return None


def country_name(text: str) -> str | None:
    """The ISO country code of a country name or code as RDAP writes it, or None."""
    text = text.strip().rstrip(".").upper()
    return _COUNTRY_NAMES.get(text) or _country_code(text)


def _country_code(value: Any) -> str | None:
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z]{2}", value.strip()):
        return value.strip().upper()
    return None


def _rir(document: Mapping[str, Any], url: str | None, handles: Sequence[str | None]) -> str | None:
    port43 = document.get("port43")
    if isinstance(port43, str) and port43.strip().lower() in _RIR_BY_WHOIS:
        return _RIR_BY_WHOIS[port43.strip().lower()]
    if url:
        host = (urlsplit(url).hostname or "").lower()
        if host in _RIR_BY_HOST:
            return _RIR_BY_HOST[host]
    for handle in handles:
        upper = (handle or "").upper()
        for suffix, rir in _RIR_BY_HANDLE_SUFFIX.items():
            if upper.endswith(suffix):
                return rir
    for notice in document.get("notices") or ():
        if isinstance(notice, dict) and notice.get("title") == "Source":
            for line in notice.get("description") or ():
                if isinstance(line, str) and line.strip().upper() in _RIR_BY_SOURCE_NOTICE:
                    return _RIR_BY_SOURCE_NOTICE[line.strip().upper()]
    return None


def _range(start: Any, end: Any) -> tuple[IPAddress, IPAddress]:
    try:
        first = ipaddress.ip_address(str(start).split("/")[0].strip())
        last = ipaddress.ip_address(str(end).split("/")[0].strip())
    except ValueError as err:
        raise RdapMalformed(f"bad network range {start!r} - {end!r}") from err
    if first.version != last.version or int(first) > int(last):
        raise RdapMalformed(f"bad network range {start!r} - {end!r}")
    return first, last


def cidr_text(first: IPAddress, last: IPAddress) -> str:
    return ", ".join(str(n) for n in ipaddress.summarize_address_range(first, last))


def _clean(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None
