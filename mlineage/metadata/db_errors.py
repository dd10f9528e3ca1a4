"""Database errors in the API's words: which rule a request broke, never a constraint, table or SQL text.

SQLite, PostgreSQL and MySQL word the same violation differently ("UNIQUE constraint
failed: contexts.type_id, contexts.name", "duplicate key value violates unique
constraint …", "Duplicate entry '…' for key 'uq_contexts_type_id_name'"); all are
read here into (table, columns) and answered with one sentence, the same on every
database. MySQL's errors are told apart by their numbers (1062 duplicate key, 1451/1452
foreign key, 1213 deadlock, 1205 lock wait timeout; 2006/2013 a server gone away is
UNAVAILABLE, as anything else that does not answer).
"""

from __future__ import annotations

import re

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mlineage.errors import (
    AbortedError,
    AlreadyExistsError,
    InvalidArgumentError,
    MlineageError,
    UnavailableError,
)
from mlineage.metadata.limits import MAX_NAME_LENGTH

_SQLITE_COLUMNS = re.compile(r"constraint failed: (?P<columns>[\w., ]+)")
_PG_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)=")

_MYSQL_KEY = re.compile(r"for key '(?:[\w]+\.)?(?P<key>[\w]+)'")
_STATEMENT_TABLE = re.compile(r"^\s*(?:INSERT\s+(?:IGNORE\s+)?INTO|UPDATE)\s+`?(?P<table>\w+)`?", re.IGNORECASE)
#: MySQL error numbers (the driver's ``args[0]``).
MYSQL_DUPLICATE_KEY = 1062
MYSQL_FOREIGN_KEY = frozenset({1451, 1452, 1216, 1217})
MYSQL_CONFLICT = frozenset({1213, 1205})

_NODE_TABLES = {"artifacts": "artifact", "executions": "execution", "contexts": "context"}
_TYPE_KINDS = "artifact, execution or context"


def _mysql_errno(exc: BaseException) -> int | None:
    orig = getattr(exc, "orig", exc)
    if type(orig).__module__.startswith("pymysql") and orig.args and isinstance(orig.args[0], int):
        return int(orig.args[0])
    return None


def _mysql_violation(exc: DBAPIError) -> tuple[str, frozenset[str]]:
    """(table, columns) of a MySQL duplicate key: the key's name is one of the schema's (its naming
    convention), the table the statement's (MariaDB names a primary key only PRIMARY)."""
    from mlineage.schema import metadata

    match = _MYSQL_KEY.search(str(getattr(exc, "orig", exc)))
    statement = _STATEMENT_TABLE.match(exc.statement or "") if isinstance(exc, DBAPIError) else None
    table = statement.group("table") if statement else ""
    key = match.group("key") if match else ""
    schema_table = metadata.tables.get(table)
    if schema_table is None:
        return table, frozenset()
    if key == "PRIMARY":
        return table, frozenset(c.name for c in schema_table.primary_key.columns)
    for constraint in schema_table.constraints:
        if constraint.name == key:
            return table, frozenset(c.name for c in getattr(constraint, "columns", ()))
    return table, frozenset()


def _violation(exc: DBAPIError) -> tuple[str, frozenset[str]]:
    """(table, columns) of a constraint violation, as far as the driver says ('' and {} when it does not)."""
    if _mysql_errno(exc) == MYSQL_DUPLICATE_KEY:
        return _mysql_violation(exc)
    orig = getattr(exc, "orig", exc)
    text = str(orig)
    match = _SQLITE_COLUMNS.search(text)
    if match:
        pairs = [part.strip().split(".", 1) for part in match.group("columns").split(",")]
        table = pairs[0][0] if pairs and len(pairs[0]) == 2 else ""
        return table, frozenset(pair[-1] for pair in pairs)
    diag = getattr(orig, "diag", None)
    table = getattr(diag, "table_name", None) or ""
    detail = getattr(diag, "message_detail", None) or text
    match = _PG_KEY.search(detail)
    columns = frozenset(c.strip() for c in match.group("columns").split(",")) if match else frozenset()
    return table, columns


