"""MLflow's search language for runs and experiments: filters (``metrics.loss < 0.3 and params.lr = '0.01'``) and order_by.

Parse → check → evaluate. A lark LALR grammar (built on first use) turns the
text into clauses; :func:`parse_run_filter` / :func:`parse_experiment_filter`
check them against what MLflow accepts (entity types, attribute keys, each
entity's comparators, value types) and raise INVALID_PARAMETER_VALUE in
MLflow's words otherwise. Clauses are evaluated in Python over runs read
through the store (:func:`matches`), never turned into SQL, so no user text
reaches a statement. Sorting follows MLflow's: each order_by key puts present
values first (for metrics: values, then NaN, then missing), then the value;
runs then by start_time descending (unless ordered by it) and run_id.

Entities: ``metric(s)``, ``param(s)``/``parameter(s)``, ``tag(s)``,
``attribute(s)``/``attr``/``run`` and ``dataset(s)``; a bare name is an
attribute. Keys may be quoted with backticks or double quotes
(``tags.`my tag```); everything after the first dot is the key
(``tags.mlflow.source.type``). Clauses are joined by ``AND`` only, as in MLflow.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mlineage.api.mlflow.errors import MlflowError

_GRAMMAR = r"""
start: clause (_AND clause)*
clause: ident COMPARATOR value        -> compare
      | ident _IS NULL                -> is_null
      | ident _IS _NOT NULL           -> is_not_null
      | ident _NOT _IN list           -> not_in
      | ident _IN list                -> in_
      | ident LIKE value              -> like
      | ident ILIKE value             -> like
list: "(" value ("," value)* ","? ")"
value: SQSTRING | DQSTRING | NUMBER
ident: NAME | QUOTED_KEY | PREFIXED_QUOTED

order: ident DIRECTION?

_AND.2: /and\b/i
_IS.2: /is\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
NULL.2: /null\b/i
LIKE.2: /like\b/i
ILIKE.2: /ilike\b/i
DIRECTION.2: /(asc|desc)\b/i
COMPARATOR: "<=" | ">=" | "!=" | "<>" | "=" | "<" | ">"
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*/
PREFIXED_QUOTED.3: /[A-Za-z_][A-Za-z0-9_]*\.(`[^`]*`|"[^"]*")/
QUOTED_KEY: /`[^`]*`/
SQSTRING: /'(?:[^'\\]|\\.)*'/
DQSTRING: /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/

