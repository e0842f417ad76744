"""A cheap fingerprint of training data, so `--resume` can tell whether it still has the same data.

A file: its size and a SHA-256 of its first and last MiB (reading a 10 GB corpus whole to
resume would take minutes; an edit that keeps the size and both ends is the one change this
misses). A folder: the names and sizes of its files. A built-in name: the name.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rnnkit.datasets.builtin import BUILTIN_DATASETS
from rnnkit.errors import DataError

_ENDS = 1 << 20


def data_fingerprint(data: str) -> dict[str, Any]:
    """`{"builtin": name}`, `{"size", "sha256"}` for a file, or `{"size", "files", "sha256"}` for a folder.

    Raises:
        DataError: `data` is neither a built-in name nor an existing file or folder.
    """
    if data in BUILTIN_DATASETS:
        return {"builtin": data}
    path = Path(data)
    digest = hashlib.sha256()
    try:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file())
            size = 0
            for file in files:
                file_size = file.stat().st_size
                size += file_size
                digest.update(f"{file.relative_to(path).as_posix()}\0{file_size}\n".encode())
            return {"size": size, "files": len(files), "sha256": digest.hexdigest()}
        size = path.stat().st_size
        with path.open("rb") as handle:
            digest.update(handle.read(_ENDS))
            if size > _ENDS:
                handle.seek(max(size - _ENDS, _ENDS))
                digest.update(handle.read(_ENDS))
    except FileNotFoundError:
        raise DataError(f"{data} not found. Pass the training data as DATA.") from None
    except OSError as error:
        raise DataError(f"Cannot read {data}: {error.strerror}.") from None
    return {"size": size, "sha256": digest.hexdigest()}


def describe(fingerprint: dict[str, Any]) -> str:
    """A few words a user can compare: `the built-in 'imdb'`, `a 1.2 MB file`, `3 files, 4.0 MB`."""
    if "builtin" in fingerprint:
        return f"the built-in '{fingerprint['builtin']}'"
    size = _size(fingerprint.get("size", 0))
    return f"{fingerprint['files']} files, {size}" if "files" in fingerprint else f"a {size} file"


def _size(count: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"
