"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHAKESPEARE = SHARED_DATA / "text" / "tinyshakespeare.txt"
IMDB = SHARED_DATA / "imdb" / "train.csv.gz"


def machine() -> str:
    """One line describing where the numbers came from."""
    from rnnkit.tf_import import import_tensorflow

    tf = import_tensorflow()  # without TensorFlow's start-up chatter

    gpus = tf.config.list_physical_devices("GPU")
    return (f"{platform.machine()} {os.cpu_count()} CPU cores, {'GPU: ' + str(len(gpus)) if gpus else 'no GPU'}, "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}")


def require(path: Path) -> Path | None:
    if not path.exists():
        print(f"skipped: {path} is absent (the shared data folder is not beside this checkout)")
        return None
    return path


def parse_sets(values: list[str]) -> dict:
    """`--set units=512 --set cell=gru` -> {"units": 512, "cell": "gru"}."""
    import json

    options = {}
    for item in values:
        key, _, raw = item.partition("=")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    return options


def imdb_reviews(path: Path, seed: int) -> list[tuple[str, str]]:
    """The (text, label) rows of the IMDB train CSV, shuffled with `seed`."""
    import csv
    import gzip
    import random

    csv.field_size_limit(10**8)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        rows = [(row["text"], row["label"]) for row in csv.DictReader(handle)]
    random.Random(seed).shuffle(rows)
    return rows


def write_reviews(path: Path, rows: list[tuple[str, str]]) -> Path:
    """Write (text, label) rows as a CSV with a `text,label` header."""
    import csv

    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path
