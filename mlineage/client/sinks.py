"""Where a step's records go: straight into an embedded store, or through the journal to a server.

``DirectSink`` writes records in the caller's thread (batching metric points),
for ``sqlite://`` and ``postgresql://`` stores. ``JournalSink`` appends each
record to the journal and lets a background thread send it, for ``grpc://``
stores: the caller never waits for the network. One JournalSink serves every
run of a process that logs to the same server.

At the end of a run (and at exit) the sink waits for the server only while
the server is reachable and taking records; a server that cannot be reached
(refused, unknown host, TLS mismatch, killed, silent) lets the process go
within about a second, and the records wait in the journal. The knobs, all
environment variables:

* ``MLINEAGE_JOURNAL_EXIT_TIMEOUT``: the most seconds that wait may last even
  while the server is taking records (default: no limit).
* ``MLINEAGE_JOURNAL_STALL_TIMEOUT``: seconds without any answer from the
  server after which the wait gives up (default 1).
* ``MLINEAGE_SEND_TIMEOUT``: the deadline of each send (default 15 s).
* ``MLINEAGE_JOURNAL_DIR``: where the journal lives.

Segments that earlier processes left for the same server are sent while the
step runs; at exit, after the step's own records, for at most 2 s more.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time

from mlineage import errors
from mlineage.client import journal as jn
from mlineage.client import records as rec
from mlineage.metadata.kinds import NodeKind

log = logging.getLogger("mlineage.client")

METRIC_BATCH = 1000
METRIC_LINGER_S = 1.0


DEFAULT_STALL_TIMEOUT_S = 1.0
# At exit, after its own records: how long a process goes on sending what earlier processes left.
ORPHANS_AT_EXIT_S = 2.0
DEFAULT_SEND_TIMEOUT_S = 15.0


def _seconds(name: str, default: float | None) -> float | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %s", name, text, default)
        return default
    return max(value, 0.0)


def exit_timeout() -> float | None:
    """``MLINEAGE_JOURNAL_EXIT_TIMEOUT``: the cap on the exit wait while the server takes records (None: none)."""
    return _seconds("MLINEAGE_JOURNAL_EXIT_TIMEOUT", None)


def stall_timeout() -> float:
    """``MLINEAGE_JOURNAL_STALL_TIMEOUT``: seconds with no answer from the server before the exit wait gives up."""
    return _seconds("MLINEAGE_JOURNAL_STALL_TIMEOUT", DEFAULT_STALL_TIMEOUT_S) or 0.0


def send_timeout() -> float:
    """``MLINEAGE_SEND_TIMEOUT``: the deadline of each RPC the journal's sender makes."""
    return _seconds("MLINEAGE_SEND_TIMEOUT", DEFAULT_SEND_TIMEOUT_S) or DEFAULT_SEND_TIMEOUT_S


class DirectSink:
    """Applies records to ``store`` at once (metric points: every 1,000 points or second, and on flush)."""

    def __init__(self, store, *, owns_store: bool = False) -> None:
        self.store = store
        self.applier = rec.Applier(store)
        self._owns_store = owns_store
        self._metrics: list[rec.Record] = []
        self._first_metric = 0.0
        self._lock = threading.RLock()
        self.references = 0

    def emit(self, record: rec.Record) -> None:
        with self._lock:
            if isinstance(record, rec.MetricRecord):
                if not self._metrics:
                    self._first_metric = time.monotonic()
                self._metrics.append(record)
                if len(self._metrics) >= METRIC_BATCH or time.monotonic() - self._first_metric > METRIC_LINGER_S:
                    self._flush_metrics()
                return
            self._flush_metrics()
            self.applier.apply([record])

    def _flush_metrics(self) -> None:
        if self._metrics:
            batch, self._metrics = self._metrics, []
            self.applier.apply(batch)

    def flush(self, timeout: float | None = None) -> bool:
        with self._lock:
            self._flush_metrics()
        return True

    def resolve(self, kind: NodeKind, key: str, timeout: float | None = None) -> int | None:
        self.flush()
        return self.applier.lookup(kind, key)

    def known_id(self, kind: NodeKind, key: str) -> int | None:
        """The server id of a node this sink stored, if it did (no query)."""
        return self.applier.ids.get((kind, key))

    def close(self, timeout: float | None = None) -> None:
        self.flush()
        if self._owns_store:
            self.store.close()


