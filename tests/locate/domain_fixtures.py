"""RDAP domain objects (RFC 9083) written for these tests, in the shapes registries send.

``KNOWN`` names an organisation and a country; ``REDACTED`` is a gTLD answer under the
RFC 9537 redaction profile; ``REDACTED_VALUE`` writes "REDACTED FOR PRIVACY" in the
vCard; ``PROXY`` names a privacy service; ``THIN`` is a thin registry answer that points
to the registrar's server; ``GARBAGE`` is not JSON.
"""

from __future__ import annotations

from typing import Any


def vcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


_REGISTRAR = {
    "objectClassName": "entity",
    "handle": "1234",
    "roles": ["registrar"],
    "vcardArray": vcard(["fn", {}, "text", "Example Registrar Ltd"]),
}


def domain(name: str, *entities: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "objectClassName": "domain",
        "handle": f"{name.upper()}-DOM",
        "ldhName": name,
        "rdapConformance": ["rdap_level_0"],
        "status": ["active"],
        "events": [{"eventAction": "registration", "eventDate": "2009-03-11T00:00:00Z"}],
        "entities": [_REGISTRAR, *entities],
        "nameservers": [{"objectClassName": "nameserver", "ldhName": f"ns1.{name}"}],
        **extra,
    }


KNOWN = domain(
    "globex.co.uk",
    {
        "objectClassName": "entity",
        "handle": "C-GLOBEX",
        "roles": ["registrant"],
        "vcardArray": vcard(
            ["fn", {}, "text", "Hank Scorpio"],
            ["kind", {}, "text", "individual"],
            ["org", {}, "text", "Globex Corporation Ltd"],
            ["adr", {"cc": "GB"}, "text", ["", "", "1 Cypress Creek", "London", "", "EC1A", ""]],
        ),
    },
)

#: An organisation as the vCard ``fn`` of an org-kind entity, nested under the registrar,
#: with the country spelt out in the structured address.
KNOWN_FN = domain(
    "umbrella.fr",
    {
        "objectClassName": "entity",
        "handle": "UMB-1",
        "roles": ["technical"],
        "entities": [
            {
                "objectClassName": "entity",
                "handle": "UMB-2",
                "roles": ["registrant"],
                "vcardArray": vcard(
                    ["fn", {}, "text", "Umbrella SAS"],
                    ["kind", {}, "text", "org"],
                    ["adr", {}, "text", ["", "", "1 rue Haute", "Paris", "", "75001", "France"]],
                ),
            }
        ],
    },
)

_REGISTRANT_PATH = "$.entities[?(@.roles[0]=='registrant')]"

REDACTED = domain(
    "initech.com",
    {
        "objectClassName": "entity",
        "handle": "",
        "roles": ["registrant"],
        "vcardArray": vcard(
            ["fn", {}, "text", ""],
            ["adr", {}, "text", ["", "", "", "", "TX", "", "US"]],
        ),
    },
    redacted=[
        {
            "name": {"type": "Registrant Name"},
            "prePath": f"{_REGISTRANT_PATH}.vcardArray[1][?(@[0]=='fn')][3]",
            "pathLang": "jsonpath",
            "method": "emptyValue",
            "reason": {"type": "Server policy"},
        },
        {
            "name": {"type": "Registrant Organization"},
            "prePath": f"{_REGISTRANT_PATH}.vcardArray[1][?(@[0]=='org')]",
            "pathLang": "jsonpath",
            "method": "removal",
        },
        {"name": {"type": "Registrant Email"}, "method": "removal"},
    ],
)

REDACTED_VALUE = domain(
    "hooli.net",
    {
        "objectClassName": "entity",
        "handle": "REDACTED",
        "roles": ["registrant"],
        "vcardArray": vcard(
            ["fn", {}, "text", "REDACTED FOR PRIVACY"],
            ["org", {}, "text", "REDACTED FOR PRIVACY"],
            ["adr", {}, "text", ["", "", "REDACTED FOR PRIVACY", "", "CA", "", "US"]],
        ),
    },
)

PROXY = domain(
    "vandelay.org",
    {
        "objectClassName": "entity",
        "handle": "P-1",
        "roles": ["registrant"],
        "vcardArray": vcard(
            ["fn", {}, "text", "Registration Private"],
            ["org", {}, "text", "Domains By Proxy, LLC"],
            ["adr", {"cc": "US"}, "text", ["", "", "", "Tempe", "AZ", "", ""]],
        ),
    },
)


def thin(name: str, registrar_url: str) -> dict[str, Any]:
    """A thin registry's answer: the registrar only, and a link to the registrar's RDAP."""
    return domain(
        name,
        links=[
            {
                "value": registrar_url,
                "rel": "related",
                "href": registrar_url,
                "type": "application/rdap+json",
            }
        ],
    )


GARBAGE = b'{"objectClassName": "domain", "ldhName": "garbage.net", "entities": [{"rol'
WRONG_TYPES = {"objectClassName": "domain", "ldhName": "types.net", "entities": "registrant"}
NOT_A_DOMAIN = {"objectClassName": "ip network", "handle": "NET-1", "startAddress": "192.0.2.0"}
