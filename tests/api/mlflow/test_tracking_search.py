"""MLflow's search language as mlineage parses it: the same clauses MLflow's own parser makes, the same refusals.

The differential test runs MLflow's parser (mlflow.utils.search_utils, in the
mlflow environment) on the same filters and compares clause by clause; the
others pin evaluation and ordering, which need no mlflow environment.
"""

from __future__ import annotations

import json
import math
import subprocess

import pytest

from mlineage.api.mlflow import search
from mlineage.api.mlflow.errors import MlflowError

RUN_FILTERS = [
    "metrics.loss < 0.3 and params.lr = '0.01'",
    "status = 'FINISHED'",
    "tags.mlflow.source.type = 'LOCAL'",
    "tags.`a b` = 'x'",
    'metrics."my m" > 1',
    "params.lr = 0.01",
    "metrics.loss < '0.3'",
    "attributes.run_id IN ('a','b')",
    "attributes.run_id NOT IN ('a')",
    "attributes.run_name IN ('a')",
    "run_name ILIKE '%x%'",
    "attribute.start_time >= 5",
    "metrics.loss < 0.3 or params.a = 'b'",
    "params.x IS NULL",
    "params.x is not null",
    "params.lr",
    "attributes.created > 1",
    "metrics.m=-1.5e3",
    'attributes.status = "X"',
    "datasets.name = 'd'",
    "datasets.nope = 'd'",
    "foo.x = '1'",
    "tags.x != 'y'",
    "attributes.lifecycle_stage = 'x'",
    "Created > 5",
    "params.andy = 'x' AND tags.index = 'y'",
    "metrics.acc >= 0.9 and metrics.acc <= 1 and attr.user_id LIKE 'a%'",
    "params.x LIKE 'a%'",
    "metrics.x LIKE '1'",
    "attributes.end_time = 'x'",
]

_MLFLOW_PARSER = r"""
import json, sys
from mlflow.exceptions import MlflowException
from mlflow.utils.search_utils import SearchUtils
out = []
for text in json.loads(sys.stdin.read()):
    try:
        parsed = SearchUtils.parse_search_filter(text)
        for clause in parsed:  # what MLflow checks when it evaluates a clause
            kind, comparator = clause["type"], clause["comparator"].upper()
            if kind == "metric":
                SearchUtils.is_metric(kind, comparator)
            elif kind == "parameter":
                SearchUtils.is_param(kind, comparator)
            elif kind == "tag":
                SearchUtils.is_tag(kind, comparator)
            elif kind == "attribute":
                SearchUtils.is_attribute(kind, clause["key"], comparator)
        out.append([[c["type"], c["key"], c["comparator"].upper(),
                     list(c["value"]) if isinstance(c["value"], tuple) else c["value"]] for c in parsed])
    except MlflowException as exc:
        out.append(exc.error_code)
print(json.dumps(out))
"""


def _ours(text: str) -> object:
    try:
        clauses = search.parse_run_filter(text)
    except MlflowError as exc:
        return exc.error_code
    result = []
    for c in clauses:
        value = c.value
        if c.entity == "metric":
            value = float(value)
        result.append([c.entity, c.key, c.comparator, list(value) if isinstance(value, tuple) else value])
    return result


def _normalize(theirs: object) -> object:
    if not isinstance(theirs, list):
        return theirs
    aliases = {"created": "start_time", "Created": "start_time"}
    normalized = []
    for kind, key, comparator, value in theirs:
        if kind == "metric":
            value = float(value)
        if kind == "attribute":
            key = aliases.get(key, key)
        normalized.append([kind, key, comparator, value])
    return normalized


def test_run_filters_parse_as_mlflow_parses_them(mlflow_python):
    result = subprocess.run([mlflow_python, "-c", _MLFLOW_PARSER], input=json.dumps(RUN_FILTERS),
                            capture_output=True, text=True, timeout=120, cwd="/")
    assert result.returncode == 0, result.stderr[-3000:]
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(theirs) == len(RUN_FILTERS)
    mismatches = [(text, _normalize(t), _ours(text)) for text, t in zip(RUN_FILTERS, theirs, strict=True)
                  if _normalize(t) != _ours(text)]
    assert mismatches == []


def test_refusals_say_what_is_wrong():
    with pytest.raises(MlflowError) as caught:
        search.parse_run_filter("metrics.loss < '0.3'")
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Expected numeric value type for metric" in caught.value.message
    with pytest.raises(MlflowError) as caught:
        search.parse_run_filter("foo.x = '1'")
    assert "Invalid entity type 'foo'" in caught.value.message


def _subject(name: str, **metrics: float) -> search.Subject:
    return search.Subject(attributes={"run_name": name, "start_time": 0, "run_id": name}, metrics=metrics)


def test_matching_and_like():
    clauses = search.parse_run_filter("metrics.loss < 0.3 and attributes.run_name LIKE 'a_c%'")
    assert search.matches(_subject("abcd", loss=0.1), clauses)
    assert not search.matches(_subject("abcd", loss=0.3), clauses)
    assert not search.matches(_subject("ABCD", loss=0.1), clauses)  # LIKE is case-sensitive
    assert search.matches(_subject("ABCD", loss=0.1), search.parse_run_filter("run_name ILIKE 'a_c%'"))
    assert not search.matches(_subject("x"), clauses)  # a missing metric matches nothing


def test_order_puts_values_first_then_nan_then_missing_in_both_directions():
    runs = [_subject("nan", loss=math.nan), _subject("none"), _subject("low", loss=0.1), _subject("high", loss=0.9)]
    for direction, expected in (("ASC", ["low", "high", "nan", "none"]), ("DESC", ["high", "low", "nan", "none"])):
        order = search.parse_order_by([f"metrics.loss {direction}"], runs=True)
        assert [s.attributes["run_name"] for s in search.sort(runs, order, [])] == expected


def test_order_by_refuses_unknown_keys_and_duplicates():
    for bad in (["attributes.nope"], ["metrics.a", "metrics.a DESC"], ["metrics.a sideways"]):
        with pytest.raises(MlflowError):
            search.parse_order_by(bad, runs=True)
    with pytest.raises(MlflowError):
        search.parse_order_by(["tags.x"], runs=False)
