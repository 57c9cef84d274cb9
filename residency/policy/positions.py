"""Line numbers for TOML keys: tomllib keeps none, so scan the text for where each key sits.

The scanner understands what the policy format uses: ``[table]`` and ``[[array]]`` headers,
bare, quoted and dotted keys, strings of every kind, and values spanning several lines.
It never decides validity (tomllib does that first); it only answers "which line?".
"""

from __future__ import annotations

from dataclasses import dataclass

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Span:
    line: int  # 1-based line of the key (or of the header for tables)
    end_line: int  # last line of the value


class Positions:
    """Maps a key path such as ``("rules", 0, "countries", "allow")`` to its lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.spans: dict[Path, Span] = {}
        _Scanner(text, self.spans).run()

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest recorded parent; 0 when nothing is known."""
        probe = tuple(path)
        while probe:
            span = self.spans.get(probe)
            if span is not None:
                return span.line
            probe = probe[:-1]
        return 0

    def line_of_value(self, path: Path, literal: str) -> int:
        """The line where the string ``literal`` appears in the value at ``path``."""
        probe = tuple(path)
        while probe and probe not in self.spans:
            probe = probe[:-1]
        if not probe:
            return 0
        span = self.spans[probe]
        for quoted in (f'"{literal}"', f"'{literal}'"):
            for number in range(span.line, span.end_line + 1):
                if quoted in self.lines[number - 1]:
                    return number
        return span.line


class _Scanner:
    def __init__(self, text: str, spans: dict[Path, Span]) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.spans = spans
        self.table: Path = ()
        self.array_counts: dict[Path, int] = {}

    # -- low level
    def peek(self, offset: int = 0) -> str:
        index = self.pos + offset
        return self.text[index] if index < len(self.text) else ""

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.pos < len(self.text):
                if self.text[self.pos] == "\n":
                    self.line += 1
                self.pos += 1

    def skip_blank(self, newlines: bool) -> None:
        while self.pos < len(self.text):
            char = self.peek()
            if char in " \t\r" or (newlines and char == "\n"):
                self.advance()
            elif char == "#":
                while self.pos < len(self.text) and self.peek() != "\n":
                    self.advance()
            else:
                return

    def skip_to_eol(self) -> None:
        while self.pos < len(self.text) and self.peek() != "\n":
            self.advance()

    def read_string(self) -> str:
        quote = self.peek()
        if self.text.startswith(quote * 3, self.pos):
            self.advance(3)
            start = self.pos
            while self.pos < len(self.text) and not self.text.startswith(quote * 3, self.pos):
                if quote == '"' and self.peek() == "\\":
                    self.advance()
                self.advance()
            value = self.text[start : self.pos]
            self.advance(3)
            while self.peek() == quote:  # up to two quotes may close a multi-line string
                self.advance()
            return value
        self.advance()
        start = self.pos
        while self.pos < len(self.text) and self.peek() not in (quote, "\n"):
            if quote == '"' and self.peek() == "\\":
                self.advance()
            self.advance()
        value = self.text[start : self.pos]
        self.advance()
        return value

    def read_key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_blank(newlines=False)
            char = self.peek()
            if char in ('"', "'"):
                parts.append(self.read_string())
            else:
                start = self.pos
                while self.pos < len(self.text) and (self.peek().isalnum() or self.peek() in "-_"):
                    self.advance()
                parts.append(self.text[start : self.pos])
            self.skip_blank(newlines=False)
            if self.peek() == ".":
                self.advance()
                continue
            return tuple(parts)

    def skip_value(self) -> None:
        depth = 0
        while self.pos < len(self.text):
            char = self.peek()
            if char in ('"', "'"):
                self.read_string()
            elif char == "#":
                self.skip_to_eol()
            elif char in "[{":
                depth += 1
                self.advance()
            elif char in "]}":
                depth -= 1
                self.advance()
            elif char == "\n" and depth <= 0:
                return
            else:
                self.advance()

    # -- structure
    def resolve(self, keys: tuple[str, ...]) -> Path:
        """Insert the current index after every key that names an array of tables."""
        out: list[str | int] = []
        for key in keys:
            out.append(key)
            count = self.array_counts.get(tuple(out))
            if count is not None:
                out.append(count - 1)
        return tuple(out)

    def run(self) -> None:
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            start_line = self.line
            if self.peek() == "[":
                is_array = self.peek(1) == "["
                self.advance(2 if is_array else 1)
                keys = self.read_key()
                self.skip_to_eol()
                if is_array:
                    parent = (*self.resolve(keys[:-1]), keys[-1])
                    index = self.array_counts.get(parent, 0)
                    self.array_counts[parent] = index + 1
                    self.table = (*parent, index)
                    self.spans.setdefault(parent, Span(start_line, start_line))
                else:
                    self.table = self.resolve(keys)
                self.spans[self.table] = Span(start_line, start_line)
                continue
            keys = self.read_key()
            if self.peek() != "=":
                self.skip_to_eol()
                continue
            self.advance()
            self.skip_blank(newlines=False)
            self.skip_value()
            path = self.table + keys
            for depth in range(len(self.table) + 1, len(path)):
                self.spans.setdefault(path[:depth], Span(start_line, start_line))
            self.spans[path] = Span(start_line, self.line)
