"""Peak memory and time to the first step of `rnnkit.train` on data larger than memory (issue #11),
before and after the streaming pipelines, and their training throughput.

(a) text: a generated text of `--mb` MB (random words from a fixed list made here, seeded) in
    /tmp, trained with the default textgen model. The training runs in its own process, which at
    train batch `--batches` (200) records its peak RSS (VmHWM) and the seconds from its start to the
    end of the first batch and of batch `--batches`, then exits: the numbers are exactly that many
    steps, with no validation or final evaluation after them.
(b) series: a generated CSV of `--rows` hourly rows (`date,value`) trained with `--task forecast`,
    measured the same way, next to the size of that CSV as a pandas frame, and what the rows add to
    the peak of the same training on 10,000 rows (TensorFlow, the model and its compiled step alone
    take most of a gigabyte).
(c) before: the same measurements on the source at `--before-commit` (a `git worktree` in /tmp,
    imported through PYTHONPATH; every rnnkit module the training loaded is checked to come from
    it), the text at `--before-mb` (the old code holds the whole encoded text several times over),
    side by side with the current code at the same sizes, with ratios.
(d) throughput on Tiny Shakespeare: the default model fitted `--steps` steps on the streaming
    `windows_dataset` (over the memory-mapped token file training uses) and on the in-memory
    `from_tensor_slices` pipeline it replaced (copied below), alternating, in one process.

Run it in an environment whose packages are compiled to bytecode, as `pip install` leaves them
(not `--no-compile`, and not under PYTHONDONTWRITEBYTECODE without `python -m compileall`):
importing TensorFlow from source takes about 10 s more and counts in the time to the first batch.

    python benchmarks/memory.py                     # the full measurement: run it alone on the machine
    python benchmarks/memory.py --mb 20 --rows 100000 --steps 20 --before-mb 10   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAKESPEARE, machine, require  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
MB = 1 << 20


# -- data ---------------------------------------------------------------------------------------------


def word_list(count: int = 2000, seed: int = 11) -> list[str]:
    """Pseudo-words of two to four syllables: a fixed list, the same on every machine."""
    import random

    rng = random.Random(seed)
    onsets = ["", "b", "br", "c", "ch", "d", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p", "pl", "r", "s",
              "sh", "st", "t", "th", "tr", "v", "w", "y", "z"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "y"]
    codas = ["", "", "", "n", "r", "s", "t", "l", "nd", "st", "ck"]
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas)
                          for _ in range(rng.randint(1, 3))))
    return sorted(words)


def make_text(path: Path, megabytes: int, seed: int = 0) -> Path:
    """`megabytes` MiB of random words from `word_list()`, twelve to a line; kept in /tmp for the next run."""
    import numpy as np

    size = megabytes * MB
    if path.exists() and path.stat().st_size == size:
        return path
    words = word_list()
    spaced = np.array([word + " " for word in words], dtype=object)
    ended = np.array([word + ".\n" for word in words], dtype=object)
    rng = np.random.default_rng(seed)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    written = 0
    with temporary.open("w", encoding="utf-8") as handle:
        while written < size:
            picks = rng.integers(0, len(words), size=1 << 20)
            text = "".join(np.where(np.arange(len(picks)) % 12 == 11, ended[picks], spaced[picks]).tolist())
            text = text[: size - written]
            handle.write(text)
            written += len(text)  # ASCII: characters are bytes
    os.replace(temporary, path)
    return path


def make_series(path: Path, rows: int, seed: int = 0) -> Path:
    """`rows` hourly rows of `date,value`: a daily and a weekly cycle, a trend and noise."""
    import numpy as np
    import pandas as pd

    if path.exists() and sum(1 for _ in path.open("rb")) == rows + 1:
        return path
    rng = np.random.default_rng(seed)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    start = pd.Timestamp("2000-01-01")
    block = 1_000_000
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write("date,value\n")
        for first in range(0, rows, block):
            hours = np.arange(first, min(first + block, rows))
            values = (10 * np.sin(2 * np.pi * hours / 24) + 5 * np.sin(2 * np.pi * hours / 168)
                      + hours * 1e-4 + rng.normal(0, 1, len(hours)))
            dates = (start + pd.to_timedelta(hours, unit="h")).strftime("%Y-%m-%d %H:%M:%S")
            frame = pd.DataFrame({"date": dates, "value": np.round(values, 3)})
            frame.to_csv(handle, header=False, index=False)
    os.replace(temporary, path)
    return path


def pandas_size(path: Path) -> int:
    """Bytes of `path` read whole as a pandas frame (in a process of its own, gone afterwards)."""
    code = ("import sys, pandas as pd; "
            "print(int(pd.read_csv(sys.argv[1]).memory_usage(deep=True).sum()))")
    return int(subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True,
                              text=True).stdout.strip())


# -- (a)-(c): one training, measured in its own process ------------------------------------------------------


def peak_rss() -> int:
    """This process's peak resident set size in bytes (VmHWM)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def measure_training(data: str, task: str, batches: int, started: float, result: str) -> None:
    """In the child: train into the folder of `result`, and at batch `batches` write the measurements to
    `result` and exit at once (the parent removes the folder)."""
    import keras

    import rnnkit

    class Measure(keras.callbacks.Callback):
        first = None
        done = 0

        def on_train_batch_end(self, batch, logs=None):
            self.done += 1
            if self.first is None:
                self.first = time.time() - started
            if self.done == batches:
                self.report()

        def on_epoch_end(self, epoch, logs=None):
            self.report()  # an epoch shorter than `batches` (a smoke run's data)

        def report(self):
            modules = {os.path.realpath(module.__file__) for name, module in list(sys.modules.items())
                       if name.split(".")[0] == "rnnkit" and getattr(module, "__file__", None)}
            with open(result, "w") as handle:
                json.dump({"peak_rss": peak_rss(), "first_batch_s": self.first, "last_batch_s": time.time() - started,
                           "batches": self.done, "rnnkit": rnnkit.__file__, "modules": sorted(modules)}, handle)
            os._exit(0)

    options = {"target": "value"} if task == "forecast" else {}
    rnnkit.train(data, task=task, out=Path(result).parent / "run", epochs=1, callbacks=[Measure()], **options)


