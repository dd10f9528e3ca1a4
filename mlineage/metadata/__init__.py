"""The store: MLMD's rules (validation, uniqueness, upserts, listing, filters) over SQLAlchemy."""
