"""``mlineage compare RUN… | --pipeline P --last N | --sweep C | --filter Q``: compare runs as a table, Markdown,
JSON or one HTML file."""

from __future__ import annotations

import argparse
import sys

from mlineage.cli.stores import READ_URL_HELP, open_for_reading, read_url


def add_parser(commands) -> None:
    """Register ``compare`` on the CLI's subparsers."""
    from mlineage.reports.render import FORMATS

    parser = commands.add_parser(
        "compare",
        help="compare runs: params, metrics, data, code and steps; the best run; the lineage difference",
        description="Compare runs chosen by one selector: run names or ids, --pipeline (with --last), --sweep "
                    "(the trials under a context) or --filter (MLMD's filter language over run contexts). "
                    "Bad input (an unknown run, a metric no run has, two selectors) exits with 2.",
    )
    parser.add_argument("runs", metavar="RUN", nargs="*", help="a run context's name or id")
    parser.add_argument("--pipeline", metavar="P", help="the runs of pipeline (or MLflow experiment) P")
    parser.add_argument("--last", metavar="N", type=int, help="only the newest N runs of the selection")
    parser.add_argument("--sweep", metavar="CONTEXT", help="the trials (child contexts) of a sweep context")
    parser.add_argument("--filter", metavar="Q", dest="filter_query",
                        help="a filter query over run contexts, e.g. \"custom_properties.status.string_value = "
                             "'COMPLETE'\"")
    parser.add_argument("--metric", metavar="M", help="pick the best run by this metric's final value")
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--maximize", dest="mode", action="store_const", const="max",
                           help="the best run has the highest value (the default)")
    direction.add_argument("--minimize", dest="mode", action="store_const", const="min",
                           help="the best run has the lowest value")
    parser.add_argument("--diff", action="store_true", help="show only the params and metrics that differ")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument("--url", "--db", dest="url", help=READ_URL_HELP)
    parser.set_defaults(handler=run, mode=None)


def run(args: argparse.Namespace) -> int:
    from mlineage.errors import InvalidArgumentError
    from mlineage.reports import compare, render

    if args.mode is not None and args.metric is None:
        raise InvalidArgumentError("--maximize/--minimize need --metric")
    store = open_for_reading(read_url(args), command="compare")
    try:
        comparison = compare(store, args.runs or None, pipeline=args.pipeline, last=args.last, sweep=args.sweep,
                             filter_query=args.filter_query)
        text = render(comparison, args.format, metric=args.metric, mode=args.mode or "max", diff=args.diff)
    finally:
        store.close()
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise InvalidArgumentError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
