"""The README is a script: its ```bash and ```python blocks, run in order on a fresh directory, all succeed.

The blocks become one bash script (python blocks as ``python - <<EOF``), run
with ``set -euo pipefail`` in a new directory that looks like a clone: ``.venv``
is this environment, ``examples`` the repository's. What differs from a
reader's run, and why:

- the install command and the test-suite command are not run (the first made
  this environment; the second is the suite this test is part of), but must
  still be in the README as written here;
- ports 8080 and 8081 are free ports (``MLINEAGE_GRPC_PORT``/``MLINEAGE_HTTP_PORT``
  for ``mlineage serve``, and the numbers replaced in the other blocks), so
  that the test runs beside other servers; the host the pipeline-step example
  calls the server by (``metadata``) is this server;
- HOME is the directory (the client's journal lands there), and ``curl``
  fails on an HTTP error (``--fail-with-body``), so an error answer fails the walk.

Everything else is as shipped: the embedded default database, default
timeouts, no log-level override.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from grpc_server import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NOT_RUN = {
    "python3 -m venv .venv && .venv/bin/pip install -q -e .": "it built the environment this test runs in",
    "bash scripts/test.sh": "it is the suite this test belongs to",
}
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```$", re.M | re.S)
SERVER_READY_TIMEOUT_S = 60
WALK_TIMEOUT_S = 300

PREAMBLE = """\
set -euo pipefail
curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
wait_for_server() {  # after a block that starts `mlineage serve &`: until both ports answer
  for _ in $(seq 1 %(tries)d); do
    if (exec 3<>/dev/tcp/127.0.0.1/%(grpc)d) 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/%(http)d) 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "mlineage serve did not start" >&2; return 1
}
"""


def readme_blocks() -> list[tuple[str, str]]:
    """(language, code) of each bash and python block, in order."""
    return [(language, code) for language, code in BLOCK.findall(README.read_text())]


def walkthrough(grpc_port: int, http_port: int) -> str:
    """The README's blocks as one bash script on these ports."""
    parts = [PREAMBLE % {"tries": SERVER_READY_TIMEOUT_S * 10, "grpc": grpc_port, "http": http_port}]
    for number, (language, code) in enumerate(readme_blocks(), start=1):
        if code.strip() in NOT_RUN:
            continue
        code = code.replace("metadata:8080", "localhost:8080")
        code = re.sub(r"\b8080\b", str(grpc_port), code)
        code = re.sub(r"\b8081\b", str(http_port), code)
        parts.append(f"echo '### README block {number} ({language})'")
        if language == "python":
            parts.append(f"python - <<'MLINEAGE_README_PYTHON'\n{code}MLINEAGE_README_PYTHON")
        else:
            parts.append(code.rstrip("\n"))
        if re.search(r"^\s*mlineage serve\b.*&\s*$", code, re.M):
            parts.append("wait_for_server")
    return "\n".join(parts) + "\n"


def test_readme_keeps_the_commands_it_does_not_run():
    codes = [code.strip() for _, code in readme_blocks()]
    for command in NOT_RUN:
        assert command in codes, f"the README no longer has {command!r}"


def test_readme_links_only_files_in_the_repository():
    text = README.read_text()
    assert "DESIGN.md" not in text
    for path in re.findall(r"`((?:docs|examples|scripts|bench)/[\w./-]+)`", text):
        assert (ROOT / path).exists(), path


@pytest.mark.skipif(shutil.which("curl") is None, reason="the README's HTTP examples use curl")
def test_readme_runs_top_to_bottom_on_a_fresh_database(tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    grpc_port, http_port = free_port(), free_port()
    script = tmp_path / "readme.sh"
    script.write_text(walkthrough(grpc_port, http_port))
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("MLINEAGE_") and k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    environment.update(HOME=str(tmp_path), MLINEAGE_GRPC_PORT=str(grpc_port), MLINEAGE_HTTP_PORT=str(http_port))
    log = tmp_path / "readme.log"
    with open(log, "w") as output:
        process = subprocess.Popen(["bash", str(script)], cwd=tmp_path, stdout=output, stderr=subprocess.STDOUT,
                                   env=environment, start_new_session=True)
        try:
            code = process.wait(timeout=WALK_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
            code = None
    text = log.read_text()
    assert code == 0, f"the README's walk-through failed (exit {code}):\n{text[-6000:]}"
    assert (tmp_path / "mlineage.db").exists()  # the embedded default, created by `mlineage serve`
    assert "Traceback" not in text, text[-6000:]
    assert "mlineage: stopped" in text  # the last block stopped the server cleanly
    assert "flowchart LR" in text and "Model my-model" in text  # the lineage commands answered
