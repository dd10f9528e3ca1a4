"""Where a step runs: host, user, git commit, Python and package versions; captured once per process."""

from __future__ import annotations

import functools
import getpass
import os
import platform
import socket
import subprocess
import sys
from importlib import metadata

# Distributions worth naming when their module is imported: module name -> distribution name.
INTERESTING = {
    "numpy": "numpy", "pandas": "pandas", "scipy": "scipy", "sklearn": "scikit-learn", "torch": "torch",
    "torchvision": "torchvision", "tensorflow": "tensorflow", "keras": "keras", "jax": "jax", "jaxlib": "jaxlib",
    "flax": "flax", "xgboost": "xgboost", "lightgbm": "lightgbm", "catboost": "catboost",
    "transformers": "transformers", "datasets": "datasets", "accelerate": "accelerate", "onnx": "onnx",
    "onnxruntime": "onnxruntime", "tensorrt": "tensorrt", "tfx": "tfx", "ml_metadata": "ml-metadata",
    "tensorflow_data_validation": "tensorflow-data-validation",
    "tensorflow_model_analysis": "tensorflow-model-analysis", "tensorflow_transform": "tensorflow-transform",
    "apache_beam": "apache-beam", "pyarrow": "pyarrow", "pynvml": "nvidia-ml-py",
}


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def packages() -> dict[str, str]:
    """Versions of mlineage and of the ML packages this process has imported (plus $MLINEAGE_PACKAGES)."""
    wanted = {"mlineage"}
    wanted.update(dist for module, dist in INTERESTING.items() if module in sys.modules)
    wanted.update(name.strip() for name in os.environ.get("MLINEAGE_PACKAGES", "").split(",") if name.strip())
    found = {name: _version(name) for name in sorted(wanted)}
    return {name: version for name, version in found.items() if version}


@functools.lru_cache(maxsize=8)
def git_state(directory: str) -> dict[str, object]:
    """The commit (and whether the tree is dirty) of the repository around ``directory``; {} outside one."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return {}
    state: dict[str, object] = {"git_commit": commit}
    branch = git("rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        state["git_branch"] = branch
    dirty = git("status", "--porcelain", "--untracked-files=no")
    if dirty is not None:
        state["git_dirty"] = bool(dirty)
    return state


@functools.lru_cache(maxsize=1)
def _static() -> dict[str, object]:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = str(os.getuid())
    return {
        "host": socket.gethostname(),
        "user": user,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count() or 0,
    }


def capture(directory: str | None = None) -> dict[str, object]:
    """Flat facts (host, user, pid, python_version, git_commit, …) plus ``packages`` (a dict)."""
    facts = dict(_static())
    facts["pid"] = os.getpid()
    facts.update(git_state(os.path.abspath(directory or os.getcwd())))
    facts["packages"] = packages()
    return facts


__all__ = ["capture", "git_state", "packages"]
