"""Producers of metadata (GPU jobs, model files, OpenLineage, …): each turns real outputs into records."""
