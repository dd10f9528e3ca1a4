"""What `mlineage serve` shows around its APIs: /docs offline, / → /ui, quiet start-up, an access log,
reflection under both service names, and a warning when two servers share one SQLite file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from grpc_server import free_port, mlineage_server
from rest_server import http_client

from mlineage.proto import metadata_store_service_pb2 as svc

MLMD = "ml_metadata.MetadataStoreService"
OURS = "mlineage.v1.MetadataStoreService"


def test_docs_page_names_no_other_host_and_its_assets_load(store):
    with http_client(store) as api:
        page = api.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text
        references = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page.text)
        assert len(references) >= 3, page.text
        for reference in references:
            assert not re.match(r"^([a-z][a-z0-9+.-]*:|//)", reference, re.I), f"external reference {reference}"
        assert "://" not in page.text.replace("'/openapi.json'", "")
        kinds = {}
        for reference in references:
            asset = api.get(reference)
            assert asset.status_code == 200 and len(asset.content) > 100, reference
            kinds[reference.rsplit(".", 1)[1]] = asset.headers["content-type"]
        assert kinds["js"].startswith(("application/javascript", "text/javascript"))
        assert kinds["css"].startswith("text/css") and kinds["png"] == "image/png"
        assert api.get("/docs/assets/../../pyproject.toml").status_code == 404
        assert api.get("/docs/assets/LICENSE").status_code == 404
        root = api.get("/", follow_redirects=False)
        assert root.status_code == 307 and root.headers["location"] == "/ui"
        assert api.get("/openapi.json").json()["openapi"].startswith("3.1")  # Swagger UI 5 renders 3.1


def _mlineage() -> list[str]:
    script = Path(sys.executable).with_name("mlineage")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlineage.cli"]


class Served:
    """`mlineage serve` with the environment as shipped (no MLINEAGE_LOG_LEVEL), its output collected."""

    def __init__(self, tmp_path: Path, *extra: str, db: str | None = None) -> None:
        self.grpc_port, self.http_port = free_port(), free_port()
        environment = {k: v for k, v in os.environ.items()
                       if k not in ("MLINEAGE_LOG_LEVEL", "MLINEAGE_DB", "MLINEAGE_URL")}
        self.log = tmp_path / f"serve-{self.grpc_port}.log"
        self.output = open(self.log, "w")  # noqa: SIM115 - closed in stop()
        args = [*_mlineage(), "serve", "--host", "127.0.0.1", "--grpc-port", str(self.grpc_port),
                "--http-port", str(self.http_port), *(["--db", db] if db else []), *extra]
        self.process = subprocess.Popen(args, cwd=tmp_path, stdout=self.output, stderr=subprocess.STDOUT,
                                        env=environment)
        deadline = time.monotonic() + 60
        while "mlineage: HTTP on" not in self.text():
            assert self.process.poll() is None and time.monotonic() < deadline, self.text()
            time.sleep(0.05)

    def text(self) -> str:
        return self.log.read_text()

    def stop(self) -> str:
        self.process.terminate()
        assert self.process.wait(timeout=30) == 0, self.text()
        self.output.close()
        return self.text()


def test_start_up_prints_no_alembic_lines(tmp_path):
    served = Served(tmp_path)  # no --db: the embedded default is created (and migrated) now
    httpx.get(f"http://127.0.0.1:{served.http_port}/healthz", timeout=10)
    text = served.stop()
    assert (tmp_path / "mlineage.db").exists()
    assert "alembic" not in text.lower() and "Context impl" not in text, text
    assert "GET /healthz" not in text  # no access log unless asked


def test_access_log_has_each_http_request_and_grpc_call(tmp_path):
    served = Served(tmp_path, "--access-log")
    assert httpx.get(f"http://127.0.0.1:{served.http_port}/healthz", timeout=10).status_code == 200
    with grpc.insecure_channel(f"127.0.0.1:{served.grpc_port}") as channel:
        call = channel.unary_unary(f"/{MLMD}/GetArtifactTypes", request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=svc.GetArtifactTypesResponse.FromString)
        call(svc.GetArtifactTypesRequest(), timeout=30)
        bad = channel.unary_unary(f"/{MLMD}/GetArtifactsByID", request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=svc.GetArtifactsByIDResponse.FromString)
        bad(svc.GetArtifactsByIDRequest(artifact_ids=[1]), timeout=30)
    text = served.stop()
    assert re.search(r'"GET /healthz HTTP/1\.1" 200', text), text
    assert re.search(rf"grpc /{re.escape(MLMD)}/GetArtifactTypes OK [0-9.]+ms", text), text


def test_reflection_lists_and_describes_both_service_names(tmp_path):
    with mlineage_server(tmp_path) as server, grpc.insecure_channel(server.target) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        assert {MLMD, OURS} <= set(database.get_services())
        from google.protobuf.descriptor_pool import DescriptorPool

        pool = DescriptorPool(database)
        for name in (MLMD, OURS):
            service = pool.FindServiceByName(name)
            assert len(service.methods) == len(svc.DESCRIPTOR.services_by_name["MetadataStoreService"].methods)
            assert service.methods_by_name["GetArtifacts"].input_type.full_name == "mlineage.v1.GetArtifactsRequest"


def test_a_second_server_on_one_sqlite_file_warns_and_names_postgresql(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    first = Served(tmp_path, "--create", db=db)
    try:
        second = Served(tmp_path, db=db)
        text = second.stop()
    finally:
        first_text = first.stop()
    assert "SQLite is for one server" in text and "PostgreSQL" in text and str(first.process.pid) in text
    assert "SQLite is for one server" not in first_text
    third = Served(tmp_path, db=db)  # the lock went with the first server
    assert "SQLite is for one server" not in third.stop()


def test_a_process_logging_at_info_sees_no_alembic_lines(tmp_path):
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout, format='%(name)s %(message)s');"
        "import mlineage; s = mlineage.connect(sys.argv[1]); s.close(); mlineage.connect(sys.argv[1]).close()"
    )
    url = f"sqlite:///{tmp_path / 'step.db'}"
    result = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "alembic" not in result.stdout and "Context impl" not in result.stdout, result.stdout
    assert result.stdout.count("mlineage.migrations database") == 1  # the creation, said once by mlineage
