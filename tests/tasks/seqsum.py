"""A fourth task defined outside rnnkit, to prove a task is one module and one registration.

Sequence regression: read one numeric column of a CSV and learn the sum of every window of
`--span` consecutive values. It has an option of its own (`--span`), its own preprocessor
(a scale, saved as JSON), model head, metrics next to a baseline, and a SavedModel that
takes raw windows.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit import DataError, Option, PreparedData, Task
from rnnkit.atomic import write_json_atomic
from rnnkit.options import DATA, integer


def read_values(path: str) -> list[float]:
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            return [float(row["x"]) for row in csv.DictReader(handle)]
    except (OSError, KeyError, ValueError) as error:
        raise DataError(f"{path}: need a CSV with a numeric column 'x' ({error}).") from None


def windows(values: list[float], span: int):
    import numpy as np

    array = np.asarray(values, dtype=np.float32)
    x = np.lib.stride_tricks.sliding_window_view(array, span)
    return x[..., None].copy(), x.sum(axis=1, keepdims=True)


@dataclass
class Scale:
    span: int
    std: float

    def save(self, directory: Path) -> None:
        write_json_atomic(Path(directory) / "scale.json", {"span": self.span, "std": self.std})

    @classmethod
    def load(cls, directory: Path) -> "Scale":
        return cls(**json.loads((Path(directory) / "scale.json").read_text()))


class SequenceSumTask(Task):
    name = "seqsum"
    data_description = "a CSV with a numeric column 'x'"
    options = (Option("span", "data", default=5, type=int, check=integer(2), panel=DATA,
                      help="Values summed per window."),)
    defaults = {"cell": "gru", "layers": 1, "units": 8, "epochs": 2, "batch_size": 16, "learning_rate": 0.01}

    def prepare(self, config, preprocessor_dir=None) -> PreparedData:
        import numpy as np

        values = read_values(config.data.path)
        x, y = windows(values, config.data.span)
        if len(x) < 10:
            raise DataError(f"{config.data.path} has too few values for windows of {config.data.span}.")
        split = len(x) - max(1, int(len(x) * config.data.val_split))
        scale = self.load_preprocessor(preprocessor_dir) if preprocessor_dir else Scale(
            config.data.span, float(np.std(x[:split]) or 1.0))
        return PreparedData(preprocessor=scale, train=(x[:split], y[:split]), validation=(x[split:], y[split:]))

    def load_preprocessor(self, directory):
        return Scale.load(directory)

    def datasets(self, config, prepared):
        import tensorflow as tf

        batch = config.training.batch_size
        train = tf.data.Dataset.from_tensor_slices(prepared.train).shuffle(1000, seed=config.training.seed).batch(batch)
        validation = tf.data.Dataset.from_tensor_slices(prepared.validation).batch(batch)
        return train, validation, -(-len(prepared.train[0]) // batch)

    def build_model(self, config, prepared):
        import keras

        from rnnkit.backbone import build_recurrent_stack

        inputs = keras.Input((config.data.span, 1), name="values")
        x = keras.layers.Rescaling(1.0 / prepared.preprocessor.std)(inputs)
        for layer in build_recurrent_stack(config.model, return_sequences=False):
            x = layer(x)
        outputs = keras.layers.Rescaling(prepared.preprocessor.std * config.data.span)(keras.layers.Dense(1)(x))
        return keras.Model(inputs, outputs)

    def compile(self, model, config, optimizer) -> None:
        model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])

    def build_inference(self, model, preprocessor):
        import tensorflow as tf

        class Summer(tf.Module):
            def __init__(self):
                super().__init__()
                self.model = model

            @tf.function(input_signature=[tf.TensorSpec([None, preprocessor.span], tf.float32, name="values")])
            def predict(self, values):
                return {"sum": self.model(values[..., None], training=False)[:, 0]}

            def endpoints(self):
                return {"serving_default": self.predict}

            def resources(self):
                return []

        return Summer()

    def final_metrics(self, inference, config, prepared) -> dict[str, Any]:
        return self._metrics(inference, *prepared.validation, prepared.train[1].mean(), "validation")

    def evaluate(self, run, data) -> dict[str, Any]:
        x, y = windows(read_values(str(data)), run.config.data.span)
        return self._metrics(self.inference(run), x, y, float(y.mean()), "test")

    @staticmethod
    def _metrics(inference, x, y, mean: float, split: str) -> dict[str, Any]:
        import numpy as np

        predicted = inference.predict(x[..., 0])["sum"].numpy()
        return {"split": split, "model": {"mae": float(np.abs(predicted - y[:, 0]).mean())},
                "baselines": {"mean": {"mae": float(np.abs(mean - y[:, 0]).mean())}}}


def write_values(path: Path, count: int = 200, seed: int = 0) -> Path:
    import random

    rng = random.Random(seed)
    path.write_text("x\n" + "".join(f"{rng.uniform(-1, 1):.4f}\n" for _ in range(count)))
    return path
