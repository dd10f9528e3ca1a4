"""The HTTP API on a real socket for tests: uvicorn in a thread, serving create_app(store) on a free port.

    with serve_http(store) as base_url:
        httpx.get(f"{base_url}/healthz")

Not a test module: the REST, OpenLineage and schemathesis tests import it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from mlineage.api.rest.app import HTTP_SERVER_OPTIONS, create_app
from mlineage.metadata.store import Store

STARTUP_TIMEOUT_S = 30.0


@contextmanager
def serve_http(store: Store, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve the REST API of ``store`` until the block ends; yields the base URL."""
    config = uvicorn.Config(
        create_app(store), host=host, port=0, log_level="warning", lifespan="off", **HTTP_SERVER_OPTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="mlineage-test-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the test HTTP server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def http_client(store: Store) -> Iterator[httpx.Client]:
    """An httpx client whose base URL is the served API of ``store``."""
    with serve_http(store) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        yield client
