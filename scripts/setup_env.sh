#!/usr/bin/env bash
# Set up everything the tests and benches need on a fresh machine (idempotent):
#   .venv         mlineage with its dev tools (current protobuf)
#   .venvs/mlmd   the real ml-metadata==1.17.1 client (protobuf 4.25), for compatibility tests and benches
# Usage: source scripts/setup_env.sh   (exports MLINEAGE_MLMD_PYTHON)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install -q uv
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  uv venv -q "$ROOT/.venv" --python "$PY"
fi
uv pip install -q --python "$ROOT/.venv/bin/python" -e "$ROOT[dev]"

if [ ! -x "$ROOT/.venvs/mlmd/bin/python" ] || ! "$ROOT/.venvs/mlmd/bin/python" -c "import ml_metadata" 2>/dev/null; then
  # ml-metadata 1.17.1 ships wheels for CPython 3.9-3.11 only.
  uv venv -q "$ROOT/.venvs/mlmd" --python 3.11
  uv pip install -q --python "$ROOT/.venvs/mlmd/bin/python" "ml-metadata==1.17.1"
fi
# mlineage itself in the ml-metadata environment too, for the test that imports both packages in one
# process (as a TFX step does); protobuf stays below 5 there, as ml-metadata requires.
uv pip install -q --python "$ROOT/.venvs/mlmd/bin/python" -e "$ROOT" "ml-metadata==1.17.1" "protobuf<5"
export MLINEAGE_MLMD_PYTHON="$ROOT/.venvs/mlmd/bin/python"
