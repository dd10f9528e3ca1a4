"""A small, strict reader of protobuf's text format without a schema, for files such as Triton's ``config.pbtxt``.

Triton's ``ModelConfig`` is compiled only into Triton's own packages, so
without it ``parse(text)`` reads the text format's grammar: ``name: value``,
``name { ... }`` or ``name: { ... }`` (also with ``< >``), lists
``name: [a, b]`` (``name [{...}, {...}]`` for messages), strings in either quote with C escapes (adjacent strings
joined), numbers (``-1``, ``0x10``, ``1.5e3``, ``inf``), identifiers (enum
values, ``true``), ``#`` comments and optional ``,``/``;`` separators. With no
schema every field is a list of its values in order (a field may repeat); a
message is a dict of those. Anything else (an unterminated string or brace,
a value where a name belongs) is a ``PbtextError`` with the line and column.
"""

from __future__ import annotations

import re
from typing import Any

Message = dict[str, list[Any]]

_TOKEN = re.compile(
    r"""
    (?P<space>[ \t\r\n]+|\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?[fF]?|inf(?:inity)?|nan)(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<punct>[:{}<>\[\],;])
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f",
            "v": "\v", "?": "?"}
_CLOSE = {"{": "}", "<": ">"}


class PbtextError(ValueError):
    """Text that is not protobuf text format; ``line`` and ``column`` say where (1-based)."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column


def _unescape(body: str) -> str:
    out, i = [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group(0)  # type: ignore[union-attr]
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        elif nxt == "x":
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:])
            if digits is None:
                raise ValueError("\\x needs hex digits")
            out.append(chr(int(digits.group(0), 16)))
            i += 2 + len(digits.group(0))
        else:
            raise ValueError(f"unknown escape \\{nxt}")
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str, int]] = []
        position = 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                self.fail(f"unexpected character {text[position]!r}", position)
            assert match is not None  # fail() raises
            kind = match.lastgroup or ""
            if kind != "space":
                self.tokens.append((kind, match.group(0), position))
            position = match.end()
        self.index = 0

    def where(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1

    def fail(self, message: str, offset: int | None = None) -> None:
        if offset is None:
            offset = self.tokens[self.index][2] if self.index < len(self.tokens) else len(self.text)
        raise PbtextError(message, *self.where(offset))

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            self.fail("unexpected end of text")
        self.index += 1
        return token  # type: ignore[return-value]

    def message(self, closer: str | None) -> Message:
        fields: Message = {}
        while True:
            token = self.peek()
            if token is None:
                if closer is not None:
                    self.fail(f"missing {closer!r}: the text ends inside a message")
                return fields
            kind, text, _ = token
            if kind == "punct" and text == closer:
                self.index += 1
                return fields
            if kind == "punct" and text == "[":  # an extension or Any name: [type.googleapis.com/x]
                self.fail("extension and Any field names are not supported")
            if kind != "ident":
                self.fail(f"expected a field name, found {text!r}")
            self.index += 1
            fields.setdefault(text, []).extend(self.field_value(text))
            separator = self.peek()
            if separator is not None and separator[0] == "punct" and separator[1] in ",;":
                self.index += 1

    def field_value(self, name: str) -> list[Any]:
        token = self.peek()
        if token is None:
            self.fail(f"field {name!r} has no value")
        assert token is not None
        colon = token[0] == "punct" and token[1] == ":"
        if colon:
            self.index += 1
            token = self.peek()
            if token is None:
                self.fail(f"field {name!r} has no value")
            assert token is not None
        if token[0] == "punct" and token[1] in _CLOSE:
            self.index += 1
            return [self.message(_CLOSE[token[1]])]
        is_list = token[0] == "punct" and token[1] == "["
        if not colon and not is_list:
            self.fail(f"expected ':' or '{{' after field {name!r}, found {token[1]!r}")
        if is_list:
            self.index += 1
            items: list[Any] = []
            if self.peek() is not None and self.peek()[1] == "]":  # type: ignore[index]
                self.index += 1
                return items
            while True:
                nxt = self.peek()
                if nxt is not None and nxt[0] == "punct" and nxt[1] in _CLOSE:
                    self.index += 1
                    items.append(self.message(_CLOSE[nxt[1]]))
                elif not colon:  # `name [ ... ]` without a colon holds messages only
                    self.fail(f"a list without ':' holds messages: expected '{{' in {name!r}")
                else:
                    items.append(self.scalar())
                end = self.take()
                if end[1] == "]":
                    return items
                if end[1] != ",":
                    self.fail(f"expected ',' or ']' in the list of {name!r}, found {end[1]!r}", end[2])
        return [self.scalar()]

    def scalar(self) -> Any:
        kind, text, offset = self.take()
        if kind == "string":
            parts = [text]
            while self.peek() is not None and self.peek()[0] == "string":  # type: ignore[index]
                parts.append(self.take()[1])
            try:
                return "".join(_unescape(p[1:-1]) for p in parts)
            except (ValueError, IndexError) as exc:
                self.fail(f"bad string: {exc}", offset)
        if kind == "number":
            return _number(text)
        if kind == "ident":
            if text in ("true", "True", "t"):
                return True
            if text in ("false", "False", "f"):
                return False
            return text  # an enum value name
        self.fail(f"expected a value, found {text!r}", offset)


def _number(text: str) -> int | float:
    lowered = text.lower().lstrip("+")
    sign = -1 if lowered.startswith("-") else 1
    body = lowered.lstrip("-")
    if body.startswith("0x"):
        return sign * int(body, 16)
    if body.startswith(("inf", "nan")):
        return float(lowered.replace("infinity", "inf"))
    if re.fullmatch(r"\d+", body):
        return sign * int(body)
    return float(lowered.rstrip("f"))


def parse(text: str) -> Message:
    """The fields of a text-format message: {name: [values in order]}; ``PbtextError`` when it is not one."""
    parser = _Parser(text)
    return parser.message(None)


def first(message: Message, name: str, default: Any = None) -> Any:
    """The last value of a singular field (protobuf keeps the last one given), or ``default``."""
    found = message.get(name)
    return found[-1] if found else default


__all__ = ["Message", "PbtextError", "first", "parse"]
