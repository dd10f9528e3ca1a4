"""Run comparison: which params, data and code changed between runs, which run won, and why.

    from mlineage.reports import compare
    comparison = compare(store, runs=["taxi/2026-11-29-a", "taxi/2026-11-30-b"])
    comparison.params, comparison.final_metrics, comparison.series, comparison.artifacts
    comparison.diff().params                  # only the params that differ
    comparison.best("auc", mode="max")        # the winner (ties: the first listed; NaN and missing skipped)
    comparison.lineage_difference()           # upstream artifacts one run read and the other did not
    render(comparison, "markdown" | "json" | "html" | "table", metric="auc")

- ``selection``: which runs (names or ids, a filter, the last N of a pipeline, a sweep's trials);
- ``comparison``: ``compare`` and the ``Comparison`` frames, ``diff``, ``best``;
- ``lineage_diff``: the lineage difference of two runs (through ``mlineage.lineage``);
- ``render`` (JSON, Markdown, terminal) and ``html`` (one self-contained page with matplotlib plots).
"""

from mlineage.reports.comparison import Comparison, compare, metric_mode
from mlineage.reports.lineage_diff import LineageDifference
from mlineage.reports.render import FORMATS, render, report_data
from mlineage.reports.selection import PIPELINE_TYPES, RUN_TYPES, RunRef, select_runs

__all__ = ["FORMATS", "PIPELINE_TYPES", "RUN_TYPES", "Comparison", "LineageDifference", "RunRef", "compare",
           "metric_mode", "render", "report_data", "select_runs"]
