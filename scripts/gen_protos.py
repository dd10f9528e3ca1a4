#!/usr/bin/env python3
"""Regenerate mlineage/proto/*_pb2.py, their type stubs *_pb2.pyi and *_pb2_grpc.py from the .proto files.

Generation pins grpcio-tools==1.62.3 (protoc 25): its output imports under
protobuf 4.25 (what ml-metadata needs) and under current protobuf alike,
whereas newer protoc output refuses to import under 4.25. The pinned tool runs
in its own throwaway venv (.venvs/gen, git-ignored, made with uv) so that the
project's own environment can keep a current protobuf.

    python scripts/gen_protos.py           # rewrite the committed files
    python scripts/gen_protos.py --check   # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import filecmp
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = REPO_ROOT / "mlineage" / "proto"
GEN_VENV = REPO_ROOT / ".venvs" / "gen"
GRPCIO_TOOLS = "grpcio-tools==1.62.3"


def gen_python() -> Path:
    """Return the gen venv's python, creating the venv and installing the tool if needed."""
    python = GEN_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run(["uv", "venv", "--quiet", str(GEN_VENV)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import grpc_tools, importlib.metadata as m; print(m.version('grpcio-tools'))"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or probe.stdout.strip() != GRPCIO_TOOLS.split("==")[1]:
        subprocess.run(["uv", "pip", "install", "--quiet", "--python", str(python), GRPCIO_TOOLS], check=True)
    return python


def proto_sources() -> list[str]:
    """The .proto files, as paths relative to the repository root (the import root)."""
    return sorted(str(p.relative_to(REPO_ROOT)) for p in PROTO_DIR.glob("*.proto"))


def expected_outputs() -> list[str]:
    """Generated files, relative to the repository root: a _pb2.py and its _pb2.pyi stub per proto,
    _pb2_grpc.py for services."""
    outputs = []
    for source in proto_sources():
        stem = source.removesuffix(".proto")
        outputs += [f"{stem}_pb2.py", f"{stem}_pb2.pyi"]
        if "service " in (REPO_ROOT / source).read_text():
            outputs.append(f"{stem}_pb2_grpc.py")
    return outputs


def generate(out_dir: Path) -> None:
    """Run protoc on every proto, writing the Python modules under out_dir."""
    subprocess.run(
        [
            str(gen_python()),
            "-m",
            "grpc_tools.protoc",
            f"-I{REPO_ROOT}",
            f"--python_out={out_dir}",
            # Type stubs, so that type checkers and editors see the messages' classes and fields.
            f"--pyi_out={out_dir}",
            f"--grpc_python_out={out_dir}",
            *proto_sources(),
        ],
        cwd=REPO_ROOT,
        check=True,
    )
    # protoc emits an (empty) _pb2_grpc.py for every input; keep only those of files with services.
    for stale in out_dir.glob("mlineage/proto/*_pb2_grpc.py"):
        if str(stale.relative_to(out_dir)) not in expected_outputs():
            stale.unlink()


def stale_files() -> list[str]:
    """Generate into a temporary directory and list committed files that differ or are missing."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        return [
            rel
            for rel in expected_outputs()
            if not (REPO_ROOT / rel).exists()
            or not filecmp.cmp(Path(tmp) / rel, REPO_ROOT / rel, shallow=False)
        ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale generated files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("generated protobuf code is stale; run scripts/gen_protos.py:", file=sys.stderr)
            for rel in stale:
                print(f"  {rel}", file=sys.stderr)
            return 1
        print("generated protobuf code is up to date")
        return 0
    generate(REPO_ROOT)
    for rel in expected_outputs():
        print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