class JournalSink:
    """Appends records to this process's journal segment; a Sender thread delivers them."""

    def __init__(self, url: str, directory: str | os.PathLike | None = None) -> None:
        from mlineage.client.grpc_store import GrpcStore

        self.url = url
        self.directory = jn.journal_dir(directory)
        self.writer = jn.SegmentWriter(self.directory, url)
        remote = url.startswith(("grpc://", "grpcs://"))

        def sender_store():
            if remote:
                # No retries inside: the sender backs off itself and keeps every record on disk meanwhile.
                return GrpcStore(url, retries=0, timeout=send_timeout())
            from mlineage.connection import connect

            return connect(url)

        self.sender = jn.Sender(self.writer, sender_store, self.directory)
        self.sender.start()
        self._store = None
        self._store_lock = threading.Lock()
        self.references = 0
        self.closed = False
        self.outcome: jn.ExitOutcome | None = None

    @property
    def store(self):
        """A store for reads (cache look-ups, ids), separate from the sender's."""
        with self._store_lock:
            if self._store is None:
                from mlineage.connection import connect

                if self.url.startswith(("grpc://", "grpcs://")):
                    from mlineage.client.grpc_store import GrpcStore

                    self._store = GrpcStore(self.url, retries=1, timeout=5.0)
                else:
                    self._store = connect(self.url)
            return self._store

    def emit(self, record: rec.Record) -> None:
        self.writer.append(rec.encode(record))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the server holds every record so far (True), or give up (False).

        With ``timeout``, wait up to that many seconds whatever the server does.
        Without, wait as long as the server is reachable and taking records
        (capped by ``MLINEAGE_JOURNAL_EXIT_TIMEOUT``), and give up within about
        ``MLINEAGE_JOURNAL_STALL_TIMEOUT`` seconds when it is not.
        """
        return self._wait(timeout, exiting=False)

    def _wait(self, timeout: float | None, *, exiting: bool) -> bool:
        if self.closed:
            return self.writer.path.exists() is False
        if timeout is not None:
            return self.sender.wait_sent(timeout)
        self.outcome = self.sender.wait_while_progressing(stall=stall_timeout(), limit=exit_timeout(),
                                                          exiting=exiting)
        return self.outcome.delivered

    def resolve(self, kind: NodeKind, key: str, timeout: float | None = None) -> int | None:
        if not self.closed and not self.flush(timeout if timeout is not None else 10.0):
            return None
        return self.known_id(kind, key) or rec.Applier(self.store).lookup(kind, key)

    def known_id(self, kind: NodeKind, key: str) -> int | None:
        """The server id of a node this process's sender stored, if it did (no network)."""
        applier = self.sender.applier
        return applier.ids.get((kind, key)) if applier is not None else None

    def pending(self) -> int:
        return self.sender.pending()

    def close(self, timeout: float | None = None) -> None:
        """Wait as ``flush`` does, then release the segment; unsent records stay in the journal (and we say so)."""
        if self.closed:
            return
        self.outcome = None
        done = self._wait(timeout, exiting=True)
        if done and timeout is None and not self.sender.orphans_done:
            self.sender.drain_orphans_before_exit(ORPHANS_AT_EXIT_S)
        reason = (self.outcome.reason if self.outcome is not None else None) or self.sender.last_error
        self.closed = True
        self.sender.stop()
        sender_store = self.sender.store
        if sender_store is not None and hasattr(sender_store, "close"):
            try:
                sender_store.close()  # cancels a send still waiting on a silent server
            except Exception:  # noqa: BLE001 - leaving anyway
                pass
        self.sender.join(timeout=2.0)
        pending = self.sender.pending()
        self.writer.close()
        if done and pending == 0:
            jn.finish(self.writer.path)
        else:
            print(
                f"mlineage: the server at {self.url} has not taken {pending} record(s) "
                f"({reason or 'still sending'}); they wait in the journal {self.directory} "
                f"(segment {self.writer.path.name}) and will be sent by the next process that logs to "
                f"{self.url}, or by `mlineage journal flush --dir {self.directory}`",
                file=sys.stderr,
            )
        with self._store_lock:
            if self._store is not None:
                self._store.close()
                self._store = None


_SINKS: dict[tuple[str, str], JournalSink] = {}
_SINKS_LOCK = threading.Lock()


def journal_sink(url: str, directory: str | os.PathLike | None = None) -> JournalSink:
    """This process's shared JournalSink for ``url`` (made on first use)."""
    key = (url, str(jn.journal_dir(directory)))
    with _SINKS_LOCK:
        sink = _SINKS.get(key)
        if sink is None or sink.closed:
            sink = _SINKS[key] = JournalSink(url, directory)
        sink.references += 1
        return sink


def release(sink, timeout: float | None = None) -> None:
    """Drop one reference; the last one flushes and closes the sink's journal segment."""
    if not isinstance(sink, JournalSink):
        sink.close(timeout)
        return
    with _SINKS_LOCK:
        sink.references -= 1
        last = sink.references <= 0
        if last:
            _SINKS.pop((sink.url, str(sink.directory)), None)
    if last:
        sink.close(timeout)
    else:
        sink.flush(timeout)


@atexit.register
def _close_all() -> None:
    with _SINKS_LOCK:
        sinks = list(_SINKS.values())
        _SINKS.clear()
    for sink in sinks:
        try:
            sink.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            log.exception("closing the journal failed; its records stay on disk")


def open_sink(url: str | None = None, *, store=None, journal: bool | None = None,
              journal_dir: str | os.PathLike | None = None):
    """The sink for a run: by default the journal for gRPC URLs, direct writes for databases."""
    if store is not None and not isinstance(store, str):
        target = getattr(store, "url", None)
        if journal and target:
            return journal_sink(target, journal_dir)
        if journal is None and target and str(target).startswith(("grpc://", "grpcs://")):
            return journal_sink(target, journal_dir)
        return DirectSink(store)
    url = store or url or os.environ.get("MLINEAGE_URL") or os.environ.get("MLINEAGE_DB")
    if not url:
        raise errors.InvalidArgumentError("no store: pass url= or store=, or set MLINEAGE_URL")
    remote = url.startswith(("grpc://", "grpcs://"))
    if journal or (journal is None and remote):
        return journal_sink(url, journal_dir)
    from mlineage.connection import connect

    return DirectSink(connect(url), owns_store=True)


__all__ = ["DirectSink", "JournalSink", "exit_timeout", "journal_sink", "open_sink", "release", "send_timeout",
           "stall_timeout"]
