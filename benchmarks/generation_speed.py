"""Characters per second of rnnkit's generation vs the usual tutorial loop, on one trained model.

The tutorial loop calls `model.predict` on the last window for every new character; rnnkit
steps the recurrent state one token at a time inside one compiled `tf.function`, and runs
many samples as one batch. Both use the same trained default model, in one process.

    python benchmarks/generation_speed.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine  # noqa: E402


def tutorial_loop(run, prompt: str, length: int, window: int) -> str:
    """The loop most Keras text-generation tutorials show: re-run the whole window per character."""
    import numpy as np

    from rnnkit.tasks.textgen.vocabulary import TextVocabulary

    vocabulary = TextVocabulary.load(run.path / "preprocessor")
    ids = list(vocabulary.encode([prompt]))
    rng = np.random.default_rng(0)
    for _ in range(length):
        logits = run.model.predict(np.array([ids[-window:]], dtype=np.int32), verbose=0)[0, -1]
        probabilities = np.exp(logits - logits.max())
        probabilities[:2] = 0  # never padding or [UNK]
        ids.append(int(rng.choice(len(probabilities), p=probabilities / probabilities.sum())))
    return "".join(vocabulary.id_to_token[i] for i in ids)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=500, help="characters per rnnkit sample")
    parser.add_argument("--tutorial-length", type=int, default=100, help="characters for the (slow) tutorial loop")
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import rnnkit

    with tempfile.TemporaryDirectory() as folder:
        print("training the default model on python-docs for 60 s ...", flush=True)
        run = rnnkit.train("python-docs", out=Path(folder) / "run", epochs=50, time_budget=60, seed=0)
        window = run.config.data.sequence_length
        prompt = "The "
        run.generate(prompt, length=10, seed=0)  # trace the graph once, as a server would at start-up
        run.generate(prompt, length=10, seed=0, num_samples=args.batch)
        tutorial_loop(run, prompt, 2, window)

        _, tutorial_seconds = timed(tutorial_loop, run, prompt, args.tutorial_length, window)
        single, single_seconds = timed(run.generate, prompt, length=args.length, seed=1)
        batch, batch_seconds = timed(run.generate, prompt, length=args.length, seed=1, num_samples=args.batch)

    tutorial_rate = args.tutorial_length / tutorial_seconds
    single_rate = args.length / single_seconds
    batch_rate = args.length * args.batch / batch_seconds
    print(f"\nGeneration speed, default model (2 x GRU 256), {machine()}")
    print(f"{'method':<44} {'chars/s':>10} {'vs tutorial':>12}")
    print(f"{'tutorial loop (model.predict per char)':<44} {tutorial_rate:>10.1f} {1.0:>11.1f}x")
    print(f"{'rnnkit, 1 sample':<44} {single_rate:>10.1f} {single_rate / tutorial_rate:>11.1f}x")
    print(f"{f'rnnkit, {args.batch} samples as one batch':<44} {batch_rate:>10.1f} {batch_rate / tutorial_rate:>11.1f}x")
    print(f"batch of {args.batch} vs one sample: {batch_rate / single_rate:.1f}x the throughput")
    print(f"sample: {single[0][:120]!r}")


if __name__ == "__main__":
    main()
