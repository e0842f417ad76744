"""`rnnkit tune`: search a task's options with Optuna; every trial is a run folder.

It takes the options of every registered task, as `rnnkit train` does: an option given (as a
flag or `--set NAME=VALUE`) is fixed for every trial and left out of the search.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import Json, choices, option_parameters, plain, with_parameters
from rnnkit.cli._render import stdout
from rnnkit.cli.train import DATA_HELP
from rnnkit.errors import ConfigError
from rnnkit.registry import task_class, task_names

SEARCH = "Search"
OUTPUT = "Output"
# Options of `rnnkit train` that tune declares itself, with the search's meaning.
OWN = ("time_budget", "tensorboard")


def _tune(data, task, out, trials, time_budget, trial_budget, sampler, space, set_values, resume, tensorboard, quiet,
          json_output, **options) -> None:
    """Search the task's options (units, layers, cell, dropout, learning rate, ...) for the best validation
    metric: every trial is a run folder in OUT/trials, the best config is OUT/best_config.json."""
    from rnnkit.tuning import tune

    given = {name: plain(value) for name, value in options.items() if value is not None}
    for name, value in _parse_sets(set_values).items():
        if name in given and given[name] != value:
            raise ConfigError(f"--set {name}={value!r} contradicts --{name.replace('_', '-')} {given[name]!r}: give "
                              "one of them.")
        given[name] = value

    def report(trial: dict) -> None:
        if not json_output:
            stdout.print(escape(_trial_line(trial)))

    search = tune(data, task=plain(task), out=out, trials=trials, time_budget=time_budget, trial_budget=trial_budget,
                  sampler=plain(sampler), space=space, resume=resume, quiet=quiet or json_output,
                  tensorboard=tensorboard, progress=report, **given)
    if json_output:
        typer.echo(json.dumps(search.to_dict()))
        return
    _print_search(search)


def _parse_sets(values: list[str] | None) -> dict:
    """`--set units=256 --set cell=gru` -> {"units": 256, "cell": "gru"} (values read as JSON when they are)."""
    parsed = {}
    for item in values or []:
        name, separator, raw = item.partition("=")
        name = name.strip().replace("-", "_")
        if not separator or not name:
            raise ConfigError(f"--set takes NAME=VALUE, such as --set units=256. Received: --set {item!r}")
        try:
            parsed[name] = json.loads(raw)
        except json.JSONDecodeError:
            parsed[name] = raw
    return parsed


def _trial_line(trial: dict) -> str:
    value = "-" if trial["value"] is None else f"{trial['value']:.4f}"
    seconds = "" if trial["seconds"] is None else f" in {trial['seconds']:.0f} s"
    epochs = "" if trial["epochs"] is None else f", {trial['epochs']} epochs"
    params = ", ".join(f"{name}={_shown(value)}" for name, value in trial["params"].items())
    return f"trial {trial['number']}: {trial['state']}, {value}{epochs}{seconds} ({params})"


def _print_search(search) -> None:
    summary = search.to_dict()
    counts = ", ".join(f"{summary[state]} {state}" for state in ("complete", "pruned", "cut", "failed", "interrupted")
                       if summary[state] or state in ("complete", "pruned"))
    table = Table(title=escape(f"{search.task} search in {search.path}: {counts} ({search.metric}, lower is better)"))
    for column in ["trial", "state", search.metric, "epochs", "seconds"]:
        table.add_column(escape(column), justify="left" if column == "state" else "right", no_wrap=True)
    table.add_column("options", ratio=1)  # the one column that wraps on a narrow terminal
    best = search.best["number"] if search.best else None
    for trial in search.trials:
        options = ("(the defaults) " if trial.get("defaults") else "") + \
            " ".join(f"{name}={_shown(value)}" for name, value in trial["params"].items())
        row = [str(trial["number"]), trial["state"], "-" if trial["value"] is None else f"{trial['value']:.4f}",
               "-" if trial["epochs"] is None else str(trial["epochs"]),
               "-" if trial["seconds"] is None else f"{trial['seconds']:.0f}", escape(options)]
        table.add_row(*row, style="bold green" if trial["number"] == best else None)
    stdout.print(table)
    if search.best is None:
        stdout.print("No trial finished yet: nothing to report as best.")
        return
    stdout.print(escape(f"Best: trial {best}, {search.metric} {search.best['value']:.4f}, run "
                        f"{search.path / 'best'} (= {search.path / search.best['run']})."))
    stdout.print(escape(f"Train it again: rnnkit train --config {search.best['config']} --out RUN"))
    if search.plots:
        stdout.print(escape(f"Plots: {Path(search.plots[0]).parent}/ "
                            f"({', '.join(Path(path).name for path in search.plots)})"))


def _shown(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def build_tune():
    """The `tune` command over the options of the tasks registered now."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    Task = choices("Task", task_names())
    Sampler = choices("Sampler", ("tpe", "random", "grid"))
    own = [
        ("data", Optional[str], None, typer.Argument(help=DATA_HELP + " With --resume: the search's own when "
                                                     "omitted.", show_default=False)),
        ("task", Optional[Task], None, typer.Option(help="The task; inferred from DATA when omitted.",
                                                    rich_help_panel="Data")),
        ("trials", Optional[int], None, typer.Option(help="Finished trials the search should hold (counting earlier "
                                                     "sessions and other workers). \\[default: 20; a grid: its size; "
                                                     "with --time-budget: as many as fit]",
                                                     rich_help_panel=SEARCH, show_default=False)),
        ("time_budget", Optional[float], None, typer.Option(help="Seconds for the whole search: no trial starts "
                                                            "after them, and one still running then is stopped.",
                                                            rich_help_panel=SEARCH)),
        ("trial_budget", Optional[float], None, typer.Option(help="Seconds per trial (its --time-budget); without "
                                                             "it a trial trains the task's epochs.",
                                                             rich_help_panel=SEARCH)),
        ("sampler", Optional[Sampler], None, typer.Option(help="tpe (Bayesian), random, or grid (each range at its "
                                                          "ends and middle). \\[default: tpe]",
                                                          rich_help_panel=SEARCH, show_default=False)),
        ("space", Optional[Path], None, typer.Option(help='A JSON file of option ranges that overrides the task\'s, '
                                                     'e.g. {"units": {"low": 32, "high": 512, "log": true}, '
                                                     '"cell": {"choices": ["gru", "lstm"]}, "dropout": null}.',
                                                     rich_help_panel=SEARCH)),
        ("set_values", Optional[list[str]], None, typer.Option("--set", metavar="NAME=VALUE",
                                                               help="Fix an option for every trial (e.g. --set "
                                                               "units=256); repeatable.",
                                                               rich_help_panel=SEARCH, show_default=False)),
        ("out", Optional[Path], None, typer.Option(help="The search folder. \\[default: runs/<task>-tune-<timestamp>]",
                                                   rich_help_panel=OUTPUT)),
        ("resume", bool, False, typer.Option("--resume", help="Continue the search in --out (after Ctrl-C or a kill), "
                                             "or add a worker beside a running one.", rich_help_panel=OUTPUT)),
        ("tensorboard", bool, False, typer.Option("--tensorboard", help="TensorBoard logs with each trial's options "
                                                  "(HParams): tensorboard --logdir OUT/trials.",
                                                  rich_help_panel=OUTPUT)),
        ("quiet", bool, False, typer.Option("--quiet", "-q", help="No progress bars.", rich_help_panel=OUTPUT)),
    ]
    parameters = [inspect.Parameter(name, keyword, default=default, annotation=Annotated[kind, info])
                  for name, kind, default, info in own]
    parameters.append(inspect.Parameter("json_output", keyword, default=False, annotation=Json))
    declared = {name: [option for option in task_class(name).all_options() if option.name not in OWN]
                for name in task_names()}
    parameters = parameters[:2] + option_parameters(declared, reserved=[p.name for p in parameters]) + parameters[2:]

    def tune(**values):
        return _tune(**values)

    tune.__doc__ = _tune.__doc__
    return handle_errors(with_parameters(tune, parameters))
