"""Reading metric series back for people: one line per metric of an execution, and one metric's points by page.

Both walk the ``metric_points`` primary key (execution_id, name, seq): the
summary is one grouped scan of the execution's points plus one lookup of each
metric's last point; a page of points is a range scan that starts after the
previous page's last ``seq``, so deep pages cost what the first one does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import and_, func, select, tuple_

from mlineage.errors import InvalidArgumentError, NotFoundError
from mlineage.metadata import dialect, executor
from mlineage.metadata.kinds import EXECUTION
from mlineage.metadata.nodes import existing_ids
from mlineage.proto import metric_series_pb2 as mpb
from mlineage.schema import tables as t

MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class MetricSummary:
    """One metric of an execution: how many points, and the last one (by seq)."""

    name: str
    points: int
    last_step: int
    last_value: float
    last_timestamp_ms: int
    min_value: float | None
    max_value: float | None


def _value(value: float | None) -> float:
    return math.nan if value is None else value


def _require_execution(connection, execution_id: int) -> None:
    if not existing_ids(connection, EXECUTION, {execution_id}):
        raise NotFoundError(f"no execution with id {execution_id}")


def metric_summaries(store, execution_id: int) -> list[MetricSummary]:
    """Every metric of one execution, by name; NOT_FOUND if the execution does not exist."""
    points = t.metric_points
    with store.reading() as connection:
        _require_execution(connection, execution_id)
        grouped = executor.run(
            connection,
            lambda _: select(points.c.name, func.count(), func.max(points.c.seq), func.min(points.c.value),
                             func.max(points.c.value))
            .where(points.c.execution_id == execution_id)
            .group_by(points.c.name)
            .order_by(points.c.name),
        ).all()
        if not grouped:
            return []
        last = {
            name: (step, value, stamp)
            for name, step, value, stamp in executor.run(
                connection,
                lambda _: select(points.c.name, points.c.step, points.c.value, points.c.timestamp_ms).where(
                    points.c.execution_id == execution_id,
                    tuple_(points.c.name, points.c.seq).in_([(name, seq) for name, _, seq, _, _ in grouped]),
                ),
            )
        }
    return [
        MetricSummary(
            name=name,
            points=count,
            last_step=last[name][0],
            last_value=_value(last[name][1]),
            last_timestamp_ms=last[name][2],
            min_value=low,
            max_value=high,
        )
        for name, count, _, low, high in grouped
    ]


def metric_page(
    store, execution_id: int, name: str, *, page_size: int = 1000, after_seq: int | None = None
) -> tuple[mpb.MetricSeries, int | None]:
    """Up to ``page_size`` points of one metric after ``after_seq``, in seq order, and the seq to go on after.

    The second value is None on the last page. NOT_FOUND if the execution does
    not exist or has no metric of that name; INVALID_ARGUMENT for a page size
    outside 1..MAX_PAGE_SIZE.
    """
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgumentError(f"page_size must be 1 to {MAX_PAGE_SIZE}, got {page_size}")
    points = t.metric_points
    condition = and_(points.c.execution_id == execution_id, points.c.name == name)
    with store.reading() as connection:
        _require_execution(connection, execution_id)
        if not executor.run(connection, lambda _: select(points.c.seq).where(condition).limit(1)).all():
            raise NotFoundError(f"execution {execution_id} has no metric named {name!r}")
        if after_seq is not None:
            condition = and_(condition, points.c.seq > after_seq)
        resumed = condition
        rows = executor.run(
            connection,
            lambda _: select(points.c.seq, points.c.step, points.c.value, points.c.timestamp_ms)
            .where(resumed)
            .order_by(points.c.seq)
            .limit(page_size + 1),
        ).all()
    more = len(rows) > page_size
    rows = rows[:page_size]
    series = mpb.MetricSeries(execution_id=execution_id, name=name)
    series.seq.extend(r[0] for r in rows)
    series.step.extend(r[1] for r in rows)
    series.value.extend(_value(r[2]) for r in rows)
    series.timestamp_ms.extend(r[3] for r in rows)
    return series, (rows[-1][0] if more else None)


def metric_tails(connection, execution_id: int, names: list[str]) -> dict[str, tuple[int, int]]:
    """(last seq, greatest step) of each named metric of one execution that has points, for a writer appending."""
    points = t.metric_points
    if not names:
        return {}
    return {
        name: (seq, step)
        for name, seq, step in executor.run(
            connection,
            lambda _: select(points.c.name, func.max(points.c.seq), func.max(points.c.step))
            .where(points.c.execution_id == execution_id, points.c.name.in_(sorted(set(names))))
            .group_by(points.c.name),
        )
    }


def points_at_steps(connection, execution_id: int, name: str, steps: list[int]) -> set[tuple[int, int, float]]:
    """(step, timestamp_ms, value) of one metric's points at ``steps`` (NaN values as NaN)."""
    points = t.metric_points
    if not steps:
        return set()
    rows = executor.run(
        connection,
        lambda _: select(points.c.step, points.c.timestamp_ms, points.c.value).where(
            points.c.execution_id == execution_id, points.c.name == name, points.c.step.in_(sorted(set(steps)))
        ),
    )
    return {(step, stamp, _value(value)) for step, stamp, value in rows}


def latest_points(connection, execution_ids: list[int]) -> dict[int, dict[str, tuple[float, int, int]]]:
    """{execution_id: {name: (value, timestamp_ms, step)}} of each metric's latest point: greatest (step, time, value).

    That is MLflow's "latest metric" (a NaN value counts below every number). One
    ranked scan of the executions' points per batch of ids, not a read of every point.
    """
    points = t.metric_points
    result: dict[int, dict[str, tuple[float, int, int]]] = {}
    for part in dialect.chunks(sorted(set(execution_ids))):
        ids = list(part)

        def build(dialect_name: str, ids: list[int] = ids):
            # NULL (NaN) last: MySQL has no NULLS LAST, and sorts NULL last in a descending order anyway.
            value = points.c.value.desc() if dialect_name == "mysql" else points.c.value.desc().nulls_last()
            rank = func.row_number().over(
                partition_by=(points.c.execution_id, points.c.name),
                order_by=(points.c.step.desc(), points.c.timestamp_ms.desc(), value),
            ).label("rank")
            ranked = (
                select(points.c.execution_id, points.c.name, points.c.value, points.c.timestamp_ms, points.c.step,
                       rank)
                .where(points.c.execution_id.in_(ids))
                .subquery()
            )
            return select(ranked.c.execution_id, ranked.c.name, ranked.c.value, ranked.c.timestamp_ms,
                          ranked.c.step).where(ranked.c.rank == 1)

        for execution_id, name, value, stamp, step in executor.run(connection, build):
            result.setdefault(execution_id, {})[name] = (_value(value), stamp, step)
    return result


def summarize(series: mpb.MetricSeries) -> MetricSummary:
    """The summary of a whole series already read (what a client computes from ``get_metric_series``)."""
    values = [v for v in series.value if not math.isnan(v)]
    return MetricSummary(
        name=series.name,
        points=len(series.seq),
        last_step=series.step[-1] if series.step else 0,
        last_value=series.value[-1] if series.value else math.nan,
        last_timestamp_ms=series.timestamp_ms[-1] if series.timestamp_ms else 0,
        min_value=min(values) if values else None,
        max_value=max(values) if values else None,
    )


__all__ = ["MAX_PAGE_SIZE", "MetricSummary", "latest_points", "metric_tails", "points_at_steps", "metric_page", "metric_summaries", "summarize"]
