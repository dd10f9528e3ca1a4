"""``mlineage run -- COMMAND`` and ``mlineage journal status|flush|retarget|drop``: the client's command-line half."""

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
from typing import Any

from mlineage.connection import redact

TAIL_BYTES = 64 * 1024
#: The execution type of every ``mlineage run`` step unless --type names another: one type, whatever the command.
COMMAND_TYPE = "mlineage.Command"

ENVIRONMENT = """\
environment:
  MLINEAGE_URL                   the store URL when --url is not given (MLINEAGE_DB too)
  MLINEAGE_JOURNAL_DIR           where records wait for a gRPC server (default ~/.cache/mlineage/journal)
  MLINEAGE_JOURNAL_EXIT_TIMEOUT  the most seconds a step waits at its end for a server that is taking
                                 its records (default: no limit; a server that cannot be reached is
                                 never waited for)
  MLINEAGE_JOURNAL_STALL_TIMEOUT seconds without an answer from the server after which the step stops
                                 waiting and leaves its records in the journal (default 1)
  MLINEAGE_SEND_TIMEOUT          the deadline of each send to the server, in seconds (default 15)
"""


def add_commands(commands, default_db: str) -> None:
    """Add the ``run`` and ``journal`` subcommands to the ``mlineage`` parser."""
    run = commands.add_parser(
        "run",
        help="record an execution around any command: mlineage run [options] -- COMMAND ...",
        description="Run COMMAND as a pipeline step: its exit code gives the execution's state "
                    "(COMPLETE or FAILED, with the output's tail), with duration and GPU use. "
                    "Exits with the command's exit code.",
        epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--url", "--db", dest="url",
                     help=f"store URL: grpc://host:port, sqlite:///…, postgresql://… "
                          f"(default: $MLINEAGE_URL, $MLINEAGE_DB or {default_db})")
    run.add_argument("--pipeline", help="pipeline name (default: $MLINEAGE_PIPELINE or 'default')")
    run.add_argument("--run", dest="run_id", help="run id (default: $MLINEAGE_RUN_ID or a new one)")
    run.add_argument("--step", help="step name, also in the execution's name <pipeline>/<run>/<step> "
                                    "(default: the command's name)")
    run.add_argument("--type", dest="step_type", default=COMMAND_TYPE,
                     help=f"execution type (default: {COMMAND_TYPE}, whatever the command)")
    run.add_argument("--gpus", type=int, help="GPUs the step asks for: records what it got and samples their use")
    run.add_argument("--input", action="append", default=[], metavar="TYPE=URI", help="an input artifact")
    run.add_argument("--output", action="append", default=[], metavar="TYPE=URI", help="an output artifact")
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter")
    run.add_argument("--tail-lines", type=int, default=50, help="output lines kept on failure (default 50)")
    run.add_argument("--sample-interval", type=float, default=1.0, help="GPU sampling period in seconds")
    run.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    run.set_defaults(handler=lambda args: cmd_run(args, default_db))

    journal = commands.add_parser(
        "journal", help="the client's local journal: status, flush, retarget, drop",
        description="Records logged to a gRPC server wait in a local journal until the server holds them. "
                    "What a process could not deliver before it ended (an orphaned segment) is sent by the "
                    "next process that logs to the same server, or by `mlineage journal flush`.",
        epilog=ENVIRONMENT, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", help="journal directory (default: $MLINEAGE_JOURNAL_DIR or "
                                      "~/.cache/mlineage/journal)")
    actions = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    status = actions.add_parser("status", parents=[common], help="list the segments and what each still holds")
    status.add_argument("--url", help="only segments addressed to this server URL")
    flush = actions.add_parser("flush", parents=[common], help="send the orphaned segments now, with progress "
                                                               "and a summary (exit 1 if records are left)")
    flush.add_argument("--url", help="only segments addressed to this server URL")
    retarget = actions.add_parser(
        "retarget", parents=[common], help="address the segments of a server that moved to its new URL",
        description="Rewrite the server URL of the orphaned segments addressed to OLD_URL; "
                    "`mlineage journal flush` then sends them to NEW_URL.",
    )
    retarget.add_argument("old_url", metavar="OLD_URL")
    retarget.add_argument("new_url", metavar="NEW_URL")
    drop = actions.add_parser(
        "drop", parents=[common], help="delete a segment and its records for good (asks first)",
        description="Delete SEGMENT (a file name from `mlineage journal status`, its unique start, or a path), "
                    "its ack and its refused records. Asks for confirmation; without a terminal it refuses "
                    "unless --yes is given.",
    )
    drop.add_argument("segment", metavar="SEGMENT")
    drop.add_argument("--yes", "-y", action="store_true", help="do not ask")
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
    state = "COMPLETE"
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
            with _Interrupts() as interrupts:  # before the command starts: a Ctrl-C at any moment counts
                try:
                    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                except OSError as exc:
                    step.set_properties(exit_code=127)
                    step.fail(f"cannot start {command[0]!r}: {exc}")
                    print(f"mlineage run: cannot start {command[0]!r}: {exc}", file=sys.stderr)
                    state, code = "FAILED", 127
                else:
                    code, state = _supervise(process, command, step, args, interrupts)
        run.close(state)
    _say_recorded(run, step, url, state)
    return code


class _Interrupts:
    """SIGINT/SIGTERM while a command runs: forwarded to it, and remembered (the step is then CANCELED).

    Installed before the command starts, so a signal that arrives between the start and the wait is
    neither lost nor a KeyboardInterrupt in the middle of bookkeeping; a signal that comes before the
    command exists is passed on as soon as it does.
    """

    def __init__(self) -> None:
        self.received: list[int] = []
        self.process: subprocess.Popen | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Interrupts:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._forward)
        return self

    def __exit__(self, *exc_info) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _forward(self, signum, _frame) -> None:
        self.received.append(signum)
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)

    def attach(self, process: subprocess.Popen) -> None:
        self.process = process
        for signum in self.received:  # came while the command was being started
            if process.poll() is None:
                process.send_signal(signum)


