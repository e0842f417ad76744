"""Reviews per second on raw strings: `run.predict` vs the exported SavedModel, batch 256.

Both take the same IMDB reviews (the first `--reviews` after a seeded shuffle) in batches of
`--batch`: `run.predict(batch)` returns one dict per review; the SavedModel from `run.export`
is called through its `serving_default` signature. One warm-up pass each (tracing), then
`--repeats` timed passes; medians are compared. Without `--run`, a small run is trained first
(2,000 other reviews, 1 epoch): its accuracy does not matter here, only its speed.

    python benchmarks/sentiment_inference.py --run runs/sentiment-imdb
    python benchmarks/sentiment_inference.py --reviews 300 --repeats 1   # smoke test
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from _common import IMDB, imdb_reviews, machine, require, write_reviews


def median_seconds(function, batches: list[list[str]], repeats: int) -> float:
    """Median wall time of one pass over `batches`, after one untimed warm-up pass."""
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for batch in batches:
            function(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, help="a trained sentiment run folder; trains a small one if absent")
    parser.add_argument("--data", type=Path, default=IMDB)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if require(args.data) is None:
        return
    import rnnkit

    reviews = imdb_reviews(args.data, args.seed)
    texts = [text for text, _ in reviews[: args.reviews]]
    batches = [texts[i : i + args.batch] for i in range(0, len(texts), args.batch)]
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        if args.run is None:
            print("training a small sentiment run (2,000 reviews, 1 epoch) ...", flush=True)
            train_csv = write_reviews(folder / "train.csv", reviews[args.reviews : args.reviews + 2000])
            run = rnnkit.train(train_csv, task="sentiment", out=folder / "run", epochs=1, seed=args.seed)
        else:
            run = rnnkit.load(args.run)
        exported = run.export(folder / "savedmodel")
        import tensorflow as tf

        serve = tf.saved_model.load(str(exported)).signatures["serving_default"]
        predict_seconds = median_seconds(run.predict, batches, args.repeats)
        savedmodel_seconds = median_seconds(lambda batch: serve(text=tf.constant(batch)), batches, args.repeats)

    predict_rate = len(texts) / predict_seconds
    savedmodel_rate = len(texts) / savedmodel_seconds
    print(f"\nSentiment inference, {len(texts)} IMDB reviews in batches of {args.batch}, "
          f"median of {args.repeats}, run {args.run or 'small 1-epoch run'}")
    print(f"{'method':<34} {'reviews/s':>10}")
    print(f"{'run.predict(batch)':<34} {predict_rate:>10.1f}")
    print(f"{'SavedModel serving_default':<34} {savedmodel_rate:>10.1f}")
    print(f"SavedModel / predict: {savedmodel_rate / predict_rate:.2f}x")
    print(machine())


if __name__ == "__main__":
    main()
