"""The one table of tasks: rnnkit's own, those other packages declare, and those registered in Python.

A task is a `rnnkit.task.Task` subclass. rnnkit's own are listed here by import path and
imported only when first used. Another package adds one with an entry point in the group
`rnnkit.tasks` (in its pyproject.toml):

    [project.entry-points."rnnkit.tasks"]
    seqsum = "mypackage.seqsum:SequenceSumTask"

and a script or notebook with `rnnkit.register_task(SequenceSumTask)`. Every command, option
list and `--task` choice of the CLI is built from this table.
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError, DataError

ENTRY_POINT_GROUP = "rnnkit.tasks"
BUILTIN_TASKS = {
    "textgen": "rnnkit.tasks.textgen:TextGenTask",
    "sentiment": "rnnkit.tasks.sentiment:SentimentTask",
    "forecast": "rnnkit.tasks.forecast:ForecastTask",
}

log = logging.getLogger("rnnkit")
_tasks: dict[str, Any] = {}  # name -> Task subclass, or "module:Class" until first used
_entry_points_read = False


def register_task(task_class: type, replace: bool = False) -> type:
    """Make `task_class` (a `rnnkit.task.Task` subclass) available under its `name`.

    Args:
        task_class: the class; its `name` attribute is the task's name (`--task NAME`).
        replace: replace a task already registered under that name. Defaults to `False`.

    Returns:
        `task_class`, so this can decorate the class.

    Example:
        >>> @rnnkit.register_task                     # doctest: +SKIP
        ... class SequenceSumTask(rnnkit.Task):
        ...     name = "seqsum"
    """
    name = getattr(task_class, "name", "")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"A task class needs a `name` that is an identifier. Received: {task_class!r} name={name!r}")
    _read_entry_points()
    if name in _tasks and not replace and _tasks[name] is not task_class:
        raise ValueError(f"A task named '{name}' is already registered. Pass replace=True to replace it.")
    _tasks[name] = task_class
    return task_class


def task_names() -> list[str]:
    """The names of every available task, rnnkit's own first."""
    _read_entry_points()
    return list(_tasks)


def task_class(name: str) -> type:
    """The class registered under `name`; an unknown name is a `ConfigError` listing the known ones."""
    _read_entry_points()
    if name not in _tasks:
        raise ConfigError(f"Unknown task '{name}'. Expected one of: {', '.join(_tasks)}. Received: task={name!r}")
    target = _tasks[name]
    if isinstance(target, str):
        module_name, class_name = target.split(":")
        target = _tasks[name] = getattr(importlib.import_module(module_name), class_name)
    return target


def get_task(name: str):
    """A new instance of the task registered under `name`."""
    return task_class(name)()


def option_owners(name: str, exclude: str | None = None) -> list[tuple[str, Any]]:
    """`(task, option)` for every task but `exclude` that declares an option called `name`."""
    return [(task, option) for task in task_names() if task != exclude
            for option in task_class(task).all_options() if option.name == name]


def key_owner(section: str, key: str, exclude: str) -> tuple[str, Any] | None:
    """The first task but `exclude` whose option is stored as `section.key` in config.json."""
    for task in task_names():
        if task != exclude:
            for option in task_class(task).all_options():
                if (option.section, option.key) == (section, key):
                    return task, option
    return None


def infer_task(data: str, encoding: str | None = None) -> str:
    """The task `data` is for: a built-in name's, else the one task that recognizes the file
    or folder best. No task or a tie is an error that names `--task`."""
    from rnnkit.datasets.builtin import BUILTIN_DATASETS

    if data in BUILTIN_DATASETS:
        return BUILTIN_DATASETS[data].task
    path = Path(data).expanduser()
    if not path.exists():
        raise DataError(
            f"No such file or folder: {path}. Pass a .txt file or folder of them (textgen), a CSV/TSV/JSONL "
            "of texts and labels or an aclImdb-style folder (sentiment), a CSV with a time column and numeric "
            "columns (forecast), or a built-in name (`rnnkit datasets`)."
        )
    scores = {name: task_class(name).recognizes(path, encoding) for name in task_names()}
    best = max(scores.values())
    candidates = sorted(name for name, score in scores.items() if score == best and best > 0)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        raise ConfigError(f"{path.name} could be data for {' or '.join(candidates)}. "
                          f"Pass {' or '.join(f'--task {name}' for name in candidates)}.")
    raise ConfigError(
        f"Cannot tell which task {path.name} is for. Pass --task ({', '.join(task_names())}): text generation reads "
        ".txt files, text classification and forecasting .csv/.tsv/.jsonl files."
    )


def _read_entry_points() -> None:
    """Add the tasks other packages declare, once; a plugin that fails to load is skipped with a warning."""
    global _entry_points_read
    if _entry_points_read:
        return
    _entry_points_read = True
    for name, target in BUILTIN_TASKS.items():
        _tasks.setdefault(name, target)
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in BUILTIN_TASKS:
            log.warning(f"Ignoring the task plugin '{entry.name}' ({entry.value}): rnnkit has a task of that name.")
            continue
        try:
            loaded = entry.load()
        except Exception as error:  # noqa: BLE001  (a broken plugin must not break every rnnkit command)
            log.warning(f"The task plugin '{entry.name}' ({entry.value}) failed to load: {error}")
            continue
        if getattr(loaded, "name", None) != entry.name:
            log.warning(f"Ignoring the task plugin '{entry.name}' ({entry.value}): its class is named "
                        f"{getattr(loaded, 'name', None)!r}; the entry point must use the same name.")
            continue
        _tasks.setdefault(entry.name, loaded)
