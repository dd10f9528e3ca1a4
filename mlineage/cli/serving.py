"""``mlineage serving watch --endpoint URL --deployment NAME --every 30s``: scrape a serving endpoint into the store."""

from __future__ import annotations

import argparse
import sys
import time

from mlineage.cli.stores import READ_URL_HELP, open_for_reading, read_url


def add_parser(commands) -> None:
    """Register ``serving`` (its ``watch`` subcommand) on the CLI's subparsers."""
    parser = commands.add_parser(
        "serving",
        help="serving deployments: scrape a model server's Prometheus metrics into a deployment's series",
        description="Commands on deployments recorded by mlineage.integrations.serving.record_push.",
    )
    actions = parser.add_subparsers(dest="serving_command", required=True, metavar="ACTION")
    watch = actions.add_parser(
        "watch",
        help="scrape a Triton or TF Serving metrics endpoint every interval into the deployment's metric series",
        description="Each scrape is one time-stamped point per series (<model>/<version>/<metric>, "
                    "gpu/<uuid>/<metric>) on the deployment's ModelServing execution. An endpoint that does not "
                    "answer is reported and tried again at the next tick.",
    )
    watch.add_argument("--endpoint", required=True, help="the metrics URL, e.g. http://triton:8002/metrics")
    watch.add_argument("--deployment", required=True, help="the deployment's name (as its push recorded it)")
    watch.add_argument("--every", default="30s", help="the interval: 30s, 500ms, 2m (default: 30s)")
    watch.add_argument("--count", type=int, default=None, help="stop after this many scrapes (default: never)")
    watch.add_argument("--url", "--db", dest="url", help=READ_URL_HELP)
    watch.set_defaults(handler=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    from mlineage.integrations import serving

    every = serving.parse_interval(args.every)
    if args.count is not None and args.count < 1:
        from mlineage.errors import InvalidArgumentError

        raise InvalidArgumentError("--count must be at least 1")
    store = open_for_reading(read_url(args), command="serving watch")
    last_error: list[bool] = [False]

    def report(scraped, stored: int, error: Exception | None) -> None:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S")
        if error is not None:
            last_error[0] = True
            print(f"{moment} error: {error}", file=sys.stderr, flush=True)
        else:
            last_error[0] = False
            print(f"{moment} {len(scraped.samples)} samples from {scraped.endpoint}, {stored} points stored",
                  flush=True)

    try:
        serving.watch(store, args.endpoint, args.deployment, every, count=args.count, on_scrape=report)
    finally:
        store.close()
    return 2 if last_error[0] else 0
