"""The lineage engine, beside the access tier: walks in SQL and MLMD's lineage RPC semantics.

It works on a store's connection (``Store.reading()``) and knows nothing above the store:
``traversal`` (batched frontier walks, MLMD's hop and edge rules, paged node caps), ``reads``
(the rows a walk reads), ``one_statement`` (the whole walk as one recursive CTE on PostgreSQL),
``graph`` (answers built from rows) and ``mlmd`` (GetLineageSubgraph and GetLineageGraph with
MLMD's exact answers, which ``Store`` serves). ``mlineage.lineage`` builds the user-facing
queries, views and questions on top of it.
"""
