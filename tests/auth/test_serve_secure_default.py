"""Secure by default: with no authentication `mlineage serve` binds loopback and says so; another address
needs --auth tokens or an explicit --insecure-no-auth (which warns)."""

from __future__ import annotations

import subprocess
import sys

from grpc_server import READY_LINE, mlineage_server

from mlineage.cli import main


def _serve_args(tmp_path, *extra: str) -> list[str]:
    return ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--create", "--grpc-port", "0", "--http-port", "0",
            *extra]  # fmt: skip


def test_the_default_bind_is_loopback_and_said(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "mlineage.cli", *_serve_args(tmp_path)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if READY_LINE.search(line):
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = "".join(lines)
    assert READY_LINE.search(output).group("host") == "127.0.0.1", output
    assert "no authentication configured: serving loopback (127.0.0.1) only" in output


def test_another_address_without_auth_is_refused(tmp_path, capsys):
    assert main(_serve_args(tmp_path, "--host", "0.0.0.0")) == 2
    err = capsys.readouterr().err
    assert "refusing to serve 0.0.0.0 with no authentication" in err and "--auth tokens" in err
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_insecure_no_auth_serves_with_a_warning(tmp_path):
    with mlineage_server(tmp_path, host="0.0.0.0", extra_args=["--insecure-no-auth"]) as server:
        assert server.host == "0.0.0.0"
    output = server.output()
    assert "warning: serving 0.0.0.0 with NO authentication" in output


def test_auth_tokens_may_bind_any_address(tmp_path):
    with mlineage_server(tmp_path, host="0.0.0.0", extra_args=["--auth", "tokens"]) as server:
        assert server.host == "0.0.0.0"
    assert "authentication: bearer tokens" in server.output()
    assert "warning" not in server.output()


def test_contradictory_flags_are_refused(tmp_path, capsys):
    assert main(_serve_args(tmp_path, "--auth", "tokens", "--insecure-no-auth")) == 2
    assert "contradicts" in capsys.readouterr().err
    assert main(_serve_args(tmp_path, "--rate-limit", "5")) == 2
    assert "per identity" in capsys.readouterr().err
