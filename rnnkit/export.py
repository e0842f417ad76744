"""Export a run for deployment: a SavedModel that takes raw input (DESIGN §7), or `.keras`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rnnkit.atomic import replace_dir, temporary_path
from rnnkit.errors import ConfigError, RunError
from rnnkit.tf_import import import_tensorflow

FORMATS = ("savedmodel", "keras", "tflite", "onnx")


def export_run(run, out: str | Path, format: str = "savedmodel", overwrite: bool = False, xla: bool = False) -> Path:
    """Write `run` to `out` in `format`; a non-empty `out` needs `overwrite=True`. `xla` compiles a
    text generation run's sampling loop with XLA."""
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format '{format}'. Expected one of: {', '.join(FORMATS)}. Received: format={format!r}")
    if format in ("tflite", "onnx"):
        raise ConfigError(f"Export to {format} is not supported yet; use --format savedmodel (TensorFlow Serving) or keras.")
    if xla and (format != "savedmodel" or run.task != "textgen"):
        raise ConfigError(f"--xla compiles the sampling loop of a text generation SavedModel; this is a {run.task} run "
                          f"exported as {format}. Drop --xla.")
    out = Path(out)
    if run.path.resolve().is_relative_to(out.resolve()):
        raise RunError(f"--out {out} holds the run {run.path} itself. Choose another --out.")
    import_tensorflow()
    if format == "keras":
        if out.suffix != ".keras":
            if out.is_dir() and any(out.iterdir()) and not overwrite:
                raise RunError(f"{out} already exists and is not empty. Pass --overwrite or choose another --out.")
            out = out / run.model_path.name
        if out.exists() and not overwrite:
            raise RunError(f"{out} already exists. Pass --overwrite or choose another --out.")
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = temporary_path(out)
        shutil.copyfile(run.model_path, temporary)
        os.replace(temporary, out)
        return out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise RunError(f"{out} already exists and is not empty. Pass --overwrite or choose another --out.")
        if not (out / "saved_model.pb").exists():
            raise RunError(f"{out} is not a SavedModel, so --overwrite will not replace it. Choose another --out.")
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as error:
        raise RunError(f"Cannot write to {out}: {error.strerror}. Choose another --out.") from None
    try:
        archive = run.task_object.export_archive(run, **({"xla": True} if xla else {}))
        archive.write_out(str(staging / "model"), verbose=False)
        replace_dir(staging / "model", out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
