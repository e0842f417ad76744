"""Atomic file writes: readers see the old file or the new one, never half of one.

A leaf module: it imports nothing from rnnkit, so every layer may use it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write `text` to `path` under a temporary name in the same folder, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(handle, 0o666 & ~_umask())  # mkstemp's 0600 would hide the run from the user's group
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | Path, values: Any) -> None:
    write_text_atomic(path, json.dumps(values, indent=2, ensure_ascii=False) + "\n")


def temporary_path(path: str | Path) -> Path:
    """A hidden name beside `path` for a file written by a library that takes a path (Keras, matplotlib):
    write there, then `os.replace` it onto `path`."""
    path = Path(path)
    return path.with_name(f".{path.stem}-{os.getpid()}{path.suffix}")


def replace_dir(source: Path, target: Path) -> None:
    """Move a finished folder from `source` onto `target`, removing what was there."""
    target = Path(target).resolve()
    if target.exists():
        trash = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, trash)
        os.replace(source, target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(source, target)
