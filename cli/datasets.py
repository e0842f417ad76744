"""`rnnkit datasets`: the built-in data names and where they come from."""

from __future__ import annotations

from rich.table import Table

from rnnkit.cli._render import stdout


def datasets() -> None:
    """List the built-in data names DATA may be."""
    from rnnkit.datasets.builtin import BUILTIN_DATASETS, cache_dir

    table = Table(title="Built-in datasets")
    for column in ("name", "task", "offline", "source"):
        table.add_column(column)
    for dataset in BUILTIN_DATASETS.values():
        table.add_row(dataset.name, dataset.task, "yes" if dataset.offline else "download, cached", dataset.source)
    stdout.print(table)
    stdout.print(f"Downloads are cached in {cache_dir()} (set RNNKIT_HOME to move it).")
