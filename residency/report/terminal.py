"""The terminal report: one line per endpoint fitted to the terminal width, then the findings
grouped by reason (rich); with ``-v`` / ``--details ENDPOINT`` one line per address with chain
and evidence."""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import replace

import click
from rich.cells import cell_len as rich_cell_len
from rich.cells import set_cell_size
from rich.console import Console
from rich.text import Text

from residency.model import AuditResult, EndpointResult, IpFacts, Verdict
from residency.report.common import (
    address_seen,
    address_verdicts,
    endpoint_verdict,
    is_passing,
    is_warning,
    label,
    location_text,
    observation_mismatch,
    operator_text,
    outcome_text,
    provider_text,
    vantage_comparison,
)
from residency.report.controller_text import controller_line, groups_block
from residency.report.crawl_section import THIRD_PARTY, CrawlGroup, CrawlSection, crawl_section
from residency.report.crawl_section import TITLE as CRAWL_TITLE
from residency.report.findings import (
    ReasonGroup,
    controller_short,
    operator_compact,
    operator_short,
    reason_groups,
)
from residency.report.interface import RenderOptions
from residency.textsafe import terminal

COLOURS = {
    "PASS": "green",
    "WAIVED": "cyan",
    "WARN": "yellow",
    "INDETERMINATE": "magenta",
    "FAIL": "red",
    "NOT JUDGED": "white",
}
#: The longest footer line shown (it joins several texts, each of them possibly long).
FOOTER_LIMIT = 1000
HEADERS = (
    "VERDICT",
    "ENDPOINT",
    "CHAIN",
    "ADDRESS",
    "LOCATION",
    "CONF",
    "PROVIDER",
    "OPERATOR",
    "EVIDENCE",
    "WHY",
)


def chain_cell(endpoint: EndpointResult) -> str:
    """The CNAME steps after the endpoint (its name is in the ENDPOINT column)."""
    for resolution in endpoint.resolutions:
        if resolution.cname_targets:
            return "> " + " > ".join(resolution.cname_targets)
    return ""


def seen_mark(ip: str, endpoint: EndpointResult) -> str:
    """Marks addresses of endpoints whose input recorded what the app really contacted."""
    if not endpoint.endpoint.observed:
        return ""
    return {"observed": " (observed only)", "resolved": " (not observed)"}.get(
        address_seen(ip, endpoint), " (observed)"
    )


def evidence_cell(facts: IpFacts) -> str:
    """A short evidence summary: which sources, how many agree, any disagreement."""
    kinds: dict[str, int] = {}
    for e in facts.evidence:
        kinds[e.kind.value] = kinds.get(e.kind.value, 0) + 1
    parts = [f"{n} {k}" if n > 1 else k for k, n in kinds.items() if k != "asn"]
    text = facts.location.basis + (f" ({', '.join(parts)})" if parts else "")
    if facts.disagreements:
        text += f"; {len(facts.disagreements)} disagreement(s)"
    return text


def _columns() -> int:
    """The width when the caller gave none: the library never asks the terminal (the CLI
    passes the terminal's width in ``RenderOptions.width``)."""
    return 80


def where_cell(endpoint: EndpointResult) -> str:
    """Countries with address counts, most addresses first: "SG×3, IN×1"."""
    if not endpoint.facts:
        return outcome_text(endpoint)
    counts = Counter(f.location.country or "unknown" for f in endpoint.facts)
    return ", ".join(f"{c}×{n}" if n > 1 else c for c, n in counts.most_common())


def host_cell(endpoint: EndpointResult) -> str:
    """provider:region of the addresses, each once."""
    hosts = dict.fromkeys(provider_text(f) for f in endpoint.facts)
    return ", ".join(hosts) or "-"


def cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"


ELLIPSIS = "…"


def cell_len(text: str) -> int:
    """Terminal cells of ``text``: its length when ASCII, else as rich counts them."""
    return len(text) if text.isascii() else rich_cell_len(text)


