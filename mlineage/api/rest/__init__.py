"""REST (FastAPI): health, readiness and metrics now; the /api/v1 resources come with the REST issue."""
