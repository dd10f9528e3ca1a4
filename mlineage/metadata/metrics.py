"""Metric series of executions: idempotent batched writes and whole-series reads on the ``metric_points`` table.

The access functions (``metric_rows``, ``insert_points``, ``read_series``) work on a
connection; ``Store.put_metric_series`` and ``Store.get_metric_series`` run them in
the store's transactions.

A point is keyed by (execution_id, name, seq), where ``seq`` is made by the
client; inserting a batch again (a journal replay) stores nothing twice. Reads
walk the primary key, so a series of thousands of points is one range scan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, bindparam, select

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata import dialect, executor
from mlineage.metadata.kinds import EXECUTION
from mlineage.metadata.nodes import existing_ids
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema import tables as t

MAX_NAME_LENGTH = 255
_ROWS_PER_STATEMENT = 5000


def _rows(series: mpb.MetricSeries, now: int) -> list[dict]:
    if not series.HasField("execution_id"):
        raise InvalidArgumentError("a metric series needs an execution_id")
    if not series.name or len(series.name) > MAX_NAME_LENGTH:
        raise InvalidArgumentError(f"a metric name must have 1 to {MAX_NAME_LENGTH} characters, got {series.name!r}")
    count = len(series.seq)
    if len(series.value) != count:
        raise InvalidArgumentError(
            f"metric {series.name!r}: {count} seq entries but {len(series.value)} values; the columns must align"
        )
    for column in ("step", "timestamp_ms"):
        if len(getattr(series, column)) not in (0, count):
            raise InvalidArgumentError(f"metric {series.name!r}: {column} must be empty or have {count} entries")
    steps = series.step or series.seq
    times = series.timestamp_ms or [now] * count
    return [
        {
            "execution_id": series.execution_id,
            "name": series.name,
            "seq": seq,
            "step": step,
            "value": None if math.isnan(value) else value,
            "timestamp_ms": stamp,
        }
        for seq, step, value, stamp in zip(series.seq, steps, series.value, times, strict=True)
    ]


Connection = executor.AnyConnection


_POINT_KEY = ["execution_id", "name", "seq"]


def _insert_ignoring_duplicates_statement(dialect_name: str):
    return dialect.insert_ignoring_duplicates(dialect_name, t.metric_points, _POINT_KEY).returning(
        t.metric_points.c.seq  # rows come back for new points only: executemany has no rowcount
    )


def _insert_ignoring_duplicates(connection: Connection, rows: list[dict]) -> int:
    inserted = 0
    for part in dialect.chunks(rows, _ROWS_PER_STATEMENT):
        if connection.dialect.name == "mysql":
            # MySQL has no insert that answers only its new rows (RETURNING and the found-rows count
            # take in the duplicates its no-op update kept): the points already there are read first,
            # and after the insert, a point another transaction stored meanwhile at the same key (it
            # waited for that one's commit) shows as a stored point that is not this one.
            new = _new_points(connection, list(part))
            if new:
                executor.run(
                    connection, lambda d: dialect.insert_ignoring_duplicates(d, t.metric_points, _POINT_KEY), new
                )
                stored = _stored_points(connection, new)
                new = [row for row in new if stored.get(_key(row)) == _point(row)]
            inserted += len(new)
            continue
        inserted += len(executor.run(connection, _insert_ignoring_duplicates_statement, list(part)).all())
    return inserted


def _key(row: dict) -> tuple:
    return (row["execution_id"], row["name"], row["seq"])


def _point(row: dict) -> tuple:
    return (row["step"], row["value"], row["timestamp_ms"])


def _stored_points(connection: Connection, rows: list[dict]) -> dict[tuple, tuple]:
    """{(execution, name, seq): (step, value, timestamp_ms)} of the stored points at the keys of ``rows``,
    read with their rows locked (MySQL)."""
    points = t.metric_points
    stored: dict[tuple, tuple] = {}
    series: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        series.setdefault((row["execution_id"], row["name"]), []).append(row["seq"])
    for (execution_id, name), seqs in series.items():
        found = executor.fetch(
            connection,
            "metric_points.stored_points",
            lambda _d: select(points.c.seq, points.c.step, points.c.value, points.c.timestamp_ms)
            .where(
                points.c.execution_id == bindparam("m_execution"),
                points.c.name == bindparam("m_name"),
                points.c.seq.between(bindparam("m_low"), bindparam("m_high")),
            )
            .with_for_update(),
            {"m_execution": execution_id, "m_name": name, "m_low": min(seqs), "m_high": max(seqs)},
        )
        stored.update(((execution_id, name, seq), (step, value, stamp)) for seq, step, value, stamp in found)
    return stored


def _new_points(connection: Connection, rows: list[dict]) -> list[dict]:
    """The rows whose (execution, name, seq) is not stored yet (MySQL)."""
    stored = _stored_points(connection, rows)
    return [row for row in rows if _key(row) not in stored]


def metric_rows(series: Sequence[mpb.MetricSeries], now: int) -> list[dict]:
    """The rows of ``series``' points, checked (INVALID_ARGUMENT), duplicates inside the request collapsed."""
    rows: list[dict] = []
    for one in series:
        rows.extend(_rows(one, now))
    # Duplicates inside one request collapse too (the last one would be ignored by the database anyway).
    unique = {(r["execution_id"], r["name"], r["seq"]): r for r in reversed(rows)}
    return list(reversed(unique.values()))


