"""MLMD's ``filter_query`` language: parsed with a grammar, checked against a node kind, compiled to SQL.

``compile_filter("artifact", "contexts_a.name = 'run1' AND state = LIVE")`` gives a
SQLAlchemy boolean expression over ``artifacts`` for a ``WHERE`` clause. Three
steps, one job each:

1. **Parse**: a LALR grammar (lark's analysis, prebuilt; run by ``lalr``) turns the text into a parse tree, with
   positions, so that every error says where it is (``[at line:column]``).
2. **Resolve**: the tree becomes a small AST of checked atoms. Names are
   resolved against the node kind (``uri`` only on artifacts, ``contexts_<a>``
   only on artifacts and executions, ...), literals are checked against the
   field's type and enum names become numbers. Results are cached per
   ``(kind, query)``; the AST is immutable.
3. **Compile**: the AST becomes SQLAlchemy Core, built afresh on every call.
   User text only ever reaches the database as bound parameters.

Semantics, as MLMD's generated SQL has them:

* **Three-valued logic.** A property or neighbour the node does not have reads
  as SQL ``NULL``, as under a ``LEFT JOIN``: ``properties.p.int_value = 1`` is
  then unknown, ``NOT properties.p.int_value = 1`` is unknown too, and
  ``properties.p.int_value IS NULL`` is true. The compiler keeps this exact by
  compiling every sub-expression either for "is TRUE" or for "is FALSE" (``NOT``
  swaps the two), so each property atom becomes an indexable
  ``id IN (SELECT owner FROM <kind>_properties WHERE name = ? AND is_custom = ?
  AND <value column> <op> ?)`` rather than a join.
* **Neighbour aliases** (``contexts_a``, ``events_0``, ...): every atom that names
  one alias talks about the same neighbour row; different aliases are
  independent. A query with aliases compiles to ``id IN (SELECT n.id FROM <node>
  AS n LEFT OUTER JOIN <edge> ... LEFT OUTER JOIN <neighbour> ... WHERE ...)``, one
  join pair per alias, so a node without such a neighbour sees ``NULL`` there.
* **Enums** (``state``, ``last_known_state``, ``events_<a>.type``) take the enum
  value names or plain numbers; ``!=`` and ``NOT IN`` on an enum also match a
  ``NULL`` value, the way MLMD rewrites those predicates.
* ``LIKE`` uses backslash as its escape character on every backend. Whether it
  is case-sensitive is the database's choice (SQLite: no, PostgreSQL: yes), as
  in MLMD.
"""

from __future__ import annotations

import hashlib
import math
import operator
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    FromClause,
    Integer,
    Select,
    Text,
    and_,
    false,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.sql.elements import Grouping

from mlineage.errors import InvalidArgumentError
from mlineage.metadata.lalr import (
    ParseError,
    Parser,
    Tables,
    Token,
    Tree,
    UnexpectedCharacters,
    UnexpectedToken,
)
from mlineage.metadata.limits import FILTER_MAX_DEPTH, FILTER_MAX_LENGTH
from mlineage.schema import tables as t

__all__ = ["compile_filter", "ARTIFACT_STATES", "EXECUTION_STATES", "EVENT_TYPES"]

NodeKindName = Literal["artifact", "execution", "context"]

# --------------------------------------------------------------------------- enums
# The numbers of MLMD's Artifact.State, Execution.State and Event.Type.

ARTIFACT_STATES: dict[str, int] = {
    "UNKNOWN": 0,
    "PENDING": 1,
    "LIVE": 2,
    "MARKED_FOR_DELETION": 3,
    "DELETED": 4,
    "ABANDONED": 5,
    "REFERENCE": 6,
}
EXECUTION_STATES: dict[str, int] = {
    "UNKNOWN": 0,
    "NEW": 1,
    "RUNNING": 2,
    "COMPLETE": 3,
    "FAILED": 4,
    "CACHED": 5,
    "CANCELED": 6,
}
EVENT_TYPES: dict[str, int] = {
    "UNKNOWN": 0,
    "DECLARED_OUTPUT": 1,
    "DECLARED_INPUT": 2,
    "INPUT": 3,
    "OUTPUT": 4,
    "INTERNAL_INPUT": 5,
    "INTERNAL_OUTPUT": 6,
    "PENDING_OUTPUT": 7,
}
_ENUMS: dict[str, dict[str, int]] = {
    "Artifact.State": ARTIFACT_STATES,
    "Execution.State": EXECUTION_STATES,
    "Event.Type": EVENT_TYPES,
}

# --------------------------------------------------------------------------- grammar
# Keywords are case-insensitive and reserved, except after a dot, where only a
# name can follow (``properties.in.int_value``): FIELD_IDENT, which lark's
# contextual lexer only tries there.

