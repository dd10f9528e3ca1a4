"""Lineage for people and programs, above the store: queries with hops and pages, views, exports, questions.

- ``query``: ``lineage(store, ...)``, a hydrated answer with hops, filters and pages;
- ``export`` and ``tree``: networkx, DOT, GraphML, Mermaid, node-link JSON and a terminal tree;
- ``questions``: upstream datasets, models trained from, readers, paths, impact, runs.

The walks themselves (and MLMD's lineage RPCs) are the store's: ``mlineage.metadata.lineage_engine``.
``Direction``, ``Traversal`` and ``traverse`` are re-exported here for callers of the engine.
"""

from mlineage.lineage.query import Lineage, lineage
from mlineage.metadata.lineage_engine.traversal import Direction, Traversal, traverse

__all__ = ["Direction", "Lineage", "Traversal", "lineage", "traverse"]
