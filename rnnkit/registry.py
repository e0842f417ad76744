"""The one table of tasks. Modules are imported only when a task is used.

Adding a task is adding a module under `rnnkit/tasks/` and one line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from rnnkit.errors import ConfigError, DataError

TASKS: dict[str, str] = {
    "textgen": "rnnkit.tasks.textgen:TextGenTask",
    "sentiment": "rnnkit.tasks.sentiment:SentimentTask",
    "forecast": "rnnkit.tasks.forecast:ForecastTask",
}


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str):
    """Return the task object registered under `name`."""
    if name not in TASKS:
        raise ConfigError(
            f"Unknown task '{name}'. Expected one of: {', '.join(TASKS)}. Received: task={name!r}"
        )
    module_name, class_name = TASKS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def infer_task(data: str, encoding: str | None = None) -> str:
    """Guess the task from the data argument; ambiguity is an error naming `--task`."""
    from rnnkit.datasets.builtin import BUILTIN_DATASETS
    from rnnkit.datasets.csv_series import is_series_file
    from rnnkit.datasets.labelled_text import is_class_folder, is_labelled_file

    if data in BUILTIN_DATASETS:
        return BUILTIN_DATASETS[data].task
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(
            f"No such file or folder: {path}. Pass a .txt file or folder of them (textgen), a CSV/TSV/JSONL "
            "of texts and labels or an aclImdb-style folder (sentiment), a CSV with a time column and numeric "
            "columns (forecast), or a built-in name (`rnnkit datasets`)."
        )
    if path.is_dir():
        if is_class_folder(path):
            return "sentiment"
        if _looks_like_class_folders(path):
            raise ConfigError(
                f"{path.name} holds folders of .txt files: one per label (text classification) or just text "
                "(text generation)? Pass --task sentiment or --task textgen."
            )
        return "textgen"
    if path.suffix.lower() == ".txt":
        return "textgen"
    if is_series_file(path, encoding):
        return "forecast"
    if is_labelled_file(path):
        return "sentiment"
    raise ConfigError(
        f"Cannot tell which task {path.name} is for. Pass --task ({', '.join(TASKS)}): text generation reads "
        ".txt files, text classification and forecasting .csv/.tsv/.jsonl files."
    )


def _looks_like_class_folders(path: Path) -> bool:
    """Two or more subfolders of .txt files and no .txt file beside them."""
    if any(path.glob("*.txt")):
        return False
    return sum(1 for child in path.iterdir() if child.is_dir() and any(child.glob("*.txt"))) >= 2