def integrity_error(exc: IntegrityError) -> MlineageError:
    """ALREADY_EXISTS (or INVALID_ARGUMENT) saying which uniqueness rule the request broke."""
    if _mysql_errno(exc) in MYSQL_FOREIGN_KEY:
        return InvalidArgumentError("the request refers to a node or type that does not exist")
    table, columns = _violation(exc)
    node = _NODE_TABLES.get(table)
    if node and {"type_id", "name"} <= columns:
        return AlreadyExistsError(
            f"Given node already exists: another {node} of the same type has this name ({node} names are "
            "unique within a type)"
        )
    if node and "external_id" in columns:
        return AlreadyExistsError(
            f"Given node already exists: another {node} has this external_id (external ids are unique "
            f"among {node}s)"
        )
    if table == "types" and "external_id" in columns:
        return AlreadyExistsError(
            "Conflict of external_id: another type of the same kind has this external_id"
        )
    if table == "types":
        return AlreadyExistsError(f"Type already exists: an {_TYPE_KINDS} type with this name and version")
    if table == "events":
        return AlreadyExistsError(
            "Given event already exists: an event with the same artifact_id, execution_id and type"
        )
    if table == "parent_contexts":
        return AlreadyExistsError("Given parent_context already exists")
    if table == "metric_points":
        return AlreadyExistsError("a metric point with this execution, name and sequence number already exists")
    if table in ("attributions", "associations"):
        return AlreadyExistsError(f"the {table[:-1]} already exists")
    if "FOREIGN KEY" in str(getattr(exc, "orig", exc)) or "foreign key" in str(getattr(exc, "orig", exc)):
        return InvalidArgumentError("the request refers to a node or type that does not exist")
    return AlreadyExistsError("the request conflicts with stored data: a value that must be unique is taken")


def data_error(exc: DBAPIError) -> InvalidArgumentError:
    """INVALID_ARGUMENT for a value the database cannot hold, in the API's words."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "nul" in text or "0x00" in text:
        return InvalidArgumentError("a text value of the request contains a NUL character (\\0), which text cannot hold")
    if "too long" in text:
        return InvalidArgumentError(
            f"a name, version, external_id or property name of the request is longer than {MAX_NAME_LENGTH} "
            "characters"
        )
    if "out of range" in text or "overflow" in text:
        return InvalidArgumentError("a number of the request is out of range (64-bit integers and doubles)")
    if "invalid input syntax" in text or "invalid text representation" in text:
        return InvalidArgumentError("a value of the request does not have the type its field or comparison needs")
    return InvalidArgumentError("a value of the request cannot be stored or compared")


def is_data_error(exc: BaseException) -> bool:
    return isinstance(exc, DataError)


def operational_error(exc: DBAPIError) -> MlineageError:
    """ABORTED for a lock conflict or deadlock (retry), UNAVAILABLE for a database that does not answer."""
    orig = getattr(exc, "orig", exc)
    errno = _mysql_errno(exc)
    message = (str(orig.args[1]) if errno is not None and len(orig.args) > 1 else str(orig)).strip().splitlines()[0:1]
    reason = message[0] if message else "database error"
    if errno in MYSQL_CONFLICT:
        return AbortedError(f"concurrent transaction conflict, retry: {reason}")
    if "locked" in reason or "deadlock" in reason or "could not serialize" in reason or "lock timeout" in reason:
        return AbortedError(f"concurrent transaction conflict, retry: {reason}")
    return UnavailableError(f"database unavailable: {reason}")


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a database's constraint violation (the driver's, before mapping)."""
    return isinstance(exc, IntegrityError)


#: A full connection pool: every connection busy for longer than the pool's timeout. The database is
#: fine and the call may be retried; it must not read as the server's own failure (INTERNAL).
POOL_EXHAUSTED = "every database connection of this server is busy; retry later"


def write_error(exc: BaseException) -> MlineageError | None:
    """What a write transaction answers for a database error; None for anything else (raised as is)."""
    if isinstance(exc, PoolTimeoutError):
        return UnavailableError(POOL_EXHAUSTED)
    if isinstance(exc, IntegrityError):
        return integrity_error(exc)
    if isinstance(exc, DataError):
        return data_error(exc)
    if isinstance(exc, OperationalError):
        return operational_error(exc)
    return None


def read_error(exc: BaseException) -> MlineageError | None:
    """What a read answers for a database error (a value it cannot compare, a database that does not
    answer); None for anything else (raised as is)."""
    if isinstance(exc, PoolTimeoutError):
        return UnavailableError(POOL_EXHAUSTED)
    if isinstance(exc, DataError):
        return data_error(exc)
    if isinstance(exc, OperationalError):
        return operational_error(exc)
    return None
