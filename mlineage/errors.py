"""Errors of mlineage, one class per canonical status code (as ml_metadata.errors has).

Every layer raises these; the gRPC and REST adapters map ``code`` to their
status codes, so a caller always sees the same class for the same mistake.
"""

from __future__ import annotations

# Canonical codes shared by gRPC, absl and MLMD.
OK = 0
CANCELLED = 1
UNKNOWN = 2
INVALID_ARGUMENT = 3
DEADLINE_EXCEEDED = 4
NOT_FOUND = 5
ALREADY_EXISTS = 6
PERMISSION_DENIED = 7
RESOURCE_EXHAUSTED = 8
FAILED_PRECONDITION = 9
ABORTED = 10
OUT_OF_RANGE = 11
UNIMPLEMENTED = 12
INTERNAL = 13
UNAVAILABLE = 14
DATA_LOSS = 15
UNAUTHENTICATED = 16


class MlineageError(Exception):
    """Base class; ``code`` is the canonical status code."""

    code: int = UNKNOWN

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


# ml_metadata calls its base class StatusError; keep that name as an alias.
StatusError = MlineageError


class CancelledError(MlineageError):
    code = CANCELLED


class UnknownError(MlineageError):
    code = UNKNOWN


class InvalidArgumentError(MlineageError):
    code = INVALID_ARGUMENT


class DeadlineExceededError(MlineageError):
    code = DEADLINE_EXCEEDED


class NotFoundError(MlineageError):
    code = NOT_FOUND


class AlreadyExistsError(MlineageError):
    code = ALREADY_EXISTS


class PermissionDeniedError(MlineageError):
    code = PERMISSION_DENIED


class ResourceExhaustedError(MlineageError):
    code = RESOURCE_EXHAUSTED


class FailedPreconditionError(MlineageError):
    code = FAILED_PRECONDITION


class AbortedError(MlineageError):
    code = ABORTED


class OutOfRangeError(MlineageError):
    code = OUT_OF_RANGE


class UnimplementedError(MlineageError):
    code = UNIMPLEMENTED


class InternalError(MlineageError):
    code = INTERNAL


class UnavailableError(MlineageError):
    code = UNAVAILABLE


class DataLossError(MlineageError):
    code = DATA_LOSS


class UnauthenticatedError(MlineageError):
    code = UNAUTHENTICATED


_BY_CODE = {cls.code: cls for cls in MlineageError.__subclasses__()}


def make_exception(message: str, code: int) -> MlineageError:
    """The exception class for a canonical ``code`` (UnknownError for codes it does not know)."""
    return _BY_CODE.get(code, UnknownError)(message)
