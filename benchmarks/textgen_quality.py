"""Validation loss after a fixed wall-clock budget: rnnkit's defaults vs a plain Keras script.

Both train on the first 90% of Tiny Shakespeare and are scored on the same last 10%
(non-overlapping 100-character windows), in one process, one after the other.

    python benchmarks/textgen_quality.py --budget 600
    python benchmarks/textgen_quality.py --budget 600 --skip-baseline --set units=512
    python benchmarks/textgen_quality.py --budget 600 --skip-baseline --set layer_norm=true
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAKESPEARE, machine, parse_sets, require  # noqa: E402


def plain_keras(path: Path, budget: float) -> tuple[float, float, float, int]:
    """The usual tutorial: Embedding(64) -> 2 x LSTM(256) -> Dense, Adam 2e-3, 100-char windows, batch 64."""
    import keras
    import numpy as np

    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int32)
    split = len(ids) - int(len(ids) * 0.1)

    def windows(part):
        count = (len(part) - 1) // 100
        return part[: count * 100].reshape(count, 100), part[1 : count * 100 + 1].reshape(count, 100)

    x, y = windows(ids[:split])
    vx, vy = windows(ids[split:])
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(len(chars), 64),
        keras.layers.LSTM(256, return_sequences=True),
        keras.layers.LSTM(256, return_sequences=True),
        keras.layers.Dense(len(chars)),
    ])
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Budget(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.monotonic()

        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() - self.start >= budget:
                self.model.stop_training = True

    start = time.monotonic()
    history = model.fit(x, y, batch_size=64, epochs=1000, callbacks=[Budget()], verbose=0)
    seconds = time.monotonic() - start
    loss = model.evaluate(vx, vy, batch_size=64, verbose=0)
    return float(loss), math.nan, seconds, len(history.history["loss"])


def rnnkit_defaults(path: Path, budget: float, options: dict) -> tuple[float, float, float, int]:
    import rnnkit

    start = time.monotonic()
    with tempfile.TemporaryDirectory() as folder:
        run = rnnkit.train(str(path), out=Path(folder) / "run", epochs=1000, time_budget=budget, seed=0,
                           **options)
        seconds = time.monotonic() - start
        epochs = len((run.path / "history.csv").read_text().strip().splitlines()) - 1
        scored = run.metrics["model"]
        return float(scored["loss"]), float(scored.get("streaming_loss", math.nan)), seconds, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=600, help="training seconds for each model")
    parser.add_argument("--corpus", type=Path, default=SHAKESPEARE)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--set", action="append", default=[], help="override an rnnkit option, e.g. units=512")
    args = parser.parse_args()
    if require(args.corpus) is None:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    options = parse_sets(args.set)
    name = "rnnkit defaults" + (f" {options}" if options else "")
    rows = [(name, *rnnkit_defaults(args.corpus, args.budget, options))]
    if not args.skip_baseline:
        rows.append(("plain Keras script", *plain_keras(args.corpus, args.budget)))
    print(f"\nTiny Shakespeare, budget {args.budget:.0f} s of training each; {machine()}")
    print("val nats/char: windowed (non-overlapping windows, each from a zero state; the targets' measure); "
          "streaming: the same text read as 32 streams with carried state")
    print(f"{'':<34} {'val nats/char':>13} {'bits/char':>10} {'streaming':>10} {'wall s':>8} {'epochs':>7}")
    for name, loss, streaming, seconds, epochs in rows:
        print(f"{name:<34} {loss:>13.4f} {loss / math.log(2):>10.4f} {streaming:>10.4f} {seconds:>8.0f} {epochs:>7}")
    if len(rows) == 2:
        print(f"rnnkit / plain validation loss ratio: {rows[0][1] / rows[1][1]:.3f} (lower is better)")


if __name__ == "__main__":
    main()
