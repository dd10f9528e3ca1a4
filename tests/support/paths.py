"""Where the test suite's files are: the repository, the tests, their support modules and data."""

from __future__ import annotations

from pathlib import Path

SUPPORT = Path(__file__).resolve().parent
TESTS = SUPPORT.parent
DATA = TESTS / "data"
REPO_ROOT = TESTS.parent
