"""``mlineage run -- COMMAND`` and ``mlineage journal status|flush``: the client's command-line half."""

from __future__ import annotations

import argparse
import collections
import os
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

TAIL_BYTES = 64 * 1024


def add_commands(commands, default_db: str) -> None:
    """Add the ``run`` and ``journal`` subcommands to the ``mlineage`` parser."""
    run = commands.add_parser(
        "run",
        help="record an execution around any command: mlineage run [options] -- COMMAND ...",
        description="Run COMMAND as a pipeline step: its exit code gives the execution's state "
                    "(COMPLETE or FAILED, with the output's tail), with duration and GPU use. "
                    "Exits with the command's exit code.",
    )
    run.add_argument("--url", "--db", dest="url",
                     help=f"store URL: grpc://host:port, sqlite:///…, postgresql://… "
                          f"(default: $MLINEAGE_URL, $MLINEAGE_DB or {default_db})")
    run.add_argument("--pipeline", help="pipeline name (default: $MLINEAGE_PIPELINE or 'default')")
    run.add_argument("--run", dest="run_id", help="run id (default: $MLINEAGE_RUN_ID or a new one)")
    run.add_argument("--step", help="step name (default: the command's name)")
    run.add_argument("--type", dest="step_type", help="execution type (default: the step name)")
    run.add_argument("--gpus", type=int, help="GPUs the step asks for: records what it got and samples their use")
    run.add_argument("--input", action="append", default=[], metavar="TYPE=URI", help="an input artifact")
    run.add_argument("--output", action="append", default=[], metavar="TYPE=URI", help="an output artifact")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter")
    run.add_argument("--tail-lines", type=int, default=50, help="output lines kept on failure (default 50)")
    run.add_argument("--sample-interval", type=float, default=1.0, help="GPU sampling period in seconds")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run.set_defaults(handler=lambda args: cmd_run(args, default_db))

    journal = commands.add_parser("journal", help="the client's local journal: status, flush")
    journal.add_argument("journal_command", choices=["status", "flush"])
    journal.add_argument("--dir", help="journal directory (default: $MLINEAGE_JOURNAL_DIR or "
                                       "~/.cache/mlineage/journal)")
    journal.add_argument("--url", help="only segments addressed to this server URL")
    journal.set_defaults(handler=cmd_journal)


def _pairs(values: list[str], what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise SystemExit(f"mlineage run: {what} must look like NAME=VALUE, got {value!r}")
        pairs.append((name, rest))
    return pairs


def _param_value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


def _pump(source, sink, tail: collections.deque) -> None:
    for chunk in iter(lambda: source.read1(8192) if hasattr(source, "read1") else source.read(8192), b""):
        sink.write(chunk)
        sink.flush()
        tail.append(chunk)
        while sum(len(c) for c in tail) > TAIL_BYTES and len(tail) > 1:
            tail.popleft()


def _tail(chunks: collections.deque, lines: int) -> str:
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def cmd_run(args: argparse.Namespace, default_db: str) -> int:
    from mlineage.client.tracking import start_run

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("mlineage run: no command given (mlineage run [options] -- COMMAND ...)", file=sys.stderr)
        return 2
    url = args.url or os.environ.get("MLINEAGE_URL") or os.environ.get("MLINEAGE_DB") or default_db
    step_name = args.step or Path(command[0]).name
    run = start_run(args.pipeline, args.run_id, url=url)
    code = 0
    with run:
        spec = run.step(step_name, type=args.step_type, gpus=args.gpus, sample_interval=args.sample_interval)
        with spec as step:
            step.set_properties(command=shlex.join(command))
            params = {name: _param_value(value) for name, value in _pairs(args.param, "--param")}
            if params:
                step.log_params(params)
            for type_name, uri in _pairs(args.input, "--input"):
                step.input(type_name, uri)
            env = dict(os.environ, MLINEAGE_URL=url, MLINEAGE_PIPELINE=run.pipeline, MLINEAGE_RUN_ID=run.run_id,
                       MLINEAGE_PARENT_EXECUTION=step.external_id)
            try:
                process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            except OSError as exc:
                step.set_properties(exit_code=127)
                step.fail(f"cannot start {command[0]!r}: {exc}")
                print(f"mlineage run: cannot start {command[0]!r}: {exc}", file=sys.stderr)
                return 127
            tails = (collections.deque(), collections.deque())
            pumps = [
                threading.Thread(target=_pump, args=(process.stdout, sys.stdout.buffer, tails[0]), daemon=True),
                threading.Thread(target=_pump, args=(process.stderr, sys.stderr.buffer, tails[1]), daemon=True),
            ]
            for pump in pumps:
                pump.start()
            previous = {}

            def forward(signum, _frame) -> None:
                if process.poll() is None:
                    process.send_signal(signum)

            if threading.current_thread() is threading.main_thread():
                for signum in (signal.SIGINT, signal.SIGTERM):
                    previous[signum] = signal.signal(signum, forward)
            try:
                returncode = process.wait()
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
            for pump in pumps:
                pump.join(timeout=10)
            code = returncode if returncode >= 0 else 128 - returncode
            step.set_properties(exit_code=code)
            if returncode == 0:
                for type_name, uri in _pairs(args.output, "--output"):
                    step.output(type_name, uri)
            else:
                reason = f"exit code {returncode}" if returncode > 0 else f"killed by signal {-returncode}"
                step.set_properties(stdout_tail=_tail(tails[0], args.tail_lines),
                                    stderr_tail=_tail(tails[1], args.tail_lines))
                step.fail(f"{shlex.join(command)}: {reason}")
        if code != 0:
            run.close("FAILED")
    return code


def cmd_journal(args: argparse.Namespace) -> int:
    from mlineage.client import journal

    directory = journal.journal_dir(args.dir)
    if args.journal_command == "status":
        states = [s for s in journal.status(directory) if args.url is None or s.url == args.url]
        if not states:
            print(f"journal {directory}: empty")
            return 0
        print(f"journal {directory}:")
        for state in states:
            owner = "in use" if state.locked else "orphaned"
            print(f"  {state.path.name}  {state.url}  {state.records_pending} pending, {state.dead} refused, "
                  f"{state.size} bytes ({owner})")
        return 0
    failed = False
    total = 0
    for segment, sent, error in journal.flush(directory, args.url):
        if error:
            failed = failed or error != "in use by a running process"
            print(f"  {segment.name}: {error}", file=sys.stderr)
        else:
            total += sent
            print(f"  {segment.name}: sent {sent} record(s)")
    print(f"flushed {total} record(s)")
    return 1 if failed else 0


__all__ = ["add_commands", "cmd_journal", "cmd_run"]