_GRAMMAR = r"""
?start: disjunction

?disjunction: conjunction
    | disjunction _OR conjunction -> or_
?conjunction: negation
    | conjunction _AND negation -> and_
?negation: _NOT negation -> not_
    | predicate
?predicate: "(" disjunction ")"
    | operand COMPARATOR operand -> compare
    | operand _IN "(" operands ")" -> in_
    | operand _NOT _IN "(" operands ")" -> not_in
    | operand _LIKE operand -> like
    | operand _NOT _LIKE operand -> not_like
    | operand _IS NULL -> is_null
    | operand _IS _NOT NULL -> is_not_null
    | operand -> bare

operands: operand ("," operand)*
?operand: path
    | STRING -> string
    | INT -> integer
    | FLOAT -> number
    | TRUE -> boolean
    | FALSE -> boolean
    | NULL -> null
path: (IDENT | QUOTED_IDENT) ("." (FIELD_IDENT | QUOTED_IDENT))*

_OR: "OR"i
_AND: "AND"i
_NOT: "NOT"i
_IN: "IN"i
_LIKE: "LIKE"i
_IS: "IS"i
NULL: "NULL"i
TRUE: "TRUE"i
FALSE: "FALSE"i
COMPARATOR: "<=" | ">=" | "<>" | "!=" | "=" | "<" | ">"
IDENT: /(?!(?:and|or|not|in|like|is|null|true|false)\b)[A-Za-z_][A-Za-z0-9_]*/i
FIELD_IDENT: /[A-Za-z_][A-Za-z0-9_]*/
QUOTED_IDENT: /`(?:[^`\\]|\\.)+`/s
STRING: /'(?:[^'\\]|\\.)*'/s | /"(?:[^"\\]|\\.)*"/s
FLOAT.2: /-?(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?/ | /-?\d+[eE][-+]?\d+/
INT: /-?\d+/

%ignore /\s+/
"""


_LARK_OPTIONS = {"parser": "lalr", "propagate_positions": True}


@lru_cache(maxsize=1)
def _parser() -> Parser:
    """The grammar's LALR parser, run from the tables prebuilt by scripts/gen_filter_parser.py.

    lark builds the tables in ~40 ms and importing it costs as much again, both paid by a
    process's first filter query; the prebuilt tables load in about a millisecond and run on
    ``mlineage.metadata.lalr``. A test keeps them current with the grammar; should they not
    match it (a grammar edited without regenerating), lark builds them from the grammar.
    """
    from mlineage.metadata import _filter_parser as prebuilt

    if prebuilt.GRAMMAR_SHA256 == hashlib.sha256(_GRAMMAR.encode()).hexdigest():
        tables = Tables(
            terminals=prebuilt.TERMINALS, ignore=prebuilt.IGNORE, lexers=prebuilt.LEXERS,
            state_lexer=prebuilt.STATE_LEXER, root_lexer=prebuilt.ROOT_LEXER, start=prebuilt.START,
            end=prebuilt.END, actions=prebuilt.ACTIONS, rules=prebuilt.RULES,
        )  # fmt: skip
    else:  # pragma: no cover - the tests fail first
        import lark

        from mlineage.metadata.lalr import tables_from_lark

        tables = tables_from_lark(lark.Lark(_GRAMMAR, **_LARK_OPTIONS))
    return Parser(tables)


_KEYWORD_TOKENS = {"_OR", "_AND", "_NOT", "_IN", "_LIKE", "_IS", "NULL", "TRUE", "FALSE"}

# --------------------------------------------------------------------------- AST

ValueType = Literal["int", "double", "string", "bool", "enum"]
Source = Literal["column", "type", "property"]
Value = int | float | str | bool | None


@dataclass(frozen=True)
class Field:
    """One value a filter can read: a column of the node or of a neighbour, a type name, or a property."""

    scope: str | None  # None: the filtered node; else the alias as written, e.g. "contexts_a"
    relation: str | None  # the alias prefix: "contexts", "events", "parent_contexts", ...
    row_kind: str  # kind of the row holding the value: "artifact" | "execution" | "context" | "event"
    source: Source
    column: str  # the row's column, "name" for a type, or the property value column
    value_type: ValueType
    enum: str | None = None  # key of _ENUMS for enum columns
    property_name: str | None = None
    is_custom: bool = False


@dataclass(frozen=True)
class Comparison:
    field: Field
    op: str  # = < > <= >=
    value: Value
    negated: bool = False  # !=


@dataclass(frozen=True)
class Membership:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    field: Field
    pattern: str | None
    negated: bool = False


@dataclass(frozen=True)
class NullCheck:
    field: Field
    negated: bool = False  # IS NOT NULL


Atom = Comparison | Membership | Like | NullCheck


@dataclass(frozen=True)
class Not:
    operand: Expr


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]


Expr = Atom | Not | And | Or

# --------------------------------------------------------------------------- what can be named


