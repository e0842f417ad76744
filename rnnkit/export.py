"""Export a run for deployment: a SavedModel that takes raw input (DESIGN §7), `.keras`, or the run's
numeric core as LiteRT or ONNX.

LiteRT and ONNX runtimes have no string operators among their builtins, so those exports hold the
task's numeric core (`rnnkit.task.EdgeCore`: token ids or a window in, probabilities, logits or
forecasts out) and `model.json` next to it says how a client makes the inputs and reads the
outputs (the vocabulary, the labels, the steps). Each export is checked before it is written:
the runtime's outputs on sample inputs against TensorFlow's, to `TOLERANCE`.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import warnings
from pathlib import Path

from rnnkit.atomic import replace_dir, temporary_path, write_json_atomic
from rnnkit.errors import ConfigError, RunError
from rnnkit.tf_import import import_tensorflow

FORMATS = ("savedmodel", "keras", "litert", "onnx")
# Each edge format: the model file, the packages its conversion and its check need, the extra that
# installs them, and the runtime that checks it.
EDGE_FORMATS = {
    "litert": {"file": "model.tflite", "modules": ("ai_edge_litert",), "extra": "litert", "runtime": "ai_edge_litert"},
    "onnx": {"file": "model.onnx", "modules": ("tf2onnx", "onnxruntime"), "extra": "onnx", "runtime": "onnxruntime"},
}
SIDECAR = "model.json"
TOLERANCE = 1e-5  # relative to the output's largest magnitude, or absolute below 1
CHECK_ROWS = 8


def export_run(run, out: str | Path, format: str = "savedmodel", overwrite: bool = False, xla: bool = False) -> Path:
    """Write `run` to `out` in `format`; a non-empty `out` needs `overwrite=True`. `xla` compiles a
    text generation run's sampling loop with XLA."""
    if format not in FORMATS:
        raise ConfigError(f"Unknown export format '{format}'. Expected one of: {', '.join(FORMATS)}. Received: format={format!r}")
    if xla and (format != "savedmodel" or run.task != "textgen"):
        raise ConfigError(f"--xla compiles the sampling loop of a text generation SavedModel; this is a {run.task} run "
                          f"exported as {format}. Drop --xla.")
    out = Path(out)
    if run.path.resolve().is_relative_to(out.resolve()):
        raise RunError(f"--out {out} holds the run {run.path} itself. Choose another --out.")
    if format in EDGE_FORMATS:
        return export_edge(run, out, format, overwrite)
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
    _check_out(out, overwrite, lambda folder: (folder / "saved_model.pb").exists(), "a SavedModel")
    with _staging(out) as folder:
        archive = run.task_object.export_archive(run, **({"xla": True} if xla else {}))
        archive.write_out(str(folder), verbose=False)
    return out


