"""MLflow's artifact proxy (``/api/2.0/mlflow-artifacts``): upload, download and list under the artifact root.

The unmodified ``mlflow`` client sends a run's (or a logged model's) files here when
their artifact URI is ``mlflow-artifacts:/…``: ``PUT …/artifacts/<path>`` uploads one
file, ``GET …/artifacts/<path>`` downloads it, ``GET …/artifacts?path=<dir>`` lists a
directory (names relative to it, as MLflow's server answers) and ``DELETE`` removes one.

The root is a local directory or, when configured as a URL with a scheme (``s3://``,
``gs://``, ``memory://``…), an fsspec filesystem (fsspec is optional: without it such a
root is refused at start with one line). With no root configured it is a directory
beside the embedded database: ``<dir>/<name>-artifacts`` for ``sqlite:///<dir>/<name>.db``;
for a server database (PostgreSQL) ``./mlineage-artifacts`` in the server's working
directory, which is only right for one server: replicas sharing a database must share
an artifact root too (``--artifact-root s3://…``).

Every path is checked before it reaches the filesystem: ``..`` segments, absolute paths,
backslashes, ``#`` and control characters are refused with INVALID_PARAMETER_VALUE, and
a local path that resolves (through a symlink) outside the root is refused as well.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import posixpath
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from mlineage.api.mlflow.errors import MlflowError
from mlineage.metadata.store import Store

log = logging.getLogger(__name__)

PREFIXES = ("/api/2.0/mlflow-artifacts", "/ajax-api/2.0/mlflow-artifacts")
DEFAULT_SERVER_ROOT = "mlineage-artifacts"
CHUNK_BYTES = 1024 * 1024
# The message MLflow's client recognises as "no multipart upload here" and falls back to one PUT.
MULTIPART_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"


@dataclass(frozen=True)
class Entry:
    """One listed name: a file (with its size) or a directory."""

    name: str
    is_dir: bool
    size: int | None


class ArtifactRoot(Protocol):
    """Where the proxy keeps files; every ``path`` is relative and already checked by :func:`safe_path`."""

    location: str

    def open_write(self, path: str) -> IO[bytes]: ...
    def commit(self, handle: IO[bytes], path: str) -> None: ...
    def discard(self, handle: IO[bytes]) -> None: ...
    def open_read(self, path: str) -> IO[bytes]: ...
    def kind(self, path: str) -> str | None: ...
    def list(self, path: str) -> list[Entry]: ...
    def delete(self, path: str) -> None: ...


class LocalRoot:
    """A directory on this machine; a file is written beside its target and renamed into place."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.location = str(self.directory)

    def _full(self, path: str) -> Path:
        full = self.directory.joinpath(*path.split("/")) if path else self.directory
        # A symlink inside the root must not lead outside it.
        real_root = os.path.realpath(self.directory)
        real = os.path.realpath(full)
        if real != real_root and not real.startswith(real_root + os.sep):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Invalid path: {path!r} leaves the artifact root")
        return full

    def open_write(self, path: str) -> IO[bytes]:
        target = self._full(path)
        if target.is_dir():
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Artifact path refers to a directory: {path!r}")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise MlflowError(
                "INVALID_PARAMETER_VALUE", f"Invalid path: a parent of {path!r} is a file, not a directory"
            ) from None
        return open(target.with_name(f".{target.name}.{uuid.uuid4().hex}.part"), "wb")  # noqa: SIM115

    def commit(self, handle: IO[bytes], path: str) -> None:
        handle.close()
        os.replace(handle.name, self._full(path))

    def discard(self, handle: IO[bytes]) -> None:
        handle.close()
        Path(str(handle.name)).unlink(missing_ok=True)

    def open_read(self, path: str) -> IO[bytes]:
        return open(self._full(path), "rb")  # noqa: SIM115

    def kind(self, path: str) -> str | None:
        full = self._full(path)
        return "dir" if full.is_dir() else "file" if full.is_file() else None

    def list(self, path: str) -> list[Entry]:
        full = self._full(path)
        if not full.is_dir():
            return []
        entries = []
        for child in sorted(full.iterdir()):
            if child.name.endswith(".part") and child.name.startswith("."):
                continue  # an upload in progress
            is_dir = child.is_dir()
            entries.append(Entry(child.name, is_dir, None if is_dir else child.stat().st_size))
        return entries

    def delete(self, path: str) -> None:
        full = self._full(path)
        if full == self.directory:
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid path: the artifact root itself is not deleted")
        if full.is_dir():
            shutil.rmtree(full)
        elif full.exists():
            full.unlink()


