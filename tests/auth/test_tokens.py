"""Bearer tokens: shown once, stored only as salted hashes, refused when wrong, revoked or expired; the CLI."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select

from mlineage.auth.identity import Role
from mlineage.auth.tokens import (
    TokenRefused,
    TokenVerifier,
    create_token,
    list_tokens,
    parse_duration,
    revoke_token,
)
from mlineage.cli import main
from mlineage.metadata.store import Store
from mlineage.schema import tables as t


@pytest.fixture
def store(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'tokens.db'}") as opened:
        yield opened


def test_a_token_verifies_as_its_namespace_and_role(store):
    text, info = create_token(store, namespace="team-a", role=Role.WRITER, name="ci")
    identity = TokenVerifier(store).verify(text)
    assert (identity.namespace, identity.role) == ("team-a", Role.WRITER)
    assert identity.name == f"token:{info.id} (ci)"


def test_only_a_salted_hash_is_stored(store):
    text, info = create_token(store, namespace="default", role=Role.READER)
    secret = text.rsplit("_", 1)[1]
    with store.engine.connect() as connection:
        rows = [tuple(row) for row in connection.execute(select(t.tokens))]
    assert len(rows) == 1
    assert not any(secret in str(value) or text in str(value) for value in rows[0])
    other_text, _ = create_token(store, namespace="default", role=Role.READER)
    with store.engine.connect() as connection:
        salts = [row.salt for row in connection.execute(select(t.tokens.c.salt))]
    assert len(set(salts)) == 2  # a salt per token


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda text: text[:-1] + ("A" if text[-1] != "A" else "B"), "unknown token"),  # a wrong secret
        (lambda text: "mlt_" + "0" * 12 + text[16:], "unknown token"),  # an id nobody has
        (lambda text: text + "x", "malformed token"),
        (lambda text: "", "malformed token"),
    ],
)
def test_a_wrong_token_is_refused(store, mangle, reason):
    text, _ = create_token(store, namespace="default", role=Role.ADMIN)
    with pytest.raises(TokenRefused) as refused:
        TokenVerifier(store).verify(mangle(text))
    assert refused.value.reason == reason


def test_a_revoked_token_is_refused(store):
    text, info = create_token(store, namespace="default", role=Role.WRITER, name="gone")
    verifier = TokenVerifier(store)
    verifier.verify(text)
    assert [r.id for r in revoke_token(store, "gone")] == [info.id]
    verifier.forget(info.id)
    with pytest.raises(TokenRefused, match="revoked"):
        verifier.verify(text)
    assert revoke_token(store, info.id) == []  # revoked already


def test_an_expired_token_is_refused(store):
    text, _ = create_token(store, namespace="default", role=Role.WRITER, expires_in_ms=300)
    TokenVerifier(store, cache_seconds=0).verify(text)
    time.sleep(0.4)
    with pytest.raises(TokenRefused, match="expired"):
        TokenVerifier(store, cache_seconds=0).verify(text)
    assert [info.status(int(time.time() * 1000)) for info in list_tokens(store)] == ["expired"]


@pytest.mark.parametrize("text", ["90", "d", "0d", "-1d", "1y", ""])
def test_bad_durations_are_named(text):
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_durations():
    assert parse_duration("90d") == 90 * 86_400_000
    assert parse_duration("45s") == 45_000


def test_the_token_commands(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    capsys.readouterr()
    assert main(["token", "create", "--namespace", "team-a", "--role", "reader", "--name", "dash",
                 "--expires", "90d", "--db", db]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    text = out.strip()
    assert text.startswith("mlt_") and "\n" not in text and "not shown again" in err
    assert main(["token", "list", "--format", "json", "--db", db]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["name"] == "dash" and listed["role"] == "reader" and listed["status"] == "active"
    assert listed["namespace"] == "team-a" and listed["expires"] != "-"
    assert text not in json.dumps(listed) and text.rsplit("_", 1)[1] not in json.dumps(listed)
    assert main(["token", "revoke", "dash", "--db", db]) == 0
    assert "revoked token" in capsys.readouterr().out
    assert main(["token", "list", "--db", db]) == 0
    assert "revoked" in capsys.readouterr().out
    assert main(["token", "revoke", "dash", "--db", db]) == 2  # nothing active by that name
    assert "no active token" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "owner"], "invalid choice"),
        (["--role", "reader", "--namespace", "bad name"], "invalid namespace"),
        (["--role", "reader", "--expires", "forever"], "invalid duration"),
    ],
)
def test_bad_token_requests_are_named_and_change_nothing(tmp_path, capsys, args, message):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["db", "upgrade", "--db", db]) == 0
    try:
        code = main(["token", "create", *args, "--db", db])
    except SystemExit as exit_:  # argparse's own refusal
        code = exit_.code
    assert code == 2
    assert message in capsys.readouterr().err
    with Store(db) as store:
        assert list_tokens(store) == []
