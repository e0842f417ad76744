"""`rnnkit export`: write a deployable SavedModel (raw input in), a .keras file, or LiteRT / ONNX models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rnnkit.cli._errors import handle_errors
from rnnkit.cli._options import RunDir, choices
from rnnkit.cli._render import stdout
from rnnkit.export import EDGE_FORMATS, FORMATS, SIDECAR

ExportFormat = choices("ExportFormat", FORMATS)


@handle_errors
def export(
    run: RunDir,
    out: Annotated[Path, typer.Option(help="Where to write the export.", show_default=False)],
    format: Annotated[ExportFormat, typer.Option(
        help="savedmodel serves raw input to TensorFlow Serving; litert (phones, edge devices) and onnx "
             "hold the numeric model, with model.json saying how to make its input and read its output.",
    )] = ExportFormat("savedmodel"),
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a non-empty --out.")] = False,
    xla: Annotated[bool, typer.Option("--xla", help="Text generation: compile the sampling loop with XLA, as "
                                      "`rnnkit generate --xla` runs it (TensorFlow Serving needs "
                                      "--xla_cpu_compilation_enabled=true on CPU).")] = False,
) -> None:
    """Export RUN for deployment: a SavedModel with the preprocessing inside, a .keras file, or LiteRT /
    ONNX (checked against TensorFlow before it is written)."""
    import rnnkit

    path = rnnkit.load(run).export(out, format=format.value, overwrite=overwrite, xla=xla)
    stdout.print(f"Exported {format.value} to {path}")
    if format.value == "savedmodel":
        stdout.print(f"Inspect it:  saved_model_cli show --dir {path} --all")
    elif format.value in EDGE_FORMATS:
        import json

        checked = json.loads((path / SIDECAR).read_text(encoding="utf-8"))["checked"]
        stdout.print(f"{EDGE_FORMATS[format.value]['file']} matches TensorFlow on {checked['rows']} sample inputs "
                     f"(largest difference {checked['max_difference']:.1e}, {checked['runtime']}); {SIDECAR} says "
                     "how to make its inputs and read its outputs.")
