"""The image's entrypoint works: a venv laid out as the Dockerfile lays it out, run as the image runs it.

There is no container engine here, so the test does what the Dockerfile does,
read from the Dockerfile itself: the build stage's install command
(deploy/image/install.sh into /opt/mlineage, from a build context of the files
the Dockerfile copies), the final stage's COPY of the health check, its ENV, its
WORKDIR, and then ENTRYPOINT + CMD exactly, and the HEALTHCHECK's command. The
image's root is a temporary directory: /opt/mlineage and /var/lib/mlineage are
under it. Only the two ports are given through the environment (as
`docker run -e MLINEAGE_GRPC_PORT=…` would), so that the test takes free ones.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import pytest
from dockerfile_parts import Stage, stages
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_server import READY_LINE, free_port
from paths import REPO_ROOT

IMAGE_PREFIX = "/opt/mlineage"
INSTALL_TIMEOUT_S = 540
START_TIMEOUT_S = 60


def _in_root(root: Path, path: str) -> str:
    """An absolute path of the image as a path under the test's image root."""
    return str(root / path.lstrip("/")) if path.startswith("/") else path


def _remap(root: Path, words: list[str]) -> list[str]:
    return [_in_root(root, word) if word.startswith(("/opt/", "/var/", "/src")) else word for word in words]


def _build_context(destination: Path, build: Stage) -> None:
    """The build stage's COPYs into WORKDIR /src, minus what .dockerignore drops (caches, databases)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.db", "*.db-*")
    for copy in build.all("COPY"):
        *sources, target = copy.arguments.split()
        for source in sources:
            origin = REPO_ROOT / source
            if target.startswith("/usr/local/bin/"):
                continue  # the installer script: run from the repository below
            into = destination / (Path(source).name if target.endswith("/") or target == "./" else target)
            if origin.is_dir():
                shutil.copytree(origin, destination / source.rstrip("/"), ignore=ignore)
            else:
                shutil.copy2(origin, into if target != "./" else destination / origin.name)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> tuple[Path, Stage]:
    """The image's root directory with /opt/mlineage installed as the build stage installs it."""
    if shutil.which("uv") is None:
        pytest.fail("uv is not installed (scripts/setup_env.sh installs it; the image's build stage uses it)")
    _, (build, final) = stages()
    root = tmp_path_factory.mktemp("image")
    source = root / "src"
    source.mkdir()
    _build_context(source, build)
    install = [run.arguments for run in build.all("RUN") if "mlineage-install" in run.arguments]
    assert len(install) == 1, "the build stage runs deploy/image/install.sh once"
    words = install[0].split()
    words = words[words.index("mlineage-install") + 1:]
    assert words == [IMAGE_PREFIX, "/src"], words
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        ["sh", str(REPO_ROOT / "deploy/image/install.sh"), *_remap(root, words)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    for copy in final.all("COPY"):
        if copy.arguments.startswith("--from="):
            continue
        origin, target = copy.arguments.split()
        shutil.copy2(REPO_ROOT / origin, _in_root(root, target))
    (root / final.last("WORKDIR").arguments.lstrip("/")).mkdir(parents=True)
    return root, final


def _image_env(root: Path, final: Stage, **overrides: str) -> dict[str, str]:
    """The final stage's ENV (with $PATH expanded under the image root), plus what `docker run -e` adds."""
    env = {"HOME": str(root / "var/lib/mlineage"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    for key, value in final.env().items():
        value = value.replace("$PATH", env.get("PATH", ""))
        env[key] = ":".join(_remap(root, value.split(":"))) if key == "PATH" else value
    env.update(overrides)
    return env


def test_the_venv_holds_mlineage_and_no_installer(image):
    root, _ = image
    venv = root / "opt/mlineage"
    assert (venv / "bin/mlineage").exists()
    assert (venv / "bin/python").exists()
    for tool in ("pip", "pip3", "uv", "easy_install", "wheel"):
        assert not (venv / "bin" / tool).exists(), f"{tool} in the image's venv"
    packages = {path.name.split("-")[0].lower() for path in (venv / "lib").glob("python*/site-packages/*")}
    assert "mlineage" in packages and "pip" not in packages and "setuptools" not in packages, packages
    # The extras an operator turns on by flag are in the image: --otel (OpenTelemetry) and --oidc-issuer (PyJWT).
    assert {"opentelemetry_sdk", "opentelemetry_instrumentation_grpc", "jwt"} <= packages, sorted(packages)
    # The bytecode is compiled at install time (the image's user cannot write next to the code).
    assert list((venv / "lib").glob("python*/site-packages/mlineage/__pycache__/*.pyc"))


def _check_grpc_health(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status


def test_the_entrypoint_serves_both_apis_and_the_health_check_says_so(image):
    root, final = image
    grpc_port, http_port = free_port(), free_port()
    env = _image_env(root, final, MLINEAGE_GRPC_PORT=str(grpc_port), MLINEAGE_HTTP_PORT=str(http_port))
    workdir = root / final.last("WORKDIR").arguments.lstrip("/")
    command = final.last("ENTRYPOINT").exec_form() + final.last("CMD").exec_form()
    healthcheck = json.loads(final.last("HEALTHCHECK").arguments.split(" CMD ", 1)[1])
    # `mlineage` and `python` resolve through the image's PATH to the image's venv, as in the container.
    assert shutil.which(command[0], path=env["PATH"]) == str(root / "opt/mlineage/bin/mlineage")
    assert shutil.which(healthcheck[0], path=env["PATH"]) == str(root / "opt/mlineage/bin/python")

    def health() -> subprocess.CompletedProcess:
        return subprocess.run(_remap(root, healthcheck), env=env, cwd=workdir, capture_output=True, text=True,
                              timeout=30)

    before = health()
    assert before.returncode == 1 and "does not answer" in before.stderr, before.stderr

    process = subprocess.Popen(command, env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, executable=shutil.which(command[0], path=env["PATH"]))
    lines: list[str] = []
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        assert process.stdout is not None
        while not any("mlineage: HTTP on" in line for line in lines):
            line = process.stdout.readline()
            assert line and time.monotonic() < deadline, "".join(lines)
            lines.append(line)
        ready = next(READY_LINE.search(line) for line in lines if READY_LINE.search(line))
        assert ready is not None and ready["host"] == "0.0.0.0" and int(ready["port"]) == grpc_port, lines
        # No --db and no MLINEAGE_DB: the embedded database in the working directory (the volume).
        assert (workdir / "mlineage.db").exists()

        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz", timeout=5) as response:
            assert json.loads(response.read()) == {"status": "ok"}
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/readyz", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        assert _check_grpc_health(grpc_port) == health_pb2.HealthCheckResponse.SERVING
        # The image binds every address, so it needs a credential for everything but health and metrics.
        assert any("authentication: bearer tokens" in line for line in lines), lines
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/artifact_types", timeout=5)
        assert refused.value.code == 401
        during = health()
        assert during.returncode == 0, during.stderr
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        lines.extend(process.stdout.read().splitlines(keepends=True) if process.stdout else [])
    assert code == 0, "".join(lines)
    assert health().returncode == 1
