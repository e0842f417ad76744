"""Rich rendering shared by the commands (human output on stdout)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

stdout = Console(highlight=False, soft_wrap=True)


def metrics_table(metrics: dict, title: str = "") -> Table:
    """The model's metrics next to each baseline's (the metrics.json shape)."""
    model = metrics.get("model", {})
    baselines = metrics.get("baselines", {})
    table = Table(title=f"{title}  ({metrics.get('split', '?')} split)" if title else None)
    table.add_column("metric")
    table.add_column("model", justify="right", style="bold")
    for name in baselines:
        table.add_column(name, justify="right")
    for metric, value in model.items():
        row = [metric, _format(value)] + [_format(baselines[name].get(metric)) for name in baselines]
        table.add_row(*row)
    return table


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)