#: The gap between columns of the summary table.
GAP = "  "
#: The narrowest each summary column gets before the table no longer fits.
_MINIMUM = {"ENDPOINT": 14, "WHERE": 5, "HOST": 8, "OPERATOR": 8, "CONTROLLER": 10}
#: How much more of the spare width the endpoint column takes than the others.
_WEIGHT = {"ENDPOINT": 2.0}


def plain(text: str) -> str:
    """Untrusted text as one printable line (textsafe's terminal escaper: controls, bidi and
    zero-width characters made visible; the cells are rich ``Text``, never markup)."""
    return terminal(text)


def end_cut(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut at the end with an explicit "…"."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return set_cell_size(text, width - 1).rstrip() + ELLIPSIS


def middle_cut(name: str, width: int) -> str:
    """A host name in at most ``width`` cells with "…" in the middle: the start (what
    tells endpoints apart) and the last labels, "api.account.kiteph…residency.test"."""
    if cell_len(name) <= width:
        return name
    if width < 8:
        return end_cut(name, width)
    budget = (width - 1) // 3
    tail = ""
    for label_ in reversed(name.split(".")):
        longer = f"{label_}.{tail}" if tail else label_
        if cell_len(longer) > budget:
            break
        tail = longer
    tail = "." + tail if tail else name[-budget:]  # one long label: its last characters
    head = set_cell_size(name, width - 1 - cell_len(tail))
    return head + ELLIPSIS + tail


def tail_kept(text: str, width: int) -> str:
    """ "Amazon Web Services (US)" cut before a final "(...)" that stays whole: "Amazon W… (US)"."""
    if cell_len(text) <= width:
        return text
    found = re.search(r" \([^()]{1,12}\)$", text)
    if found is None or width - cell_len(found.group(0)) < 4:
        return end_cut(text, width)
    return end_cut(text[: found.start()], width - cell_len(found.group(0))) + found.group(0)


def short_names(names: list[str], limit: int) -> dict[str, str]:
    """Each endpoint as a group names it: its first labels, as few as tell it apart from
    every other endpoint of the audit (two when the first is short): "api.account…",
    "telemetry…". IP literals stay whole (IPv6 cut in the middle); at most ``limit`` cells."""
    split = {n: n.split(".") for n in names if ":" not in n and not n.replace(".", "").isdigit()}
    taken: dict[str, int] = {}  # "api", "api.account", ...: how many names start so
    for parts in split.values():
        prefix = ""
        for part in parts:
            prefix = f"{prefix}.{part}" if prefix else part
            taken[prefix] = taken.get(prefix, 0) + 1
    out: dict[str, str] = {}
    for name in names:
        labels = split.get(name)
        if labels is None:
            out[name] = name if cell_len(name) <= limit else middle_cut(name, limit)
            continue
        k = next(
            (k for k in range(1, len(labels)) if taken[".".join(labels[:k])] == 1), len(labels)
        )
        if k < len(labels) and len(".".join(labels[:k])) <= 4:
            k += 1
        short = ".".join(labels[:k]) + (ELLIPSIS if k < len(labels) else "")
        out[name] = short if cell_len(short) <= limit else end_cut(short, limit)
    return out


def _several(values: list[str]) -> str:
    """One value, or the first and how many more: "aws:ap-south-1 +1"."""
    unique = list(dict.fromkeys(values))
    return unique[0] + (f" +{len(unique) - 1}" if len(unique) > 1 else "") if unique else "-"


def summary_cells(endpoint: EndpointResult, controllers: bool) -> dict[str, str]:
    cells = {
        "ENDPOINT": endpoint.endpoint.display,
        "WHERE": where_cell(endpoint),
        "HOST": _several([provider_text(f) for f in endpoint.facts]),
        "OPERATOR": _several([operator_short(f) for f in endpoint.facts]),
        "OPERATOR-COMPACT": _several([operator_compact(f) for f in endpoint.facts]),
    }
    if controllers:
        cells["CONTROLLER"] = controller_short(endpoint)
    return {k: plain(v) for k, v in cells.items()}


def fit_widths(natural: dict[str, int], room: int) -> dict[str, int]:
    """Column widths that fit ``room`` cells: every column its natural width when they all
    fit, else the widest are narrowed first (the endpoint column least), none below its
    minimum unless even the minimums do not fit."""
    if sum(natural.values()) <= room:
        return dict(natural)
    floor = {k: min(n, _MINIMUM.get(k, 6)) for k, n in natural.items()}
    if sum(floor.values()) >= room:
        scale = room / max(1, sum(floor.values()))
        return {k: max(3, int(w * scale)) for k, w in floor.items()}

    def widths(cap: float) -> dict[str, int]:
        return {
            k: max(floor[k], min(n, int(cap * _WEIGHT.get(k, 1.0)))) for k, n in natural.items()
        }

    low, high = 0.0, float(max(natural.values()))
    for _ in range(30):  # the largest cap that fits
        mid = (low + high) / 2
        if sum(widths(mid).values()) <= room:
            low = mid
        else:
            high = mid
    out = widths(low)
    spare = room - sum(out.values())
    for key in sorted(out, key=lambda k: -_WEIGHT.get(k, 1.0)):  # the endpoint first
        grow = min(spare, natural[key] - out[key])
        out[key] += grow
        spare -= grow
    return out


_CUTTERS = {"ENDPOINT": middle_cut, "OPERATOR": tail_kept, "CONTROLLER": tail_kept}


def verdict_text(name: str, width: int) -> Text:
    return Text(name.ljust(width), style=f"bold {COLOURS.get(name, 'white')}")


def summary_table(result: AuditResult, width: int, judged: bool) -> list[Text]:
    """The header and one line per endpoint, never wider than ``width``."""
    controllers = any(e.controller is not None for e in result.endpoints)
    rows = [summary_cells(e, controllers) for e in result.endpoints]
    columns = ["ENDPOINT", "WHERE", "HOST", "OPERATOR"] + (["CONTROLLER"] if controllers else [])
    verdicts = [label(endpoint_verdict(e)) for e in result.endpoints] if judged else []
    verdict_width = max([len("VERDICT"), *map(len, verdicts)]) if judged else 0
    room = width - len(GAP) * (len(columns) - (0 if judged else 1)) - verdict_width
    natural = {c: max([len(c), *(cell_len(r[c]) for r in rows)]) for c in columns}
    if sum(natural.values()) > room:  # "aws (US)" for "Amazon Web Services (US)"
        for row in rows:
            row["OPERATOR"] = row["OPERATOR-COMPACT"]
        natural["OPERATOR"] = max([8, *(cell_len(r["OPERATOR"]) for r in rows)])
    widths = fit_widths(natural, room)
    header = Text(style="bold")
    if judged:
        header.append("VERDICT".ljust(verdict_width) + GAP)
    header.append(GAP.join(end_cut(c, widths[c]).ljust(widths[c]) for c in columns))
    lines = [header]
    for index, row in enumerate(rows):
        line = Text()
        if judged:
            line.append_text(verdict_text(verdicts[index], verdict_width))
            line.append(GAP)
        cells = []
        for column in columns:
            cut = _CUTTERS.get(column, end_cut)(row[column], widths[column])
            cells.append(cut + " " * (widths[column] - cell_len(cut)))
        line.append(GAP.join(cells))
        lines.append(line)
    return lines


def group_text(group: ReasonGroup, names: dict[str, str]) -> tuple[str, list[str]]:
    """The head of a group's line and its items: members by detail, "SG: api.account… ×2,
    mirrors… ×44;" then "DE: telemetry…" (an item ends with its separator)."""
    title = plain(group.title)
    if group.rule and group.rule != "policy" and group.verdict is not Verdict.WAIVED:
        title += f" [{plain(group.rule)}]"
    by_detail: dict[str, list[str]] = {}
    for member in group.members:
        name = plain(names.get(member.name, member.name))
        by_detail.setdefault(plain(member.detail), []).append(
            name + (f" ×{member.count}" if member.count > 1 else "")
        )
    items: list[str] = []
    for index, (detail, listed) in enumerate(by_detail.items()):
        last_detail = index == len(by_detail) - 1
        for position, name in enumerate(listed):
            text = f"{detail}: {name}" if detail and position == 0 else name
            last = position == len(listed) - 1
            items.append(text + ("" if last and last_detail else ";" if last else ","))
    return f"{title} —", items


def wrapped(head: str, items: list[str], room: int, most: int = 3) -> list[str]:
    """``head`` then ``items`` joined by spaces in lines of at most ``room`` cells; past
    ``most`` lines the last one says how many items are left: "+12 more"."""
    rows: list[list[str]] = [[end_cut(head, room)]]
    for item in items:
        piece = end_cut(item, room)
        if cell_len(" ".join(rows[-1])) + 1 + cell_len(piece) <= room:
            rows[-1].append(piece)
        else:
            rows.append([piece])
    if len(rows) > most:
        dropped = sum(len(row) for row in rows[most:])
        rows = rows[:most]
        last = rows[-1]
        while len(last) > 1 and (cell_len(" ".join(last)) + len(f" +{dropped} more") > room):
            last.pop()
            dropped += 1
        last.append(f"+{dropped} more")
    return [" ".join(row) for row in rows]


def group_lines(
    group: ReasonGroup, width: int, verdict_width: int, names: dict[str, str]
) -> list[Text]:
    """One line per reason group; one too long for the width goes on in indented lines (at
    most three in all), the last saying how many endpoints are left: "+12 more"."""
    name = group.verdict.name if group.verdict is not None else "note"
    indent = verdict_width + len(GAP)
    room = width - indent
    head, items = group_text(group, names)
    texts = wrapped(head, items, room)
    out = []
    for index, text in enumerate(texts):
        printed = Text()
        if index == 0:
            printed.append_text(verdict_text(name, verdict_width))
            printed.append(GAP)
        else:
            printed.append(" " * indent)
        printed.append(text)
        out.append(printed)
    return out


def crawl_head(group: CrawlGroup, width: int | None = None) -> str:
    """ "https://shop.example/ "Shop" · no interaction: 5 hosts, 4 third party" (escaped);
    in ``width`` cells the page and title are cut first, the phase and counts kept."""
    title = f' "{plain(group.title)}"' if group.title else ""
    page, rest = f"{plain(group.page)}{title}", f" · {plain(group.phase)}: {group.heading}"
    if width is not None and cell_len(page + rest) > width:
        page = end_cut(page, max(24, width - cell_len(rest)))
        return end_cut(page + rest, width)
    return page + rest


def crawl_hosts(group: CrawlGroup, late: frozenset[str]) -> list[str]:
    """A group's hosts, third party first: "third party: ads.example (FAIL, only after
    consent)," ... "first party: www.shop.example" (escaped; items end with a separator)."""
    parties: dict[str, dict[str, str]] = {}
    for sighting in sorted(group.sightings, key=lambda s: s.party != THIRD_PARTY):
        marks = [s for s in (sighting.verdict,) if s not in ("PASS", "NOT JUDGED")]
        marks += ["only after consent"] if sighting.host in late else []
        shown = plain(sighting.host) + (f" ({', '.join(marks)})" if marks else "")
        parties.setdefault(plain(sighting.party or "party unknown"), {})[sighting.host] = shown
    items: list[str] = []
    for index, (party, hosts) in enumerate(parties.items()):
        for position, shown in enumerate(hosts.values()):
            last = position == len(hosts) - 1
            end = "" if last and index == len(parties) - 1 else ";" if last else ","
            items.append((f"{party}: " if position == 0 else "") + shown + end)
    return items


def crawl_lines(section: CrawlSection, width: int) -> list[Text]:
    """The crawl section in the summary: per page and phase a line, then its hosts by party
    (at most three lines each; -v shows every host with its address and initiator)."""
    lines = [Text(""), Text(end_cut(f"{CRAWL_TITLE} (-v: addresses, initiators)", width))]
    for group in section.groups:
        lines.append(Text(crawl_head(group, width)))
        items = crawl_hosts(group, section.only_after_consent)
        lines += [Text(f"    {text}") for text in wrapped(items[0], items[1:], width - 4)]
    return lines


def crawl_footer(section: CrawlSection) -> list[str]:
    """The crawl section under -v: every host of every page and phase with its verdict,
    party, the address connected to and the initiator (untrusted; the footer escapes it)."""
    lines = ["", CRAWL_TITLE]
    for group in section.groups:
        lines.append(crawl_head(group))
        for s in group.sightings:
            late = " (only after consent)" if s.host in section.only_after_consent else ""
            lines.append(
                f"  {s.verdict}  {s.host}{late}  {s.party}  {s.ip}  initiator {s.initiator or '-'}"
            )
    return lines


def summary_notes(result: AuditResult, width: int) -> list[Text]:
    """What the table and the groups cannot say, one line each; nothing when there is none."""
    lines: list[str] = []
    for endpoint in result.endpoints:
        mismatch = observation_mismatch(endpoint)
        if mismatch:
            lines.append(
                f"observed vs re-resolved differ for {endpoint.endpoint.display}: {mismatch}"
            )
        steered = vantage_comparison(endpoint)
        if steered:
            lines.append(f"vantages differ for {endpoint.endpoint.display}: {steered}")
    stand_ins = dict.fromkeys(
        p.connected_to for e in result.endpoints for p in e.probes if p.connected_to
    )
    if stand_ins:  # what was seen is the stand-in's answer, not the addresses'
        lines.append(
            f"probes went to {', '.join(stand_ins)}, not to the endpoints' own addresses "
            "(--probe-connect-to)"
        )
    lines += [f"input problem: {p}" for p in result.problems]
    if any(
        e.verdict is not None and e.verdict.verdict is not Verdict.PASS for e in result.endpoints
    ):
        lines.append("-v shows every address with its evidence; --details ENDPOINT one endpoint")
    return [Text(end_cut(plain(line), width)) for line in lines]


class TerminalFormatter:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options

    def rows(self, endpoint: EndpointResult, judged: bool) -> list[tuple[str, ...]]:
        name = endpoint.endpoint.display
        verdicts = address_verdicts(endpoint)
        if not endpoint.facts:
            why = "; ".join(r.message for r in endpoint.verdict.reasons) if endpoint.verdict else ""
            verdict = label(endpoint_verdict(endpoint)) if judged else "NOT JUDGED"
            cells = (chain_cell(endpoint), "-", outcome_text(endpoint), "-", "-", "-", "-")
            return [(verdict, name, *cells, why)]
        rows: list[tuple[str, ...]] = []
        for index, facts in enumerate(endpoint.facts):
            address = verdicts.get(facts.ip)
            verdict = label(address.verdict) if address else "NOT JUDGED"
            why = ""
            if address is not None:
                shown = [r for r in address.reasons if not is_passing(r)]
                if address.verdict.name == "PASS":
                    shown = [r for r in address.reasons if is_warning(r)]
                why = "; ".join(r.message for r in shown[:2])
                if address.verdict.name != "PASS" and why:
                    why = f"[{address.aspect}] {why}"  # which side decided: location/operator
            rows.append(
                (
                    verdict,
                    name if index == 0 else "",
                    chain_cell(endpoint) if index == 0 else "",
                    facts.ip + seen_mark(facts.ip, endpoint),
                    location_text(facts),
                    facts.location.confidence.value,
                    provider_text(facts),
                    operator_text(facts),
                    evidence_cell(facts),
                    why,
                )
            )
        return rows

    def render(self, result: AuditResult) -> str:
        if self.options.verbose:
            return self.long_table(result)
        if self.options.details is not None:
            wanted = self.options.details.lower().rstrip(".")
            chosen = [e for e in result.endpoints if e.endpoint.display.lower() == wanted]
            if not chosen:
                return f"no endpoint {self.options.details!r} in this audit\n"
            return self.long_table(replace(result, endpoints=tuple(chosen)))
        return self.summary(result)

    def summary(self, result: AuditResult) -> str:
        """What failed, and why: one line per endpoint, then one per reason group."""
        width = max(40, self.options.width or _columns())
        judged = result.policy is not None
        lines = summary_table(result, width, judged)
        if judged:
            groups = reason_groups(result)
            if groups:
                verdict_width = (
                    max(
                        len(label(e.verdict.verdict if e.verdict else None))
                        for e in result.endpoints
                    )
                    if result.endpoints
                    else 4
                )
                lines.append(Text(""))
                names = short_names([e.endpoint.display for e in result.endpoints], 24)
                for group in groups:
                    lines += group_lines(group, width, max(verdict_width, 4), names)
        crawl = crawl_section(result)
        if crawl is not None:
            lines += crawl_lines(crawl, width)
        notes = summary_notes(result, width)
        if notes:
            lines.append(Text(""))
            lines += notes
        return self.printed(lines, width)

    def printed(self, lines: list[Text], width: int) -> str:
        """The lines as text: through rich when coloured (it writes the ANSI codes), else
        as they are (already fitted to the width, so there is nothing for rich to do)."""
        for line in lines:
            line.rstrip()
        if not self.options.color:
            return "".join(f"{line.plain}\n" for line in lines)
        out = io.StringIO()
        console = Console(
            file=out,
            width=width,
            force_terminal=True,
            no_color=False,
            color_system="standard",
            highlight=False,
            markup=False,
            emoji=False,
        )
        console.print(Text("\n").join(lines), no_wrap=True, overflow="ignore", crop=False)
        return out.getvalue()

    def footer(self, result: AuditResult, width: int = 160) -> str:
        lines: list[str] = []
        mismatches = [
            (e.endpoint.display, m) for e in result.endpoints if (m := observation_mismatch(e))
        ]
        if mismatches:
            lines.append("")
            lines += [f"observed vs re-resolved differ for {h}: {m}" for h, m in mismatches]
        steered = [
            (e.endpoint.display, v) for e in result.endpoints if (v := vantage_comparison(e))
        ]
        if steered:
            lines.append("")
            lines += [f"vantages differ for {h}: {v}" for h, v in steered]
        controlled = [line for e in result.endpoints if (line := controller_line(e))]
        if controlled:
            lines.append("")
            lines += controlled
        grouped = groups_block(result)
        if grouped:
            lines.append("")
            lines += grouped
        crawl = crawl_section(result)
        if crawl is not None:
            lines += crawl_footer(crawl)
        if result.problems:
            lines.append("")
            lines += [f"input problem: {p}" for p in result.problems]
        # lines carry untrusted text (names, organisations, RDAP answers): shown, never obeyed
        return "".join(f"{terminal(line, FOOTER_LIMIT)}\n" for line in lines)

    def long_table(self, result: AuditResult) -> str:
        judged = result.policy is not None
        width = self.options.max_width
        rows = [r for e in result.endpoints for r in self.rows(e, judged)]
        columns = HEADERS if judged else HEADERS[1:-1]
        # The last column (WHY) may run long: nothing follows it on the line.
        table = [
            tuple(
                cut(terminal(c), width * 2 if judged and i == len(HEADERS) - 1 else width)
                for i, c in enumerate(r if judged else r[1:-1])
            )
            for r in rows
        ]
        widths = [max([len(h), *(len(r[i]) for r in table)]) for i, h in enumerate(columns)]
        lines = ["  ".join(h.ljust(w) for h, w in zip(columns, widths, strict=True)).rstrip()]
        for row in table:
            cells = [c.ljust(w) for c, w in zip(row, widths, strict=True)]
            if judged and self.options.color:
                cells[0] = click.style(
                    cells[0], fg=COLOURS.get(row[0].strip() or "", "white"), bold=True
                )
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines) + "\n" + self.footer(result)