class FsspecRoot:
    """A root on any fsspec filesystem (``s3://bucket/prefix``, ``gs://…``, ``memory://…``)."""

    def __init__(self, url: str) -> None:
        import fsspec

        self.location = url
        self.fs, self.base = fsspec.core.url_to_fs(url)
        self.base = self.base.rstrip("/")

    def _full(self, path: str) -> str:
        return f"{self.base}/{path}" if path else self.base

    def open_write(self, path: str) -> IO[bytes]:
        full = self._full(path)
        if self.fs.isdir(full):
            raise MlflowError("INVALID_PARAMETER_VALUE", f"Artifact path refers to a directory: {path!r}")
        parent = posixpath.dirname(full)
        if parent:
            self.fs.makedirs(parent, exist_ok=True)
        handle: IO[bytes] = self.fs.open(full, "wb")
        return handle

    def commit(self, handle: IO[bytes], path: str) -> None:
        handle.close()

    def discard(self, handle: IO[bytes]) -> None:
        handle.close()
        try:
            self.fs.rm(handle.path)  # type: ignore[attr-defined]
        except (FileNotFoundError, AttributeError):
            pass

    def open_read(self, path: str) -> IO[bytes]:
        full = self._full(path)
        if self.fs.isdir(full):
            raise IsADirectoryError(path)
        handle: IO[bytes] = self.fs.open(full, "rb")
        return handle

    def kind(self, path: str) -> str | None:
        full = self._full(path)
        if self.fs.isdir(full):
            return "dir"
        return "file" if self.fs.isfile(full) else None

    def list(self, path: str) -> list[Entry]:
        full = self._full(path)
        if not self.fs.isdir(full):
            return []
        entries = []
        for info in self.fs.ls(full, detail=True):
            name = posixpath.basename(str(info["name"]).rstrip("/"))
            is_dir = info.get("type") == "directory"
            entries.append(Entry(name, is_dir, None if is_dir else int(info.get("size") or 0)))
        return sorted(entries, key=lambda entry: entry.name)

    def delete(self, path: str) -> None:
        if not path:
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid path: the artifact root itself is not deleted")
        full = self._full(path)
        if self.fs.exists(full):
            self.fs.rm(full, recursive=True)


class ArtifactRootError(ValueError):
    """The configured artifact root cannot be used (say, an fsspec URL without fsspec installed)."""


def _is_url(location: str) -> bool:
    scheme = urlsplit(location).scheme
    # One letter is a Windows drive (C:\…), not a scheme.
    return len(scheme) > 1


def open_root(location: str) -> ArtifactRoot:
    """The root at ``location``: a path (or ``file://`` URL) is a local directory, another URL fsspec's."""
    if not location:
        raise ArtifactRootError("the artifact root is empty")
    if not _is_url(location):
        return LocalRoot(location)
    parts = urlsplit(location)
    if parts.scheme == "file":
        return LocalRoot(unquote(parts.path))
    try:
        import fsspec  # noqa: F401
    except ImportError:
        raise ArtifactRootError(
            f"the artifact root {location} is a URL, which needs fsspec (pip install fsspec and the "
            f"package for {parts.scheme}://), or give a local directory"
        ) from None
    try:
        return FsspecRoot(location)
    except (ImportError, ValueError) as exc:
        raise ArtifactRootError(f"the artifact root {location} cannot be opened: {exc}") from None


def check_artifact_root(location: str) -> str | None:
    """One line saying why ``location`` cannot be the artifact root, or None (``mlineage serve`` asks first)."""
    try:
        open_root(location)
    except ArtifactRootError as exc:
        return str(exc)
    return None


