"""Every `mlineage …` command a message or a page names exists: its command, action and options.

Read from the source with ``ast`` (every string constant: messages, help texts, docstrings,
the literal parts of f-strings) and from README.md and docs/*.md, and checked against the
parser the `mlineage` command builds.
"""

from __future__ import annotations

import argparse
import ast
import re

import pytest
from paths import REPO_ROOT

from mlineage.cli import build_parser

# A command as written between backticks (one or two): what follows "mlineage " up to the closing one.
_REFERENCE = re.compile(r"`+mlineage ([^`]*)")
_WORD = re.compile(r"[a-z][a-z-]*$")


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _positional_choices(parser: argparse.ArgumentParser) -> list[set[str]]:
    return [
        {str(choice) for choice in action.choices}
        for action in parser._actions
        if not action.option_strings and action.choices and not isinstance(action, argparse._SubParsersAction)
    ]


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


def problems(reference: str, root: argparse.ArgumentParser) -> list[str]:
    """What in ``mlineage <reference>`` names no command, action or option (empty: it all exists)."""
    found: list[str] = []
    parser, where = root, "mlineage"
    choices = _positional_choices(parser)
    free = False  # past a positional that takes any word
    for raw in reference.replace("…", " ").split():
        token = raw.strip("[](){},.;:'\"")
        if not token:
            continue
        if token == "--":
            break  # what follows is the command `mlineage run` starts
        if token.startswith("-"):
            for option in token.split("|"):
                name = option.split("=", 1)[0]
                if name not in _options(parser):
                    found.append(f"{where} has no option {name}")
            continue
        alternatives = token.split("|")
        if free or not all(_WORD.match(word) for word in alternatives):
            continue  # a placeholder (URL, EXECUTION) or a value
        commands = _subcommands(parser)
        if commands:
            unknown = [word for word in alternatives if word not in commands]
            found += [f"{where} has no command {word!r}" for word in unknown]
            if unknown or len(alternatives) > 1:
                break
            parser, where = commands[token], f"{where} {token}"
            choices = _positional_choices(parser)
        elif choices:
            allowed = choices.pop(0)
            found += [f"{where} has no action {word!r}" for word in alternatives if word not in allowed]
        else:
            free = True
    return found


def _references_in_code() -> list[tuple[str, str]]:
    found = []
    for path in sorted((REPO_ROOT / "mlineage").rglob("*.py")):
        if "_pb2" in path.name:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
                found += [(where, match.group(1)) for match in _REFERENCE.finditer(node.value)]
    return found


def _references_in_pages() -> list[tuple[str, str]]:
    found = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.relative_to(REPO_ROOT)}:{number}"
            found += [(where, match.group(1)) for match in _REFERENCE.finditer(line)]
    return found


def test_the_messages_of_the_package_name_only_commands_that_exist():
    root = build_parser()
    references = _references_in_code()
    assert len(references) >= 10  # the scan finds the messages (serve, db, run, journal, …)
    wrong = {f"{where}: `mlineage {reference}`": problems(reference, root) for where, reference in references}
    assert not {where: found for where, found in wrong.items() if found}


def test_the_readme_and_the_docs_name_only_commands_that_exist():
    root = build_parser()
    references = _references_in_pages()
    assert references
    wrong = {f"{where}: `mlineage {reference}`": problems(reference, root) for where, reference in references}
    assert not {where: found for where, found in wrong.items() if found}


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("compare RUN RUN", []),
        ("contrast RUN RUN", ["mlineage has no command 'contrast'"]),
        ("import-mlmd SOURCE_URL", []),
        ("db migrate --db URL", ["mlineage db has no action 'migrate'"]),
        ("journal flush --directory D", ["mlineage journal flush has no option --directory"]),
        ("journal status|flush|purge", ["mlineage journal has no command 'purge'"]),
        ("serve --db URL --upgrade", []),
        ("db upgrade|current|history [--db URL]", []),
        ("run [--pipeline P --run R --step S --gpus N] -- COMMAND …", []),
        ("lineage --artifact|--execution REF [--url URL]", []),
    ],
)
def test_the_check_finds_what_does_not_exist(reference, expected):
    assert problems(reference, build_parser()) == expected