def insert_points(connection: Connection, rows: list[dict]) -> int:
    """Insert the points of ``rows`` (from ``metric_rows``); returns how many were new.

    NOT_FOUND when a row names an execution that does not exist (then nothing is inserted).
    """
    execution_ids = {r["execution_id"] for r in rows}
    missing = execution_ids - existing_ids(connection, EXECUTION, execution_ids)
    if missing:
        raise NotFoundError(f"No execution with the given id {min(missing)}")
    return _insert_ignoring_duplicates(connection, rows)


def _series_statement(execution_ids: list[int], names: list[str]) -> executor.Builder:
    points = t.metric_points

    def build(_dialect: str):
        condition: ColumnElement[bool] = points.c.execution_id.in_(execution_ids)
        if names:
            condition = and_(condition, points.c.name.in_(names))
        return (
            select(points.c.execution_id, points.c.name, points.c.seq, points.c.step, points.c.value,
                   points.c.timestamp_ms)
            .where(condition)
            .order_by(points.c.execution_id, points.c.name, points.c.seq)
        )

    return build


def read_series(connection: Connection, execution_ids: Sequence[int], names: Sequence[str] = ()) -> list[mpb.MetricSeries]:
    """Every point of the named metrics (all when ``names`` is empty) of ``execution_ids``, one series each."""
    ids = sorted(set(execution_ids))
    result: list[mpb.MetricSeries] = []
    current: mpb.MetricSeries | None = None
    for part in dialect.chunks(ids):
        columns: tuple[list, list, list, list] = ([], [], [], [])
        rows = executor.run(connection, _series_statement(list(part), sorted(set(names))))
        for execution_id, name, seq, step, value, stamp in rows:
            if current is None or current.execution_id != execution_id or current.name != name:
                if current is not None:
                    _fill(current, columns)
                    columns = ([], [], [], [])
                current = mpb.MetricSeries(execution_id=execution_id, name=name)
                result.append(current)
            columns[0].append(seq)
            columns[1].append(step)
            columns[2].append(math.nan if value is None else value)
            columns[3].append(stamp)
        if current is not None and columns[0]:
            _fill(current, columns)
    return result


def put_metric_series(store, series: Sequence[mpb.MetricSeries]) -> int:
    """``store.put_metric_series(series)``: kept for callers of this module."""
    return store.put_metric_series(series)


def get_metric_series(store, execution_ids: Sequence[int], names: Sequence[str] = ()) -> list[mpb.MetricSeries]:
    """``store.get_metric_series(execution_ids, names)``: kept for callers of this module."""
    return store.get_metric_series(execution_ids, names)


def _fill(series: mpb.MetricSeries, columns: tuple[list, list, list, list]) -> None:
    series.seq.extend(columns[0])
    series.step.extend(columns[1])
    series.value.extend(columns[2])
    series.timestamp_ms.extend(columns[3])


__all__ = ["get_metric_series", "insert_points", "metric_rows", "put_metric_series", "read_series"]
