"""Untrusted text (names, certificate fields, RDAP, HAR, geofeeds): checked where it enters,
escaped once per output kind where it is shown.

Text an audited party wrote is data, never markup. Every renderer passes each piece of
text it emits through the escaper of its output kind, once, at the point of output:

- ``visible``: every control, format (bidi, zero-width), separator, surrogate or
  non-character becomes ``<U+XXXX>``, so nothing can move the cursor, start a line,
  reorder text or hide; the base of every escaper below.
- ``terminal`` (plain text lines), ``terminal_markup`` (text inside rich markup),
- ``csv_cell`` (OWASP formula defence), ``markdown`` / ``markdown_code`` (CommonMark),
- ``xml`` (XML 1.0 character data; ElementTree adds the entities), ``html``,
- ``slack`` (Slack's ``& < >``).

Shown text is capped at ``LIMIT`` characters with ``…``. JSON outputs carry the text
whole (it is data), only made encodable (``scrub``).

Where text enters, ``find_surrogate`` (refuse a document) and ``replace_surrogates``
(repair one string) keep unpaired UTF-16 surrogates out: no encoder can write them.
"""

from __future__ import annotations

import html as _html
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

#: The most characters of one untrusted piece a person is shown (after escaping).
LIMIT = 400
#: A CSV or HTML cell may join several texts (every evidence line, every address): a
#: longer cap, still bounded.
CELL_LIMIT = 2000
ELLIPSIS = "…"

_SURROGATE = re.compile("[\ud800-\udfff]")


# ------------------------------------------------------------------ where text enters


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds an unpaired UTF-16 surrogate (valid JSON can spell one)."""
    return _SURROGATE.search(text) is not None


def replace_surrogates(text: str) -> str:
    """``text`` with each unpaired surrogate replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if has_surrogate(text) else text


