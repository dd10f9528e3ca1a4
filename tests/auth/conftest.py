"""Shared fixtures of the authentication tests: a database with tokens of each role, and a server on it."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from grpc_server import RunningServer, mlineage_server

from mlineage.auth.identity import Role
from mlineage.auth.tokens import create_token
from mlineage.metadata.store import Store

_ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _root_conftest():
    spec = importlib.util.spec_from_file_location("mlineage_tests_root_conftest", _ROOT_CONFTEST)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[spec.name] = module
    return module


def postgres_database(prefix: str) -> str:
    """tests/conftest.py's new PostgreSQL database (skipped or failed as there); this conftest shadows its name."""
    return _root_conftest().postgres_database(prefix)


def __getattr__(name: str):
    # Test files collected after this directory import tests/conftest.py's names (BACKENDS, POSTGRES_URL, …)
    # as ``from conftest import …``, which then finds this module: hand them the root conftest's.
    if name.startswith("__"):
        raise AttributeError(name)
    return getattr(_root_conftest(), name)


@dataclass
class Tokens:
    reader: str
    writer: str
    admin: str
    other_writer: str  # a writer of namespace team-b


def make_tokens(db_url: str) -> Tokens:
    store = Store(db_url)
    try:
        def made(role: Role, namespace: str = "default", name: str | None = None) -> str:
            return create_token(store, namespace=namespace, role=role, name=name)[0]

        return Tokens(made(Role.READER, name="dash"), made(Role.WRITER, name="pipeline"), made(Role.ADMIN),
                      made(Role.WRITER, "team-b"))  # fmt: skip
    finally:
        store.close()


@dataclass
class AuthServer:
    server: RunningServer
    tokens: Tokens
    db_url: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.http_port}"


@contextmanager
def serving_with_tokens(db_url: str) -> Iterator[AuthServer]:
    """`mlineage serve --auth tokens` (gRPC and HTTP) on ``db_url`` with four tokens."""
    tokens = make_tokens(db_url)
    with mlineage_server(db_url, host="127.0.0.1", http=True, extra_args=["--auth", "tokens"]) as server:
        yield AuthServer(server, tokens, db_url)


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory) -> Iterator[AuthServer]:
    """`mlineage serve --auth tokens` (gRPC and HTTP) on a SQLite file with four tokens."""
    directory = tmp_path_factory.mktemp("auth")
    with serving_with_tokens(f"sqlite:///{directory / 'mlineage.db'}") as served:
        yield served
