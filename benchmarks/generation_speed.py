"""Characters per second of rnnkit's generation vs the usual tutorial loop, on one trained model.

The tutorial loop calls `model.predict` on the last window for every new character; rnnkit
steps the recurrent state one token at a time inside one compiled `tf.function`, and runs
many samples as one batch. Both use the same trained default model, in one process. Next to
each rate: the GFLOP/s it amounts to (the model's matrix products per character) and the GFLOP/s
of those same products alone in a `tf.while_loop` at the same batch size, what the cores can do
with these shapes; the gap is per-step overhead, not arithmetic. The "--xla" rows are the same
loop compiled with XLA (`run.generate(..., xla=True)`, `rnnkit generate --xla`); the first call
of each shape compiles it (its seconds are printed), the measured calls reuse the program.

    python benchmarks/generation_speed.py [--rounds 3] [--set layer_norm=false]
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
from _common import machine, parse_sets  # noqa: E402


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


def product_weights(model) -> list:
    """The weights a generation step multiplies by, one matrix-vector product per token each: every
    2-D weight but the embedding's (a lookup): the GRU kernels and recurrent kernels, the output layer."""
    return [weight for layer in model.layers if layer.name != "embedding" for weight in layer.weights
            if len(weight.shape) == 2]


def flops_per_token(model) -> int:
    """Multiply-adds x 2 of one generation step."""
    return sum(2 * int(weight.shape[0]) * int(weight.shape[1]) for weight in product_weights(model))


def matmul_rate(model, rows: int, steps: int) -> float:
    """GFLOP/s of the same matrix products, `steps` times in a `tf.while_loop`, with nothing else per step:
    what these cores do with these shapes at this batch size."""
    import tensorflow as tf

    kernels = [tf.constant(weight.numpy()) for weight in product_weights(model)]
    inputs = [tf.random.normal([rows, int(kernel.shape[0])]) for kernel in kernels]

    @tf.function
    def loop():
        def body(t, total):
            # Each product reads the running total, so no step can be skipped or hoisted.
            for x, kernel in zip(inputs, kernels):
                total += tf.reduce_sum(tf.matmul(x + total * 0.0, kernel)[:, :1])
            return t + 1, total

        return tf.while_loop(lambda t, _: t < steps, body, (tf.constant(0), tf.constant(0.0)))

    loop()
    _, seconds = timed(loop)
    return flops_per_token(model) * rows * steps / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, default=500, help="characters per rnnkit sample")
    parser.add_argument("--tutorial-length", type=int, default=100, help="characters for the (slow) tutorial loop")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each case, alternating; medians shown")
    parser.add_argument("--set", action="append", default=[], help="an rnnkit option of the model, e.g. units=512")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import rnnkit

    rates: dict[str, list[float]] = {"tutorial": [], "single": [], "batch": [], "single xla": [], "batch xla": [],
                                     "matmul 1": [], "matmul batch": []}
    with tempfile.TemporaryDirectory() as folder:
        print(f"training the default model {parse_sets(args.set) or ''} on python-docs for 60 s ...", flush=True)
        run = rnnkit.train("python-docs", out=Path(folder) / "run", epochs=50, time_budget=60, seed=0,
                           **parse_sets(args.set))
        window = run.config.data.sequence_length
        prompt = "The "
        run.generate(prompt, length=10, seed=0)  # trace the graph once, as a server would at start-up
        run.generate(prompt, length=10, seed=0, num_samples=args.batch)
        compile_seconds = {}
        for rows in (1, args.batch):  # compile the XLA programs of the measured shapes
            _, compile_seconds[rows] = timed(run.generate, prompt, length=args.length, seed=0, num_samples=rows,
                                             xla=True)
        tutorial_loop(run, prompt, 2, window)

        # This machine's speed drifts within minutes: the cases alternate, and each ratio is of medians.
        for _ in range(args.rounds):
            _, seconds = timed(tutorial_loop, run, prompt, args.tutorial_length, window)
            rates["tutorial"].append(args.tutorial_length / seconds)
            single, seconds = timed(run.generate, prompt, length=args.length, seed=1)
            rates["single"].append(args.length / seconds)
            _, seconds = timed(run.generate, prompt, length=args.length, seed=1, num_samples=args.batch)
            rates["batch"].append(args.length * args.batch / seconds)
            _, seconds = timed(run.generate, prompt, length=args.length, seed=1, xla=True)
            rates["single xla"].append(args.length / seconds)
            _, seconds = timed(run.generate, prompt, length=args.length, seed=1, num_samples=args.batch, xla=True)
            rates["batch xla"].append(args.length * args.batch / seconds)
            rates["matmul 1"].append(matmul_rate(run.model, 1, args.length))
            rates["matmul batch"].append(matmul_rate(run.model, args.batch, args.length))
        flops = flops_per_token(run.model)

    median = {name: statistics.median(values) for name, values in rates.items()}
    tutorial = median["tutorial"]
    print(f"\nGeneration speed, default model (2 x GRU 256) {parse_sets(args.set) or ''}, {machine()}")
    print(f"medians of {args.rounds} alternating rounds; {flops / 1e6:.2f} MFLOP per generated character")
    print(f"{'method':<40} {'chars/s':>10} {'vs tutorial':>12} {'GFLOP/s':>9}   {'plain matmul GFLOP/s':>20}")
    print(f"{'tutorial loop (model.predict per char)':<40} {tutorial:>10.1f} {1.0:>11.1f}x")
    for name, label, matmul in [("single", "rnnkit, 1 sample", "matmul 1"),
                                ("batch", f"rnnkit, {args.batch} samples as one batch", "matmul batch"),
                                ("single xla", "rnnkit --xla, 1 sample", "matmul 1"),
                                ("batch xla", f"rnnkit --xla, {args.batch} samples as one batch", "matmul batch")]:
        print(f"{label:<40} {median[name]:>10.1f} {median[name] / tutorial:>11.1f}x {median[name] * flops / 1e9:>9.1f}"
              f"   {median[matmul]:>20.1f}")
    print(f"batch of {args.batch} vs one sample: {median['batch'] / median['single']:.1f}x the throughput")
    print(f"--xla vs the plain loop: 1 sample {median['single xla'] / median['single']:.2f}x, batch of {args.batch} "
          f"{median['batch xla'] / median['batch']:.2f}x; first call (compiling): "
          + ", ".join(f"{rows} row(s) {seconds:.1f} s" for rows, seconds in compile_seconds.items()))
    spread = ", ".join(f"{name} {min(values):.0f}-{max(values):.0f}" for name, values in rates.items())
    print(f"range over the rounds: {spread}")
    print(f"sample: {single[0][:120]!r}")


if __name__ == "__main__":
    main()
