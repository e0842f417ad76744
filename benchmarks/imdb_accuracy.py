"""IMDB holdout accuracy and training time: `rnnkit train --task sentiment` vs the keras-io recipe.

The 25,000 IMDB train reviews are shuffled (`--seed`); `--holdout` of them are this
benchmark's test set and neither side sees them in training. rnnkit trains with its
defaults under `--budget` seconds (its own validation split comes out of the training rows);
the baseline is keras-io's `bidirectional_lstm_imdb` (Embedding 128 -> 2 x BiLSTM 64 ->
sigmoid, Adam, batch 32, 2 epochs, 200 tokens), fed raw text the way a tutorial user would:
`TextVectorization(max_tokens=20000)` adapted on the training texts, then `pad_sequences`.
Train seconds cover tokenization and fitting (rnnkit's also its per-epoch validation);
samples/s = training reviews x epochs / train seconds. Each side runs in its own process.

    python benchmarks/imdb_accuracy.py
    python benchmarks/imdb_accuracy.py --skip-baseline --set units=128
    python benchmarks/imdb_accuracy.py --rows 400 --holdout 100 --budget 60   # smoke test
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import IMDB, imdb_reviews, machine, parse_sets, require, write_reviews

TARGET = "target: rnnkit >= 0.89 holdout accuracy within 1200 s on the 2-core CPU"


def rnnkit_sentiment(work: Path, seed: int, budget: float, options: dict) -> dict:
    import rnnkit
    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()  # not timed, as for the baseline
    start = time.perf_counter()
    run = rnnkit.train(str(work / "train.csv"), task="sentiment", out=work / "run", seed=seed, quiet=False,
                       **{"time_budget": budget, **options})
    seconds = time.perf_counter() - start
    metrics = run.evaluate(work / "holdout.csv")
    with (run.path / "history.csv").open(newline="", encoding="utf-8") as handle:
        epochs = sum(1 for _ in csv.DictReader(handle))
    return {"accuracy": metrics["model"]["accuracy"], "seconds": seconds, "epochs": epochs,
            "majority": metrics["baselines"]["majority"]["accuracy"],
            "internal": run.metrics["model"]["accuracy"]}


def keras_io(work: Path, seed: int) -> dict:
    """keras-io examples/nlp/bidirectional_lstm_imdb.py, on raw text through TextVectorization."""
    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()
    import keras
    import numpy as np

    def read(path):
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        return [row["text"] for row in rows], np.array([int(row["label"]) for row in rows], dtype="float32")

    texts, labels = read(work / "train.csv")
    holdout_texts, holdout_labels = read(work / "holdout.csv")
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    vectorizer = keras.layers.TextVectorization(max_tokens=20000, output_mode="int", ragged=True)
    vectorizer.adapt(texts)
    x = keras.utils.pad_sequences(vectorizer(texts).to_list(), maxlen=200)
    inputs = keras.Input(shape=(None,), dtype="int32")
    hidden = keras.layers.Embedding(20000, 128)(inputs)
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(64, return_sequences=True))(hidden)
    hidden = keras.layers.Bidirectional(keras.layers.LSTM(64))(hidden)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, labels, batch_size=32, epochs=2, verbose=2)
    seconds = time.perf_counter() - start
    holdout_x = keras.utils.pad_sequences(vectorizer(holdout_texts).to_list(), maxlen=200)
    _, accuracy = model.evaluate(holdout_x, holdout_labels, batch_size=256, verbose=0)
    return {"accuracy": accuracy, "seconds": seconds, "epochs": 2}


def measure(name: str, work: Path, args: argparse.Namespace) -> dict:
    """Run one side in a fresh process (TensorFlow settings are process-wide); its output shows live."""
    print(f"\n== {name} ==", flush=True)
    command = [sys.executable, __file__, "--measure", name, "--work", str(work), "--seed", str(args.seed),
               "--budget", str(args.budget)] + [f"--set={item}" for item in args.set]
    subprocess.run(command, check=True)
    return json.loads((work / f"{name}.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=IMDB)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", type=int, default=2500, help="reviews held out as the test set")
    parser.add_argument("--rows", type=int, help="use only the first N shuffled reviews (smoke tests)")
    parser.add_argument("--budget", type=float, default=1200, help="rnnkit's time_budget, seconds")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="an rnnkit option")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-rnnkit", action="store_true")
    parser.add_argument("--measure", choices=["rnnkit", "keras-io"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.measure:
        if args.measure == "rnnkit":
            result = rnnkit_sentiment(args.work, args.seed, args.budget, parse_sets(args.set))
        else:
            result = keras_io(args.work, args.seed)
        (args.work / f"{args.measure}.json").write_text(json.dumps(result), encoding="utf-8")
        return
    if require(args.data) is None:
        return
    reviews = imdb_reviews(args.data, args.seed)[: args.rows]
    if not 0 < args.holdout < len(reviews):
        parser.error(f"--holdout must be between 1 and {len(reviews) - 1} (the reviews used)")
    train_rows = len(reviews) - args.holdout
    names = [name for name, skip in (("rnnkit", args.skip_rnnkit), ("keras-io", args.skip_baseline)) if not skip]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        write_reviews(work / "holdout.csv", reviews[: args.holdout])
        write_reviews(work / "train.csv", reviews[args.holdout :])
        results = {name: measure(name, work, args) for name in names}

    options = parse_sets(args.set)
    print(f"\nIMDB sentiment, {train_rows} training / {args.holdout} holdout reviews (seed {args.seed})"
          + ("" if args.skip_rnnkit else f", rnnkit budget {args.budget:.0f} s")
          + (f", options {options}" if options else ""))
    print(f"{'name':<28} {'holdout acc':>11} {'train s':>9} {'epochs':>7} {'samples/s':>10}")
    labels = {"rnnkit": "rnnkit train (sentiment)", "keras-io": "keras-io BiLSTM recipe"}
    for name, result in results.items():
        rate = train_rows * result["epochs"] / result["seconds"]
        print(f"{labels[name]:<28} {result['accuracy']:>11.4f} {result['seconds']:>9.1f} "
              f"{result['epochs']:>7} {rate:>10.1f}")
    if "rnnkit" in results:
        ours = results["rnnkit"]
        print(f"rnnkit internal validation accuracy: {ours['internal']:.4f}; "
              f"majority class on the holdout: {ours['majority']:.4f}")
    if len(results) == 2:
        ours, baseline = results["rnnkit"], results["keras-io"]
        print(f"accuracy, rnnkit - keras-io: {ours['accuracy'] - baseline['accuracy']:+.4f}")
        print(f"train time, rnnkit / keras-io: {ours['seconds'] / baseline['seconds']:.2f}x")
    print(machine())
    print(TARGET)


if __name__ == "__main__":
    main()
