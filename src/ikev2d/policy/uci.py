"""A small, strict reader of OpenWrt's UCI file format (what ``/etc/config/*`` holds).

It follows libuci's parser (``file.c``), so the daemon reads exactly what ``uci show`` shows,
without needing libuci or its Python binding on the router:

- statements ``package NAME``, ``config TYPE [NAME]``, ``option NAME VALUE``, ``list NAME
  VALUE`` (the one-letter forms ``p``/``c``/``o``/``l`` too), separated by newlines or ``;``;
- a word may mix unquoted, ``'single'`` (no escapes, may span lines) and ``"double"`` (backslash
  takes the next character literally, may span lines) parts: ``'a'"b"c`` is ``abc``;
- outside quotes a backslash takes the next character literally, and a backslash at the end of
  a line continues the word on the next line; ``#`` outside quotes starts a comment;
- an anonymous section is named like UCI's ``@type[index]`` (index among all sections of that
  type), a named section that appears twice is merged (same type) or an error (other type);
- ``option x ''`` leaves ``x`` unset (libuci deletes an option set to the empty string), and
  empty ``list`` items are dropped (they can mean nothing but "use the default");
- an ``option`` after a ``list`` of the same name replaces it; a ``list`` after an ``option``
  turns it into a list, as libuci does.

Anything else is a syntax error naming the file and line (libuci's strict mode).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from ikev2d.policy.errors import ConfigSyntaxError

__all__ = ["UciPackage", "UciSection", "load_uci_file", "parse_uci"]

_KEYWORDS = {
    "package": "package",
    "p": "package",
    "config": "config",
    "c": "config",
    "option": "option",
    "o": "option",
    "list": "list",
    "l": "list",
}
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
_MAX_FILE = 1 << 20  # a router's config file is kilobytes; refuse to read a runaway one


@dataclass(slots=True)
class UciSection:
    """One ``config`` section; ``options`` maps a name to a string or a list of strings."""

    type: str
    name: str | None
    index: int  # position among the sections of this type, as in @type[index]
    line: int
    options: dict[str, str | list[str]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """How ``uci`` addresses the section: its name, or ``@type[index]``."""
        return self.name if self.name is not None else f"@{self.type}[{self.index}]"


@dataclass(slots=True)
class UciPackage:
    path: str
    package: str | None = None
    sections: list[UciSection] = field(default_factory=list)

    def of_type(self, section_type: str) -> list[UciSection]:
        return [s for s in self.sections if s.type == section_type]

    def get(self, name: str) -> UciSection | None:
        for s in self.sections:
            if s.name == name:
                return s
        return None


class _Lexer:
    """Splits UCI text into statements: lists of (word, line) tuples."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.path = path
        self.pos = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> ConfigSyntaxError:
        return ConfigSyntaxError(self.path, line if line is not None else self.line, message)

    def statements(self) -> Iterator[list[tuple[str, int]]]:
        text, n = self.text, len(self.text)
        words: list[tuple[str, int]] = []
        while self.pos < n:
            c = text[self.pos]
            if c in "\n;":
                if c == "\n":
                    self.line += 1
                self.pos += 1
                if words:
                    yield words
                    words = []
            elif c in " \t\f\v\r":
                self.pos += 1
            elif c == "#":
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
            else:
                start = self.line
                word = self._word()
                if word is not None:
                    words.append((word, start))
        if words:
            yield words

    def _word(self) -> str | None:
        """Read one word; None when it was only a line continuation."""
        text, n = self.text, len(self.text)
        parts: list[str] = []
        touched = False  # an empty quoted string '' is still a (empty) word
        while self.pos < n:
            c = text[self.pos]
            if c == "'":
                start = self.line
                end = text.find("'", self.pos + 1)
                if end < 0:
                    raise self.error("unterminated '", start)
                chunk = text[self.pos + 1 : end]
                self.line += chunk.count("\n")
                parts.append(chunk)
                self.pos = end + 1
                touched = True
            elif c == '"':
                self._double_quoted(parts)
                touched = True
            elif c == "\\":
                if self._backslash(parts):
                    touched = True
            elif c in " \t\f\v\r\n;#":
                break
            else:
                parts.append(c)
                self.pos += 1
                touched = True
        return "".join(parts) if touched else None

    def _backslash(self, parts: list[str]) -> bool:
        """Handle a backslash at self.pos; False for a line continuation."""
        nxt = self.text[self.pos + 1 : self.pos + 2]
        if nxt in ("", "\n"):
            self.pos += 2
            if nxt:
                self.line += 1
            return False
        parts.append(nxt)
        self.pos += 2
        return True

    def _double_quoted(self, parts: list[str]) -> None:
        text, n = self.text, len(self.text)
        start = self.line
        self.pos += 1
        while True:
            if self.pos >= n:
                raise self.error('unterminated "', start)
            c = text[self.pos]
            if c == '"':
                self.pos += 1
                return
            if c == "\\":
                self._backslash(parts)
                continue
            if c == "\n":
                self.line += 1
            parts.append(c)
            self.pos += 1


