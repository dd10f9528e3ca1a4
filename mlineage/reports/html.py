"""The comparison as one self-contained HTML file: tables plus plots drawn by matplotlib into embedded PNGs.

Nothing in the page is fetched: the plots are ``data:`` images, the style is
inline, and a Content-Security-Policy forbids every other source, so the file
opens the same offline, from a CI artifact or a mail attachment. matplotlib is
used through its object API (``Figure`` with the Agg canvas), never pyplot, so
drawing a report changes no global state of the caller's process.

Plots: metric series over steps for every run (the chosen metric first, up to
``MAX_SERIES_PLOTS`` metrics), bar charts of final metrics, parallel
coordinates (params → metric) for a sweep or three or more runs whose numeric
params differ, and the lineage difference of two runs.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mlineage.reports.comparison import Comparison, differing_columns
from mlineage.reports.render import lineage_pair, report_data
from mlineage.reports.values import jsonable, number

MAX_SERIES_PLOTS = 6
MAX_BAR_METRICS = 8
MAX_BAR_RUNS = 40
MAX_AXES = 10
MAX_POINTS_PER_LINE = 500
DPI = 100
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:12px 0}figcaption{font-size:13px;color:#555}.best{background:#e8f5e9}
"""


def _png(figure) -> tuple[str, int, int]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    canvas.print_png(buffer)
    width, height = (int(round(v)) for v in figure.get_size_inches() * figure.dpi)
    return base64.b64encode(buffer.getvalue()).decode(), width, height


def _figure(width_in: float, height_in: float, *, bottom: float = 0.15, hspace: float = 0.3):
    from matplotlib.figure import Figure

    # Fixed margins, not a layout engine: constrained/tight layout costs more than drawing the plot.
    figure = Figure(figsize=(width_in, height_in), dpi=DPI)
    figure.subplots_adjust(left=0.08, right=0.97, top=0.9, bottom=bottom, hspace=hspace, wspace=0.2)
    return figure


def _img(name: str, caption: str, figure) -> str:
    data, width, height = _png(figure)
    return (f'<figure data-plot="{html.escape(name)}"><img src="data:image/png;base64,{data}" width="{width}" '
            f'height="{height}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption>'
            "</figure>")


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    if len(frame) <= MAX_POINTS_PER_LINE:
        return frame
    stride = math.ceil(len(frame) / MAX_POINTS_PER_LINE)
    return pd.concat([frame.iloc[::stride], frame.iloc[[-1]]])


def _series_metrics(comparison: Comparison, metric: str | None) -> list[str]:
    finals = comparison.final_metrics
    series_keys = set(comparison._series_sources.values())
    # a metric with a number in some run (an all-NaN series has nothing to draw), most runs first
    counts = {key: int(finals[key].notna().sum()) for key in finals.columns if key in series_keys}
    ranked = sorted((key for key, count in counts.items() if count), key=lambda key: -counts[key])
    names = [m for m in ranked if m != metric]
    chosen = ([metric] if metric is not None and counts.get(metric) else []) + names
    return chosen[:MAX_SERIES_PLOTS]


def series_plots(comparison: Comparison, metric: str | None) -> list[str]:
    """One plot per metric: its series over steps, a line per run."""
    wanted = _series_metrics(comparison, metric)
    if not wanted:
        return []
    points = comparison.read_series(wanted) if comparison._series is None else comparison.series
    out = []
    for name in wanted:
        figure = _figure(8, 3.5)
        axes = figure.add_subplot()
        rows = points[points["metric"] == name]
        for index, (run, line) in enumerate(rows.groupby("run", sort=False)):
            thin = _thin(line)
            axes.plot(thin["step"], thin["value"], label=run if index < 12 else None, linewidth=1.2)
        axes.set_title(name)
        axes.set_xlabel("step")
        axes.grid(alpha=0.3)
        if rows["run"].nunique() <= 12:
            axes.legend(fontsize=7, loc="upper right")  # "best" searches the points: slow on long series
        out.append(_img(f"series:{name}", f"{name} over steps, per run", figure))
    return out


