"""Lineage: traversals in SQL, MLMD's lineage RPCs, graph views and exports."""