def _check_name(lexer: _Lexer, word: str, line: int, what: str) -> None:
    if not word or not set(word) <= _NAME_CHARS:
        raise lexer.error(f"invalid {what} name {word!r} (letters, digits and _ only)", line)


def _check_type(lexer: _Lexer, word: str, line: int) -> None:
    if not word or any(not 33 <= ord(ch) <= 126 for ch in word):
        raise lexer.error(f"invalid section type {word!r}", line)


class _Builder:
    def __init__(self, lexer: _Lexer) -> None:
        self.lexer = lexer
        self.pkg = UciPackage(lexer.path)
        self.current: UciSection | None = None
        self.counts: dict[str, int] = {}
        self.by_name: dict[str, UciSection] = {}

    def statement(self, words: list[tuple[str, int]]) -> None:
        keyword, line = words[0]
        kind = _KEYWORDS.get(keyword)
        if kind is None:
            raise self.lexer.error(f"invalid command {keyword!r}", line)
        args = [w for w, _ in words[1:]]
        if kind == "package":
            self._package(args, line)
        elif kind == "config":
            self._config(args, line)
        else:
            self._option(kind, args, line)

    def _package(self, args: list[str], line: int) -> None:
        if len(args) != 1:
            raise self.lexer.error("package needs exactly one name", line)
        if self.pkg.sections or self.pkg.package is not None:
            raise self.lexer.error("package must come first, and only once", line)
        self.pkg.package = args[0]

    def _config(self, args: list[str], line: int) -> None:
        if not args:
            raise self.lexer.error("config needs a section type", line)
        if len(args) > 2:
            raise self.lexer.error("too many arguments", line)
        section_type = args[0]
        _check_type(self.lexer, section_type, line)
        name = args[1] if len(args) == 2 and args[1] != "" else None
        if name is not None:
            _check_name(self.lexer, name, line, "section")
            existing = self.by_name.get(name)
            if existing is not None:
                if existing.type != section_type:
                    raise self.lexer.error(
                        f"section {name!r} redefined with another type "
                        f"({existing.type!r} on line {existing.line})",
                        line,
                    )
                self.current = existing
                return
        index = self.counts.get(section_type, 0)
        self.counts[section_type] = index + 1
        section = UciSection(section_type, name, index, line)
        self.pkg.sections.append(section)
        if name is not None:
            self.by_name[name] = section
        self.current = section

    def _option(self, kind: str, args: list[str], line: int) -> None:
        if self.current is None:
            raise self.lexer.error(f"{kind} before the first config section", line)
        if not args:
            raise self.lexer.error(f"{kind} needs a name", line)
        if len(args) > 2:
            raise self.lexer.error("too many arguments (quote values that contain spaces)", line)
        name = args[0]
        _check_name(self.lexer, name, line, "option")
        value = args[1] if len(args) == 2 else ""
        options = self.current.options
        if kind == "option":
            if value == "":
                options.pop(name, None)
            else:
                options[name] = value
            return
        previous = options.get(name)
        items = previous if isinstance(previous, list) else ([previous] if previous else [])
        if value != "":
            items.append(value)
        options[name] = items


def parse_uci(text: str, path: str = "<string>") -> UciPackage:
    """Parse UCI text; raise ConfigSyntaxError naming ``path`` and the line on any error."""
    lexer = _Lexer(text, path)
    builder = _Builder(lexer)
    for words in lexer.statements():
        builder.statement(words)
    return builder.pkg


def load_uci_file(path: str) -> UciPackage:
    """Read and parse a UCI file; unreadable files raise ConfigSyntaxError too."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_MAX_FILE + 1)
    except OSError as exc:
        raise ConfigSyntaxError(path, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > _MAX_FILE:
        raise ConfigSyntaxError(path, None, f"larger than {_MAX_FILE} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigSyntaxError(path, line, "not valid UTF-8") from None
    return parse_uci(text, path)
