"""The command line's error boundary: a database's error is one line and exit 2; a bug still raises."""

from __future__ import annotations

import argparse
import sqlite3

import pytest
from sqlalchemy import create_engine, text

import mlineage.cli as cli


def _parser_running(handler) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlineage")
    parser.set_defaults(handler=handler)
    return parser


def _bad_statement(_args) -> int:
    engine = create_engine("sqlite://")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))  # the real driver's error, wrapped
    finally:
        engine.dispose()
    return 0


def _bad_driver_call(_args) -> int:
    with sqlite3.connect(":memory:") as connection:
        connection.execute("SELECT * FROM no_such_table")
    return 0


@pytest.mark.parametrize("handler", [_bad_statement, _bad_driver_call])
def test_a_database_error_no_command_mapped_is_one_line_and_exit_2(monkeypatch, capsys, handler):
    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(handler))
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert err == "error: the database answered: no such table: no_such_table\n"


def test_any_other_error_is_not_taken_for_the_databases(monkeypatch):
    def broken(_args) -> int:
        raise ValueError("a bug")

    monkeypatch.setattr(cli, "build_parser", lambda: _parser_running(broken))
    with pytest.raises(ValueError, match="a bug"):
        cli.main([])