@dataclass(frozen=True)
class _Attribute:
    value_type: ValueType
    source: Source = "column"
    enum: str | None = None


_COMMON_ATTRIBUTES = {
    "id": _Attribute("int"),
    "type_id": _Attribute("int"),
    "type": _Attribute("string", source="type"),
    "name": _Attribute("string"),
    "external_id": _Attribute("string"),
    "create_time_since_epoch": _Attribute("int"),
    "last_update_time_since_epoch": _Attribute("int"),
}
_ATTRIBUTES: dict[str, dict[str, _Attribute]] = {
    "artifact": {
        **_COMMON_ATTRIBUTES,
        "uri": _Attribute("string"),
        "state": _Attribute("enum", enum="Artifact.State"),
    },
    "execution": {**_COMMON_ATTRIBUTES, "last_known_state": _Attribute("enum", enum="Execution.State")},
    "context": dict(_COMMON_ATTRIBUTES),
    # Events, seen from an artifact or from an execution: the other end's id.
    "event_of_artifact": {
        "type": _Attribute("enum", enum="Event.Type"),
        "milliseconds_since_epoch": _Attribute("int"),
        "execution_id": _Attribute("int"),
    },
    "event_of_execution": {
        "type": _Attribute("enum", enum="Event.Type"),
        "milliseconds_since_epoch": _Attribute("int"),
        "artifact_id": _Attribute("int"),
    },
}
_VALUE_COLUMNS: dict[str, ValueType] = {
    "int_value": "int",
    "double_value": "double",
    "string_value": "string",
    "bool_value": "bool",
}
_PROPERTY_PREFIXES = {"properties": False, "custom_properties": True}

# Neighbours by node kind: alias prefix -> kind of the neighbour row.
_RELATIONS: dict[str, dict[str, str]] = {
    "artifact": {"contexts": "context", "events": "event"},
    "execution": {"contexts": "context", "events": "event"},
    "context": {
        "artifacts": "artifact",
        "executions": "execution",
        "parent_contexts": "context",
        "child_contexts": "context",
    },
}
_ALIAS = re.compile(
    r"(parent_contexts|child_contexts|contexts|artifacts|executions|events)_([A-Za-z0-9_]+)", re.IGNORECASE
)
_PLURAL = {"artifact": "artifacts", "execution": "executions", "context": "contexts"}

# --------------------------------------------------------------------------- errors


def _error(message: str, line: int, column: int) -> InvalidArgumentError:
    return InvalidArgumentError(f"Invalid `filter_query`: {message} [at {line}:{column}]")


def _at(node: Tree | Token) -> tuple[int, int]:
    if isinstance(node, Token):
        return node.line or 1, node.column or 1
    return node.meta.line, node.meta.column


def _end_of(query: str) -> tuple[int, int]:
    return query.count("\n") + 1, len(query) - (query.rfind("\n") + 1) + 1


def _describe_token(token: Token) -> str:
    if token.type in _KEYWORD_TOKENS:
        return f"keyword {token.value.upper()}"
    if token.type in ("IDENT", "FIELD_IDENT"):
        return f'identifier "{token.value}"'
    if token.type == "QUOTED_IDENT":
        return "quoted identifier"
    if token.type == "STRING":
        return "string literal"
    if token.type in ("INT", "FLOAT"):
        return f'number "{token.value}"'
    return f'"{token.value}"'


def _parse(query: str) -> Tree:
    try:
        # The start rule inlines to a rule's node for every sentence of the grammar: never a bare token.
        return cast(Tree, _parser().parse(query))
    except UnexpectedCharacters as exc:
        char = query[exc.pos_in_stream]
        message = {
            "'": "unterminated string literal",
            '"': "unterminated string literal",
            "`": "unterminated quoted identifier",
        }.get(char, f"unexpected character {char!r}")
        raise _error(f"syntax error: {message}", exc.line, exc.column) from None
    except UnexpectedToken as exc:
        if exc.token.type == "$END":
            raise _error("syntax error: unexpected end of expression", *_end_of(query)) from None
        raise _error(f"syntax error: unexpected {_describe_token(exc.token)}", *_at(exc.token)) from None
    except ParseError:  # pragma: no cover - the parser raises the two above
        raise _error("syntax error", 1, 1) from None


_CHAINS = {"or_", "and_"}


def _check_nesting(tree: Tree) -> None:
    """Refuse a tree nested deeper than ``FILTER_MAX_DEPTH``, before anything recurses over it.

    A level is a NOT or a change between AND and OR: ``a AND b AND c`` is one level however
    long, ``NOT (a OR b AND c)`` three, and parentheses alone add none. The walk keeps its own
    stack, so a tree thousands of levels deep (left-deep AND chains are) costs no recursion.
    """
    stack: list[tuple[Tree, str | None, int]] = [(tree, None, 0)]
    while stack:
        node, parent, depth = stack.pop()
        data = node.data
        if data in _CHAINS or data == "not_":
            if data != parent:
                depth += 1
            if depth > FILTER_MAX_DEPTH:
                raise _error(
                    f"nested more than {FILTER_MAX_DEPTH} levels deep (each NOT, and each AND inside OR "
                    "or OR inside AND, is a level)",
                    *_at(node),
                )
            chain = data if data in _CHAINS else None
            stack.extend((child, chain, depth) for child in node.children)


