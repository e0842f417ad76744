"""`rnnkit predict`: classify texts with a sentiment run."""

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
def predict(
    run: RunDir,
    texts: Annotated[Optional[list[str]], typer.Argument(help="Texts to classify.", show_default=False)] = None,
    file: Annotated[Optional[Path], typer.Option("--file", "-f", help="A text file with one text per line, a CSV/TSV/JSONL (its text column), or - for standard input.")] = None,
    text_col: Annotated[Optional[str], typer.Option(help="The text column of a --file table. \\[default: the training column if present, else found by name or content]")] = None,
    json_output: Json = False,
) -> None:
    """Classify TEXTS (or the texts of --file) with a sentiment RUN: label and probability each."""
    import rnnkit
    from rnnkit.datasets.labelled_text import read_texts

    handle = rnnkit.load(run)
    handle.require("predict")
    texts = list(texts or [])
    if file is not None:
        config = handle.config
        texts += read_texts(file, text_col=text_col, preferred=config.data_summary.get("text_column"),
                            encoding=config.data.encoding)
    if not texts:
        raise rnnkit.ConfigError('No text to classify. Pass texts (rnnkit predict RUN "a wonderful film") or --file F.')
    with stderr.status("Classifying...", spinner="dots") if not json_output else nullcontext():
        predictions = handle.predict(texts)
    if json_output:
        typer.echo(json.dumps({"predictions": predictions}, ensure_ascii=False))
        return
    table = Table()
    table.add_column("text", overflow="ellipsis", no_wrap=True, max_width=60)
    table.add_column("label", style="bold")
    table.add_column("probability", justify="right")
    for prediction in predictions:
        table.add_row(escape(" ".join(prediction["text"].split())), escape(prediction["label"]),
                      f"{prediction['probability']:.3f}")
    stdout.print(table)
