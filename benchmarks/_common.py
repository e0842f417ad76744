"""Helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHAKESPEARE = SHARED_DATA / "text" / "tinyshakespeare.txt"


def machine() -> str:
    """One line describing where the numbers came from."""
    import tensorflow as tf

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
