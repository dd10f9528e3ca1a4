"""The repository's Dockerfile read into its stages and instructions, for the image tests (not a test module).

A small reader of the Dockerfile grammar the image uses: comments, line
continuations, instructions with shell or JSON (exec) arguments, ``KEY=VALUE``
ENV lines. hadolint checks the file as Docker reads it; this lets the tests ask
what the final stage runs, as whom, with which environment.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from paths import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, ENV, …
    arguments: str  # the text after the keyword, continuations joined

    def exec_form(self) -> list[str]:
        """The JSON (exec) form of the arguments, e.g. ENTRYPOINT ["mlineage", "serve"]."""
        value = json.loads(self.arguments)
        assert isinstance(value, list) and all(isinstance(item, str) for item in value), self.arguments
        return value


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"the stage {self.name or self.base} has no {keyword}"
        return found[-1]

    def env(self) -> dict[str, str]:
        """ENV KEY=VALUE pairs in order; $PATH-style references to earlier values are left as written."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                key, sep, value = pair.partition("=")
                assert sep, f"ENV without KEY=VALUE: {instruction.arguments}"
                values[key] = value
        return values


def instructions(text: str) -> list[Instruction]:
    """The instructions of a Dockerfile's text (comments and the parser directive dropped)."""
    found: list[Instruction] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, arguments = line.partition(" ")
        found.append(Instruction(keyword.upper(), " ".join(arguments.split())))
    assert not pending, "the Dockerfile ends inside a continued line"
    return found


def stages(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages in order, each FROM resolved against those defaults."""
    args: dict[str, str] = {}
    result: list[Stage] = []
    for instruction in instructions(path.read_text()):
        if instruction.keyword == "FROM":
            words = instruction.arguments.split()
            base = words[0]
            for key, value in args.items():
                base = base.replace(f"${{{key}}}", value).replace(f"${key}", value)
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            result.append(Stage(base, name))
        elif instruction.keyword == "ARG" and not result:
            key, _, value = instruction.arguments.partition("=")
            args[key] = value
        else:
            assert result, f"{instruction.keyword} before the first FROM"
            result[-1].instructions.append(instruction)
    return args, result
