"""Sign-in in the browser when `mlineage serve --auth tokens`: the page asks for a token, a bad one is a
readable refusal, an expired one kept in the tab says so and is dropped, a good one shows its namespace's
runs and never another namespace's."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from grpc_server import mlineage_server
from test_pages import clean
from ui_browser import Watched, _require_browser


def _token(db_url: str, *args: str) -> str:
    script = Path(sys.executable).with_name("mlineage")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "mlineage.cli"]
    done = subprocess.run([*command, "token", "create", "--db", db_url, *args], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    _require_browser()
    root = tmp_path_factory.mktemp("ui-auth")
    with mlineage_server(root, http=True, extra_args=["--auth", "tokens"]) as server:
        tokens = {
            "a": _token(server.db_url, "--role", "writer", "--namespace", "team-a"),
            "b": _token(server.db_url, "--role", "reader", "--namespace", "team-b"),
            "db_url": server.db_url,
        }
        base = f"http://{server.host}:{server.http_port}"
        with httpx.Client(base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {tokens['a']}"}) as api:
            assert api.post("/context_types", json={"name": "pipeline_run"}).status_code == 200
            made = api.post("/contexts", json={"type": "pipeline_run", "name": "team-a-run"})
            assert made.status_code == 201, made.text
        yield base, tokens


def _signed_in_page(browser, base: str):
    context = browser.new_context()
    page = context.new_page()
    watched = Watched(page, base)
    page.on("console", lambda m: m.type == "error" and watched.errors.append(m.text))
    return context, watched


def _sign_in(watched: Watched, token: str) -> None:
    watched.page.fill("#sign-in input[name=token]", token)
    watched.page.click("#sign-in button")


def test_sign_in_asks_for_a_token_refuses_a_bad_one_and_shows_the_runs(auth_server, browser):
    base, tokens = auth_server
    context, watched = _signed_in_page(browser, base)
    try:
        watched.open("/runs", ready="#sign-in")
        assert "UNAUTHENTICATED" in watched.text("[role=alert]")
        _sign_in(watched, "mlt_000000000000_not-a-token")
        watched.page.wait_for_function("() => document.body.dataset.ready && document.querySelector('#sign-in')")
        assert "UNAUTHENTICATED" in watched.text("[role=alert]") and not watched.page.query_selector("#runs table")
        _sign_in(watched, tokens["a"])
        watched.page.wait_for_selector("#runs table")
        assert "team-a-run" in watched.text("#runs")
        watched.shot("signed-in")
        watched.page.click("#sign-out")
        watched.page.wait_for_selector("#sign-in")
        clean(watched, allow_http_errors=True)
    finally:
        context.close()


def test_a_kept_token_that_expired_is_a_readable_message_and_is_dropped(auth_server, browser):
    base, tokens = auth_server
    db_url = tokens["db_url"]
    expiring = _token(db_url, "--role", "reader", "--namespace", "team-a", "--expires", "1s")
    made = time.monotonic()
    context, watched = _signed_in_page(browser, base)
    try:
        watched.open("/types", ready="#sign-in")  # the page's origin, to keep the token in its tab storage
        time.sleep(max(0.0, 1.2 - (time.monotonic() - made)))
        watched.page.evaluate("(t) => sessionStorage.setItem('mlineage.token', t)", expiring)
        watched.page.evaluate("location.hash = '#/runs'")
        watched.page.wait_for_selector("#sign-in-reason")
        assert watched.text("#sign-in-reason").startswith("Your token has expired.")
        assert watched.text("[role=alert]") == "UNAUTHENTICATED: authentication failed: expired token"
        assert not watched.page.query_selector("#runs table")
        assert watched.page.evaluate("sessionStorage.getItem('mlineage.token')") is None
        watched.shot("token-expired")
        _sign_in(watched, tokens["a"])
        watched.page.wait_for_selector("#runs table")
        assert "team-a-run" in watched.text("#runs")
        clean(watched, allow_http_errors=True)
    finally:
        context.close()


def test_a_token_of_another_namespace_sees_none_of_its_runs(auth_server, browser):
    base, tokens = auth_server
    context, watched = _signed_in_page(browser, base)
    try:
        watched.open("/runs", ready="#sign-in")
        _sign_in(watched, tokens["b"])
        watched.page.wait_for_function("() => document.body.dataset.ready === 'runs' && !document.querySelector('#sign-in')")
        assert "team-a-run" not in watched.text()
    finally:
        context.close()
