#!/bin/sh
# Install mlineage from a source tree into a venv at PREFIX: the one install command of the image.
# The Dockerfile's build stage runs it, and tests/deploy/test_image.py runs it to lay out a venv as the
# image lays it out, so the two cannot drift. uv is the installer (the build stage has it; the final image
# does not); the venv gets no pip, setuptools or uv, and its bytecode is compiled at install time because
# the image runs as a user that cannot write next to the code.
# The image carries the extras an operator turns on with a flag: otel (--otel / OTEL_* traces) and oidc
# (--oidc-issuer); the MySQL and PostgreSQL drivers are core dependencies.
# Usage: install.sh PREFIX SOURCE_DIR   ($PYTHON names the interpreter; python3 on the PATH by default)
set -eu
prefix="$1"
source_dir="$2"
uv venv --quiet --python "${PYTHON:-$(command -v python3)}" "$prefix"
uv pip install --quiet --compile-bytecode --python "$prefix/bin/python" "$source_dir[otel,oidc]"
