"""The limits every write and query surface enforces, decided once and checked before any SQL.

One table of numbers, the same on SQLite and PostgreSQL, so a request that one
database would take and another would refuse is answered the same everywhere.
Adapters (gRPC, REST, the client) read these constants; the store checks them.
"""

from __future__ import annotations

# Filter queries (MLMD's filter_query): parenthesis / NOT / AND / OR nesting the parser accepts.
FILTER_MAX_DEPTH = 64
