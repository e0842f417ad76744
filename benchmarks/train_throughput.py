"""Training samples/s of `rnnkit.train` vs a plain Keras script of the same model on the same data.

Same model (Embedding 64 -> 2 x GRU 256 with dropout 0.1 -> Dense, rnnkit's default), same windows, same
batch size. The two alternate, `--rounds` times each, from one command; each measurement
runs in its own Python process, because TensorFlow settings such as op determinism (which
rnnkit turns on for repeatable seeded runs) are process-wide. Epochs after the first
(tracing) are timed, and the medians are compared.

    python benchmarks/train_throughput.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAKESPEARE, machine, require  # noqa: E402


def epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.last = time.perf_counter()
            self.batches = batch + 1

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(self.last - self.start)

    return EpochTimer()


def plain_keras(corpus: Path, epochs: int, batch_size: int, sequence_length: int) -> tuple[float, int]:
    import keras
    import numpy as np

    text = corpus.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in text], dtype=np.int32)
    ids = ids[: len(ids) - int(len(ids) * 0.1)]
    count = (len(ids) - 1) // sequence_length
    x = ids[: count * sequence_length].reshape(count, sequence_length)
    y = ids[1 : count * sequence_length + 1].reshape(count, sequence_length)
    model = keras.Sequential([
        keras.Input((None,), dtype="int32"),
        keras.layers.Embedding(len(chars) + 2, 64),
        keras.layers.GRU(256, return_sequences=True), keras.layers.Dropout(0.1),
        keras.layers.GRU(256, return_sequences=True), keras.layers.Dropout(0.1),
        keras.layers.Dense(len(chars) + 2),
    ])
    model.compile(keras.optimizers.Adam(5e-3, global_clipnorm=1.0),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = epoch_timer()
    model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[timer], verbose=0)
    return statistics.median(timer.seconds[1:]), count


def rnnkit_train(corpus: Path, epochs: int, batch_size: int, sequence_length: int) -> tuple[float, int]:
    import rnnkit

    timer = epoch_timer()
    with tempfile.TemporaryDirectory() as folder:
        rnnkit.train(str(corpus), out=Path(folder) / "run", epochs=epochs, batch_size=batch_size,
                     max_len=sequence_length, seed=0, early_stopping=False, callbacks=[timer])
    text_length = len(corpus.read_text(encoding="utf-8"))
    train_length = text_length - int(text_length * 0.1)
    return statistics.median(timer.seconds[1:]), (train_length - 1) // sequence_length


def measure(name: str, corpus: Path, epochs: int, batch_size: int) -> float:
    """Samples/s of one training in a fresh process."""
    import json
    import subprocess

    command = [sys.executable, __file__, "--measure", name, "--corpus", str(corpus),
               "--epochs", str(epochs), "--batch-size", str(batch_size)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SHAKESPEARE)
    parser.add_argument("--chars", type=int, default=300_000, help="use the first N characters")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--measure", choices=["rnnkit", "plain"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.measure:
        import json

        function = rnnkit_train if args.measure == "rnnkit" else plain_keras
        seconds, windows = function(args.corpus, args.epochs, args.batch_size, 100)
        print(json.dumps({"samples_per_second": windows / seconds}))
        return
    if require(args.corpus) is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        corpus.write_text(args.corpus.read_text(encoding="utf-8")[: args.chars], encoding="utf-8")
        results = {"rnnkit train": [], "plain Keras": []}
        for _ in range(args.rounds):
            results["rnnkit train"].append(measure("rnnkit", corpus, args.epochs, args.batch_size))
            results["plain Keras"].append(measure("plain", corpus, args.epochs, args.batch_size))
    print(f"\nTraining throughput, first {args.chars} chars of Tiny Shakespeare, batch {args.batch_size}, {machine()}")
    print(f"{'':<16} {'samples/s (each round)':<32} {'median':>8}")
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        print(f"{name:<16} {', '.join(f'{v:.1f}' for v in values):<32} {medians[name]:>8.1f}")
    print(f"rnnkit / plain: {medians['rnnkit train'] / medians['plain Keras']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
