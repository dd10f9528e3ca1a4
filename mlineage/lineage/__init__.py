"""Lineage: traversals in SQL, MLMD's lineage RPCs, graph views and exports, and the questions people ask.

- ``traversal``: the engine (batched frontier queries, MLMD's hop and edge rules, paged node caps);
- ``mlmd``: GetLineageSubgraph and GetLineageGraph with MLMD's exact answers;
- ``query``: ``lineage(store, ...)``, a hydrated answer with hops, filters and pages;
- ``export`` and ``tree``: networkx, DOT, GraphML, Mermaid, node-link JSON and a terminal tree;
- ``questions``: upstream datasets, models trained from, readers, paths, impact, runs;
- ``command``: the ``mlineage lineage`` subcommand.
"""

from mlineage.lineage.query import Lineage, lineage
from mlineage.lineage.traversal import Direction, Traversal, traverse

__all__ = ["Direction", "Lineage", "Traversal", "lineage", "traverse"]