def _check_out(out: Path, overwrite: bool, is_ours, what: str) -> None:
    """Refuse a non-empty `out`, unless `overwrite` and `is_ours(out)` (an earlier export of the same kind)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise RunError(f"{out} already exists and is not empty. Pass --overwrite or choose another --out.")
        if not is_ours(out):
            raise RunError(f"{out} is not {what}, so --overwrite will not replace it. Choose another --out.")


@contextlib.contextmanager
def _staging(out: Path):
    """A path beside `out` (not made yet) for the block to write a folder to: it replaces `out` when the
    block ends, and is removed when the block fails, leaving `out` as it was."""
    target = out.resolve()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as error:
        raise RunError(f"Cannot write to {out}: {error.strerror}. Choose another --out.") from None
    try:
        folder = staging / "export"  # made by the block, with the umask's permissions (mkdtemp's are the owner's)
        yield folder
        replace_dir(folder, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def export_edge(run, out: str | Path, format: str, overwrite: bool = False) -> Path:
    """Write `run`'s numeric core to the folder `out` as `format` (`EDGE_FORMATS`), with `SIDECAR`;
    it is converted, then checked against TensorFlow, before anything is written to `out`."""
    import importlib.util

    if not run.task_object.offers("edge_core"):
        raise ConfigError(f"A {run.task} run has no LiteRT or ONNX export (its task defines no numeric core). "
                          "Use --format savedmodel or keras.")
    spec = EDGE_FORMATS[format]
    missing = [module for module in spec["modules"] if importlib.util.find_spec(module) is None]
    if missing:
        raise ConfigError(f"--format {format} needs {' and '.join(missing)}: pip install 'rnnkit[{spec['extra']}]'")
    out = Path(out)
    _check_out(out, overwrite, _is_edge_export, "an rnnkit LiteRT or ONNX export")
    import_tensorflow()
    model = float32_model(run.model, run.task_object.custom_objects())
    core = run.task_object.edge_core(run, model)
    with _staging(out) as folder:
        folder.mkdir()
        model_file = folder / spec["file"]
        # LiteRT's builtin recurrent loops need a fixed batch (their tensor lists' element shape): one row a call.
        batch = 1 if format == "litert" else None
        convert = _convert_litert if format == "litert" else _convert_onnx
        convert(core, batch, model_file)
        run_converted = _litert_runner if format == "litert" else _onnx_runner
        check = _check(core, run_converted(model_file), rows=1 if batch else CHECK_ROWS)
        if not check["difference"] <= TOLERANCE:  # NaN too
            raise RuntimeError(f"The {format} model's outputs differ from TensorFlow's by {check['difference']:.2g} "
                               f"(more than {TOLERANCE:g}), so it was not written. Please report this as a bug.")
        check["float32_copy"] = model is not run.model
        write_json_atomic(folder / SIDECAR, _sidecar(run, core, format, spec["file"], batch, check))
    return out


def _is_edge_export(folder: Path) -> bool:
    """Whether `folder` holds an earlier LiteRT or ONNX export and nothing else, which --overwrite may replace."""
    import json

    try:
        sidecar = json.loads((folder / SIDECAR).read_text(encoding="utf-8"))
        names = {path.name for path in folder.iterdir()}
    except (OSError, ValueError):
        return False
    ours = {SIDECAR, *(spec["file"] for spec in EDGE_FORMATS.values())}
    return (isinstance(sidecar, dict) and sidecar.get("format") in EDGE_FORMATS and "rnnkit_version" in sidecar
            and names <= ours)


def float32_model(model, custom_objects: dict):
    """`model`, or a copy computing in float32 when it was trained with mixed precision: LiteRT and
    ONNX exports compute in float32 (the weights are float32 either way)."""
    import json

    import keras

    if all(layer.dtype_policy.name == "float32" for layer in [model, *model.layers]):
        return model

    def plain(value):
        if isinstance(value, dict):
            if value.get("class_name") == "DTypePolicy" and isinstance(value.get("config"), dict):
                return {**value, "config": {**value["config"], "name": "float32"}}
            return {key: plain(item) for key, item in value.items()}
        return [plain(item) for item in value] if isinstance(value, list) else value

    copy = keras.models.model_from_json(json.dumps(plain(json.loads(model.to_json()))), custom_objects=custom_objects)
    copy.set_weights(model.get_weights())
    return copy


def _specs(core, batch: int | None) -> list:
    import tensorflow as tf

    return [tf.TensorSpec([batch, *shape], dtype, name=name) for name, dtype, shape in core.inputs]


def _convert_litert(core, batch: int | None, path: Path) -> None:
    """Keras' own LiteRT route (`keras/src/export/litert.py`: an `ExportArchive`, then
    `TFLiteConverter.from_saved_model`), with builtin operators only, which every LiteRT
    runtime has: the weights become constants."""
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as saved_model:
        archive = keras.export.ExportArchive()
        archive.track(core.model)
        archive.add_endpoint("serving_default", core.function, input_signature=_specs(core, batch))
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        try:
            path.write_bytes(converter.convert())
        except Exception as error:  # the converter raises its own ConverterError and others
            raise RunError(f"This model does not convert to LiteRT with builtin operators: {_first_line(error)}") from None


def _convert_onnx(core, batch: int | None, path: Path) -> None:
    """Keras' own ONNX route for TensorFlow (`keras/src/export/onnx.py`): tf2onnx from the traced function."""
    import tensorflow as tf
    import tf2onnx

    try:  # what Keras' export applies first: tf2onnx's fixes for NumPy 2
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        pass
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # its test for np.object
            patch_tf2onnx()
    specs = _specs(core, batch)
    try:
        tf2onnx.convert.from_function(tf.function(core.function, input_signature=specs), specs, output_path=str(path))
    except Exception as error:  # tf2onnx raises ValueError, KeyError, its own errors, ...
        raise RunError(f"This model does not convert to ONNX: {_first_line(error)}") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _litert_runner(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return lambda inputs: runner(**inputs)


def _onnx_runner(path: Path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return lambda inputs: dict(zip(names, session.run(None, inputs)))


def _check(core, run_converted, rows: int) -> dict:
    """The converted model against TensorFlow on `core.sample` inputs: the largest difference of any
    output, relative to that output's largest magnitude when it is above 1, and each output's dtype and
    shape after the batch axis."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    difference, checked, outputs = 0.0, 0, {}
    for _ in range(max(CHECK_ROWS // rows, 1)):
        inputs = core.sample(rng, rows)
        expected = core.function(*(tf.constant(inputs[name]) for name, _, _ in core.inputs))
        got = run_converted(inputs)
        for name, value in expected.items():
            value, converted = value.numpy(), np.asarray(got.get(name))
            outputs[name] = (value.dtype.name, list(value.shape[1:]))
            if converted.shape != value.shape or not (np.all(np.isfinite(converted)) and np.all(np.isfinite(value))):
                return {"difference": math.inf, "rows": checked + rows, "outputs": outputs}
            scale = max(float(np.max(np.abs(value), initial=0.0)), 1.0)
            difference = max(difference, float(np.max(np.abs(converted - value), initial=0.0)) / scale)
        checked += rows
    return {"difference": difference, "rows": checked, "outputs": outputs}


def _sidecar(run, core, format: str, file: str, batch: int | None, check: dict) -> dict:
    from rnnkit.version import __version__

    def version(module: str) -> str:
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version(module.replace("_", "-"))
        except PackageNotFoundError:
            return "unknown"

    runtime = EDGE_FORMATS[format]["runtime"]
    return {
        "format": format,
        "model": file,
        "task": run.task,
        "run": run.path.name,
        "rnnkit_version": __version__,
        "inputs": [{"name": name, "dtype": dtype, "shape": [batch, *shape]} for name, dtype, shape in core.inputs],
        "outputs": [{"name": name, "dtype": dtype, "shape": [batch, *shape]}
                    for name, (dtype, shape) in check["outputs"].items()],
        **core.description,
        "checked": {"runtime": f"{runtime} {version(runtime)}", "rows": check["rows"],
                    "max_difference": check["difference"],
                    "against": "TensorFlow, the SavedModel's computation" + (
                        " in float32 (the run itself computes in float16)" if check["float32_copy"] else "")},
    }
