"""`rnnkit evaluate`: metrics of a run's model and its baselines on held-out data."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import Json, RunDir
from rnnkit.cli._render import print_metrics


@handle_errors
def evaluate(
    run: RunDir,
    data: Annotated[str, typer.Argument(help="Held-out data in the same form as the training data.", show_default=False)],
    text_col: Annotated[Optional[str], typer.Option(help="Sentiment: the text column of DATA. [default: the training column if present, else found]")] = None,
    label_col: Annotated[Optional[str], typer.Option(help="Sentiment: the label column of DATA. [default: as for --text-col]")] = None,
    backtest: Annotated[Optional[int], typer.Option(help="Forecast: rolling-origin evaluation over the last K horizons of DATA. [default: the last horizon]")] = None,
    json_output: Json = False,
) -> None:
    """Evaluate RUN on DATA, next to the task's baselines."""
    import rnnkit

    handle = rnnkit.load(run)
    metrics = handle.evaluate(data, text_col=text_col, label_col=label_col, backtest=backtest)
    if json_output:
        typer.echo(json.dumps({"run": str(handle.path), "metrics": metrics}))
        return
    print_metrics(metrics, title=f"{handle.task} run {handle.path} on {data}")
