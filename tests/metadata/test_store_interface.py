"""StoreInterface: Store and GrpcStore implement it with the same, explicitly written signatures."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

from mlineage.client import grpc_store
from mlineage.client.grpc_store import _RPCS, GrpcStore
from mlineage.metadata.interface import StoreInterface
from mlineage.metadata.store import Store
from mlineage.proto import metadata_store_service_pb2 as svc
from mlineage.proto import metric_series_pb2 as mpb

REPO_ROOT = Path(__file__).resolve().parents[2]


def interface_members() -> dict[str, object]:
    """The interface's own methods and properties, by name."""
    return {
        name: member for name, member in vars(StoreInterface).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_interface_is_exactly_what_store_and_grpc_store_both_offer():
    # A method added to both stores belongs in the interface too; one the interface names, in both.
    assert public(Store) & public(GrpcStore) == set(interface_members())


def test_store_and_grpc_store_have_every_interface_method_with_the_interface_signature():
    for name, member in sorted(interface_members().items()):
        if isinstance(member, property):
            assert isinstance(inspect.getattr_static(Store, name), property), name
            assert isinstance(inspect.getattr_static(GrpcStore, name), property), name
            continue
        expected = inspect.signature(member)
        assert inspect.signature(getattr(Store, name)) == expected, f"Store.{name}"
        assert inspect.signature(getattr(GrpcStore, name)) == expected, f"GrpcStore.{name}"


def test_both_stores_are_store_interfaces_at_run_time(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    remote = GrpcStore("grpc://127.0.0.1:1")  # a channel connects lazily: nothing needs to listen
    try:
        assert isinstance(store, StoreInterface)
        assert isinstance(remote, StoreInterface)
    finally:
        store.close()
        remote.close()


def test_grpc_store_methods_are_written_out_not_generated():
    # A generated method took (self, *args, **kwargs) and carried its signature in __signature__.
    for row in _RPCS:
        function = vars(GrpcStore)[row.method]
        assert not hasattr(function, "__signature__"), row.method
        code = function.__code__
        assert code.co_filename == grpc_store.__file__, row.method
        declared = [name for name in inspect.signature(function).parameters]
        assert list(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]) == declared, row.method
        assert not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS), row.method


def test_every_listed_rpc_is_served_by_the_service_it_names():
    services = {
        grpc_store.STORE_SERVICE: svc.DESCRIPTOR.services_by_name["MetadataStoreService"],
        grpc_store.METRIC_SERVICE: mpb.DESCRIPTOR.services_by_name["MetricService"],
    }
    assert len({row.method for row in _RPCS}) == len(_RPCS)
    for row in _RPCS:
        assert row.rpc in services[row.service].methods_by_name, row


def test_the_type_checker_holds_both_stores_to_the_interface(tmp_path):
    # interface.py and grpc_store.py each return their store as a StoreInterface: mypy checks every
    # method's parameters and return type there (scripts/test.sh does not run mypy yet: see pyproject.toml).
    files = [str(REPO_ROOT / "mlineage" / "metadata" / "interface.py"),
             str(REPO_ROOT / "mlineage" / "client" / "grpc_store.py")]
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--follow-imports=silent", f"--cache-dir={tmp_path}", *files],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_interface_imports_neither_sqlalchemy_nor_grpc():
    code = ("import sys, mlineage.metadata.interface; "
            "print(sorted(m for m in ('sqlalchemy', 'grpc', 'alembic') if m in sys.modules))")
    answer = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert answer.stdout.strip() == "[]"
