"""The limits every write and query surface enforces, decided once and checked before any SQL.

One table of numbers, the same on SQLite and PostgreSQL, so a request that one
database would take and another would refuse is answered the same everywhere.
Adapters (gRPC, REST, the client) read these constants; the store checks them.
"""

from __future__ import annotations

# Filter queries (MLMD's filter_query). Depth counts NOT and each change between AND and OR;
# parentheses alone and long flat chains (a AND b AND ...) do not nest. MLMD itself, on SQLite,
# answers up to about 88 levels (then INTERNAL: "parser stack overflow"), so 100 takes all it takes.
FILTER_MAX_DEPTH = 100
# The longest filter text, in characters: gRPC's default message limit, so any filter an MLMD
# client can send to an MLMD server is taken (MLMD accepts 600 KB IN lists and 3 MB strings).
FILTER_MAX_LENGTH = 4 * 1024 * 1024
