"""The journal: records appended to a local file first, sent to the server in the background, never lost.

Layout, under ``$MLINEAGE_JOURNAL_DIR`` (default ``~/.cache/mlineage/journal``):

* ``<time_ns>-<pid>-<rand>.jsonl``: one segment per writing process. Its first
  line is a header naming the server URL; every other line is one record
  (``mlineage.client.records``). A record is one ``write()`` to a file opened
  with ``O_APPEND``: once the logging call returns, the record is in the
  kernel and survives the death of the process; the sender ``fsync``s the
  segment before each batch it sends, so what was sent was also on disk.
* ``<segment>.ack``: the byte offset up to which records are known to be
  stored on the server. Records past it are sent again after a crash, which
  is harmless: records name their nodes by client-made keys.
* ``<segment>.dead``: records the server refused for good (INVALID_ARGUMENT and
  the like), with the reason; ``mlineage journal status`` lists them.

The writer holds an exclusive ``flock`` on its segment while it lives. A
segment nobody holds is orphaned (its process ended before the server took
everything); the next process that logs to the same server, or
``mlineage journal flush``, sends it, oldest first, and deletes it once acked.
``retarget`` readdresses the orphans of a server that moved; ``drop`` deletes
a segment for good.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mlineage import errors
from mlineage.client import records as rec

log = logging.getLogger("mlineage.journal")

SEGMENT_SUFFIX = ".jsonl"
MAX_BATCH_RECORDS = 5000
MAX_BATCH_BYTES = 4 * 1024 * 1024
# Errors that say "try again later"; anything else is the record's fault. A refused credential
# (UNAUTHENTICATED, PERMISSION_DENIED) is the step's configuration, not its records': they wait for a token.
TRANSIENT = (errors.UnavailableError, errors.AbortedError, errors.DeadlineExceededError,
             errors.ResourceExhaustedError, errors.CancelledError, errors.UnknownError, errors.InternalError,
             errors.UnauthenticatedError, errors.PermissionDeniedError, OSError)


def journal_dir(path: str | os.PathLike | None = None) -> Path:
    chosen = path or os.environ.get("MLINEAGE_JOURNAL_DIR") or Path.home() / ".cache" / "mlineage" / "journal"
    directory = Path(chosen).expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --- one segment -----------------------------------------------------------------------------


class SegmentWriter:
    """Appends records to a new segment; one per process and server URL."""

    def __init__(self, directory: Path, url: str) -> None:
        name = f"{time.time_ns():020d}-{os.getpid()}-{random.getrandbits(32):08x}{SEGMENT_SUFFIX}"
        self.path = directory / name
        self.url = url
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        header = {"journal": 1, "url": url, "pid": os.getpid(), "host": socket.gethostname(),
                  "created_ns": time.time_ns()}
        os.write(self._fd, (json.dumps(header) + "\n").encode())
        self._lock = threading.Lock()
        self.records = 0
        self.closed = False

    def append(self, line: bytes) -> None:
        with self._lock:
            os.write(self._fd, line)
            self.records += 1

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def sync(self) -> None:
        if not self.closed:
            os.fsync(self._fd)

    def close(self) -> None:
        """Sync and release the segment (it becomes an orphan if records remain unsent)."""
        with self._lock:
            if self.closed:
                return
            os.fsync(self._fd)
            os.close(self._fd)
            self.closed = True


@dataclass
class SegmentState:
    path: Path
    url: str | None
    size: int
    acked: int
    records_pending: int
    dead: int
    locked: bool


def _ack_path(segment: Path) -> Path:
    return segment.with_name(segment.name + ".ack")


def _dead_path(segment: Path) -> Path:
    return segment.with_name(segment.name + ".dead")


def read_header(segment: Path) -> dict:
    with open(segment, "rb") as handle:
        line = handle.readline()
    try:
        header = json.loads(line)
    except ValueError:
        return {}
    return header if isinstance(header, dict) else {}


def read_ack(segment: Path) -> int:
    try:
        return int(_ack_path(segment).read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def write_ack(segment: Path, offset: int) -> None:
    target = _ack_path(segment)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(str(offset))
    os.replace(temporary, target)


def records_after(segment: Path, offset: int, *, limit: int = MAX_BATCH_RECORDS,
                  max_bytes: int = MAX_BATCH_BYTES) -> tuple[list[tuple[int, bytes]], int]:
    """Complete record lines after byte ``offset`` (skipping the header): [(end offset, line)], next offset."""
    out: list[tuple[int, bytes]] = []
    with open(segment, "rb") as handle:
        if offset == 0:
            header = handle.readline()
            if not header.endswith(b"\n"):
                return [], 0
            offset = len(header)
        handle.seek(offset)
        data = handle.read(max_bytes)
    position = offset
    start = 0
    while len(out) < limit:
        end = data.find(b"\n", start)
        if end < 0:
            break  # an incomplete last line: its write is still in progress (or was torn by a crash)
        position = offset + end + 1
        out.append((position, data[start : end + 1]))
        start = end + 1
    if not out and len(data) == max_bytes:  # one line longer than max_bytes: read it whole
        with open(segment, "rb") as handle:
            handle.seek(offset)
            line = handle.readline()
        if line.endswith(b"\n"):
            out.append((offset + len(line), line))
    return out, (out[-1][0] if out else offset)


def count_records(segment: Path, offset: int) -> int:
    with open(segment, "rb") as handle:
        if offset == 0:
            handle.readline()
        else:
            handle.seek(offset)
        return sum(1 for line in handle if line.endswith(b"\n"))


def try_lock(segment: Path) -> int | None:
    """An fd holding the segment's lock, or None when its writer (or another sender) holds it."""
    try:
        fd = os.open(segment, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob(f"*{SEGMENT_SUFFIX}") if p.is_file())


