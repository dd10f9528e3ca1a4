"""REST (FastAPI): /api/v1 on the protobuf JSON mapping of the one model, OpenLineage in and out, health, metrics.

``app.create_app(store)`` builds the application; one module per resource group
(``types``, ``nodes``, ``edges``, ``lineage``, ``openlineage``), with ``protojson``
(JSON <-> messages), ``jsonschema`` (OpenAPI schemas from the descriptors),
``errors`` (status codes and error bodies) and ``openapi`` (the document).
"""
