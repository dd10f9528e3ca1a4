"""Column types whose physical form differs by database, decided once for tables.py and every migration.

* Ids are BIGINT, except on SQLite, which autoincrements only ``INTEGER PRIMARY KEY``.
* Text and bytes are unbounded on SQLite and PostgreSQL; MySQL's ``TEXT`` and ``BLOB``
  stop at 64 KiB, below what limits.py lets a node hold (4 MiB), so there they are
  ``LONGTEXT`` and ``LONGBLOB``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Integer, LargeBinary, Text
from sqlalchemy.dialects import mysql

IdType = BigInteger().with_variant(Integer(), "sqlite")
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql")
LongBinary = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql")
# An IEEE double everywhere: FLOAT(53) is DOUBLE PRECISION on PostgreSQL; MySQL is told DOUBLE outright.
Double = Float(precision=53).with_variant(mysql.DOUBLE(asdecimal=False), "mysql")  # floats, not Decimals, back

# MySQL/MariaDB: names, URIs and keys compare as MLMD's do on SQLite, byte for byte (case and
# trailing spaces count), so tables use a binary NO PAD collation of utf8mb4; MariaDB calls it
# utf8mb4_nopad_bin, MySQL 8 utf8mb4_0900_bin. See mlineage.migrations.runner (set per database).
MARIADB_COLLATION = "utf8mb4_nopad_bin"
MYSQL_COLLATION = "utf8mb4_0900_bin"

__all__ = ["MARIADB_COLLATION", "MYSQL_COLLATION", "Double", "IdType", "LongBinary", "LongText"]
