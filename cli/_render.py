"""Rich rendering shared by the commands (human output on stdout)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

stdout = Console(highlight=False, soft_wrap=True)


def metrics_table(metrics: dict, title: str = "") -> Table:
    """The model's metrics next to each baseline's (the metrics.json shape)."""
    model = metrics.get("model", {})
    baselines = metrics.get("baselines", {})
    table = Table(title=escape(f"{title}  ({metrics.get('split', '?')} split)") if title else None)
    table.add_column("metric")
    table.add_column("model", justify="right", style="bold")
    for name in baselines:
        table.add_column(name, justify="right")
    for metric, value in model.items():
        if isinstance(value, (list, dict)):
            continue  # the confusion matrix has its own table
        row = [metric, _format(value)] + [_format(baselines[name].get(metric)) for name in baselines]
        table.add_row(*row)
    return table


def confusion_table(metrics: dict) -> Table | None:
    """The model's confusion matrix with its label names, when the metrics have one."""
    matrix = metrics.get("model", {}).get("confusion_matrix")
    labels = metrics.get("labels")
    if not matrix or not labels:
        return None
    table = Table(title="confusion matrix (rows: true label, columns: predicted)")
    table.add_column("")
    for label in labels:
        table.add_column(escape(label), justify="right")
    for label, row in zip(labels, matrix):
        table.add_row(escape(label), *(str(count) for count in row))
    return table


def print_metrics(metrics: dict, title: str) -> None:
    stdout.print(metrics_table(metrics, title=title))
    confusion = confusion_table(metrics)
    if confusion is not None:
        stdout.print(confusion)


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