# --------------------------------------------------------------------------- literals

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "?": "?", "'": "'", '"': '"', "`": "`",
}  # fmt: skip
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _unescape(token: Token) -> str:
    """The text of a quoted token, with its backslash escapes decoded (as ZetaSQL's literals have them)."""
    body, out, i = token.value[1:-1], [], 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = body[i + 1]
        if code in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[code])
            i += 2
        elif code in "%_":  # kept for LIKE, whose escape character is the backslash
            out.append("\\" + code)
            i += 2
        elif code in _HEX_ESCAPES or code in "01234567":
            width, base, start = (_HEX_ESCAPES[code], 16, i + 2) if code in _HEX_ESCAPES else (3, 8, i + 1)
            digits = body[start : start + width]
            try:
                if len(digits) != width:
                    raise ValueError
                point = int(digits, base)
                if 0xD800 <= point <= 0xDFFF:
                    raise ValueError
                out.append(chr(point))
            except ValueError:
                raise _error(f"illegal escape sequence \\{code}{digits}", *_at(token)) from None
            i = start + width
        else:
            raise _error(f"illegal escape sequence \\{code}", *_at(token))
    text = "".join(out)
    if "\x00" in text:
        raise _error("a string cannot contain a NUL character", *_at(token))
    return text


_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class _Literal:
    kind: Literal["string", "int", "double", "bool", "null", "name"]  # "name": a bare identifier
    value: Value
    text: str
    line: int
    column: int


def _literal(node: Tree) -> _Literal | None:
    """The literal an operand holds, or None when it is a path (a field or a bare enum name)."""
    if node.data == "path":
        tokens = node.children
        if len(tokens) == 1 and tokens[0].type == "IDENT":
            token = tokens[0]
            return _Literal("name", token.value, token.value, *_at(token))
        return None
    token = node.children[0]
    line, column = _at(token)
    if node.data == "string":
        return _Literal("string", _unescape(token), token.value, line, column)
    if node.data == "integer":
        value = int(token.value)
        if not _INT64[0] <= value <= _INT64[1]:
            raise _error(f"integer literal {token.value} is out of range", line, column)
        return _Literal("int", value, token.value, line, column)
    if node.data == "number":
        number = float(token.value)
        if math.isinf(number):
            raise _error(f"floating point literal {token.value} is out of range", line, column)
        return _Literal("double", number, token.value, line, column)
    if node.data == "boolean":
        return _Literal("bool", token.type == "TRUE", token.value, line, column)
    return _Literal("null", None, token.value, line, column)


_LITERAL_WORDS = {
    "string": "a string",
    "int": "an integer",
    "double": "a floating point number",
    "bool": "a boolean",
}
_FIELD_WORDS = {
    "string": "a string",
    "int": "an integer",
    "double": "a floating point number",
    "bool": "a boolean",
    "enum": "an enum",
}

# --------------------------------------------------------------------------- resolve: tree -> AST

