"""Read scaling on a PostgreSQL streaming read replica (``mlineage serve --read-db URL``).

The store sends its heavy reads (lists and lineage walks) to the replica; by-id
gets, type reads and every write stay on the primary (a by-id get is one indexed
row and the gRPC service caches it; keeping it on the primary means a writer's
``Get*ById`` of what it just wrote never depends on the replica).

Read-your-writes: after each committed write the store records the primary's WAL
position (``pg_current_wal_lsn()``) for the caller who wrote (the authenticated
identity, else the peer address; an unnamed in-process caller is one caller). A
routed read of that caller, within ``window_s`` of its last write, first waits up to
``wait_s`` for the replica's ``pg_last_wal_replay_lsn()`` to reach that position; if
it does, the read runs on the replica (and the caller is caught up), otherwise it
runs on the primary. A read that names no caller waits for the latest write of anyone.
A replica that does not answer is skipped: reads fall back to the primary. Until the
replica has replayed the primary's WAL as of the store's opening (the schema the
server runs on, which a migration may just have changed), every read runs on the primary.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, String, bindparam, cast, func, select
from sqlalchemy.types import UserDefinedType

from mlineage.errors import InvalidArgumentError
from mlineage.metadata import executor, history
from mlineage.metadata.engine import make_engine

log = logging.getLogger(__name__)

#: Defaults: how long after a write its writer's reads are checked, and how long one read waits.
DEFAULT_WINDOW_S = 5.0
DEFAULT_WAIT_S = 0.5
_POLL_S = 0.002
class _PgLsn(UserDefinedType):
    """PostgreSQL's ``pg_lsn`` (a WAL position), for comparing positions as positions, not as text."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "pg_lsn"


def _caught_up(_dialect: str) -> Select:
    return select(func.pg_last_wal_replay_lsn() >= cast(bindparam("lsn", type_=String), _PgLsn()))


def _primary_lsn(_dialect: str) -> Select:
    return select(cast(func.pg_current_wal_lsn(), String))
_ANYONE = "\0anyone"  # the key of the latest write of any caller


@dataclass
class _Pending:
    lsn: str | None  # None: the write's position is unknown (read the primary until the window ends)
    at: float


#: Names the authenticated identity of the current request (None without one). The store sits below
#: auth, so the server installs auth's ``identity.current_actor`` here (identify_callers_by).
def _no_identity() -> str | None:
    return None


_identity: Callable[[], str | None] = _no_identity


def identify_callers_by(current_actor: Callable[[], str | None]) -> None:
    """Key read-your-writes by ``current_actor()`` (auth's identity) when it names one."""
    global _identity
    _identity = current_actor


def caller_key() -> str | None:
    """Who the current request is: the authenticated identity's name, else the peer; None in-process."""
    caller = history.current_caller()
    return _identity() or caller.actor or caller.peer


def _primary_position(primary: Engine) -> str | None:
    """The primary's WAL position now (``pg_current_wal_lsn()``); None when it does not answer."""
    try:
        with primary.connect() as connection:
            [(lsn,)] = executor.fetch(connection, ("replica", "primary_lsn"), _primary_lsn, {})
        return lsn
    except Exception:  # noqa: BLE001 - the callers fall back to the primary
        return None


class ReadReplica:
    """Routes reads to a streaming replica, keeping each writer's reads consistent with its writes."""

    def __init__(
        self, url: str | Engine, *, window_s: float = DEFAULT_WINDOW_S, wait_s: float = DEFAULT_WAIT_S
    ) -> None:
        engine = make_engine(url) if isinstance(url, str) else url
        if engine.dialect.name != "postgresql":
            raise InvalidArgumentError("the read replica must be a PostgreSQL URL (a streaming replica of the primary)")
        self._owned = isinstance(url, str)
        self._raw_engine = engine
        self.engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.window_s = window_s
        self.wait_s = wait_s
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self.replica_reads = 0
        self.primary_reads = 0
        self.caught_up_waits = 0  # routed reads that first waited for their caller's write to replay
        # The primary's WAL position when the store opened (hold_until_replayed): until the replica has
        # replayed that far (the schema this server runs on, a migration just made), every routed read
        # runs on the primary; once it has, never again.
        self._barrier: str | None = None

    def hold_until_replayed(self, primary: Engine) -> None:
        """Route every read to the primary until the replica has replayed the primary's WAL as of now:
        a standby behind the schema (a migration it has not replayed yet) must not answer anyone."""
        self._barrier = _primary_position(primary)  # None: the primary does not answer; its reads will say so

    def replayed_open(self) -> bool:
        """Whether the replica has replayed the primary's WAL as of the store's opening (waits up to
        ``wait_s``); True once it has, and when there is nothing to wait for."""
        barrier = self._barrier
        if barrier is None:
            return True
        if self._wait_for(barrier):
            self._barrier = None
            return True
        return False

    def note_write(self, primary: Engine) -> None:
        """Record the primary's WAL position right after a committed write of the current caller."""
        # None when the primary does not answer: the write is committed; its reads go to the primary instead.
        pending = _Pending(_primary_position(primary), time.monotonic())
        with self._lock:
            self._pending[_ANYONE] = pending
            key = caller_key()
            if key is not None:
                self._pending[key] = pending
            if len(self._pending) > 10_000:  # forget callers whose window is over
                self._expire(pending.at)

    def _expire(self, now: float) -> None:
        for key in [k for k, p in self._pending.items() if now - p.at > self.window_s]:
            del self._pending[key]

    def choose(self, primary: Engine) -> Engine:
        """The engine a routed read of the current caller runs on: the replica, or ``primary``."""
        if self._barrier is not None and not self.replayed_open():
            self.primary_reads += 1
            return primary
        key = caller_key() or _ANYONE
        with self._lock:
            pending = self._pending.get(key)
        now = time.monotonic()
        if pending is not None and now - pending.at > self.window_s:
            self._forget(key, pending)
            pending = None
        if pending is not None and pending.lsn is not None:
            self.caught_up_waits += 1
        if pending is None or (pending.lsn is not None and self._wait_for(pending.lsn)):
            if pending is not None:
                self._forget(key, pending)
            self.replica_reads += 1
            return self.engine
        self.primary_reads += 1
        return primary

    def _forget(self, key: str, pending: _Pending) -> None:
        with self._lock:
            if self._pending.get(key) is pending:
                del self._pending[key]

    def _wait_for(self, lsn: str) -> bool:
        """Whether the replica replays past ``lsn`` within ``wait_s``; False when it cannot tell."""
        deadline = time.monotonic() + self.wait_s
        try:
            with self.engine.connect() as connection:
                while True:
                    [(caught_up,)] = executor.fetch(connection, ("replica", "caught_up"), _caught_up, {"lsn": lsn})
                    if caught_up:
                        return True
                    if time.monotonic() >= deadline:
                        return False
                    time.sleep(_POLL_S)
        except Exception as exc:  # noqa: BLE001 - a replica that does not answer: the primary serves
            log.warning("read replica unavailable, reading the primary: %s", str(exc).splitlines()[0])
            return False

    def close(self) -> None:
        if self._owned:
            self._raw_engine.dispose()
