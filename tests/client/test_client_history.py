"""A pipeline step's records have history, whichever store it logs to: revisions say which surface wrote
them (in-process: python; through `mlineage serve`: grpc, with the step's address), readable through the
same client (`get_execution_history`, `mlineage history --url`), on SQLite, PostgreSQL and a server."""

from __future__ import annotations

import client_support
from client_support import connect, execution, unique

import mlineage
from mlineage.cli import main

server, target = client_support.server, client_support.target  # fixtures


def test_a_steps_execution_has_its_revisions_with_the_surface_that_wrote_them(target, capsys):
    pipeline = unique("taxi")
    with mlineage.run(pipeline, run_id="r1", url=target) as run:
        with run.step("Trainer") as step:
            step.log_params(learning_rate=0.01)
    store = connect(target)
    try:
        trainer = execution(store, step.external_id)
        revisions = store.get_execution_history(trainer.id)
    finally:
        store.close()
    # The step creates its execution, then records it running and complete.
    assert revisions[0].operation == "create" and len(revisions) >= 2
    assert [r.revision for r in revisions] == list(range(1, len(revisions) + 1))
    assert revisions[-1].node == trainer
    assert any("last_known_state" in r.changed for r in revisions[1:])
    surface = "grpc" if target.startswith("grpc") else "python"
    assert {r.surface for r in revisions} == {surface}
    if surface == "grpc":
        assert all(r.peer and r.peer.startswith("127.0.0.1:") for r in revisions)

    assert main(["history", "execution", str(trainer.id), "--url", target]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["revision", "time"] and len(lines) == 1 + len(revisions)
    assert lines[1].split()[3] == "create"
