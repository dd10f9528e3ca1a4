"""MLflow's error shape: ``{"error_code": NAME, "message": TEXT}`` with the HTTP status MLflow's server gives it.

Routes under ``/api/2.0/mlflow``, ``/ajax-api/2.0/mlflow`` and ``/api/2.0/mlflow-artifacts``
raise :class:`MlflowError`; the handler installed here answers it in MLflow's
shape so the unmodified ``mlflow`` client raises what it raises against MLflow.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mlineage.errors import MlineageError

# MLflow's error codes (its databricks_pb2 ErrorCode names) and the HTTP status its server answers each with.
STATUS = {
    "INTERNAL_ERROR": 500,
    "TEMPORARILY_UNAVAILABLE": 503,
    "BAD_REQUEST": 400,
    "INVALID_PARAMETER_VALUE": 400,
    "MALFORMED_REQUEST": 400,
    "INVALID_STATE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "NOT_IMPLEMENTED": 501,
}


class MlflowError(Exception):
    """An error answered in MLflow's shape: ``MlflowError("INVALID_PARAMETER_VALUE", "…")``."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code if error_code in STATUS else "INTERNAL_ERROR"
        self.message = message

    @property
    def status(self) -> int:
        return STATUS[self.error_code]


def install_errors(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, MlflowError)
        return JSONResponse({"error_code": exc.error_code, "message": exc.message}, status_code=exc.status)

    app.add_exception_handler(MlflowError, handle)


# mlineage's canonical codes (mlineage.errors) and the MLflow code a store error becomes.
_FROM_CANONICAL = {
    3: "INVALID_PARAMETER_VALUE",  # INVALID_ARGUMENT
    5: "RESOURCE_DOES_NOT_EXIST",  # NOT_FOUND
    6: "RESOURCE_ALREADY_EXISTS",  # ALREADY_EXISTS
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "INVALID_STATE",  # FAILED_PRECONDITION (a read-only store, a rolled-back unit of work)
    10: "TEMPORARILY_UNAVAILABLE",  # ABORTED (a write conflict: try again)
    14: "TEMPORARILY_UNAVAILABLE",  # UNAVAILABLE
    16: "UNAUTHENTICATED",
}


def from_mlineage(exc: MlineageError) -> MlflowError:
    """The MlflowError a store error is answered as (its message kept: the store's messages hold no SQL)."""
    return MlflowError(_FROM_CANONICAL.get(exc.code, "INTERNAL_ERROR"), exc.message)