def default_root(store: Store) -> str:
    """Beside the embedded database: ``<dir>/<name>-artifacts``; for a server database, ``./mlineage-artifacts``."""
    url = store.engine.url
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith(
        "file:"
    ):
        path = Path(database).absolute()
        return str(path.with_name(f"{path.stem}-artifacts"))
    return str(Path(DEFAULT_SERVER_ROOT).absolute())


def safe_path(raw: str | None) -> str:
    """``raw`` as a clean relative path ('' for the root); INVALID_PARAMETER_VALUE where it could escape.

    Decoded until stable first (as MLflow's server does), so ``%2e%2e`` is ``..`` here too.
    """
    path = raw or ""
    for _ in range(10):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    invalid = MlflowError("INVALID_PARAMETER_VALUE", f"Invalid path: {raw!r}")
    if "\\" in path or "#" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise invalid
    if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute() or PureWindowsPath(path).drive:
        raise invalid
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    if ".." in segments:
        raise invalid
    return "/".join(segments)


def _media_type(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _chunks(handle: IO[bytes]) -> Iterator[bytes]:
    try:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk
    finally:
        handle.close()


def router(store: Store, artifact_root: str | None) -> APIRouter:
    """The proxy's routes under MLflow's paths (and their ``/ajax-api`` aliases) onto one root."""
    location = artifact_root or default_root(store)
    root = open_root(location)
    if artifact_root is None and store.engine.url.get_backend_name() != "sqlite":
        log.warning("MLflow artifacts are kept in %s on this machine; servers that share a database "
                    "should share an artifact root too (mlineage serve --artifact-root URL)", location)
    api = APIRouter(include_in_schema=False)

    async def upload(artifact_path: str, request: Request) -> JSONResponse:
        path = safe_path(artifact_path)
        if not path:
            raise MlflowError("INVALID_PARAMETER_VALUE", "Invalid path: an upload names a file")
        handle = await run_in_threadpool(root.open_write, path)
        try:
            async for chunk in request.stream():
                if chunk:
                    await run_in_threadpool(handle.write, chunk)
        except BaseException:
            await run_in_threadpool(root.discard, handle)
            raise
        await run_in_threadpool(root.commit, handle, path)
        return JSONResponse({})

    def download(artifact_path: str) -> Response:
        path = safe_path(artifact_path)
        kind = root.kind(path)
        if kind == "dir":
            raise MlflowError("INVALID_PARAMETER_VALUE",
                              f"Artifact path refers to a directory, not a file: '{path}'")
        if kind is None:
            raise MlflowError("RESOURCE_DOES_NOT_EXIST", f"Artifact '{path}' does not exist")
        name = posixpath.basename(path)
        headers = {"Content-Disposition": f"attachment; filename=\"{name}\"", "X-Content-Type-Options": "nosniff"}
        return StreamingResponse(_chunks(root.open_read(path)), media_type=_media_type(path), headers=headers)

    def list_artifacts(path: str | None = None) -> JSONResponse:
        entries = root.list(safe_path(path))
        files: list[dict[str, Any]] = []
        for entry in entries:
            item: dict[str, Any] = {"path": entry.name, "is_dir": entry.is_dir}
            if entry.size is not None:
                item["file_size"] = entry.size
            files.append(item)
        return JSONResponse({"files": files} if files else {})

    def delete(artifact_path: str) -> JSONResponse:
        root.delete(safe_path(artifact_path))
        return JSONResponse({})

    def multipart_unsupported(artifact_path: str) -> JSONResponse:
        # MLflow's client then uploads the file with one PUT.
        raise MlflowError("NOT_IMPLEMENTED", MULTIPART_UNSUPPORTED)

    for prefix in PREFIXES:
        api.add_api_route(f"{prefix}/artifacts", list_artifacts, methods=["GET"])
        api.add_api_route(f"{prefix}/artifacts/{{artifact_path:path}}", upload, methods=["PUT"])
        api.add_api_route(f"{prefix}/artifacts/{{artifact_path:path}}", download, methods=["GET"])
        api.add_api_route(f"{prefix}/artifacts/{{artifact_path:path}}", delete, methods=["DELETE"])
        api.add_api_route(f"{prefix}/mpu/create/{{artifact_path:path}}", multipart_unsupported, methods=["POST"])
    return api
