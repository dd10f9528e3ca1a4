"""A small table-driven LALR(1) parser: runs the filter-query grammar's tables without importing lark.

lark analyses the grammar (``scripts/gen_filter_parser.py`` runs it once and writes
``_filter_parser.py``); this module only runs the result. Importing lark costs a
process 40-60 ms, more than the rest of a first filter query, so the runtime is
ours: a contextual lexer (in each parser state only the terminals that state
accepts are tried, in lark's order, with lark's fallback to all terminals for a
better error), the shift/reduce loop, and lark's tree shaping (``?rule``
inlining, ``_rule`` splicing, filtered anonymous tokens, positions propagated
to each tree's ``meta``). ``tests/test_filter_query.py`` checks that the trees,
positions and errors are exactly those of a parser lark builds from the grammar.

The tables are plain literals (see ``Tables``); ``tables_from_lark`` makes them
from a lark LALR parser, for the generator and for a grammar edited since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Tables", "Parser", "Token", "Tree", "ParseError", "UnexpectedCharacters", "UnexpectedToken"]


class Token(str):
    """A terminal's text, with its type and where it stands (1-based lines and columns)."""

    __slots__ = ("type", "start_pos", "end_pos", "line", "column", "end_line", "end_column")
    type: str
    start_pos: int
    end_pos: int
    line: int
    column: int
    end_line: int
    end_column: int

    def __new__(cls, type_: str, value: str, start_pos: int = 0, line: int = 1, column: int = 1,
                end_line: int = 1, end_column: int = 1, end_pos: int = 0) -> Token:
        token = super().__new__(cls, value)
        token.type, token.start_pos, token.end_pos = type_, start_pos, end_pos
        token.line, token.column, token.end_line, token.end_column = line, column, end_line, end_column
        return token

    @property
    def value(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return f"Token({self.type!r}, {str(self)!r})"


class Meta:
    """Where a tree's text starts and ends; ``empty`` until a child with a position sets it.

    The positions are set (``_propagate``) only once known: until then ``hasattr`` says they are not.
    """

    line: int
    column: int
    start_pos: int
    end_line: int
    end_column: int
    end_pos: int
    # The span with the filtered tokens too (see _propagate).
    container_line: int
    container_column: int
    container_start_pos: int
    container_end_line: int
    container_end_column: int
    container_end_pos: int

    def __init__(self) -> None:
        self.empty = True


class Tree:
    """A rule's node: ``data`` (the rule or alias name) and its children (trees and tokens)."""

    __slots__ = ("data", "children", "meta")

    def __init__(self, data: str, children: list) -> None:
        self.data, self.children, self.meta = data, children, Meta()

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


class ParseError(Exception):
    """The text is not in the grammar's language."""


class UnexpectedCharacters(ParseError):
    """No terminal matches at ``pos_in_stream`` (``line``:``column``)."""

    def __init__(self, pos_in_stream: int, line: int, column: int) -> None:
        super().__init__(f"no terminal matches at {line}:{column}")
        self.pos_in_stream, self.line, self.column = pos_in_stream, line, column


class UnexpectedToken(ParseError):
    """``token`` cannot come where it stands (its type is ``$END`` at the end of the text)."""

    def __init__(self, token: Token, expected: set[str]) -> None:
        super().__init__(f"unexpected {token.type} {str(token)!r} at {token.line}:{token.column}")
        self.token, self.expected = token, expected


@dataclass(frozen=True)
class Tables:
    """An LALR parser as literals.

    ``terminals``: name -> regular expression. ``lexers``: one per distinct contextual lexer,
    its terminal names in the order they are tried and its retypings (a terminal whose text is
    exactly one of the listed keyword terminals takes that keyword's type, as lark's "unless"
    rule has it); ``state_lexer`` maps a parser state to its lexer's index and ``root_lexer`` is
    the one of every terminal. ``actions``: state -> symbol -> a state to
    shift to (>= 0) or ``~rule`` (< 0) to reduce by. ``rules``: (origin, size, name, expand1,
    kept) where ``kept`` lists (position, splice) of the children that stay in the tree.
    """

    terminals: dict[str, str]
    ignore: tuple[str, ...]
    lexers: tuple[tuple[tuple[str, ...], dict[str, tuple[str, ...]]], ...]
    state_lexer: dict[int, int]
    root_lexer: int
    start: int
    end: int
    actions: dict[int, dict[str, int]]
    rules: tuple[tuple[str, int, str, bool, tuple[tuple[int, bool], ...]], ...]


def _union(names: tuple[str, ...], terminals: dict[str, str]) -> re.Pattern:
    return re.compile("|".join(f"(?P<{name}>{terminals[name]})" for name in names))


class _Scanner:
    """One contextual lexer: the union of its terminals' expressions (the first alternative that
    matches wins), and the keyword retypings of its terminals."""

    def __init__(self, lexer: tuple[tuple[str, ...], dict[str, tuple[str, ...]]], terminals: dict[str, str]) -> None:
        names, unless = lexer
        self._match = _union(names, terminals).match
        self._unless = {name: _union(keywords, terminals).fullmatch for name, keywords in unless.items()}

    def match(self, text: str, pos: int) -> tuple[str, str] | None:
        """(type, text) of the token at ``pos``, or None."""
        found = self._match(text, pos)
        if found is None:
            return None
        kind, value = found.lastgroup, found.group()
        assert kind is not None  # every alternative is a named group
        retype = self._unless.get(kind)
        if retype is not None:
            keyword = retype(value)
            if keyword is not None and keyword.lastgroup is not None:
                kind = keyword.lastgroup
        return kind, value


class Parser:
    """Parses text with ``tables`` into a ``Tree``; raises ``UnexpectedCharacters``/``UnexpectedToken``."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        # Scanners are compiled when a state first needs one: a query visits a few of the states.
        self._built: list[_Scanner | None] = [None] * len(tables.lexers)
        self._ignore = frozenset(tables.ignore)

    def _scanner(self, index: int) -> _Scanner:
        scanner = self._built[index]
        if scanner is None:
            scanner = self._built[index] = _Scanner(self.tables.lexers[index], self.tables.terminals)
        return scanner

    def parse(self, text: str) -> Tree | Token:
        tables, actions, rules, state_lexer = self.tables, self.tables.actions, self.tables.rules, self.tables.state_lexer
        states: list[int] = [tables.start]
        values: list[Any] = []
        pos, line, line_start, length = 0, 1, 0, len(text)
        last: Token | None = None
        while True:
            # Lex the next token in the state the parser is in (contextual lexing).
            token: Token | None = None
            while pos < length:
                found = self._scanner(state_lexer[states[-1]]).match(text, pos)
                if found is None:
                    # Not a terminal this state takes: say which token stands there, if any does.
                    found = self._scanner(tables.root_lexer).match(text, pos)
                    if found is None:
                        raise UnexpectedCharacters(pos, line, pos - line_start + 1)
                    raise UnexpectedToken(self._token(*found, pos, line, line_start), set(actions[states[-1]]))
                kind, value = found
                if kind in self._ignore:
                    newlines = value.count("\n")
                    if newlines:
                        line += newlines
                        line_start = pos + value.rindex("\n") + 1
                    pos += len(value)
                    continue
                token = self._token(kind, value, pos, line, line_start)
                pos, line = token.end_pos, token.end_line
                if token.end_line != token.line:
                    line_start = pos - token.end_column + 1
                break
            at_end = token is None
            if token is None:
                token = (Token("$END", "", last.start_pos, last.line, last.column, last.end_line,
                               last.end_column, last.end_pos) if last is not None else Token("$END", ""))
            # Feed it: reduce as long as the table says so, then shift (or accept at the end).
            while True:
                action = actions[states[-1]].get(token.type)
                if action is None:
                    raise UnexpectedToken(token, set(actions[states[-1]]))
                if action >= 0:
                    states.append(action)
                    values.append(token)
                    last = token
                    break
                origin, size, name, expand1, kept = rules[~action]
                if size:
                    children = values[-size:]
                    del values[-size:], states[-size:]
                else:
                    children = []
                values.append(_build(children, name, expand1, kept))
                states.append(actions[states[-1]][origin])
                if at_end and states[-1] == tables.end:
                    return values[-1]

    @staticmethod
    def _token(kind: str, value: str, pos: int, line: int, line_start: int) -> Token:
        newlines = value.count("\n")
        end_line = line + newlines
        end_start = pos + value.rindex("\n") + 1 if newlines else line_start
        end = pos + len(value)
        return Token(kind, value, pos, line, pos - line_start + 1, end_line, end - end_start + 1, end)


def _build(children: list, name: str, expand1: bool, kept: tuple[tuple[int, bool], ...]) -> Tree | Token:
    """One reduction's node, shaped as lark shapes it (filter, splice, inline, then positions)."""
    filtered: list = []
    for index, splice in kept:
        if splice:
            filtered.extend(children[index].children)
        else:
            filtered.append(children[index])
    node = filtered[0] if expand1 and len(filtered) == 1 else Tree(name, filtered)
    if isinstance(node, Tree):
        _propagate(node.meta, children)
    return node


def _first_meta(children) -> Any:
    for child in children:
        if isinstance(child, Tree):
            if not child.meta.empty:
                return child.meta
        elif isinstance(child, Token):
            return child
    return None


def _propagate(meta: Meta, children: list) -> None:
    """lark's positions: a tree spans its first to its last positioned child, filtered ones too.

    ``container_*`` remember the span with the filtered tokens (the parentheses around an inlined
    expression), which is what an enclosing tree takes as its own start or end.
    """
    first = _first_meta(children)
    if first is not None:
        line = getattr(first, "container_line", first.line)
        column = getattr(first, "container_column", first.column)
        start_pos = getattr(first, "container_start_pos", first.start_pos)
        if not hasattr(meta, "line"):
            meta.line, meta.column, meta.start_pos, meta.empty = line, column, start_pos, False
        meta.container_line, meta.container_column, meta.container_start_pos = line, column, start_pos
    last = _first_meta(reversed(children))
    if last is not None:
        end_line = getattr(last, "container_end_line", last.end_line)
        end_column = getattr(last, "container_end_column", last.end_column)
        end_pos = getattr(last, "container_end_pos", last.end_pos)
        if not hasattr(meta, "end_line"):
            meta.end_line, meta.end_column, meta.end_pos, meta.empty = end_line, end_column, end_pos, False
        meta.container_end_line, meta.container_end_column, meta.container_end_pos = end_line, end_column, end_pos


def tables_from_lark(parser: Any) -> Tables:
    """The ``Tables`` of a lark parser built with ``parser="lalr"`` (its contextual lexer included)."""
    frontend = parser.parser
    lexer = frontend.lexer
    table = frontend.parser.parser.parse_table
    [start_name] = table.start_states
    terminals = {term.name: term.pattern.to_regexp() for term in parser.terminals}
    ignore = tuple(sorted(parser.ignore_tokens))
    lexers: list[tuple[tuple[str, ...], dict[str, tuple[str, ...]]]] = []
    index_of: dict[tuple, int] = {}

    def lexer_index(basic: Any) -> int:
        scanner = basic.scanner  # built on first use: the terminals less keywords folded into a retyping
        names = tuple(term.name for term in scanner.terminals)
        unless = {name: tuple(term.name for term in callback.scanner.terminals)
                  for name, callback in sorted(basic.callback.items())}
        key = (names, tuple(unless.items()))
        if key not in index_of:
            index_of[key] = len(lexers)
            lexers.append((names, unless))
        return index_of[key]

    state_lexer = {state: lexer_index(basic) for state, basic in lexer.lexers.items()}
    root = lexer_index(lexer.root_lexer)
    rule_index = {rule: index for index, rule in enumerate(parser.rules)}
    actions: dict[int, dict[str, int]] = {}
    for state, row in table.states.items():
        actions[state] = {
            symbol: (arg if action.name == "Shift" else ~rule_index[arg]) for symbol, (action, arg) in row.items()
        }
    rules = []
    for rule in parser.rules:
        keep_all = rule.options.keep_all_tokens
        kept = tuple(
            (position, not symbol.is_term and symbol.name.startswith("_"))
            for position, symbol in enumerate(rule.expansion)
            if keep_all or not (symbol.is_term and symbol.filter_out)
        )
        name = str(rule.alias or rule.options.template_source or rule.origin.name)
        expand1 = bool(rule.options.expand1 and not rule.alias)
        rules.append((str(rule.origin.name), len(rule.expansion), name, expand1, kept))
    return Tables(
        terminals=terminals,
        ignore=ignore,
        lexers=tuple(lexers),
        state_lexer=state_lexer,
        root_lexer=root,
        start=table.start_states[start_name],
        end=table.end_states[start_name],
        actions=actions,
        rules=tuple(rules),
    )
