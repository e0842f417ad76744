"""`rnnkit train`: fit a model on a file, folder or built-in dataset and write a run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import Cell, ClassWeight, Json, Level, Missing, Strategy, TaskName
from rich.markup import escape

from rnnkit.cli._render import print_metrics, stdout

DATA = "Data"
MODEL = "Model"
TRAINING = "Training"
OUTPUT = "Output"
FORECAST = "Forecast"


@handle_errors
def train(
    data: Annotated[Optional[str], typer.Argument(help="A .txt file or folder of them (textgen); a CSV/TSV/JSONL of texts and labels or an aclImdb-style folder (sentiment); a CSV with a time column and numeric columns (forecast); or a built-in name (`rnnkit datasets`).", show_default=False)] = None,
    task: Annotated[Optional[TaskName], typer.Option(help="The task; inferred from DATA when omitted.", rich_help_panel=DATA)] = None,
    level: Annotated[Optional[Level], typer.Option(help="Text generation tokens: characters or words. [default: char]", rich_help_panel=DATA)] = None,
    max_len: Annotated[Optional[int], typer.Option(help="Tokens per training window (textgen), or the last N tokens kept per text (sentiment). [default: 100 textgen, 400 sentiment]", rich_help_panel=DATA)] = None,
    vocab_size: Annotated[Optional[int], typer.Option(help="Words: keep the most frequent N tokens, the rest become [UNK]; 0 keeps all. [default: 20000]", rich_help_panel=DATA)] = None,
    val_split: Annotated[Optional[float], typer.Option(help="Fraction held out for validation: the end of a corpus, a stratified sample of labelled texts; forecast: for validation and again for testing, at the end of the series. [default: 0.1]", rich_help_panel=DATA)] = None,
    text_col: Annotated[Optional[str], typer.Option(help="Sentiment: the text column of a CSV/TSV/JSONL. [default: found by name or content]", rich_help_panel=DATA)] = None,
    label_col: Annotated[Optional[str], typer.Option(help="Sentiment: the label column. [default: found by name or content]", rich_help_panel=DATA)] = None,
    target: Annotated[Optional[str], typer.Option(help="Forecast: the column to forecast, or several as a,b. [default: the only numeric column]", rich_help_panel=FORECAST)] = None,
    time_col: Annotated[Optional[str], typer.Option(help="Forecast: the time column. [default: found by name (date, time, ...) or content]", rich_help_panel=FORECAST)] = None,
    features: Annotated[Optional[str], typer.Option(help="Forecast: extra input columns, as a,b (their past values are read, never forecast).", rich_help_panel=FORECAST)] = None,
    horizon: Annotated[Optional[int], typer.Option(help="Forecast: steps forecast at once. [default: one season]", rich_help_panel=FORECAST)] = None,
    window: Annotated[Optional[int], typer.Option(help="Forecast: past steps each forecast reads. [default: two seasons or two horizons, at least 16]", rich_help_panel=FORECAST)] = None,
    season: Annotated[Optional[int], typer.Option(help="Forecast: steps per seasonal cycle. [default: from the time step: monthly 12, weekly 52, daily 7, hourly 24]", rich_help_panel=FORECAST)] = None,
    missing: Annotated[Optional[Missing], typer.Option(help="Forecast: interpolate missing values by time (with a warning) or stop. [default: interpolate]", rich_help_panel=FORECAST)] = None,
    encoding: Annotated[Optional[str], typer.Option(help="Text encoding of DATA (e.g. latin-1). [default: strict UTF-8]", rich_help_panel=DATA)] = None,
    cell: Annotated[Optional[Cell], typer.Option(help="Recurrent cell. [default: gru]", rich_help_panel=MODEL)] = None,
    layers: Annotated[Optional[int], typer.Option(help="Recurrent layers. [default: 2 textgen, 1 sentiment and forecast]", rich_help_panel=MODEL)] = None,
    units: Annotated[Optional[int], typer.Option(help="Units per recurrent layer (per direction). [default: 256 textgen, 64 sentiment and forecast]", rich_help_panel=MODEL)] = None,
    bidirectional: Annotated[Optional[bool], typer.Option("--bidirectional/--unidirectional", help="Bidirectional layers (classification only). [default: bidirectional for sentiment]", rich_help_panel=MODEL, show_default=False)] = None,
    dropout: Annotated[Optional[float], typer.Option(help="Dropout after each recurrent layer, in [0, 1). [default: 0.1 textgen and forecast, 0.3 sentiment]", rich_help_panel=MODEL)] = None,
    embedding_dim: Annotated[Optional[int], typer.Option(help="Token embedding size. [default: 64 textgen, 128 sentiment]", rich_help_panel=MODEL)] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Passes over the training data. [default: 10 textgen, 4 sentiment, 100 forecast]", rich_help_panel=TRAINING)] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Windows or texts per step. [default: 32 textgen, 64 sentiment, 16 forecast]", rich_help_panel=TRAINING)] = None,
    learning_rate: Annotated[Optional[float], typer.Option(help="Peak Adam learning rate (warm-up, then cosine decay). [default: 0.005 textgen, 0.003 sentiment, 0.01 forecast]", rich_help_panel=TRAINING)] = None,
    class_weight: Annotated[Optional[ClassWeight], typer.Option(help="Sentiment: weigh classes inversely to their frequency (auto: when over 3:1). [default: auto]", rich_help_panel=TRAINING)] = None,
    clipnorm: Annotated[Optional[float], typer.Option(help="Clip gradients to this global norm; 0 turns it off. [default: 1.0]", rich_help_panel=TRAINING)] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed: the same seed repeats a CPU run. [default: random, recorded]", rich_help_panel=TRAINING)] = None,
    time_budget: Annotated[Optional[float], typer.Option(help="Stop after this many seconds, fitting the learning-rate schedule to it.", rich_help_panel=TRAINING)] = None,
    early_stopping: Annotated[Optional[bool], typer.Option("--early-stopping/--no-early-stopping", help="Stop when validation loss stops improving. [default: on]", rich_help_panel=TRAINING)] = None,
    mixed_precision: Annotated[Optional[bool], typer.Option("--mixed-precision", help="Keras mixed_float16 policy (GPU only).", rich_help_panel=TRAINING)] = None,
    strategy: Annotated[Optional[Strategy], typer.Option(help="tf.distribute strategy; auto mirrors over 2+ GPUs. [default: auto]", rich_help_panel=TRAINING)] = None,
    tensorboard: Annotated[Optional[bool], typer.Option("--tensorboard", help="Write TensorBoard logs to RUN/logs.", rich_help_panel=TRAINING)] = None,
    config: Annotated[Optional[Path], typer.Option(help="Start from a run's config.json (options given here override it).", rich_help_panel=DATA)] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run folder to write. [default: runs/<task>-<timestamp>]", rich_help_panel=OUTPUT)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.", rich_help_panel=OUTPUT)] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out (only once training succeeds).", rich_help_panel=OUTPUT)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=OUTPUT)] = False,
    json_output: Json = False,
) -> None:
    """Train a model on DATA and write a run folder (config, model, metrics, plots)."""
    import rnnkit

    options = dict(
        level=_value(level), max_len=max_len, vocab_size=vocab_size, val_split=val_split, encoding=encoding,
        text_col=text_col, label_col=label_col, class_weight=_value(class_weight),
        target=target, time_col=time_col, features=features, horizon=horizon, window=window, season=season,
        missing=_value(missing),
        cell=_value(cell), layers=layers, units=units, bidirectional=bidirectional, dropout=dropout,
        embedding_dim=embedding_dim, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
        clipnorm=clipnorm, seed=seed, time_budget=time_budget, early_stopping=early_stopping,
        mixed_precision=mixed_precision, strategy=_value(strategy), tensorboard=tensorboard,
    )
    run = rnnkit.train(data, task=_value(task), out=out, config=config, overwrite=overwrite, resume=resume,
                       quiet=quiet or json_output, **options)
    if json_output:
        typer.echo(json.dumps({"run": str(run.path), "metrics": run.metrics}))
        return
    print_metrics(run.metrics, title=f"{run.task} run: {run.path}")
    if run.task == "textgen":
        stdout.print(f"Sample it:  rnnkit generate {run.path} --prompt 'The '")
    elif run.task == "sentiment":
        stdout.print(f"Query it:   rnnkit predict {run.path} \"a wonderful film\"")
    elif run.task == "forecast":
        found = run.config.data_summary
        time = f"time column '{found['time_column']}' ({found['frequency']})" if found.get("time_column") else "no time column"
        stdout.print(escape(f"Data:       {found['rows']} rows, {time}, season {found['season']}; window {found['window']}, "
                            f"horizon {found['horizon']}; tested on the last {found['test_rows']} rows "
                            f"({run.metrics.get('windows')} forecasts)"))
        stdout.print(f"Forecast:   rnnkit forecast {run.path} {escape(str(run.config.data.path))} --plot forecast.png")


def _value(choice):
    return None if choice is None else choice.value
