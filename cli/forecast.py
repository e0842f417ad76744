"""`rnnkit forecast`: forecast the steps after the end of a series with a forecast run."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from rnnkit.cli._errors import handle_errors, stderr
from rnnkit.cli._options import Json, RunDir
from rnnkit.cli._render import stdout


@handle_errors
def forecast(
    run: RunDir,
    data: Annotated[str, typer.Argument(help="The history: a CSV/TSV/JSONL with the training columns (or a built-in series); the forecast starts after its last row.", show_default=False)],
    horizon: Annotated[Optional[int], typer.Option(help="Steps to forecast, up to the run's horizon. \\[default: the run's horizon]")] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a PNG of the recent history, the forecast and its 80% interval.")] = None,
    json_output: Json = False,
) -> None:
    """Forecast the steps after the end of DATA with a forecast RUN, with 80% intervals."""
    import rnnkit
    from rnnkit.tasks.forecast.preprocessor import QUANTILES

    handle = rnnkit.load(run)
    handle.require("forecast")
    with stderr.status("Forecasting...", spinner="dots") if not json_output else nullcontext():
        result = handle.forecast(data, horizon=horizon, plot=plot)
    if json_output:
        typer.echo(json.dumps(result))
        return
    several = any("target" in item for item in result["forecast"])
    table = Table(title=escape(f"forecast of {result['target']} after {data}"))
    table.add_column("time")
    if several:
        table.add_column("target")
    for name in ("forecast", f"lower ({QUANTILES[0]:.0%})", f"upper ({QUANTILES[-1]:.0%})"):
        table.add_column(name, justify="right", style="bold" if name == "forecast" else None)
    for item in result["forecast"]:
        cells = [item["time"]] + ([escape(item["target"])] if several else [])
        table.add_row(*cells, *(_number(item[key]) for key in ("value", "lower", "upper")))
    stdout.print(table)
    if plot is not None:
        stdout.print(f"Plot written to {escape(str(plot))}")


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e5 or (value != 0 and abs(value) < 1e-3) else f"{value:.3f}".rstrip("0").rstrip(".")
