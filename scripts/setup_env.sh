#!/usr/bin/env bash
# Set up everything the tests and benches need on a fresh machine (idempotent):
#   .venv         mlineage with its dev tools (current protobuf)
#   .venvs/mlmd   the real ml-metadata==1.17.1 client (protobuf 4.25), for compatibility tests and benches
#   .venvs/mlflow the real mlflow 3 client and server with scikit-learn, for the MLflow API tests and bench
#   .venvs/tfx    the optional TFX stack (TFDV/TFMA/TFT 1.16, TensorFlow 2.16; protobuf 4.25, pandas 1.5,
#                 numpy 1.26) with mlineage, for tests that use real TFDV/TFMA/TFT outputs
# Usage: source scripts/setup_env.sh   (exports MLINEAGE_MLMD_PYTHON, MLINEAGE_MLFLOW_PYTHON and MLINEAGE_TFX_PYTHON)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

if ! command -v uv >/dev/null 2>&1; then
  "$PY" -m pip install -q uv
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  uv venv -q "$ROOT/.venv" --python "$PY"
fi
# The web UI's browser tests (tests/ui/) drive Debian's chromium through Playwright, which must never
# download a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium from Debian's packages (the web UI's browser tests)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
fi
# --compile-bytecode: uv writes no .pyc by default, and where PYTHONDONTWRITEBYTECODE is set nothing
# ever does, so every process (the tests start hundreds) would compile SQLAlchemy & co. from source.
uv pip install -q --compile-bytecode --python "$ROOT/.venv/bin/python" -e "$ROOT[dev,otel]"
"$ROOT/.venv/bin/python" -m compileall -q "$ROOT/mlineage" >/dev/null

if [ ! -x "$ROOT/.venvs/mlmd/bin/python" ] || ! "$ROOT/.venvs/mlmd/bin/python" -c "import ml_metadata" 2>/dev/null; then
  # ml-metadata 1.17.1 ships wheels for CPython 3.9-3.11 only.
  uv venv -q "$ROOT/.venvs/mlmd" --python 3.11
  uv pip install -q --python "$ROOT/.venvs/mlmd/bin/python" "ml-metadata==1.17.1"
fi
# mlineage itself in the ml-metadata environment too, for the test that imports both packages in one
# process (as a TFX step does); protobuf stays below 5 there, as ml-metadata requires.
uv pip install -q --compile-bytecode --python "$ROOT/.venvs/mlmd/bin/python" -e "$ROOT" "ml-metadata==1.17.1" "protobuf<5"
export MLINEAGE_MLMD_PYTHON="$ROOT/.venvs/mlmd/bin/python"

# MLflow's own client and tracking server, what the MLflow API tests compare mlineage with (its own
# environment: mlflow pins its dependencies tighter than mlineage's dev tools).
if [ ! -x "$ROOT/.venvs/mlflow/bin/python" ] || ! "$ROOT/.venvs/mlflow/bin/python" -c "import mlflow, sklearn" 2>/dev/null; then
  uv venv -q "$ROOT/.venvs/mlflow" --python 3.11
  uv pip install -q --compile-bytecode --python "$ROOT/.venvs/mlflow/bin/python" "mlflow==3.17.2" "scikit-learn==1.9.1"
fi
export MLINEAGE_MLFLOW_PYTHON="$ROOT/.venvs/mlflow/bin/python"

# The TFX stack, installed with uv (pip's resolver can take half an hour on it). dill: tfx-bsl
# imports it but the resolved apache-beam no longer brings it. tritonclient: Triton's compiled
# ModelConfig proto for integrations.serving (2.41 installs beside the stack's protobuf 4.25; current releases need protobuf 6).
if [ ! -x "$ROOT/.venvs/tfx/bin/python" ]; then
  uv venv -q "$ROOT/.venvs/tfx" --python 3.11
fi
uv pip install -q --python "$ROOT/.venvs/tfx/bin/python" -e "$ROOT" \
  "tensorflow-data-validation==1.16.1" "tensorflow-model-analysis==0.47.1" \
  "tensorflow-transform==1.16.0" "tfx-bsl==1.16.1" "tensorflow-metadata==1.16.1" \
  "tensorflow==2.16.2" dill "tritonclient[grpc]==2.41.1"
export MLINEAGE_TFX_PYTHON="$ROOT/.venvs/tfx/bin/python"