def status(directory: Path) -> list[SegmentState]:
    states = []
    for segment in segments(directory):
        acked = read_ack(segment)
        fd = try_lock(segment)
        if fd is not None:
            os.close(fd)
        dead = _dead_path(segment)
        states.append(SegmentState(
            path=segment,
            url=read_header(segment).get("url"),
            size=segment.stat().st_size,
            acked=acked,
            records_pending=count_records(segment, acked),
            dead=sum(1 for _ in open(dead, "rb")) if dead.exists() else 0,
            locked=fd is None,
        ))
    return states


# --- sending ---------------------------------------------------------------------------------


class Delivery:
    """Sends the records of segments to one store through an Applier: in order, in batches, idempotently."""

    def __init__(self, store) -> None:
        self.applier = rec.Applier(store)

    def send(self, segment: Path, *, sync: Callable[[], None] | None = None,
             stop: Callable[[], bool] = lambda: False, on_ack: Callable[[int], None] | None = None) -> int:
        """Send what the segment holds past its ack; returns records sent. Raises TRANSIENT errors."""
        sent = 0
        acked = read_ack(segment)
        while not stop():
            lines, next_offset = records_after(segment, acked)
            if not lines:
                if next_offset != acked:  # past the header
                    write_ack(segment, next_offset)
                return sent
            if sync is not None:
                sync()
            self._send_batch(segment, lines, acked)
            acked = next_offset
            write_ack(segment, acked)
            sent += len(lines)
            if on_ack is not None:
                on_ack(len(lines))
        return sent

    def _send_batch(self, segment: Path, lines: list[tuple[int, bytes]], start: int) -> None:
        parsed = []
        for end, line in lines:
            try:
                parsed.append((end, rec.decode(line)))
            except ValueError as exc:
                self._bury(segment, line, f"unreadable record: {exc}")
        try:
            self.applier.apply([record for _, record in parsed])
            return
        except TRANSIENT:
            raise
        except Exception:  # noqa: BLE001 - a record is refused (or malformed): find it, one at a time
            pass
        for end, record in parsed:
            try:
                self.applier.apply([record])
            except TRANSIENT:
                write_ack(segment, start)
                raise
            except Exception as exc:  # noqa: BLE001
                self._bury(segment, rec.encode(record), f"{type(exc).__name__}: {exc}")
            start = end
            write_ack(segment, start)

    @staticmethod
    def _bury(segment: Path, line: bytes, reason: str) -> None:
        log.warning("journal %s: the server refused a record for good (%s)", segment.name, reason)
        with open(_dead_path(segment), "ab") as handle:
            handle.write((json.dumps({"error": reason, "record": line.decode(errors="replace").rstrip()}) + "\n")
                         .encode())