def _supervise(process: subprocess.Popen, command: list[str], step, args: argparse.Namespace,
               interrupts: _Interrupts) -> tuple[int, str]:
    """Wait for the command, passing its output through; record how it ended. (exit code, state)."""
    interrupts.attach(process)
    interrupted = interrupts.received
    tails: tuple[collections.deque[bytes], collections.deque[bytes]] = (collections.deque(), collections.deque())
    pumps = [
        threading.Thread(target=_pump, args=(process.stdout, sys.stdout.buffer, tails[0]), daemon=True),
        threading.Thread(target=_pump, args=(process.stderr, sys.stderr.buffer, tails[1]), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    returncode = process.wait()
    for pump in pumps:
        pump.join(timeout=10)
    code = returncode if returncode >= 0 else 128 - returncode
    step.set_properties(exit_code=code)
    if returncode == 0:
        for type_name, uri in _pairs(args.output, "--output"):
            step.output(type_name, uri)
        return code, "COMPLETE"
    step.set_properties(stdout_tail=_tail(tails[0], args.tail_lines),
                        stderr_tail=_tail(tails[1], args.tail_lines))
    if interrupted or returncode == -signal.SIGINT:
        # Interrupted (Ctrl-C, or SIGTERM from a scheduler that stops the job): CANCELED, as a
        # KeyboardInterrupt inside `with run.step()` is in the Python API.
        signum = interrupted[0] if interrupted else signal.SIGINT
        step.cancel("KeyboardInterrupt" if signum == signal.SIGINT else f"interrupted by {signal.Signals(signum).name}")
        return (code if returncode != 0 else 128 + signum), "CANCELED"
    reason = f"exit code {returncode}" if returncode > 0 else f"killed by signal {-returncode}"
    step.fail(f"{shlex.join(command)}: {reason}")
    return code, "FAILED"


def _say_recorded(run, step, url: str, state: str) -> None:
    """One line on stderr: what was recorded where, with the server's ids once it holds them."""
    execution_id, context_id = step.stored_id, run.stored_id
    shown = redact(url)
    if execution_id is not None:
        where = f"execution {execution_id} ({step.execution_name}, type {step.type_name}, {state})"
        context = f"run context {context_id} ({run.name})" if context_id is not None else f"run {run.name}"
        print(f"mlineage: recorded {where} in {context} at {shown}", file=sys.stderr)
    else:
        print(f"mlineage: recorded execution {step.execution_name} (external id {step.external_id}, "
              f"{state}) in run {run.name} for {shown}; the server does not hold it yet (see above)",
              file=sys.stderr)


def cmd_journal(args: argparse.Namespace) -> int:
    from mlineage.client import journal

    directory = journal.journal_dir(args.dir)
    handler = {"status": _journal_status, "flush": _journal_flush, "retarget": _journal_retarget,
               "drop": _journal_drop}[args.journal_command]
    return handler(args, directory)


def _journal_status(args: argparse.Namespace, directory: Path) -> int:
    from mlineage.client import journal

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


def _journal_flush(args: argparse.Namespace, directory: Path) -> int:
    from mlineage.client import journal

    todo = [s for s in journal.status(directory) if s.url and (args.url is None or s.url == args.url)]
    if not todo:
        print(f"journal {directory}: nothing to send")
        return 0
    total = len(todo)
    print(f"journal {directory}: {total} segment(s), {sum(s.records_pending for s in todo)} record(s) to send")
    done = sent = failed = in_use = left = 0
    position = {s.path: i for i, s in enumerate(todo, 1)}

    def progress(segment: Path, so_far: int, of: int) -> None:
        if so_far < of:  # the segment's own line says the end
            print(f"  [{position.get(segment, '?')}/{total}] {segment.name}: {so_far}/{of} record(s) sent",
                  flush=True)

    for report in journal.flush(directory, args.url, progress=progress):
        sent += report.sent
        left += report.left
        where = f"  [{position.get(report.segment, '?')}/{total}] {report.segment.name}"
        if report.error is None:
            done += 1
            print(f"{where}: sent {report.sent} record(s) to {report.url}", flush=True)
        elif report.in_use:
            in_use += 1
            print(f"{where}: skipped, in use by a running process ({report.left} record(s) pending)", flush=True)
        else:
            failed += 1
            print(f"{where}: {report.left} record(s) left, sent {report.sent} ({report.error})", flush=True)
    refused = sum(s.dead for s in journal.status(directory) if args.url is None or s.url == args.url)
    summary = (f"flushed {done} segment(s), {sent} record(s) sent; {failed} segment(s) failed, "
               f"{in_use} in use; {left} record(s) left")
    if refused:
        summary += f"; {refused} record(s) refused by the server (see `mlineage journal status`)"
    print(summary)
    return 1 if failed else 0


def _check_url(url: str) -> str | None:
    """Why ``url`` cannot be a journal's target, or None."""
    if url.startswith(("grpc://", "grpcs://")):
        from mlineage import errors
        from mlineage.client.grpc_store import Target

        try:
            Target.parse(url)
        except errors.MlineageError as exc:
            return str(exc)
        return None
    if url.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql", "postgres", "mysql"):
        return None
    return f"not a store URL: {url!r} (grpc://host:port, grpcs://…, sqlite:///…, postgresql://…)"


def _journal_retarget(args: argparse.Namespace, directory: Path) -> int:
    from mlineage.client import journal

    problem = _check_url(args.new_url)
    if problem:
        print(f"mlineage journal retarget: {problem}", file=sys.stderr)
        return 2
    moved = busy = records = 0
    for old, new in journal.retarget(directory, args.old_url, args.new_url):
        if new is None:
            busy += 1
            print(f"  {old.name}: skipped, in use by a running process")
            continue
        moved += 1
        pending = journal.count_records(new, journal.read_ack(new))
        records += pending
        print(f"  {old.name} -> {new.name}: {pending} record(s) pending")
    if not moved and not busy:
        urls = sorted({s.url for s in journal.status(directory) if s.url})
        known = ", ".join(urls) if urls else "none"
        print(f"mlineage journal retarget: no segment in {directory} is addressed to {args.old_url} "
              f"(addressed: {known})", file=sys.stderr)
        return 1
    print(f"retargeted {moved} segment(s), {records} record(s), from {args.old_url} to {args.new_url}"
          + (f"; {busy} in use, left as they are" if busy else "")
          + f". Send them with `mlineage journal flush --dir {directory}`.")
    return 1 if busy else 0


def _journal_drop(args: argparse.Namespace, directory: Path) -> int:
    from mlineage import errors
    from mlineage.client import journal

    try:
        segment = journal.find_segment(directory, args.segment)
    except errors.MlineageError as exc:
        print(f"mlineage journal drop: {exc}", file=sys.stderr)
        return 1
    states = [s for s in journal.status(segment.parent) if s.path == segment]
    state = states[0] if states else None
    what = (f"{segment.name} ({state.url}): {state.records_pending} unsent record(s), {state.dead} refused"
            if state else segment.name)
    if state is not None and state.locked:
        print(f"mlineage journal drop: {segment.name} is in use by a running process", file=sys.stderr)
        return 1
    if not args.yes:
        if not sys.stdin.isatty():
            print(f"mlineage journal drop: refusing to delete {what} without confirmation; "
                  "run it in a terminal or pass --yes", file=sys.stderr)
            return 2
        print(f"delete {what} for good? [y/N] ", end="", flush=True)
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            print("kept")
            return 1
    try:
        lost = journal.drop(segment)
    except errors.MlineageError as exc:
        print(f"mlineage journal drop: {exc}", file=sys.stderr)
        return 1
    print(f"dropped {segment.name}: {lost} unsent record(s) deleted")
    return 0


__all__ = ["add_commands", "cmd_journal", "cmd_run"]
