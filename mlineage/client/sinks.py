"""Where a step's records go: straight into an embedded store, or through the journal to a server.

``DirectSink`` writes records in the caller's thread (batching metric points),
for ``sqlite://`` and ``postgresql://`` stores. ``JournalSink`` appends each
record to the journal and lets a background thread send it, for ``grpc://``
stores: the caller never waits for the network. One JournalSink serves every
run of a process that logs to the same server.
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

log = logging.getLogger("mlineage.client")

METRIC_BATCH = 1000
METRIC_LINGER_S = 1.0


def _exit_timeout() -> float:
    return float(os.environ.get("MLINEAGE_JOURNAL_EXIT_TIMEOUT", "30"))


class DirectSink:
    """Applies records to ``store`` at once (metric points: every 1,000 points or second, and on flush)."""

    def __init__(self, store, *, owns_store: bool = False) -> None:
        self.store = store
        self.applier = rec.Applier(store)
        self._owns_store = owns_store
        self._metrics: list[list] = []
        self._first_metric = 0.0
        self._lock = threading.RLock()
        self.references = 0

    def emit(self, record: list) -> None:
        with self._lock:
            if record[0] == rec.METRIC:
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

    def resolve(self, kind: str, key: str, timeout: float | None = None) -> int | None:
        self.flush()
        return self.applier.lookup(kind, key)

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
                return GrpcStore(url, retries=0, timeout=float(os.environ.get("MLINEAGE_SEND_TIMEOUT", "15")))
            from mlineage import connect

            return connect(url)

        self.sender = jn.Sender(self.writer, sender_store, self.directory)
        self.sender.start()
        self._store = None
        self._store_lock = threading.Lock()
        self.references = 0
        self.closed = False

    @property
    def store(self):
        """A store for reads (cache look-ups, ids), separate from the sender's."""
        with self._store_lock:
            if self._store is None:
                from mlineage import connect

                if self.url.startswith(("grpc://", "grpcs://")):
                    from mlineage.client.grpc_store import GrpcStore

                    self._store = GrpcStore(self.url, retries=1, timeout=5.0)
                else:
                    self._store = connect(self.url)
            return self._store

    def emit(self, record: list) -> None:
        self.writer.append(rec.encode(record))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the server holds every record so far (True), or ``timeout`` seconds pass (False)."""
        if self.closed:
            return self.writer.path.exists() is False
        return self.sender.wait_sent(_exit_timeout() if timeout is None else timeout)

    def resolve(self, kind: str, key: str, timeout: float | None = None) -> int | None:
        if not self.closed and not self.flush(timeout if timeout is not None else 10.0):
            return None
        applier = self.sender.applier
        if applier is not None and (kind, key) in applier.ids:
            return applier.ids[(kind, key)]
        return rec.Applier(self.store).lookup(kind, key)

    def pending(self) -> int:
        return self.sender.pending()

    def close(self, timeout: float | None = None) -> None:
        if self.closed:
            return
        if timeout is None and self.sender.last_error and not self.sender.connected:
            timeout = min(_exit_timeout(), 2.0)  # the server is away: do not hold the process hostage
        done = self.flush(timeout)
        self.closed = True
        self.sender.stop()
        self.sender.join(timeout=30)
        if done and self.sender.pending() == 0:
            self.writer.close()
            jn.finish(self.writer.path)
        else:
            self.writer.close()
            print(
                f"mlineage: the server at {self.url} has not taken {self.sender.pending()} record(s) yet "
                f"({self.sender.last_error or 'still sending'}); they are kept in {self.writer.path} and will "
                "be sent by the next process that logs there, or by `mlineage journal flush`",
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
            sink.close(_exit_timeout())
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
    from mlineage import connect

    return DirectSink(connect(url), owns_store=True)


__all__ = ["DirectSink", "JournalSink", "journal_sink", "open_sink", "release"]
