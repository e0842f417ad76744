"""Shared option types, and the Typer parameters built from the options tasks declare.

`rnnkit train` and `rnnkit evaluate` take the options of every registered task: each
`rnnkit.Option` becomes one flag (an option several tasks declare, such as `--max-len`, is
one flag whose help names each task's meaning and default). Choice lists come from the
declarations, the registry and the export driver: none is written here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape

from rnnkit.options import Option

RunDir = Annotated[Path, typer.Argument(help="A run folder written by `rnnkit train`.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.", rich_help_panel="Output")]


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """A `str` Enum of `values` (Typer shows and checks its members)."""
    return Enum(name, {value: value for value in values}, type=str)


def plain(value: Any) -> Any:
    """An Enum member's value; anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def option_parameters(declared: dict[str, list[Option]], reserved: Iterable[str] = ()) -> list[inspect.Parameter]:
    """One keyword parameter per option name, for the tasks that declare it.

    Args:
        declared: task name -> the options it accepts.
        reserved: names the command uses itself; an option of that name is a bug of the task.
    """
    by_name: dict[str, list[tuple[str, Option]]] = {}
    for task, options in declared.items():
        for option in options:
            by_name.setdefault(option.name, []).append((task, option))
    clash = set(by_name) & set(reserved)
    if clash:
        raise TypeError(f"Task option(s) {', '.join(sorted(clash))} clash with the command's own arguments.")
    return [_parameter(name, owners, every_task=len(owners) == len(declared)) for name, owners in by_name.items()]


def with_parameters(function: Callable, parameters: list[inspect.Parameter]) -> Callable:
    """`function(**values)` presented to Typer as a function of `parameters`."""
    function.__signature__ = inspect.Signature(parameters)
    function.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return function


def _parameter(name: str, owners: list[tuple[str, Option]], every_task: bool) -> inspect.Parameter:
    option = owners[0][1]
    kinds = {(o.type, o.columns, o.choices) for _, o in owners}
    if len(kinds) > 1:
        raise TypeError(f"Tasks declare the option '{name}' with different types or choices: "
                        f"{', '.join(task for task, _ in owners)}.")
    if option.choices:
        python_type = choices(name.title().replace("_", ""), option.choices)
    else:
        python_type = str if option.columns else option.type
    declaration = f"{option.flag}/{option.negative}" if option.type is bool and option.negative else option.flag
    info = typer.Option(declaration, help=escape(_help(owners, every_task)), rich_help_panel=option.panel, show_default=False)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None,
                             annotation=Annotated[Optional[python_type], info])


def _help(owners: list[tuple[str, Option]], every_task: bool) -> str:
    helps = list(dict.fromkeys(option.help for _, option in owners))
    if every_task:
        text = helps[0]
    elif len(helps) == 1:
        text = f"{'/'.join(task for task, _ in owners)}: {helps[0]}"
    else:
        text = " ".join(f"{task}: {option.help}" for task, option in owners)
    defaults = {task: option.default for task, option in owners if option.default not in (None, False)}
    values = list(dict.fromkeys(map(_shown, defaults.values())))
    if len(values) == 1 and len(defaults) == len(owners):
        text += f" [default: {values[0]}]"
    elif defaults:
        text += " [default: " + ", ".join(f"{_shown(value)} {task}" for task, value in defaults.items()) + "]"
    return text


def _shown(value: Any) -> str:
    if value is True:
        return "on"
    return f"{value:g}" if isinstance(value, float) else str(value)
