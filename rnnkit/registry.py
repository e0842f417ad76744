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


def tasks_for_options(options: dict[str, Any]) -> list[str]:
    """The tasks that have every option given (not `None`), in `task_names()` order: one when an
    option only one task has is given (`target` is forecast's). Options of two different
    tasks are a `ConfigError` naming both."""
    every = task_names()
    owners, decided_by = set(every), None
    for name, value in options.items():
        tasks = {task for task, _ in option_owners(name)} if value is not None else set()
        if not tasks or tasks == set(every):  # shared, or unknown (reported by the task later)
            continue
        if not owners & tasks:
            raise ConfigError(f"{_flag(decided_by)} is a {' and '.join(sorted(owners))} option and {_flag(name)} a "
                              f"{' and '.join(sorted(tasks))} option: no task has both. Drop one of them.")
        owners, decided_by = owners & tasks, decided_by or name
    return [task for task in every if task in owners]


def infer_task(data: str, encoding: str | None = None, among: list[str] | None = None) -> str:
    """The task `data` is for: a built-in name's, else the one task that recognizes the file or
    folder best, of `among` (the tasks the options given allow) unless none of them recognizes it
    at all, else of all tasks. No task or a tie is an error that says what each task found in
    the data and names `--task`."""
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
    names = among or task_names()
    scores = {name: task_class(name).recognizes(path, encoding) for name in names}
    best = max(scores.values())
    if best <= 0 and among:  # the data is none of these tasks': it decides (and the options are then foreign)
        return infer_task(data, encoding)
    candidates = sorted(name for name, score in scores.items() if score == best and best > 0)
    if len(candidates) == 1:
        return candidates[0]
    if candidates:
        seen = [name + (f" ({found})" if (found := task_class(name).detected(path, encoding)) else "")
                for name in candidates]
        raise ConfigError(f"{path.name} could be data for {' or '.join(seen)}. "
                          f"Pass {' or '.join(f'--task {name}' for name in candidates)}.")
    raise ConfigError(
        f"Cannot tell which task {path.name} is for. Pass --task ({', '.join(names)}): text generation reads "
        ".txt files, text classification and forecasting .csv/.tsv/.jsonl files."
    )


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


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
