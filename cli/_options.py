"""Shared option types for the commands (`Annotated` aliases and choice enums)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class TaskName(str, Enum):
    textgen = "textgen"
    sentiment = "sentiment"
    forecast = "forecast"


class Missing(str, Enum):
    interpolate = "interpolate"
    error = "error"


class ClassWeight(str, Enum):
    auto = "auto"
    balanced = "balanced"
    none = "none"


class Cell(str, Enum):
    lstm = "lstm"
    gru = "gru"
    simple = "simple"


class Level(str, Enum):
    char = "char"
    word = "word"


class Strategy(str, Enum):
    auto = "auto"
    one = "one"
    mirrored = "mirrored"
    multi_worker = "multi-worker"


class ExportFormat(str, Enum):
    savedmodel = "savedmodel"
    keras = "keras"
    tflite = "tflite"
    onnx = "onnx"


RunDir = Annotated[Path, typer.Argument(help="A run folder written by `rnnkit train`.", show_default=False)]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.", rich_help_panel="Output")]