def run_measurement(data: Path, task: str, batches: int, source: Path | None) -> dict:
    """Train on `data` in a fresh process, from `source` (a staged old tree) or the current checkout."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with tempfile.TemporaryDirectory(prefix="rnnkit-memory-") as folder:
        result = Path(folder) / "result.json"
        command = [sys.executable, __file__, "--measure", task, "--data", str(data), "--batches", str(batches),
                   "--result", str(result), "--started", repr(time.time())]
        completed = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True)
        if not result.exists():
            raise RuntimeError(f"the {task} measurement on {data} failed (exit {completed.returncode}):\n"
                               f"{completed.stderr[-3000:]}")
        measured = json.loads(result.read_text())
    expected = os.path.realpath(source_tree(source) if source is not None else REPOSITORY)
    strays = [module for module in measured["modules"] if not module.startswith(expected + os.sep)]
    if strays:
        raise RuntimeError(f"the measurement loaded rnnkit modules from outside {expected}: {strays[:3]}")
    return measured


def source_tree(staged: Path) -> Path:
    return Path(os.path.realpath(staged / "rnnkit" / "__init__.py")).parents[1]


def stage_commit(commit: str) -> tuple[Path, Path]:
    """A `git worktree` of `commit` in /tmp, and a folder to put on PYTHONPATH that imports it as `rnnkit`.

    The editable install maps `rnnkit.cli` and `rnnkit.datasets` to the checkout's own `cli/` and
    `datasets/`; the staged `rnnkit/` holds links to the old tree's modules and to its `cli/` and
    `datasets/`, so no module of the current checkout is mixed in.
    """
    worktree = Path(tempfile.gettempdir()) / f"rnnkit-before-{commit}"
    if not worktree.exists():
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(worktree), commit],
                       check=True, capture_output=True)
    staged = Path(tempfile.mkdtemp(prefix=f"rnnkit-before-{commit}-path-"))
    package = staged / "rnnkit"
    package.mkdir()
    for entry in (worktree / "rnnkit").iterdir():
        (package / entry.name).symlink_to(entry)
    for name in ("cli", "datasets"):
        (package / name).symlink_to(worktree / name)
    return worktree, staged


def remove_commit(worktree: Path, staged: Path) -> None:
    shutil.rmtree(staged, ignore_errors=True)
    subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(worktree)],
                   capture_output=True)


# -- (d): throughput of the two pipelines --------------------------------------------------------------------


def in_memory_windows(ids, sequence_length: int, batch_size: int, shuffle: bool = False, seed: int | None = None):
    """The pipeline before issue #11 (rnnkit/tasks/textgen/task.py at 171e887), the baseline."""
    import tensorflow as tf

    count = (len(ids) - 1) // sequence_length
    inputs = ids[: count * sequence_length].reshape(count, sequence_length)
    targets = ids[1 : count * sequence_length + 1].reshape(count, sequence_length)
    dataset = tf.data.Dataset.from_tensor_slices((inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def throughput(corpus: Path, steps: int, rounds: int) -> dict[str, list[float]]:
    """Samples/s of the default model fitted `steps` steps on each pipeline, alternating, `rounds` times."""
    from rnnkit.tf_import import import_tensorflow

    import_tensorflow()  # without TensorFlow's start-up chatter
    import keras
    import numpy as np

    from rnnkit.datasets.fingerprint import data_fingerprint
    from rnnkit.tasks.textgen.task import windows_dataset
    from rnnkit.training import resolve_config

    task_object, config = resolve_config(str(corpus), epochs=1, seed=0)
    config.data.fingerprint = data_fingerprint(str(corpus))
    keras.utils.set_random_seed(0)
    results: dict[str, list[float]] = {"streaming": [], "in-memory": []}
    with tempfile.TemporaryDirectory(prefix="rnnkit-memory-cache-") as cache:
        prepared = task_object.prepare(config, cache_dir=Path(cache))
        length, batch = config.data.sequence_length, config.training.batch_size
        pipelines = {
            "streaming": windows_dataset(prepared.train, length, batch, shuffle=True, seed=0),
            "in-memory": in_memory_windows(np.asarray(prepared.train, dtype=np.int32), length, batch, shuffle=True,
                                           seed=0),
        }
        model = task_object.build_model(config, prepared)
        optimizer = keras.optimizers.Adam(config.training.learning_rate, global_clipnorm=config.training.clipnorm or None)
        task_object.compile(model, config, optimizer)
        streams = {name: dataset.repeat() for name, dataset in pipelines.items()}
        for name, stream in streams.items():  # traces the step, fills the old pipeline's buffer once
            model.fit(stream, steps_per_epoch=max(steps // 10, 2), epochs=1, verbose=0, shuffle=False)
        for _ in range(rounds):
            for name, stream in streams.items():
                start = time.perf_counter()
                model.fit(stream, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
                results[name].append(steps * batch / (time.perf_counter() - start))
    return results


# -- the report --------------------------------------------------------------------------------------------


def gigabytes(count: float) -> str:
    return f"{count / 1e9:.2f} GB" if count >= 1e8 else f"{count / 1e6:.1f} MB"


def seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def ratio(before: float | None, after: float | None) -> str:
    return "-" if not before or not after else f"{after / before:.2f}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=1024, help="size of the generated text, MiB")
    parser.add_argument("--before-mb", type=int, default=200, help="the text size the old code is measured at")
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the generated hourly series")
    parser.add_argument("--batches", type=int, default=200, help="train batches before a measurement ends")
    parser.add_argument("--before-commit", default="171e887", help="the source measured as 'before'")
    parser.add_argument("--skip-before", action="store_true", help="measure the current code only")
    parser.add_argument("--steps", type=int, default=300, help="steps per throughput measurement (0 skips it)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput measurements per pipeline")
    parser.add_argument("--corpus", type=Path, default=SHAKESPEARE, help="the throughput text")
    parser.add_argument("--measure", choices=["textgen", "forecast"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.measure:
        measure_training(args.data, args.measure, args.batches, args.started, args.result)
        return

    tmp = Path(tempfile.gettempdir())
    text = make_text(tmp / f"rnnkit-memory-{args.mb}mb.txt", args.mb)
    small = make_text(tmp / f"rnnkit-memory-{args.before_mb}mb.txt", args.before_mb) if not args.skip_before else None
    series = make_series(tmp / f"rnnkit-memory-{args.rows}rows.csv", args.rows)
    frame = pandas_size(series)

    cases = [(f"text {args.mb} MiB", text, "textgen", False)]
    if small is not None and args.before_mb != args.mb:
        cases.insert(0, (f"text {args.before_mb} MiB", small, "textgen", True))
    elif small is not None:
        cases[0] = (cases[0][0], text, "textgen", True)
    cases.append((f"series {args.rows:,} rows", series, "forecast", True))
    rows = []
    staged = None if args.skip_before else stage_commit(args.before_commit)
    try:
        for name, data, task, compare in cases:
            after = run_measurement(data, task, args.batches, None)
            before = run_measurement(data, task, args.batches, staged[1]) if compare and staged else None
            rows.append((name, before, after))
    finally:
        if staged is not None:
            remove_commit(*staged)
    # What any training holds whatever its data (TensorFlow, the model, the compiled step): the same
    # training on a short series. The big series' data costs the difference.
    baseline = run_measurement(make_series(tmp / "rnnkit-memory-10000rows.csv", 10_000), "forecast", args.batches,
                               None)
    throughputs = throughput(args.corpus, args.steps, args.rounds) if args.steps and require(args.corpus) else None

    print(f"\nPeak RSS and time from process start, {args.batches} train batches of the default model, {machine()}")
    print(f"'before' is {args.before_commit}; times are to the end of the first batch / of batch {args.batches}")
    header = f"{'':<22} {'peak RSS before':>16} {'after':>10} {'ratio':>7}   {'first batch before':>18} " \
             f"{'after':>8} {'ratio':>7}   {f'batch {args.batches} before':>17} {'after':>8}"
    print(header)
    for name, before, after in rows:
        b = before or {}
        print(f"{name:<22} {gigabytes(b['peak_rss']) if before else '-':>16} {gigabytes(after['peak_rss']):>10} "
              f"{ratio(b.get('peak_rss'), after['peak_rss']):>7}   {seconds(b.get('first_batch_s')):>18} "
              f"{seconds(after['first_batch_s']):>8} {ratio(b.get('first_batch_s'), after['first_batch_s']):>7}   "
              f"{seconds(b.get('last_batch_s')):>17} {seconds(after['last_batch_s']):>8}")
        if after["batches"] < args.batches:
            print(f"{'':<22} (the data made only {after['batches']} batches)")
    print(f"series as a pandas frame (pd.read_csv(...).memory_usage(deep=True).sum()): {gigabytes(frame)}, "
          f"CSV file {gigabytes(series.stat().st_size)}")
    series_after = rows[-1][2]["peak_rss"]
    print(f"series: the same training on 10,000 rows peaks at {gigabytes(baseline['peak_rss'])}; the "
          f"{args.rows:,} rows add {gigabytes(series_after - baseline['peak_rss'])}, "
          f"{(series_after - baseline['peak_rss']) / frame:.2f}x the pandas frame")
    print(f"targets for the {args.mb} MiB text: peak RSS < 2 GB, < 60 s to the first batch")
    if throughputs:
        print(f"\nThroughput, default model on {args.corpus.name}, {args.steps} steps per measurement, alternating")
        medians = {name: statistics.median(values) for name, values in throughputs.items()}
        for name, values in throughputs.items():
            print(f"{name:<12} samples/s {', '.join(f'{v:.1f}' for v in values):<32} median {medians[name]:.1f}")
        print(f"streaming / in-memory: {medians['streaming'] / medians['in-memory']:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
