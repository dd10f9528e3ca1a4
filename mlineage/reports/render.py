"""A comparison as JSON, Markdown (a pull-request comment) and a terminal table (rich).

All three are made from ``report_data``: one dict per run (its params and
final metrics), the best run for the chosen metric, and what differs. The
JSON is that dict; the tables show the runs, then params and metrics with a
row per name and a column per run, as MLflow's compare view does.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from mlineage.errors import InvalidArgumentError
from mlineage.reports.comparison import Comparison
from mlineage.reports.values import jsonable, missing

FORMATS = ("table", "markdown", "json", "html")
_SUMMARY_COLUMNS = ("state", "steps", "duration_s", "git_commit")


def _records(frame) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in frame.to_dict("records")]


def report_data(comparison: Comparison, *, metric: str | None = None, mode: str = "max", diff: bool = False,
                lineage: bool = True) -> dict[str, Any]:
    """The JSON report: ``{"runs": [...], "best": NAME or null, "differs": {...}, ...}``.

    Each run has ``run``, ``id``, ``type``, ``state``, ``duration_s``, ``git_commit``, ``params`` ({step.param:
    value}) and ``metrics`` ({metric: final value}, NaN as null; best points are ``Comparison.best_metrics``,
    left out here because they need every point read). With ``diff`` only the
    params and metrics that differ are listed. ``lineage_difference`` is there for two runs or more
    (the first run against the best one, or against the second).
    """
    if mode not in ("max", "min"):
        raise InvalidArgumentError(f"mode must be 'max' or 'min', got {mode!r}")
    best = ties = None
    if metric is not None:
        ties = comparison.best_runs(metric, mode)
        best = ties[0] if ties else None
    differs = comparison.differs()
    view = comparison.diff() if diff else comparison
    logged = comparison.logged
    runs = []
    for name in comparison.names:
        row = comparison.summary.loc[name]
        params = {k: jsonable(v) for k, v in view.params.loc[name].items() if not missing(v)} \
            if name in view.params.index else {}
        metrics = {k: jsonable(v) for k, v in view.final_metrics.loc[name].items() if k in view.final_metrics} \
            if name in view.final_metrics.index else {}
        runs.append({
            "run": name, "id": int(row["id"]), "type": row["type"], "label": jsonable(row["label"]),
            "state": row["state"], "steps": int(row["steps"]), "started": jsonable(row["started"]),
            "ended": jsonable(row["ended"]), "duration_s": jsonable(row["duration_s"]),
            "git_commit": jsonable(row["git_commit"]), "params": params,
            "metrics": {k: v for k, v in metrics.items() if (name, k) in logged},
        })
    data: dict[str, Any] = {
        "runs": runs,
        "metric": metric,
        "mode": mode if metric is not None else None,
        "best": best,
        "ties": ties if ties and len(ties) > 1 else [],
        "differs": differs,
        "metric_modes": dict(comparison.metric_modes),
        "sweep": comparison.sweep,
        "steps": _records(comparison.steps),
        "artifacts": _records(view.artifacts),
        "gpus": _records(comparison.gpus),
    }
    if lineage and len(comparison.names) >= 2 and hasattr(comparison._store, "lineage_page"):
        a, b = lineage_pair(comparison, best)
        data["lineage_difference"] = comparison.lineage_difference(a, b).as_dict()
    return data


def lineage_pair(comparison: Comparison, best: str | None) -> tuple[str, str]:
    """Which two runs the reports walk: the first against the best (or, when the first is best, the second)."""
    first = comparison.names[0]
    if best is not None and best != first:
        return first, best
    return first, comparison.names[1]


def _cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text


def _md_cell(value: Any) -> str:
    return _cell(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _by_name(data: dict[str, Any], key: str) -> list[list[Any]]:
    names: list[str] = []
    for run in data["runs"]:
        names.extend(k for k in run[key] if k not in names)
    return [[name, *(run[key].get(name) for run in data["runs"])] for name in names]


def to_markdown(comparison: Comparison, *, metric: str | None = None, mode: str = "max",
                diff: bool = False) -> str:
    """Markdown for a pull-request comment: the runs, params and metrics tables, the best run, the lineage diff."""
    data = report_data(comparison, metric=metric, mode=mode, diff=diff)
    names = [run["run"] for run in data["runs"]]
    parts = [f"## Comparing {len(names)} run{'s' if len(names) != 1 else ''}"]
    if metric is not None:
        verdict = f"**{data['best']}**" if data["best"] else "no run (no value for it)"
        tie = f" (tied with {', '.join(data['ties'][1:])})" if data["ties"] else ""
        parts.append(f"Best by `{metric}` ({mode}): {verdict}{tie}")
    parts.append(_md_table(["run", *_SUMMARY_COLUMNS],
                           [[run["run"], *(run[c] for c in _SUMMARY_COLUMNS)] for run in data["runs"]]))
    parts.append("### Params" + (" that differ" if diff else ""))
    params = _by_name(data, "params")
    parts.append(_md_table(["param", *names], params) if params else "_none_")
    parts.append("### Metrics (final)" + (" that differ" if diff else ""))
    metrics = _by_name(data, "metrics")
    parts.append(_md_table(["metric", *names], metrics) if metrics else "_none_")
    difference = data.get("lineage_difference")
    if difference is not None:
        parts.append(f"### Lineage difference: {difference['a']} vs {difference['b']}")
        parts.append("\n".join(f"- {line}" for line in difference["changes"]) or "_the same upstream artifacts_")
    return "\n\n".join(parts) + "\n"


def to_table(comparison: Comparison, *, metric: str | None = None, mode: str = "max", diff: bool = False,
             width: int = 160) -> str:
    """The terminal rendering (rich tables, as plain text: a terminal or a file shows it alike)."""
    from rich.console import Console
    from rich.table import Table

    data = report_data(comparison, metric=metric, mode=mode, diff=diff)
    names = [run["run"] for run in data["runs"]]
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    runs = Table(title=f"{len(names)} runs")
    for column in ("run", *_SUMMARY_COLUMNS):
        runs.add_column(column)
    for run in data["runs"]:
        marker = " *" if run["run"] == data["best"] else ""
        runs.add_row(run["run"] + marker, *(_cell(run[c]) for c in _SUMMARY_COLUMNS))
    console.print(runs)
    if metric is not None:
        console.print(f"best by {metric} ({mode}): {data['best'] or 'none (no run has a value)'}")
    for title, key in (("params", "params"), ("metrics (final)", "metrics")):
        rows = _by_name(data, key)
        table = Table(title=title + (" that differ" if diff else ""))
        table.add_column(key[:-1])
        for name in names:
            table.add_column(name)
        for row in rows:
            table.add_row(*(_cell(c) for c in row))
        console.print(table)
    difference = data.get("lineage_difference")
    if difference is not None:
        console.print(f"lineage difference: {difference['a']} vs {difference['b']}")
        for line in difference["changes"] or ["the same upstream artifacts"]:
            console.print(f"  - {line}", markup=False)
    return buffer.getvalue()


def render(comparison: Comparison, format: str = "table", *, metric: str | None = None,  # noqa: A002
           mode: str = "max", diff: bool = False) -> str:
    """The comparison in ``format`` (table, markdown, json or html) as text."""
    if format not in FORMATS:
        raise InvalidArgumentError(f"unknown format {format!r}: one of {', '.join(FORMATS)}")
    if metric is not None:
        comparison.require_metric(metric)
    if format == "json":
        import json

        return json.dumps(report_data(comparison, metric=metric, mode=mode, diff=diff), indent=2,
                          allow_nan=False) + "\n"
    if format == "markdown":
        return to_markdown(comparison, metric=metric, mode=mode, diff=diff)
    if format == "html":
        from mlineage.reports.html import to_html

        return to_html(comparison, metric=metric, mode=mode, diff=diff)
    return to_table(comparison, metric=metric, mode=mode, diff=diff)


__all__ = ["FORMATS", "lineage_pair", "render", "report_data", "to_markdown", "to_table"]
