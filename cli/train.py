"""`rnnkit train`: fit a model on a file, folder or built-in dataset and write a run folder.

Its options are those of every registered task (`rnnkit.registry`), built from their
declarations; the library says when one does not belong to the run's task.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import Json, choices, option_parameters, plain, with_parameters
from rnnkit.cli._render import print_metrics, stdout
from rnnkit.registry import task_class, task_names

OUTPUT = "Output"
DATA_HELP = ("A .txt file or folder of them (textgen); a CSV/TSV/JSONL of texts and labels or an aclImdb-style "
             "folder (sentiment); a CSV with a time column and numeric columns (forecast); or a built-in name "
             "(`rnnkit datasets`).")


def _train(data, task, config, out, resume, data_changed, overwrite, quiet, json_output, **options) -> None:
    """Train a model on DATA and write a run folder (config, model, metrics, plots)."""
    import rnnkit

    run = rnnkit.train(data, task=plain(task), out=out, config=config, overwrite=overwrite, resume=resume,
                       data_changed=data_changed, quiet=quiet or json_output,
                       **{name: plain(value) for name, value in options.items()})
    if run is None:  # a multi-worker process other than the chief, which writes the run
        if json_output:
            typer.echo(json.dumps({"run": None, "metrics": None}))
        else:
            stdout.print("Training finished; the chief wrote the run folder and its metrics.")
        return
    if json_output:
        typer.echo(json.dumps({"run": str(run.path), "metrics": run.metrics}))
        return
    print_metrics(run.metrics, title=f"{run.task} run: {run.path}")
    for line in run.task_object.next_steps(run):
        stdout.print(escape(line))


def build_train():
    """The `train` command over the options of the tasks registered now."""
    Task = choices("Task", task_names())
    own = [
        inspect.Parameter("data", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[str], typer.Argument(help=DATA_HELP, show_default=False)]),
        inspect.Parameter("task", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[Task], typer.Option(help="The task; inferred from DATA when omitted.", rich_help_panel="Data")]),
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[
            Optional[Path], typer.Option(help="Start from a run's config.json (options given here override it).",
                                         rich_help_panel="Data")]),
    ]
    declared = {name: list(task_class(name).all_options()) for name in task_names()}
    resumable = sorted({option.flag for options in declared.values() for option in options if option.resumable})
    output = [
        ("out", Optional[Path], None, typer.Option(help="Run folder to write. \\[default: runs/<task>-<timestamp>]",
                                                   rich_help_panel=OUTPUT)),
        ("resume", bool, False, typer.Option("--resume", help="Continue the run in --out exactly where it stopped "
                                             f"(Ctrl-C, SIGTERM, a kill). Only {', '.join(resumable)} may change; "
                                             "options that define the model or its data may not.",
                                             rich_help_panel=OUTPUT)),
        ("data_changed", bool, False, typer.Option("--data-changed", help="With --resume: continue on data that "
                                                   "differs from the run's (refused otherwise).",
                                                   rich_help_panel=OUTPUT)),
        ("overwrite", bool, False, typer.Option("--overwrite", help="Replace a non-empty --out (only once training "
                                                "succeeds).", rich_help_panel=OUTPUT)),
        ("quiet", bool, False, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=OUTPUT)),
    ]
    own += [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info])
            for name, kind, default, info in output]
    own.append(inspect.Parameter("json_output", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=Json))
    parameters = own[:3] + option_parameters(declared, reserved=[p.name for p in own]) + own[3:]

    def train(**values):
        return _train(**values)

    train.__doc__ = _train.__doc__
    return handle_errors(with_parameters(train, parameters))
