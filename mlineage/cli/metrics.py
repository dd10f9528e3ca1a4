"""``mlineage metrics EXECUTION [NAME]``: the metric series an execution logged, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys

from mlineage.cli.stores import READ_URL_HELP, open_for_reading, read_url

FORMATS = ("table", "json", "csv")


def add_parser(commands) -> None:
    """Register ``metrics`` on the CLI's subparsers."""
    parser = commands.add_parser(
        "metrics",
        help="show the metrics an execution logged: one line per metric, or one metric's points",
        description="Without NAME: each metric of EXECUTION with its number of points and last value. "
                    "With NAME: that metric's points (seq, step, value, time).",
    )
    parser.add_argument("execution", metavar="EXECUTION", help="the execution: an id or TYPE:NAME")
    parser.add_argument("name", metavar="NAME", nargs="?", help="one metric's points")
    parser.add_argument("--url", "--db", dest="url", help=READ_URL_HELP)
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: a table)")
    parser.set_defaults(handler=run)


def _execution_id(store, reference: str) -> int:
    from mlineage.errors import NotFoundError

    reference = reference.strip()
    if reference.isdigit():
        if not store.get_executions_by_id([int(reference)]):
            raise NotFoundError(f"no execution with id {reference}")
        return int(reference)
    type_name, _, name = reference.partition(":")
    if not name:
        raise NotFoundError(f"{reference!r} is neither an execution id nor TYPE:NAME")
    execution = store.get_execution_by_type_and_name(type_name, name)
    if execution is None:
        raise NotFoundError(f"no execution of type {type_name!r} named {name!r}")
    return execution.id


def _series(store, execution_id: int, names: list[str]):
    return store.get_metric_series([execution_id], names)  # a Store or a GrpcStore


def run(args: argparse.Namespace) -> int:
    from mlineage.errors import NotFoundError
    from mlineage.metadata.metric_reads import summarize

    store = open_for_reading(read_url(args), command="metrics")
    try:
        execution_id = _execution_id(store, args.execution)
        series = _series(store, execution_id, [args.name] if args.name else [])
    finally:
        store.close()
    if args.name is None:
        header = ["name", "points", "last_step", "last_value", "min_value", "max_value"]
        rows = [
            [s.name, s.points, s.last_step, s.last_value, s.min_value, s.max_value]
            for s in (summarize(one) for one in series)
        ]
        if not rows and args.format == "table":
            print(f"execution {execution_id} logged no metrics", file=sys.stderr)
            return 0
    else:
        if not series:
            raise NotFoundError(f"execution {execution_id} has no metric named {args.name!r}")
        one = series[0]
        header = ["seq", "step", "value", "timestamp_ms"]
        rows = [list(point) for point in zip(one.seq, one.step, one.value, one.timestamp_ms, strict=True)]
    _write(args.format, header, rows)
    return 0


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    return str(value)


def _write(output: str, header: list[str], rows: list[list]) -> None:
    if output == "json":
        def plain(value):
            return value if not isinstance(value, float) or math.isfinite(value) else str(value)

        json.dump([{k: plain(v) for k, v in zip(header, row, strict=True)} for row in rows], sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[_text(v) for v in row] for row in rows])
    else:
        cells = [header, *[[_text(v) for v in row] for row in rows]]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        for row in cells:
            print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width)
                            for i, (cell, width) in enumerate(zip(row, widths, strict=True))).rstrip())