def bar_plot(comparison: Comparison, metric: str | None, best: str | None) -> list[str]:
    """Final values of up to MAX_BAR_METRICS metrics, a bar per run (the best run's bar darker)."""
    finals = comparison.final_metrics
    names = [m for m in finals.columns if finals[m].notna().any()]
    if metric in names:
        names = [metric] + [m for m in names if m != metric]
    names = names[:MAX_BAR_METRICS]
    if not names:
        return []
    runs = comparison.names[:MAX_BAR_RUNS]
    columns = 2 if len(names) > 1 else 1
    rows = math.ceil(len(names) / columns)
    figure = _figure(10, max(2.8, 2.6 * rows), bottom=0.9 / max(2.8, 2.6 * rows), hspace=0.7)
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        values = [finals.at[run, name] for run in runs]
        colors = ["#2e7d32" if run == best else "#64b5f6" for run in runs]
        axes.bar(range(len(runs)), [0.0 if pd.isna(v) else float(v) for v in values], color=colors)
        axes.set_title(name, fontsize=9)
        axes.set_xticks(range(len(runs)))
        axes.set_xticklabels([r[-18:] for r in runs], rotation=45 if len(runs) > 3 else 0, ha="right",
                             fontsize=6 if len(runs) > 10 else 8)
        axes.grid(axis="y", alpha=0.3)
    caption = "final metrics per run" + (f" (first {MAX_BAR_RUNS} runs)" if len(comparison.names) > MAX_BAR_RUNS
                                         else "")
    return [_img("bars", caption, figure)]


def _axis_values(column: pd.Series) -> tuple[list[float], list[str] | None] | None:
    numbers = [number(v) for v in column.tolist()]
    if all(v is not None for v in numbers):
        return [float(v) for v in numbers if v is not None], None
    labels = sorted({str(v) for v in column.tolist()})
    if len(labels) > 20:
        return None
    return [float(labels.index(str(v))) for v in column.tolist()], labels