%import common.WS
%ignore WS
"""


@functools.lru_cache(maxsize=2)
def _parser(start: str) -> Any:
    import lark  # only a search pays for it

    return lark.Lark(_GRAMMAR, parser="lalr", start=start)


@dataclass(frozen=True)
class Clause:
    """One ``entity.key comparator value`` of a filter; ``value`` is a str, float, int, tuple or None."""

    entity: str
    key: str
    comparator: str
    value: Any
    quoted: bool = False  # was the value a quoted string


@dataclass(frozen=True)
class OrderKey:
    entity: str
    key: str
    ascending: bool


_ENTITIES = {
    "metric": "metric", "metrics": "metric",
    "parameter": "parameter", "parameters": "parameter", "param": "parameter", "params": "parameter",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
_IDENTIFIERS = ["metric", "parameter", "tag", "attribute", "dataset"]
_NUMERIC_COMPARATORS = {">", ">=", "!=", "=", "<", "<="}
_STRING_COMPARATORS = {"!=", "=", "LIKE", "ILIKE", "IN", "NOT IN"}
_KEY_VALUE_COMPARATORS = {"!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL"}
RUN_NUMERIC_ATTRIBUTES = {"start_time", "end_time", "created", "Created"}
RUN_STRING_ATTRIBUTES = {"run_id", "run_name", "status", "user_id", "artifact_uri", "run name", "Run name", "Run Name"}
RUN_ORDER_ATTRIBUTES = {"start_time", "end_time", "created", "Created", "run_id", "run_name", "status", "user_id",
                        "artifact_uri"}
DATASET_KEYS = {"name", "digest", "context"}
EXPERIMENT_NUMERIC_ATTRIBUTES = {"creation_time", "last_update_time"}
EXPERIMENT_ATTRIBUTES = {"name", "experiment_id", "creation_time", "last_update_time"}
_ALIASES = {"created": "start_time", "Created": "start_time", "run name": "run_name", "Run name": "run_name",
            "Run Name": "run_name"}


def _invalid(message: str) -> MlflowError:
    return MlflowError("INVALID_PARAMETER_VALUE", message)


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        body = text[1:-1]
        return re.sub(r"\\(.)", r"\1", body) if text[0] != "`" else body
    return text


def _split_ident(token: Any) -> tuple[str | None, str]:
    """(entity as written or None for a bare name, key) of an identifier token."""
    text = str(token)
    if token.type == "QUOTED_KEY":
        return None, _unquote(text)
    if token.type == "PREFIXED_QUOTED":
        entity, _, key = text.partition(".")
        return entity, _unquote(key)
    if "." in text:
        entity, _, key = text.partition(".")
        return entity, key
    return None, text


def _value(tree: Any) -> tuple[Any, bool]:
    token = tree.children[0]
    if token.type == "NUMBER":
        return str(token), False
    return _unquote(str(token)), True


def _syntax_error(text: str, exc: Exception) -> MlflowError:
    return _invalid(f"Invalid clause(s) in filter string: {text!r}")


def _parse(text: str) -> list[tuple[str | None, str, str, Any, bool]]:
    import lark

    try:
        tree = _parser("start").parse(text)
    except lark.exceptions.LarkError as exc:
        raise _syntax_error(text, exc) from None
    clauses = []
    for node in tree.children:
        entity, key = _split_ident(node.children[0].children[0])
        kind = node.data
        if kind == "compare":
            comparator = "!=" if str(node.children[1]) == "<>" else str(node.children[1])
            value, quoted = _value(node.children[2])
        elif kind == "like":
            comparator = str(node.children[1]).upper()
            value, quoted = _value(node.children[2])
        elif kind in ("is_null", "is_not_null"):
            comparator, value, quoted = ("IS NULL" if kind == "is_null" else "IS NOT NULL"), None, False
        else:
            comparator = "IN" if kind == "in_" else "NOT IN"
            items = [_value(v) for v in node.children[1].children]
            if not all(quoted for _, quoted in items):
                raise _invalid(f"While parsing a list in the query, expected string value, punctuation, "
                               f"or whitespace, but got different type in list: {text!r}")
            value, quoted = tuple(v for v, _ in items), True
        clauses.append((entity, key, comparator, value, quoted))
    return clauses


def _entity(written: str | None, allowed: Iterable[str] | None = None) -> str:
    if written is None:
        return "attribute"
    entity = _ENTITIES.get(written)
    if entity is None or (allowed is not None and entity not in allowed):
        if allowed is not None:
            raise _invalid(f"Invalid entity type '{written}'. Valid entity types are {tuple(allowed)}")
        raise _invalid(f"Invalid entity type '{written}'. Valid values are {_IDENTIFIERS}")
    return entity


def _number(value: Any, quoted: bool, what: str) -> float:
    if quoted:
        raise _invalid(f"Expected numeric value type for {what}. Found {value!r}")
    return float(value)


def parse_run_filter(text: str | None) -> list[Clause]:
    """The clauses of a runs filter; INVALID_PARAMETER_VALUE (in MLflow's words) if MLflow would refuse it."""
    if not text or not text.strip():
        return []
    result = []
    for written, key, comparator, value, quoted in _parse(text):
        entity = _entity(written)
        if entity == "metric":
            if comparator not in _NUMERIC_COMPARATORS:
                raise _invalid(f"Invalid comparator '{comparator}' not one of '{_NUMERIC_COMPARATORS}")
            value = _number(value, quoted, "metric")
        elif entity in ("parameter", "tag"):
            if comparator not in _KEY_VALUE_COMPARATORS:
                raise _invalid(f"Invalid comparator '{comparator}' not one of '{_KEY_VALUE_COMPARATORS}'")
            if comparator not in ("IS NULL", "IS NOT NULL") and not quoted:
                raise _invalid(f"Expected a quoted string value for {'parameter' if entity == 'parameter' else 'tag'} "
                               f"(e.g. 'my-value'). Got value {value}")
        elif entity == "attribute":
            if key in RUN_NUMERIC_ATTRIBUTES:
                if comparator not in _NUMERIC_COMPARATORS:
                    raise _invalid(f"Invalid comparator '{comparator}' not one of '{_NUMERIC_COMPARATORS}'")
                value = int(_number(value, quoted, f"attributes ('{key}')"))
            elif key in RUN_STRING_ATTRIBUTES:
                if comparator not in _STRING_COMPARATORS:
                    raise _invalid(f"Invalid comparator '{comparator}' not one of '{_STRING_COMPARATORS}'")
                if not quoted and comparator not in ("IS NULL", "IS NOT NULL"):
                    raise _invalid(f"Expected a quoted string value for attributes. Got value {value}")
                if comparator in ("IN", "NOT IN") and key != "run_id":
                    raise _invalid("Only ['run_id'] attributes support comparison with a list of quoted string "
                                   "values.")
            else:
                raise _invalid(f"Invalid attribute key '{key}' specified. Valid keys are "
                               f"'{RUN_NUMERIC_ATTRIBUTES | RUN_STRING_ATTRIBUTES}'")
            key = _ALIASES.get(key, key)
        else:
            if key not in DATASET_KEYS:
                raise _invalid(f"Invalid dataset key '{key}' specified. Valid keys are '{DATASET_KEYS}'")
            if comparator not in _STRING_COMPARATORS:
                raise _invalid(f"Invalid comparator '{comparator}' not one of '{_STRING_COMPARATORS}")
        result.append(Clause(entity, key, comparator, value, quoted))
    return result


def parse_experiment_filter(text: str | None) -> list[Clause]:
    """The clauses of an experiments filter (attributes name, experiment_id, creation_time, last_update_time; tags)."""
    if not text or not text.strip():
        return []
    result = []
    for written, key, comparator, value, quoted in _parse(text):
        entity = _entity(written, ("attribute", "tag", "tags") if written not in ("attribute", "attributes",
                                                                                  "attr", "tag", "tags", None)
                         else None)
        if entity not in ("attribute", "tag"):
            raise _invalid(f"Invalid entity type '{written}'. Valid entity types are ('attribute', 'tag', 'tags')")
        if entity == "attribute":
            if key not in EXPERIMENT_ATTRIBUTES:
                raise _invalid(f"Invalid attribute key '{key}' specified. Valid keys are '{EXPERIMENT_ATTRIBUTES}'")
            if key in EXPERIMENT_NUMERIC_ATTRIBUTES:
                if comparator not in _NUMERIC_COMPARATORS:
                    raise _invalid(f"Invalid comparator '{comparator}' not one of '{_NUMERIC_COMPARATORS}'")
                value = int(_number(value, quoted, f"attributes ('{key}')"))
            else:
                allowed = {"=", "!=", "LIKE", "ILIKE"} | ({"IN", "NOT IN"} if key == "experiment_id" else set())
                if comparator not in allowed:
                    raise _invalid(f"Invalid comparator '{comparator}' not one of '{allowed}'")
                if not quoted:
                    raise _invalid(f"Expected a quoted string value for attributes. Got value {value}")
        else:
            if comparator not in {"=", "!=", "LIKE", "ILIKE"}:
                raise _invalid(f"Invalid comparator '{comparator}' not one of '{{'=', '!=', 'LIKE', 'ILIKE'}}'")
            if not quoted:
                raise _invalid(f"Expected a quoted string value for tag (e.g. 'my-value'). Got value {value}")
        result.append(Clause(entity, key, comparator, value, quoted))
    return result


def parse_order_by(clauses: Sequence[str], *, runs: bool) -> list[OrderKey]:
    """order_by entries (``metrics.loss DESC``); INVALID_PARAMETER_VALUE for a key MLflow cannot order by."""
    import lark

    result: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for text in clauses:
        try:
            tree = _parser("order").parse(text)
        except lark.exceptions.LarkError:
            raise _invalid(f"Invalid order_by clause '{text}'. Could not be parsed.") from None
        written, key = _split_ident(tree.children[0].children[0])
        ascending = len(tree.children) < 2 or str(tree.children[1]).lower() == "asc"
        if runs:
            entity = _entity(written)
            if entity == "dataset":
                raise _invalid(f"Invalid order_by entity type '{written}'")
            if entity == "attribute":
                if key not in RUN_ORDER_ATTRIBUTES:
                    raise _invalid(f"Invalid order_by attribute key '{key}' specified. Valid keys are "
                                   f"'{RUN_ORDER_ATTRIBUTES}'")
                key = _ALIASES.get(key, key)
        else:
            entity = _entity(written) if written is None or _ENTITIES.get(written) == "attribute" else "?"
            if entity != "attribute" or key not in EXPERIMENT_ATTRIBUTES:
                raise _invalid(f"Invalid order_by entity: {written or key}" if entity != "attribute"
                               else f"Invalid order_by attribute key '{key}' specified. Valid keys are "
                                    f"'{EXPERIMENT_ATTRIBUTES}'")
        if (entity, key) in seen:
            raise _invalid(f"`order_by` contains duplicate fields: {list(clauses)}")
        seen.add((entity, key))
        result.append(OrderKey(entity, key, ascending))
    return result


# --- evaluation --------------------------------------------------------------------------------


@dataclass
class Subject:
    """What a filter looks at: a run (attributes, latest metrics, params, tags, datasets) or an experiment."""

    attributes: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[dict[str, str]] = field(default_factory=list)  # name, digest, context


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _compare(left: Any, comparator: str, right: Any) -> bool:
    if comparator == "IS NULL":
        return left is None
    if comparator == "IS NOT NULL":
        return left is not None
    if left is None:
        return False
    if comparator in ("LIKE", "ILIKE"):
        return _like(str(right), ignore_case=comparator == "ILIKE").fullmatch(str(left)) is not None
    if comparator == "IN":
        return left in right
    if comparator == "NOT IN":
        return left not in right
    return _NUMERIC[comparator](left, right)


def matches(subject: Subject, clauses: Sequence[Clause]) -> bool:
    """Whether every clause holds for ``subject``."""
    for clause in clauses:
        if clause.entity == "dataset":
            if not any(_compare(d.get(clause.key), clause.comparator, clause.value) for d in subject.datasets):
                return False
            continue
        left = _lookup(subject, clause.entity, clause.key)
        if not _compare(left, clause.comparator, clause.value):
            return False
    return True


def _lookup(subject: Subject, entity: str, key: str) -> Any:
    if entity == "metric":
        return subject.metrics.get(key)
    if entity == "parameter":
        return subject.params.get(key)
    if entity == "tag":
        return subject.tags.get(key)
    return subject.attributes.get(key)


def sort(subjects: list[Subject], order: Sequence[OrderKey], tie_breakers: Sequence[OrderKey]) -> list[Subject]:
    """``subjects`` in MLflow's order: each key's present values first (metrics: then NaN, then missing)."""
    ordered = list(subjects)
    for key in reversed([*order, *tie_breakers]):
        def presence(subject: Subject, key: OrderKey = key) -> int:
            value = _lookup(subject, key.entity, key.key)
            if value is None:
                return 2
            return 1 if isinstance(value, float) and math.isnan(value) else 0

        def value(subject: Subject, key: OrderKey = key) -> Any:
            return _sortable(_lookup(subject, key.entity, key.key))

        ordered.sort(key=value, reverse=not key.ascending)
        ordered.sort(key=presence)  # stable: present values stay in the order just made
    return ordered


def _sortable(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (0, 0)
    return (1, value)


__all__ = ["Clause", "OrderKey", "Subject", "matches", "parse_experiment_filter", "parse_order_by",
           "parse_run_filter", "sort"]
