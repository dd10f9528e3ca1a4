"""An authenticated caller (name, namespace, role) and the one the current request runs as."""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Iterator
from dataclasses import dataclass


class Role(enum.IntEnum):
    """What a caller may do; each role may do everything the ones below it may."""

    READER = 1  # reads only
    WRITER = 2  # reads; writes nodes, events, links, metrics, OpenLineage events
    ADMIN = 3  # plus types' destructive changes, deletion and purge, tokens, namespaces

    @classmethod
    def parse(cls, text: str) -> Role:
        """``reader``/``writer``/``admin`` (any case); ValueError naming the choices otherwise."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {text!r}: one of reader, writer, admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Identity:
    """Who a request runs as: ``name`` is what the history records (``token:<id>``, ``cert:<subject>``)."""

    name: str
    namespace: str
    role: Role

    def may(self, needed: Role) -> bool:
        return self.role >= needed


_CURRENT: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("mlineage_identity", default=None)


def current() -> Identity | None:
    """The identity of the request being served (None: no authentication configured, or in-process)."""
    return _CURRENT.get()


def current_actor() -> str | None:
    """The name the history records for the current request's writes, or None."""
    found = _CURRENT.get()
    return found.name if found is not None else None


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[Identity | None]:
    """Run the block as ``identity``."""
    token = _CURRENT.set(identity)
    try:
        yield identity
    finally:
        _CURRENT.reset(token)
