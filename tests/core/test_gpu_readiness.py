"""What a GPU would do with each task's models, checked on the CPU with Keras' own predicates.

On a GPU, Keras runs LSTM and GRU layers on cuDNN only when `keras.src.backend.tensorflow.rnn`
accepts their arguments (tanh/sigmoid, bias, no unroll, GRU `reset_after`), the layer has no
recurrent dropout and `use_cudnn` is not off; and cuDNN then asserts that every mask is
right-padded with no fully masked row. The mixed-precision policy is run for one step of each
task, as on a GPU.
"""

from __future__ import annotations

import math

import numpy as np

import pytest

from tests.helpers import TINY, TINY_FORECAST, TINY_SENTIMENT, make_corpus, make_reviews, make_series

TASK_DATA = {
    "textgen": (make_corpus, "corpus.txt", TINY),
    "sentiment": (make_reviews, "reviews.csv", TINY_SENTIMENT),
    "forecast": (make_series, "series.csv", TINY_FORECAST),
}


def _prepared(task: str, tmp_path, **options):
    from rnnkit.training import resolve_config

    make, name, tiny = TASK_DATA[task]
    data = make(tmp_path / name)
    task_object, config = resolve_config(str(data), **{**tiny, "units": 8, **options})
    return task_object, config, task_object.prepare(config)


def _recurrent_layers(model):
    """Every LSTM/GRU/SimpleRNN layer of `model`, the two directions of a Bidirectional included."""
    import keras

    found = []
    for layer in model._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Bidirectional):
            found += [layer.forward_layer, layer.backward_layer]
        elif isinstance(layer, keras.layers.RNN):
            found.append(layer)
    return found


def _keras_rnn():
    """keras/src/backend/tensorflow/rnn.py (the package exports a function of the same name)."""
    import importlib

    return importlib.import_module("keras.src.backend.tensorflow.rnn")


def _cudnn_accepts(layer) -> bool:
    import keras

    rnn = _keras_rnn()
    cell = layer.cell
    if isinstance(layer, keras.layers.GRU):
        arguments = rnn._do_gru_arguments_support_cudnn(cell.activation, cell.recurrent_activation, layer.unroll,
                                                        cell.use_bias, cell.reset_after)
    elif isinstance(layer, keras.layers.LSTM):
        arguments = rnn._do_lstm_arguments_support_cudnn(cell.activation, cell.recurrent_activation, layer.unroll,
                                                         cell.use_bias)
    else:
        return False
    return arguments and not cell.recurrent_dropout and layer.use_cudnn in ("auto", True)


@pytest.mark.parametrize("task", sorted(TASK_DATA))
@pytest.mark.parametrize("cell", [None, "lstm", "gru"])
def test_each_tasks_recurrent_layers_run_on_cudnn(task, cell, tmp_path):
    task_object, config, prepared = _prepared(task, tmp_path, **({"cell": cell} if cell else {}))
    model = task_object.build_model(config, prepared)
    layers = _recurrent_layers(model)
    assert layers, model.summary()
    assert all(_cudnn_accepts(layer) for layer in layers), [(layer.name, layer.cell.activation) for layer in layers]
    # Generation and serving build their own modules around the model: the same layers.
    inference = task_object.build_inference(model, prepared.preprocessor)
    assert all(_cudnn_accepts(layer) for layer in _recurrent_layers(inference.model))


def test_simple_cells_are_not_cudnn_and_the_run_says_which_option(tmp_path):
    from rnnkit.backbone import uses_cudnn_kernel

    task_object, config, prepared = _prepared("textgen", tmp_path, cell="simple")
    assert not any(_cudnn_accepts(layer) for layer in _recurrent_layers(task_object.build_model(config, prepared)))
    fast, reason = uses_cudnn_kernel(config.model)
    assert not fast and reason.startswith("--cell simple") and "slower on a GPU" in reason