def finish(segment: Path) -> None:
    """Delete a segment whose records are all acked (its dead letters, if any, stay beside it)."""
    for path in (segment, _ack_path(segment)):
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def drain_orphans(directory: Path, url: str, delivery: Delivery, *, exclude: Path | None = None,
                  stop: Callable[[], bool] = lambda: False, on_ack: Callable[[int], None] | None = None) -> int:
    """Send and delete the unlocked segments addressed to ``url``, oldest first."""
    sent = 0
    for segment in segments(directory):
        if stop():
            break
        if segment == exclude or read_header(segment).get("url") != url:
            continue
        fd = try_lock(segment)
        if fd is None:
            continue
        try:
            sent += delivery.send(segment, stop=stop, on_ack=on_ack)
            if records_after(segment, read_ack(segment), limit=1)[0]:
                continue  # stopped early
            finish(segment)
        finally:
            os.close(fd)
    return sent


# Failures that say "the server cannot be reached now", as opposed to a server that answered "not now".
UNREACHABLE = (errors.UnavailableError, errors.DeadlineExceededError, errors.CancelledError, OSError)


@dataclass
class ExitOutcome:
    """How an exit wait ended: ``delivered``, or why it gave up (``reason``)."""

    delivered: bool
    reason: str | None = None


class Sender(threading.Thread):
    """The background thread of a journal: sends orphans, then its own segment as it grows.

    It keeps the facts the exit wait decides on: when the server last answered
    (any answer, through the store's ``last_answer_at``, or an acked batch),
    when a send last failed because the server could not be reached, and
    whether a send is under way.
    """

    def __init__(self, writer: SegmentWriter, store_factory: Callable[[], object], directory: Path) -> None:
        super().__init__(name="mlineage-journal-sender", daemon=True)
        self.writer = writer
        self.directory = directory
        self._store_factory = store_factory
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._exiting = threading.Event()
        self._progress = threading.Condition()
        self.acked_records = 0
        self.sent_records = 0
        self.last_error: str | None = None
        self.connected = False
        self.unreachable_at = 0.0  # monotonic time of the last send that could not reach the server
        self.acked_at = 0.0  # monotonic time of the last acked batch
        self.busy = False  # a send is under way
        self.orphans_done = False  # the segments earlier processes left for this server are sent
        self._orphan_time = threading.Event()
        self._delivery: Delivery | None = None

    @property
    def applier(self) -> rec.Applier | None:
        return self._delivery.applier if self._delivery else None

    @property
    def store(self):
        return self._delivery.applier.store if self._delivery else None

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    def hurry(self) -> None:
        """The process is leaving: skip other processes' segments, send this one now, without backoff."""
        self._exiting.set()
        self._wake.set()

    def _leaving(self) -> bool:
        if self._stopping.is_set():
            return True
        return self._exiting.is_set() and not self._orphan_time.is_set()

    def run(self) -> None:
        delay = 0.05
        while not self._stopping.is_set():
            try:
                self.busy = True
                if self._delivery is None:
                    self._delivery = Delivery(self._store_factory())
                if not self.orphans_done and not self._leaving():
                    # Other processes' leftovers go first while the step runs; at its exit only after
                    # its own records, and only for a while (drain_orphans_before_exit).
                    drain_orphans(self.directory, self.writer.url, self._delivery, exclude=self.writer.path,
                                  stop=self._leaving, on_ack=self._acked)
                    self.orphans_done = not self._leaving()
                    with self._progress:
                        self._progress.notify_all()
                sent = self._delivery.send(self.writer.path, sync=self.writer.sync, on_ack=self._acked)
                self.busy = False
                self.sent_records += sent
                self.connected = True
                self.last_error = None
                delay = 0.05
                with self._progress:
                    self._progress.notify_all()
                self._wake.wait(0.2)
                self._wake.clear()
            except Exception as exc:  # noqa: BLE001 - the step must never die of the journal
                self.busy = False
                if self._stopping.is_set():
                    return  # closing: the channel was closed under the send, on purpose
                self.last_error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, UNREACHABLE):
                    self.connected = False
                    self.unreachable_at = time.monotonic()
                elif not isinstance(exc, TRANSIENT):
                    log.exception("journal sender failed; records stay in %s", self.writer.path)
                with self._progress:
                    self._progress.notify_all()
                pause = 1.0 if not isinstance(exc, TRANSIENT) else delay * (0.5 + random.random())
                self._wake.wait(pause)
                self._wake.clear()
                delay = 0.05 if self._exiting.is_set() else min(delay * 2, 2.0)
        self.busy = False

    def drain_orphans_before_exit(self, budget: float) -> bool:
        """At exit, once this process's records are stored: send what earlier processes left, for a while.

        Returns whether they are all sent; stops after ``budget`` seconds, or as
        soon as the server cannot be reached (they wait for the next process).
        """
        started = time.monotonic()
        self._orphan_time.set()
        self._wake.set()
        while not self.orphans_done:
            if time.monotonic() - started >= budget or self.unreachable_at > started or not self.is_alive():
                return False
            with self._progress:
                self._progress.wait(0.02)
        return True

    def _acked(self, _records: int) -> None:
        self.acked_at = time.monotonic()

    def pending(self) -> int:
        return count_records(self.writer.path, read_ack(self.writer.path))

    def wait_sent(self, timeout: float) -> bool:
        """Block until the segment is fully acked (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        target = self.writer.size()
        while read_ack(self.writer.path) < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.is_alive():
                return read_ack(self.writer.path) >= target
            self._wake.set()
            with self._progress:
                self._progress.wait(min(remaining, 0.05))
        return True

    def wait_while_progressing(self, *, stall: float, limit: float | None = None,
                               exiting: bool = True) -> ExitOutcome:
        """Wait until the segment is fully acked, as long as the server is reachable and taking records.

        Gives up at once when a send made during the wait finds the server
        unreachable (refused, unknown host, TLS mismatch, killed, or silent
        past the connect timeout); after ``stall`` seconds without any answer
        from the server, unless a send is under way and the server still
        completes a new connection within half that time (it is alive, just
        busy with a large batch); and after
        ``limit`` seconds in any case (``None``: no limit). ``exiting``: the
        process is leaving (``hurry``); otherwise a wait in the middle of a run.
        """
        started = time.monotonic()
        target = self.writer.size()
        if exiting:
            self.hurry()
        else:
            self._wake.set()
        last_probe = started
        while read_ack(self.writer.path) < target:
            now = time.monotonic()
            if limit is not None and now - started >= limit:
                return ExitOutcome(False, f"still sending after {limit:g} s")
            if not self.is_alive():
                return ExitOutcome(read_ack(self.writer.path) >= target, self.last_error)
            if self.unreachable_at > started:
                return ExitOutcome(False, self.last_error or "the server cannot be reached")
            store = self.store
            answered = max(self.acked_at, getattr(store, "last_answer_at", 0.0) if store is not None else 0.0,
                           started, last_probe)
            if now - answered >= stall and not self.busy:
                return ExitOutcome(False, self.last_error or f"no answer from the server for {stall:g} s")
            if now - answered >= stall / 2 and self.busy:
                # A send is under way and unanswered: is the server alive (busy with a large batch) or
                # frozen? A new connection tells, in the other half of the stall time. A server that has
                # never answered is still being connected to: its connect timeout decides, or the stall.
                probe = getattr(store, "reachable", None)
                if getattr(store, "last_answer_at", None) == 0.0:
                    if now - answered >= stall:
                        return ExitOutcome(False, self.last_error or f"no answer from the server in {stall:g} s")
                elif probe is not None:
                    if not probe(timeout=stall / 2):
                        return ExitOutcome(False, f"no answer from the server for {stall:g} s")
                    last_probe = time.monotonic()
            with self._progress:
                self._progress.wait(0.02)
        return ExitOutcome(True)


def open_store(url: str):
    """A store to send records to: for a gRPC URL, one call per send with a deadline and two quick retries."""
    if url.startswith(("grpc://", "grpcs://")):
        from mlineage.client.grpc_store import GrpcStore
        from mlineage.client.sinks import send_timeout

        return GrpcStore(url, retries=2, timeout=send_timeout())
    from mlineage.connection import connect

    return connect(url)


class FlushReport(NamedTuple):
    """What ``flush`` did with one segment."""

    segment: Path
    sent: int  # records sent by this flush
    error: str | None  # why records were left (None: the segment is delivered and deleted)
    url: str | None = None
    left: int = 0  # records still waiting in the segment
    in_use: bool = False  # a running process holds it (it sends it itself)


def flush(directory: Path, url: str | None = None, *, store_factory: Callable[[str], object] | None = None,
          progress: Callable[[Path, int, int], None] | None = None) -> Iterator[FlushReport]:
    """Send every orphaned segment (of ``url``, or of any URL) now, oldest first; one report per segment.

    ``progress(segment, sent, total)`` is called after each batch. Once a
    server cannot be reached, its other segments are not tried in this flush.
    """
    factory = store_factory or open_store
    deliveries: dict[str, Delivery] = {}
    unreachable: dict[str, str] = {}
    for segment in segments(directory):
        target = read_header(segment).get("url")
        if not target or (url is not None and target != url):
            continue
        fd = try_lock(segment)
        if fd is None:
            yield FlushReport(segment, 0, "in use by a running process", target,
                              count_records(segment, read_ack(segment)), in_use=True)
            continue
        sent = 0
        try:
            if target in unreachable:
                yield FlushReport(segment, 0, f"not tried: {unreachable[target]}", target,
                                  count_records(segment, read_ack(segment)))
                continue
            if target not in deliveries:
                deliveries[target] = Delivery(factory(target))
            total = count_records(segment, read_ack(segment))

            def batch_sent(records: int, segment: Path = segment, total: int = total) -> None:
                nonlocal sent
                sent += records
                if progress is not None:
                    progress(segment, sent, total)

            deliveries[target].send(segment, on_ack=batch_sent)
            finish(segment)
            yield FlushReport(segment, sent, None, target, 0)
        except TRANSIENT as exc:
            reason = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, UNREACHABLE):
                unreachable[target] = f"{target} could not be reached"
            yield FlushReport(segment, sent, reason, target, count_records(segment, read_ack(segment)))
        finally:
            os.close(fd)


# --- moving and dropping segments ------------------------------------------------------------


class SegmentInUseError(errors.FailedPreconditionError):
    """A running process holds the segment."""


def retarget(directory: Path, old_url: str, new_url: str) -> Iterator[tuple[Path, Path | None]]:
    """Address the orphaned segments of ``old_url`` to ``new_url`` (a server that moved).

    Yields (old segment, new segment), or (segment, None) for one a running
    process holds (left as it is). Each segment is rewritten under a new name
    that sorts where the old one did, with its ack offset moved by the header's
    change in length; the new file and its ack exist before the old ones go,
    so a crash in between leaves both, and sending both stores each record once
    (records name their nodes by client-made keys).
    """
    for segment in segments(directory):
        header = read_header(segment)
        if header.get("url") != old_url:
            continue
        fd = try_lock(segment)
        if fd is None:
            yield segment, None
            continue
        try:
            yield segment, _rewrite_header(segment, {**header, "url": new_url, "moved_from": old_url})
        finally:
            os.close(fd)


def _rewrite_header(segment: Path, header: dict) -> Path:
    with open(segment, "rb") as handle:
        old_header = handle.readline()
        body = handle.read()
    new_header = (json.dumps(header) + "\n").encode()
    stem = segment.name[: -len(SEGMENT_SUFFIX)]
    moved = segment.with_name(f"{stem}~{random.getrandbits(32):08x}{SEGMENT_SUFFIX}")
    temporary = moved.with_name(moved.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(new_header + body)
        handle.flush()
        os.fsync(handle.fileno())
    acked = read_ack(segment)
    if acked >= len(old_header):
        write_ack(moved, acked - len(old_header) + len(new_header))
    dead = _dead_path(segment)
    if dead.exists():
        os.replace(dead, _dead_path(moved))
    os.replace(temporary, moved)
    finish(segment)
    return moved


def find_segment(directory: Path, name: str) -> Path:
    """The segment ``name`` names: a path, a file name in ``directory``, or the unique start of one."""
    candidate = Path(name).expanduser()
    if candidate.is_file() and candidate.name.endswith(SEGMENT_SUFFIX):
        return candidate
    matches = [s for s in segments(directory) if s.name == name or s.name.startswith(name)]
    exact = [s for s in matches if s.name == name]
    if exact:
        return exact[0]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise errors.NotFoundError(f"no journal segment {name!r} in {directory}")
    raise errors.InvalidArgumentError(f"{name!r} names {len(matches)} segments in {directory}: give more of the name")


def drop(segment: Path) -> int:
    """Delete a segment, its ack and its dead letters for good; returns the unsent records lost.

    Raises ``SegmentInUseError`` when a running process holds it.
    """
    fd = try_lock(segment)
    if fd is None:
        if not segment.exists():
            raise errors.NotFoundError(f"no journal segment {segment}")
        raise SegmentInUseError(f"{segment.name} is in use by a running process")
    try:
        lost = count_records(segment, read_ack(segment))
        finish(segment)
        try:
            _dead_path(segment).unlink()
        except FileNotFoundError:
            pass
        return lost
    finally:
        os.close(fd)


__all__ = ["Delivery", "ExitOutcome", "FlushReport", "SegmentInUseError", "SegmentWriter", "Sender", "drain_orphans",
           "drop", "find_segment", "flush", "journal_dir", "open_store", "retarget", "status"]