_SWAPPED = {"=": "=", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


class _Resolver:
    """Turns a parse tree into checked AST for one node kind."""

    def __init__(self, kind: str, query: str) -> None:
        self.kind = kind
        self.query = query

    def expr(self, node: Tree) -> Expr:
        data = node.data
        if data == "or_":
            return Or(tuple(self._flatten(node, "or_")))
        if data == "and_":
            return And(tuple(self._flatten(node, "and_")))
        if data == "not_":
            return Not(self.expr(node.children[0]))
        if data == "compare":
            return self._compare(*node.children)
        if data in ("in_", "not_in"):
            field_node, operands = node.children
            field = self._field_operand(field_node, "IN")
            values = tuple(self._value(field, item) for item in operands.children)
            return Membership(field, values, negated=data == "not_in")
        if data in ("like", "not_like"):
            return self._like(*node.children, negated=data == "not_like")
        if data in ("is_null", "is_not_null"):
            field = self._field_operand(node.children[0], "IS NULL")
            return NullCheck(field, negated=data == "is_not_null")
        assert data == "bare", data
        return self._bare(node.children[0])

    def _flatten(self, node: Tree, data: str) -> Iterator[Expr]:
        # A chain parses left-deep (((a AND b) AND c) AND d): walked with a stack, not recursion.
        stack = [node]
        while stack:
            child = stack.pop()
            if isinstance(child, Tree) and child.data == data:
                stack.extend(reversed(child.children))
            else:
                yield self.expr(child)

    # -- predicates

    def _compare(self, left: Tree, op_token: Token, right: Tree) -> Comparison:
        op = "!=" if op_token.value == "<>" else op_token.value
        if left.data != "path" and right.data != "path":
            raise _error("a comparison needs a field on one side", *_at(left))
        if left.data != "path" or (right.data == "path" and self._is_enum_name_for(left, right)):
            left, right, op = right, left, _SWAPPED[op]  # `1 < id` is `id > 1`; `LIVE = state` too
        field = self._field(left.children)
        value = self._value(field, right)
        if field.value_type == "bool" and op not in ("=", "!="):
            raise _error(f"operator {op} is not defined for booleans", *_at(op_token))
        if op == "!=":  # negated, so that NOT and MLMD's enum rule treat it as the negation of =
            return Comparison(field, "=", value, negated=True)
        return Comparison(field, op, value)

    def _like(self, left: Tree, right: Tree, *, negated: bool) -> Like:
        field = self._field_operand(left, "LIKE")
        if field.value_type != "string":
            raise _error(
                f"LIKE needs a string field, and {self._text(left)} is {_FIELD_WORDS[field.value_type]}",
                *_at(left),
            )
        pattern = self._value(field, right)
        assert pattern is None or isinstance(pattern, str)
        return Like(field, pattern, negated=negated)

    def _bare(self, node: Tree) -> Comparison:
        field = self._maybe_field(node)
        if field is None or field.value_type != "bool":
            raise _error("expected a condition (a comparison, IN, LIKE or IS NULL)", *_at(node))
        return Comparison(field, "=", True)

    # -- operands

    def _field_operand(self, node: Tree, what: str) -> Field:
        field = self._maybe_field(node)
        if field is None:
            raise _error(f"{what} needs a field on its left", *_at(node))
        return field

    def _maybe_field(self, node: Tree) -> Field | None:
        """The field a path names; None for a literal. A path that names nothing is an error."""
        if node.data != "path":
            return None
        return self._field(node.children)

    def _is_enum_name_for(self, name: Tree, other: Tree) -> bool:
        """Whether path ``name`` is a bare enum name of the enum field that path ``other`` names."""
        tokens = name.children
        if len(tokens) != 1 or tokens[0].type != "IDENT" or self._names_field(name):
            return False
        try:
            field = self._field(other.children)
        except InvalidArgumentError:
            return False
        return field.enum is not None and tokens[0].value in _ENUMS[field.enum]

    def _value(self, field: Field, node: Tree) -> Value:
        """The literal of ``node`` as a value of ``field``'s type; enum names become their numbers."""
        lit = _literal(node)
        if lit is None or (lit.kind == "name" and field.enum is None):
            self._field(node.children)  # raises "unrecognized name" for unknown names
            raise _error("comparing two fields is not supported", *_at(node))
        if lit.kind == "null":
            return None
        wanted = field.value_type
        if wanted == "enum":
            assert field.enum is not None
            names = _ENUMS[field.enum]
            if lit.kind in ("name", "string"):
                if lit.value not in names:
                    if lit.kind == "name" and self._names_field(node):
                        raise _error("comparing two fields is not supported", lit.line, lit.column)
                    raise _error(
                        f"unknown {field.enum} value {lit.value} (expected one of {', '.join(names)})",
                        lit.line,
                        lit.column,
                    )
                return names[str(lit.value)]
            if lit.kind == "int":
                return lit.value
        elif wanted in ("int", "double") and lit.kind in ("int", "double"):
            return lit.value
        elif wanted == lit.kind:
            return lit.value
        raise _error(
            f"cannot compare {_FIELD_WORDS[wanted]} field with {lit.text} ({_LITERAL_WORDS[lit.kind]})",
            lit.line,
            lit.column,
        )

    def _names_field(self, node: Tree) -> bool:
        try:
            self._field(node.children)
        except InvalidArgumentError:
            return False
        return True

    def _text(self, node: Tree) -> str:
        return self.query[node.meta.start_pos : node.meta.end_pos]

    # -- names

    def _field(self, tokens: list[Token]) -> Field:
        segments = [(_unescape(tok) if tok.type == "QUOTED_IDENT" else tok.value, tok) for tok in tokens]
        head, head_token = segments[0]
        alias = _ALIAS.fullmatch(head)
        if alias is not None:
            relation = alias.group(1).lower()
            scope = f"{relation}_{alias.group(2)}"
            row_kind = _RELATIONS[self.kind].get(relation)
            if row_kind is None:
                allowed = " or ".join(f"{prefix}_<alias>" for prefix in _RELATIONS[self.kind])
                raise _error(
                    f"{head} cannot be used when filtering {_PLURAL[self.kind]} (use {allowed})",
                    *_at(head_token),
                )
            if len(segments) == 1:
                raise _error(f"{head} needs a field, e.g. {head}.id", *_at(head_token))
            attributes = _ATTRIBUTES[f"event_of_{self.kind}" if row_kind == "event" else row_kind]
            return self._node_field(segments[1:], head, scope, relation, row_kind, attributes)
        attributes = _ATTRIBUTES[self.kind]
        return self._node_field(segments, None, None, None, self.kind, attributes)

    def _node_field(
        self,
        segments: list[tuple[str, Token]],
        owner: str | None,
        scope: str | None,
        relation: str | None,
        row_kind: str,
        attributes: dict[str, _Attribute],
    ) -> Field:
        name, token = segments[0]
        key = name.lower()
        if key in _PROPERTY_PREFIXES and row_kind != "event":
            return self._property(segments, owner, scope, relation, row_kind)
        attribute = attributes.get(key)
        if attribute is None:
            where = f"{owner}." if owner else ""
            if owner is None and any(key in _ATTRIBUTES[k] for k in _PLURAL if k != self.kind):
                raise _error(f"{name} cannot be used when filtering {_PLURAL[self.kind]}", *_at(token))
            raise _error(f"unrecognized name {where}{name}", *_at(token))
        if len(segments) > 1:
            raise _error(f"{name} has no field {segments[1][0]}", *_at(segments[1][1]))
        column = "name" if attribute.source == "type" else key
        return Field(
            scope, relation, row_kind, attribute.source, column, attribute.value_type, attribute.enum
        )

    def _property(
        self,
        segments: list[tuple[str, Token]],
        owner: str | None,
        scope: str | None,
        relation: str | None,
        row_kind: str,
    ) -> Field:
        prefix, prefix_token = segments[0]
        written = f"{owner}.{prefix}" if owner else prefix
        if len(segments) < 3:
            if len(segments) == 1:
                hint = f"a property name and a value field, e.g. {written}.<name>.int_value"
                raise _error(f"{written} needs {hint}", *_at(prefix_token))
            raise _error(
                f"{written}.{segments[1][1].value} needs a value field "
                "(int_value, double_value, string_value or bool_value)",
                *_at(segments[1][1]),
            )
        (property_name, _), (value_column, value_token) = segments[1], segments[2]
        value_type = _VALUE_COLUMNS.get(value_column.lower())
        if value_type is None:
            raise _error(
                f"unknown property value field {value_column} "
                "(expected int_value, double_value, string_value or bool_value)",
                *_at(value_token),
            )
        if len(segments) > 3:
            raise _error(f"{value_column} has no field {segments[3][0]}", *_at(segments[3][1]))
        return Field(
            scope,
            relation,
            row_kind,
            "property",
            value_column.lower(),
            value_type,
            property_name=property_name,
            is_custom=_PROPERTY_PREFIXES[prefix.lower()],
        )


@lru_cache(maxsize=512)
def _analyze(kind: str, query: str) -> Expr:
    tree = _parse(query)
    _check_nesting(tree)
    return _Resolver(kind, query).expr(tree)


# --------------------------------------------------------------------------- compile: AST -> SQLAlchemy

_KIND_NUMBERS = {"artifact": t.KIND_ARTIFACT, "execution": t.KIND_EXECUTION, "context": t.KIND_CONTEXT}
_OPERATORS: dict[str, Callable[[ColumnElement, ColumnElement], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}
# Neighbour joins: (node kind, alias prefix) -> (edge table, edge column naming the node,
# edge column naming the neighbour, or None when the edge row is the neighbour).
_EDGES = {
    ("artifact", "contexts"): (t.attributions, "artifact_id", "context_id"),
    ("execution", "contexts"): (t.associations, "execution_id", "context_id"),
    ("context", "artifacts"): (t.attributions, "context_id", "artifact_id"),
    ("context", "executions"): (t.associations, "context_id", "execution_id"),
    ("context", "parent_contexts"): (t.parent_contexts, "child_id", "parent_id"),
    ("context", "child_contexts"): (t.parent_contexts, "parent_id", "child_id"),
    ("artifact", "events"): (t.events, "artifact_id", None),
    ("execution", "events"): (t.events, "execution_id", None),
}

Test = Callable[[ColumnElement], ColumnElement[bool]]


def _bind(value: Value) -> ColumnElement:
    """A bound parameter typed after the literal, so each backend compares it as written."""
    if isinstance(value, bool):
        return literal(value, Boolean())
    if isinstance(value, int):
        return literal(value, BigInteger())
    if isinstance(value, float):
        return literal(value, Float(precision=53))
    return literal(value, Text())


class _Column:
    """A value stored in a column of a row the query ranges over."""

    def __init__(self, column: ColumnElement) -> None:
        self.column = column

    def holds(self, test: Test) -> ColumnElement[bool]:
        return test(self.column)

    def is_null(self) -> ColumnElement[bool]:
        return self.column.is_(None)

    def is_not_null(self) -> ColumnElement[bool]:
        return self.column.is_not(None)


class _Lookup:
    """A value in another table, found by key: a type's name or a property's value.

    At most one row matches a key, so the value behaves as under a LEFT JOIN, while
    each test stays an uncorrelated, indexable ``key IN (SELECT ...)``.
    """

    def __init__(
        self,
        key: ColumnElement,
        nullable_key: bool,
        keys: Callable[[ColumnElement[bool]], Select],
        value: ColumnElement,
    ) -> None:
        self.key, self.nullable_key, self.keys, self.value = key, nullable_key, keys, value

    def holds(self, test: Test) -> ColumnElement[bool]:
        return self.key.in_(self.keys(test(self.value)))

    def is_null(self) -> ColumnElement[bool]:
        missing = self.key.not_in(self.keys(self.value.is_not(None)))
        return or_(self.key.is_(None), missing) if self.nullable_key else missing

    def is_not_null(self) -> ColumnElement[bool]:
        return self.key.in_(self.keys(self.value.is_not(None)))


class _Compiler:
    """Compiles one AST for one node kind; holds the fresh table aliases of one call."""

    def __init__(self, kind: str, expr: Expr) -> None:
        self.kind = kind
        self.expr = expr
        self.scopes = dict(_scopes(expr))
        base = t.NODE_TABLES[kind]
        self.node: FromClause = base.alias() if self.scopes else base
        self.rows: dict[str, FromClause] = {}
        self.from_clause: FromClause = self.node
        for scope, relation in self.scopes.items():
            self._join(scope, relation)

    def _join(self, scope: str, relation: str) -> None:
        edge_table, near, far = _EDGES[(self.kind, relation)]
        edge = edge_table.alias()
        self.from_clause = self.from_clause.outerjoin(edge, edge.c[near] == self.node.c.id)
        if far is None:
            self.rows[scope] = edge
            return
        row = t.NODE_TABLES[_RELATIONS[self.kind][relation]].alias()
        self.from_clause = self.from_clause.outerjoin(row, row.c.id == edge.c[far])
        self.rows[scope] = row

    def build(self) -> ColumnElement[bool]:
        condition = self.condition(self.expr, positive=True)
        if not self.scopes:
            return condition
        matching = select(self.node.c.id).select_from(self.from_clause).where(condition).correlate(None)
        return t.NODE_TABLES[self.kind].c.id.in_(matching)

    def condition(self, expr: Expr, positive: bool) -> ColumnElement[bool]:
        """SQL that is TRUE exactly where ``expr`` is TRUE (positive) or FALSE (not positive)."""
        return self._condition(expr, positive)[0]

    def _condition(self, expr: Expr, positive: bool) -> tuple[ColumnElement[bool], int]:
        """The condition and how deeply its SQL nests parentheses."""
        if isinstance(expr, Not):
            return self._condition(expr.operand, not positive)
        if isinstance(expr, (And, Or)):
            parts = [self._condition(operand, positive) for operand in expr.operands]
            combine = and_ if isinstance(expr, And) == positive else or_
            return _chain(combine, parts)
        return self._atom(expr, positive), 0

    def _atom(self, atom: Atom, positive: bool) -> ColumnElement[bool]:
        value = self._value(atom.field)
        base_true = positive != atom.negated  # want the un-negated atom TRUE?
        if isinstance(atom, NullCheck):
            return value.is_null() if base_true else value.is_not_null()
        test = _test(atom)
        if test is None:  # compared with NULL: unknown, so neither TRUE nor FALSE
            return false()
        if base_true:
            return value.holds(test)
        if isinstance(atom, Membership) and None in atom.values:
            return false()  # x NOT IN (..., NULL) is never TRUE
        result = value.holds(lambda column: not_(test(column)))
        if atom.negated and atom.field.enum is not None:
            # MLMD rewrites `state != X` and `state NOT IN (...)` to also match NULL; for a
            # neighbour, only on a row that exists (no neighbour is still no match).
            unset = value.is_null()
            if atom.field.scope is not None:
                unset = and_(unset, self._row_key(atom.field.scope).is_not(None))
            result = or_(result, unset)
        return result

    def _row_key(self, scope: str) -> ColumnElement:
        return self.rows[scope].c.id

    def _value(self, field: Field) -> _Column | _Lookup:
        row = self.node if field.scope is None else self.rows[field.scope]
        nullable_key = field.scope is not None  # a missing neighbour reads as NULL
        if field.source == "column":
            return _Column(row.c[field.column])
        if field.source == "type":
            kind_number = _KIND_NUMBERS[field.row_kind]

            def type_ids(where: ColumnElement[bool]) -> Select:
                types = t.types
                return select(types.c.id).where(types.c.kind == kind_number, where).correlate(None)

            return _Lookup(row.c.type_id, nullable_key, type_ids, t.types.c.name)
        properties = t.PROPERTY_TABLES[field.row_kind]
        owner = properties.c[f"{field.row_kind}_id"]
        is_custom = true() if field.is_custom else false()

        def owner_ids(where: ColumnElement[bool]) -> Select:
            return (
                select(owner)
                .where(
                    properties.c.name == _bind(field.property_name),
                    properties.c.is_custom == is_custom,
                    where,
                )
                .correlate(None)
            )

        return _Lookup(row.c.id, nullable_key, owner_ids, properties.c[field.column])


# Operands per parenthesized group of a long chain (see _chain).
_CHAIN_GROUP = 32


class _Group(Grouping):
    """A parenthesized part of a chain that ``and_``/``or_`` keep as one operand.

    A plain ``Grouping`` passes its element's ``operator`` through, and ``and_`` then
    flattens the group back into the chain.
    """

    inherit_cache = True
    operator = None


def _chain(
    combine: Callable[..., ColumnElement[bool]], parts: list[tuple[ColumnElement[bool], int]]
) -> tuple[ColumnElement[bool], int]:
    """``a AND b AND ...`` shaped for the database's parser, not only for its meaning.

    SQLite's parser has a stack of about 100 entries and a depth limit of 1,000 on an
    expression tree, and parses ``a AND b AND ...`` left-deep. Two rewrites keep every
    query the filter grammar accepts under both limits (AND and OR commute, in three-valued
    logic too): the most deeply nested operand goes first, where nesting costs the parser
    one entry per level rather than three, and a long chain becomes parenthesized groups of
    ``_CHAIN_GROUP`` operands, so 1,000 terms nest about 64 deep rather than 1,000.
    """
    parts = sorted(parts, key=lambda part: -part[1])
    depth = parts[0][1] + 1
    clauses = [clause for clause, _ in parts]
    while len(clauses) > _CHAIN_GROUP:
        clauses = [
            _Group(combine(*clauses[i : i + _CHAIN_GROUP])) for i in range(0, len(clauses), _CHAIN_GROUP)
        ]
        depth += 1
    return combine(*clauses), depth


def _test(atom: Comparison | Membership | Like) -> Test | None:
    """The un-negated test of an atom on a column, or None if it compares with NULL."""
    if isinstance(atom, Comparison):
        if atom.value is None:
            return None
        compare, bound = _OPERATORS[atom.op], _bind(atom.value)
        if atom.field.value_type == "enum":
            bound = literal(atom.value, Integer())
        return lambda column: compare(column, bound)
    if isinstance(atom, Membership):
        present = [value for value in atom.values if value is not None]
        if not present:
            return None
        return lambda column: column.in_([_bind(value) for value in present])
    if atom.pattern is None:
        return None
    pattern = _bind(atom.pattern)
    return lambda column: column.like(pattern, escape="\\")


def _scopes(expr: Expr) -> Iterator[tuple[str, str]]:
    """(alias, relation) of every neighbour alias, in order of appearance."""
    if isinstance(expr, Not):
        yield from _scopes(expr.operand)
    elif isinstance(expr, (And, Or)):
        for operand in expr.operands:
            yield from _scopes(operand)
    elif expr.field.scope is not None:
        assert expr.field.relation is not None
        yield expr.field.scope, expr.field.relation


# --------------------------------------------------------------------------- public API


def warm_up() -> None:
    """Pay the language's one-time costs now (this module, the parser's tables, its common lexers).

    ``mlineage.connect`` and the server call it, so that a process's first ``filter_query``
    costs what any new filter text does rather than a few milliseconds more.
    """
    compile_filter("artifact", "uri LIKE 'x' AND NOT (properties.p.int_value IN (1, 2) OR name IS NULL)")


def compile_filter(kind: NodeKindName | str, query: str) -> ColumnElement[bool]:
    """A boolean SQL expression over the ``<kind>s`` table that is true for the nodes ``query`` selects.

    ``kind`` is "artifact", "execution" or "context"; use the result as
    ``select(artifacts.c.id).where(compile_filter("artifact", query))``. A blank
    query selects every node. Raises ``InvalidArgumentError`` for a query that
    does not parse or does not type-check, saying what is wrong and where.
    """
    if kind not in _RELATIONS:
        raise ValueError(f"kind must be artifact, execution or context, not {kind!r}")
    if len(query) > FILTER_MAX_LENGTH:
        raise InvalidArgumentError(
            f"Invalid `filter_query`: longer than {FILTER_MAX_LENGTH} characters (it has {len(query)})"
        )
    if not query.strip():
        return true()
    name = cast(NodeKindName, kind)  # checked above; callers pass a NodeKind's name, typed as str
    return _Compiler(name, _analyze(name, query)).build()