def find_surrogate(document: Any, path: str = "$") -> str | None:
    """The JSON path of the first key or string in ``document`` (parsed JSON) that holds
    an unpaired surrogate, or None: parsers refuse such a document, and nothing caches it."""
    stack: list[tuple[Any, str]] = [(document, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if has_surrogate(value):
                return where
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and has_surrogate(key):
                    return f"{where} (a key)"
                stack.append((item, f"{where}.{replace_surrogates(str(key))}"))
        elif isinstance(value, list | tuple):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
    return None


def scrub(value: Any) -> Any:
    """``value`` (JSON-shaped: dicts, lists, strings) with every unpaired surrogate
    replaced, so any JSON encoder can write it; other values are returned as they are."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, Mapping):
        return {scrub(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


#: Characters JSON leaves raw that line-splitting readers (``str.splitlines``, some log
#: shippers) take for line ends: written as escapes, so one JSON Lines object is one line.
_JSON_LINE_ENDS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def json_line(text: str) -> str:
    """JSON text (``ensure_ascii=False``) with no character any reader takes for a line end."""
    return text if text.isascii() else text.translate(_JSON_LINE_ENDS)


_NON_ASCII = re.compile("[^\x00-\x7f]+")


def _json_escape(match: re.Match[str]) -> str:
    out = []
    for char in match.group():
        code = ord(char)
        if code > 0xFFFF:  # a surrogate pair, as JSON spells a character beyond the BMP
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def json_ascii(text: bytes) -> bytes:
    """JSON text (UTF-8) with every non-ASCII character written as a ``\\uXXXX`` escape:
    the same JSON, readable as ASCII (outside strings JSON is ASCII already)."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_json_escape, text.decode()).encode("ascii")


# ------------------------------------------------------------------ where text is shown

#: Unicode categories never shown as themselves: controls (C0, DEL, C1), format
#: characters (bidi embeddings, overrides and isolates, zero-width, soft hyphen, tags),
#: line and paragraph separators, surrogates.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def _is_hidden(char: str) -> bool:
    code = ord(char)
    if code < 0x7F:
        return code < 0x20
    if unicodedata.category(char) in _HIDDEN_CATEGORIES:
        return True
    # non-characters: U+FDD0..U+FDEF and the last two of every plane (XML cannot hold FFFE/FFFF)
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def visible(text: str) -> str:
    """``text`` with every hidden character written as ``<U+XXXX>`` (see ``_is_hidden``)."""
    if text.isascii() and text.isprintable():
        return text  # the common case: nothing to do
    return "".join(f"<U+{ord(c):04X}>" if _is_hidden(c) else c for c in text)


def cap(text: str, limit: int = LIMIT) -> str:
    """``text`` cut to ``limit`` characters, the cut marked with ``…``."""
    return text if len(text) <= limit else text[: max(1, limit - 1)] + ELLIPSIS


def shown(text: object, limit: int = LIMIT) -> str:
    """Untrusted text as a person may see it anywhere: visible, on one line, capped."""
    return cap(visible(str(text)), limit)


def terminal(text: object, limit: int = LIMIT) -> str:
    """Text for a terminal line or a log: no escape sequence, no line break, capped."""
    return shown(text, limit)


def terminal_markup(text: object, limit: int = LIMIT) -> str:
    """Text inside rich markup (a table cell): also no ``[tag]`` rich would act on."""
    from rich.markup import escape

    return escape(shown(text, limit))


#: A cell starting with one of these is a formula to Excel, LibreOffice and Sheets (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object, limit: int = CELL_LIMIT) -> object:
    """A CSV cell: text made visible and capped, and a text that would start a formula
    (``= + - @``, tab or CR, also after leading spaces) prefixed with ``'``, the OWASP
    defence. Numbers and other non-text values pass as they are."""
    if not isinstance(value, str):
        return value
    text = shown(value, limit)
    if text.startswith(_FORMULA_START) or text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


#: CommonMark punctuation that can start a link, image, raw HTML, entity, code span,
#: emphasis or table cell, escaped with a backslash wherever it stands.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~!])")
#: GitHub's extended autolinks (bare URLs, www., e-mail) need ``://``, ``www.`` or ``@``.
_MARKDOWN_AUTOLINK = re.compile(r"(:)(//)|(?i:\b(www))(\.)|(@)")
#: What would open a block (heading, list, quote) if the text began a line.
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)([#+\-]|\d{1,9}[.)])(?=\s|$)")


def markdown(text: object, limit: int = LIMIT) -> str:
    """Text for Markdown prose or a table cell: CommonMark reads it as plain text only
    (no link, image, raw HTML, entity, code span or emphasis; no new line or block)."""
    safe = _MARKDOWN_SPECIAL.sub(r"\\\1", shown(text, limit))
    safe = _MARKDOWN_AUTOLINK.sub(
        lambda m: f"{m[1]}\\/\\/" if m[1] else f"{m[3]}\\." if m[3] else "\\@", safe
    )
    safe = _MARKDOWN_BLOCK_START.sub(lambda m: f"{m[1]}{m[2][:-1]}\\{m[2][-1]}", safe)
    return safe or "–"


def markdown_code(text: object, limit: int = LIMIT, table: bool = False) -> str:
    """Text as a Markdown code span: fenced by more backticks than any run inside it. In a
    table cell (``table``) each ``|`` is written ``\\|``: GitHub's tables split cells on a
    pipe even inside a code span, and show ``\\|`` there as ``|``."""
    body = shown(text, limit) or " "
    if table:
        body = body.replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith(("`", " ")) or body.endswith(("`", " ")) else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def xml(text: object, limit: int | None = LIMIT) -> str:
    """Text for XML 1.0 character data or an attribute: only characters XML can hold
    (ElementTree then writes ``& < > "`` as entities)."""
    return shown(text, limit) if limit is not None else visible(str(text))


def html(text: object, limit: int = CELL_LIMIT, quote: bool = True) -> str:
    """Text for HTML element content or a quoted attribute."""
    return _html.escape(shown(text, limit), quote=quote)


def slack(text: object, limit: int = LIMIT) -> str:
    """Text for a Slack message: ``& < >`` escaped as Slack requires, so no ``<!channel>``
    ping and no ``<url|label>`` link can be written by the text."""
    return shown(text, limit).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
