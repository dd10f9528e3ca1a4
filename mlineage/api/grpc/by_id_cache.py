"""Serialized nodes and types by id for the gRPC gets, on SQLite, valid exactly while the database is unchanged.

A get by id through ``mlineage serve`` used to cost about twice the embedded
store's own time for it: the same reads, run in a server thread between
network calls, find the CPU caches cold. MLMD's client asks for the same
nodes again and again (every lineage answer is followed by gets of its nodes
and their types), so the service keeps the serialized messages it answered
and sends them again while nothing changed.

"Nothing changed" is the store's change token (``Store.change_token()``, in the
access tier: ``mlineage.metadata.database``). On SQLite it is ``PRAGMA data_version``, read on a connection of
our own that never writes: its value moves whenever any other connection, of
this process or another, commits to the database. Every get reads it first
and drops the whole cache when it moved, so a get never answers anything a
committed write has changed; entries read while a write was committing are
kept only if the version they were read under is still current.

On PostgreSQL (several replicas may share the database) the version is the
server's current snapshot, ``pg_current_snapshot()``: the transactions it sees
as committed (xmin, xmax and the ones in progress). Any write, from any
replica or any other client, is assigned a transaction id and so changes
every later snapshot; two equal snapshots see the same data. A get then costs
one round trip (the snapshot) instead of reading and building its messages;
a database that is written to all the time only misses, one round trip more.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from mlineage.metadata import namespace_scope
from mlineage.metadata.database import ChangeToken, PostgresSnapshot

if TYPE_CHECKING:
    from mlineage.metadata.store import Store

#: Entries kept (nodes and types together), least recently used dropped first.
DEFAULT_MAX_ENTRIES = 50_000


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: Varints of 0 .. 2**14 - 1 (one or two bytes): the lengths of almost every node and type message.
_SMALL_VARINTS = tuple(_varint(value) for value in range(1 << 14))


def repeated_field(field_number: int, items: Iterable[bytes]) -> bytes:
    """The wire form of a repeated message field holding the given serialized messages."""
    tag = _varint(field_number << 3 | 2)
    small, limit = _SMALL_VARINTS, len(_SMALL_VARINTS)
    parts: list[bytes] = []
    for item in items:
        size = len(item)
        parts += (tag, small[size] if size < limit else _varint(size), item)
    return b"".join(parts)


def _scoped(what: str) -> str:
    """Entries are kept per caller namespace (metadata/namespace_scope.py): one never answers another's."""
    namespace = namespace_scope.current()
    return what if namespace is None else f"{namespace}\x00{what}"


class ByIdCache:
    """Serialized messages by (what, id), for one SQLite or PostgreSQL database; see the module notes."""

    def __init__(self, token: ChangeToken, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._token = token  # the database's change token; the cache closes it
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, int], Any] = OrderedDict()
        self._max = max_entries
        self._version = self._data_version()

    @classmethod
    def for_store(cls, store: Store, max_entries: int = DEFAULT_MAX_ENTRIES) -> ByIdCache | None:
        """A cache for a store with a change token (a SQLite file, PostgreSQL); None for any other."""
        token = store.change_token()
        return cls(token, max_entries) if token is not None else None

    def _data_version(self) -> Any:
        return self._token.read()

    def current(self) -> Any:
        """The database's version now; the cache is emptied if it moved."""
        version = self._data_version()
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._entries.clear()
                    self._version = version
        return version

    def get(
        self,
        what: str,
        ids: Sequence[int],
        read: Callable[[list[int]], Iterable[tuple[int, Any]]],
        version: Any = None,
    ) -> dict[int, Any]:
        """Entries of ``ids`` (those that exist); ``read`` gets the missing ones as (id, entry).

        An entry is what the caller keeps for an id (here: a message's wire form and its type id).
        ``version``: what ``current()`` answered a moment ago for the same request, if it asked."""
        what = _scoped(what)
        if version is None:
            version = self.current()
        found: dict[int, Any] = {}
        missing: list[int] = []
        with self._lock:
            entries = self._entries
            for node_id in ids:
                data = entries.get((what, node_id))
                if data is None:
                    missing.append(node_id)
                else:
                    entries.move_to_end((what, node_id))
                    found[node_id] = data
        if missing:
            fresh = dict(read(missing))
            found.update(fresh)
            with self._lock:
                if version == self._version:  # not read across a commit someone else has seen
                    for node_id, data in fresh.items():
                        self._entries[(what, node_id)] = data
                    while len(self._entries) > self._max:
                        self._entries.popitem(last=False)
        return found

    def last_seen(self) -> Any:
        """The version the last ``current()`` answered (no read: the database may have moved since)."""
        return self._version

    def peek(self, what: str, key: int, version: Any) -> Any:
        """The entry kept for (what, key) if the database is still at ``version`` (else None)."""
        what = _scoped(what)
        with self._lock:
            data = self._entries.get((what, key)) if version == self._version else None
            if data is not None:
                self._entries.move_to_end((what, key))
            return data

    def keep(self, what: str, key: int, data: Any, version: Any) -> None:
        """Keep ``data`` for (what, key), read at ``version``, unless the database has moved since."""
        what = _scoped(what)
        with self._lock:
            if version == self._version:
                self._entries[(what, key)] = data
                while len(self._entries) > self._max:
                    self._entries.popitem(last=False)

    def close(self) -> None:
        self._token.close()


#: PostgreSQL's change token (kept under this name for the tests that count its reads).
_SnapshotReader = PostgresSnapshot