def test_classifier_masks_are_right_padded_with_no_empty_row(tmp_path):
    """cuDNN asserts this on every batch; empty and unknown-only texts included."""
    import tensorflow as tf

    rnn = _keras_rnn()
    task_object, config, prepared = _prepared("sentiment", tmp_path)
    preprocessor = prepared.preprocessor
    texts = ["", "   ", "zzzz qqqq", "<br /><br />", "a wonderful film " * 40, "dull"]
    batches = [preprocessor.pad(preprocessor.encode(tf.constant(texts)))]
    train, validation, _ = task_object.datasets(config, prepared)
    batches += [x for x, *_ in train.take(6)] + [x for x, *_ in validation.take(3)]
    for ids in batches:
        mask = tf.not_equal(ids, 0)
        assert bool(rnn._is_sequence_right_padded(mask)), ids.numpy()
        assert not bool(rnn._has_fully_masked_sequence(mask)), ids.numpy()


@pytest.mark.parametrize("task, extra", [(task, {}) for task in sorted(TASK_DATA)] + [("textgen", {"layer_norm": True})])
def test_one_mixed_precision_step_of_each_task(task, extra, tmp_path):
    """`mixed_float16` computes in float16 and keeps float32 weights and a float32 output (textgen's
    layer-normalized cells too)."""
    import keras

    task_object, config, prepared = _prepared(task, tmp_path, **extra)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = task_object.build_model(config, prepared)
        task_object.compile(model, config, keras.optimizers.Adam(learning_rate=1e-3))
        train, _, _ = task_object.datasets(config, prepared)
        batch = next(iter(train))
        logs = model.train_on_batch(*batch, return_dict=True)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    recurrent = _recurrent_layers(model)
    assert all(layer.compute_dtype == "float16" and layer.variable_dtype == "float32" for layer in recurrent)
    outputs = model.outputs if isinstance(model.outputs, list) else [model.outputs]
    assert all(output.dtype == "float32" for output in outputs), [output.dtype for output in outputs]
    assert all(weight.dtype == "float32" for weight in model.weights)
    assert math.isfinite(logs["loss"]), logs

    # LiteRT and ONNX export a float32 copy: the same weights, the same outputs to float16's precision.
    from rnnkit.export import float32_model

    plain = float32_model(model, task_object.custom_objects())
    assert all(layer.compute_dtype == "float32" for layer in _recurrent_layers(plain))
    x = batch[0]["token_ids"] if isinstance(batch[0], dict) else batch[0]
    mixed_out, plain_out = model.predict_on_batch(x), plain.predict_on_batch(x)
    scale = max(float(np.max(np.abs(plain_out))), 1.0)
    assert np.max(np.abs(np.asarray(mixed_out, np.float32) - plain_out)) / scale < 2e-2


MIRRORED = """
import json, sys
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import rnnkit

run = rnnkit.train(sys.argv[1], out=sys.argv[2], strategy="mirrored", **json.loads(sys.argv[3]))
print(json.dumps({"runtime": run.config.runtime, "metrics": run.metrics}))
"""


@pytest.mark.parametrize("task, extra", [("textgen", {"stateful": False}), ("textgen", {"stateful": True}),
                                         ("sentiment", {})])
def test_mirrored_strategy_over_two_logical_cpus_trains_with_the_global_batch(task, extra, tmp_path):
    """Two replicas as on a two-GPU machine: Keras' fit splits each global batch between them (stateful
    textgen: each replica carries the states of its half of the streams)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    make, name, tiny = TASK_DATA[task]
    tiny = {**tiny, **extra}
    data = make(tmp_path / name)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", MIRRORED, str(data), str(tmp_path / "run"), json.dumps(tiny)],
                            capture_output=True, text=True, timeout=300, cwd=root,
                            env={**os.environ, "PYTHONPATH": str(root)})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["runtime"]["strategy"] == "MirroredStrategy" and report["runtime"]["replicas"] == 2, report
    assert len(report["runtime"]["devices"]) == 2
    assert math.isfinite(report["metrics"]["model"]["loss"])
    recorded = json.loads((tmp_path / "run" / "config.json").read_text())
    assert recorded["runtime"] == report["runtime"] and recorded["training"]["batch_size"] == tiny["batch_size"]
    assert recorded["runtime"]["precision_policy"] == "float32"
