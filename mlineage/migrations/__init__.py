"""Alembic migrations of the mlineage schema: one revision per schema change."""
