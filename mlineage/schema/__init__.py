"""The versioned database schema (SQLAlchemy tables)."""

from mlineage.schema.tables import *  # noqa: F401,F403
from mlineage.schema.tables import metadata  # noqa: F401
