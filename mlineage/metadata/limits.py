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

# Node and type fields, in characters, as MLMD's columns hold them (VARCHAR(255) on every backend; its
# PostgreSQL and MySQL refuse longer, its SQLite does not check): node, type and property names, type
# versions, external ids.
MAX_NAME_LENGTH = 255
# URIs and type descriptions: MLMD's TEXT, 65,535 bytes on MySQL (any such text has at most as many characters).
MAX_TEXT_LENGTH = 65_535
# No text field may hold NUL ("\0"): PostgreSQL cannot store it and MLMD's SQLite cuts the text there.
# (Struct values and event path keys may: they are stored escaped.)

# A struct_value nests at most this many protobuf messages below its property's Value: what MLMD's
# parser takes in a PutArtifacts request (100 levels in all), 32 levels of objects or 48 of lists.
MAX_STRUCT_MESSAGE_DEPTH = 96
MAX_STRUCT_OBJECT_DEPTH = 32
# REST bodies: JSON nested deeper than this is refused before it is read into messages.
MAX_JSON_DEPTH = 100

# A gRPC list answer (GetArtifacts, …ByType, …ByContext) is cut to at most this many bytes, with a
# next_page_token for the rest: ml-metadata's clients receive at most 4 MiB by default.
MAX_GRPC_LIST_ANSWER_BYTES = 4 * 1024 * 1024 - 64 * 1024
# One node (artifact, execution, context) serialized, properties included: every write surface refuses a
# larger one. MLINEAGE_MAX_NODE_BYTES (or Store(max_node_bytes=...)) changes it. By default, as large as
# one list answer holds: every node an MLMD server takes over gRPC (whose clients send at most 4 MiB) is
# taken, and any node can still be read back by a default ml-metadata client.
DEFAULT_MAX_NODE_BYTES = MAX_GRPC_LIST_ANSWER_BYTES
MAX_NODE_BYTES_ENV = "MLINEAGE_MAX_NODE_BYTES"
