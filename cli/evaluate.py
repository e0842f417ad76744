"""`rnnkit evaluate`: metrics of a run's model and its baselines on held-out data.

Its options are the `evaluate_options` of every registered task.
"""

from __future__ import annotations

import inspect
import json
from typing import Annotated

import typer

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import Json, RunDir, option_parameters, plain, with_parameters
from rnnkit.cli._render import print_metrics
from rnnkit.registry import task_class, task_names


def _evaluate(run, data, json_output, **options) -> None:
    """Evaluate RUN on DATA, next to the task's baselines."""
    import rnnkit

    handle = rnnkit.load(run)
    metrics = handle.evaluate(data, **{name: plain(value) for name, value in options.items()})
    if json_output:
        typer.echo(json.dumps({"run": str(handle.path), "metrics": metrics}))
        return
    print_metrics(metrics, title=f"{handle.task} run {handle.path} on {data}")


def build_evaluate():
    """The `evaluate` command over the evaluate options of the tasks registered now."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    own = [
        inspect.Parameter("run", keyword, annotation=RunDir),
        inspect.Parameter("data", keyword, annotation=Annotated[str, typer.Argument(
            help="Held-out data in the same form as the training data.", show_default=False)]),
        inspect.Parameter("json_output", keyword, default=False, annotation=Json),
    ]
    declared = {name: list(task_class(name).evaluate_options) for name in task_names()}
    parameters = own[:2] + option_parameters(declared, reserved=[p.name for p in own]) + own[2:]

    def evaluate(**values):
        return _evaluate(**values)

    evaluate.__doc__ = _evaluate.__doc__
    return handle_errors(with_parameters(evaluate, parameters))