def parallel_plot(comparison: Comparison, metric: str | None) -> list[str]:
    """Parallel coordinates, params → metric, a line per run coloured by the metric (sweeps, or ≥ 3 runs)."""
    if len(comparison.names) < 3 and comparison.sweep is None:
        return []
    params = differing_columns(comparison.params)
    target = metric or next(iter(comparison.final_metrics.columns), None)
    if params.empty or target is None:
        return []
    axes_values: list[tuple[str, list[float], list[str] | None]] = []
    for name in list(params.columns)[:MAX_AXES]:
        found = _axis_values(params[name])
        if found is not None:
            axes_values.append((name, *found))
    metric_values = [float(v) for v in comparison.final_metrics[target].tolist()]
    if not axes_values:
        return []
    axes_values.append((target, metric_values, None))
    figure = _figure(10, 4.5, bottom=0.2)
    axes = figure.add_subplot()
    scaled = []
    for x, (_, values, labels) in enumerate(axes_values):
        finite = [v for v in values if not math.isnan(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        span = (high - low) or 1.0
        scaled.append([0.5 if math.isnan(v) else (v - low) / span for v in values])
        for y, value in ((0.0, low), (1.0, high)):
            text = labels[int(value)] if labels else f"{value:.4g}"
            axes.annotate(text, (x, y), xytext=(3, 0), textcoords="offset points", fontsize=7, va="center")
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    finite_metric = [v for v in metric_values if not math.isnan(v)]
    norm = Normalize(min(finite_metric, default=0.0), max(finite_metric, default=1.0))
    cmap = colormaps["viridis"]
    for run_index in range(len(comparison.names)):
        ys = [column[run_index] for column in scaled]
        value = metric_values[run_index]
        axes.plot(range(len(scaled)), ys, color="#bbbbbb" if math.isnan(value) else cmap(norm(value)),
                  alpha=0.8, linewidth=1.2)
    axes.set_xticks(range(len(axes_values)))
    axes.set_xticklabels([name for name, _, _ in axes_values], rotation=20, ha="right", fontsize=8)
    axes.set_yticks([])
    for x in range(len(axes_values)):
        axes.axvline(x, color="#444", linewidth=0.8)
    figure.colorbar(_mappable(cmap, norm), ax=axes, label=target)
    return [_img("parallel", f"parallel coordinates: params → {target}", figure)]


def _mappable(cmap, norm):
    from matplotlib.cm import ScalarMappable

    mappable = ScalarMappable(norm=norm, cmap=cmap)
    mappable.set_array([])
    return mappable


def lineage_plot(difference: dict[str, Any]) -> list[str]:
    """The two runs' upstream differences side by side, one box per artifact."""
    left, right = difference["only_a"][:14], difference["only_b"][:14]
    height = max(1.6, 0.45 * max(len(left), len(right), 1) + 0.9)
    figure = _figure(10, height)
    axes = figure.add_subplot()
    axes.set_xlim(0, 2)
    rows = max(len(left), len(right), 1)
    axes.set_ylim(-rows - 0.4, 0.6)
    axes.axis("off")
    axes.text(0.5, 0.3, f"only {difference['a']}", ha="center", fontsize=10, weight="bold")
    axes.text(1.5, 0.3, f"only {difference['b']}", ha="center", fontsize=10, weight="bold")
    for column, items, colour in ((0.5, left, "#ffe0b2"), (1.5, right, "#c8e6c9")):
        if not items:
            axes.text(column, -1, "(nothing)", ha="center", fontsize=9, color="#777")
        for index, item in enumerate(items):
            label = f"{item['type']} #{item['artifact_id']}: {item['properties']}"
            axes.text(column, -index - 1, label[:70], ha="center", va="center", fontsize=7.5,
                      bbox={"boxstyle": "round", "facecolor": colour, "edgecolor": "#888"})
    return [_img("lineage", f"lineage difference: {difference['a']} vs {difference['b']}", figure)]


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], best_row: int | None = None) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = []
    for index, row in enumerate(rows):
        cells = []
        for value in row:
            value = jsonable(value)
            text = "" if value is None else (f"{value:.6g}" if isinstance(value, float) else str(value))
            numeric = ' class="num"' if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
            cells.append(f"<td{numeric}>{html.escape(text)}</td>")
        marker = ' class="best"' if index == best_row else ""
        body.append(f"<tr{marker}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def to_html(comparison: Comparison, *, metric: str | None = None, mode: str = "max", diff: bool = False) -> str:
    """The whole report as one HTML document (text)."""
    data = report_data(comparison, metric=metric, mode=mode, diff=diff)
    names = [run["run"] for run in data["runs"]]
    best = data["best"]
    parts = [f"<h1>Comparing {len(names)} runs</h1>"]
    if metric is not None:
        parts.append(f"<p>Best by <code>{html.escape(metric)}</code> ({mode}): "
                     f"<strong>{html.escape(best or 'no run has a value')}</strong></p>")
    summary_columns = ["run", "id", "type", "state", "steps", "duration_s", "git_commit"]
    parts.append(_table(summary_columns, [[run[c] for c in summary_columns] for run in data["runs"]],
                        names.index(best) if best in names else None))
    parts.append("<h2>Metric series</h2>")
    parts += series_plots(comparison, metric) or ["<p>No metric series.</p>"]
    parts.append("<h2>Final metrics</h2>")
    parts += bar_plot(comparison, metric, best)
    metric_names: list[str] = []
    for run in data["runs"]:
        metric_names.extend(k for k in run["metrics"] if k not in metric_names)
    parts.append(_table(["metric", *names], [[m, *(run["metrics"].get(m) for run in data["runs"])]
                                             for m in metric_names]))
    parallel = parallel_plot(comparison, metric)
    if parallel:
        parts.append("<h2>Params → metric</h2>")
        parts += parallel
    parts.append("<h2>Params" + (" that differ" if diff else "") + "</h2>")
    param_names: list[str] = []
    for run in data["runs"]:
        param_names.extend(k for k in run["params"] if k not in param_names)
    parts.append(_table(["param", *names], [[p, *(run["params"].get(p) for run in data["runs"])]
                                            for p in param_names]))
    difference = data.get("lineage_difference")
    if difference is not None:
        parts.append(f"<h2>Lineage difference: {html.escape(difference['a'])} vs {html.escape(difference['b'])}</h2>")
        parts.append("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in difference["changes"]) + "</ul>"
                     if difference["changes"] else "<p>The same upstream artifacts.</p>")
        parts += lineage_plot(difference)
    a_b = lineage_pair(comparison, best) if len(names) >= 2 else None
    title = "mlineage comparison" + (f": {a_b[0]} vs {a_b[1]}" if a_b and len(names) == 2 else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


__all__ = ["CSP", "to_html"]
