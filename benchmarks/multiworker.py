"""Training samples/s on one worker vs two workers of `--strategy multi-worker`, each worker on one core.

The default textgen model on Tiny Shakespeare. Every configuration runs in fresh processes
pinned to one CPU core each (`os.sched_setaffinity`), on 127.0.0.1: one process with Keras'
`fit` (no tf.distribute), one worker of `--strategy multi-worker` (rnnkit's loop, one replica),
then two workers with the same global batch (each computes half of it) and with twice the
global batch (each computes a full one). Batches `--skip` to `--skip + --steps` are timed,
then training stops (the epoch's validation and the final evaluation are not timed). Scaling efficiency is two workers'
samples/s over twice one worker's.

    python benchmarks/multiworker.py [--steps 60] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SHAKESPEARE, machine, require  # noqa: E402

WORKER = """
import json, os, sys, time
os.sched_setaffinity(0, {int(sys.argv[4])})
import keras
import rnnkit

skip, steps, report = int(sys.argv[5]), int(sys.argv[6]), sys.argv[3]

class Timer(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        self.done = getattr(self, "done", 0) + 1
        if self.done == skip:
            self.start = time.perf_counter()
        elif self.done == skip + steps:
            seconds = time.perf_counter() - self.start
            with open(report, "w") as handle:
                json.dump({"seconds": seconds, "steps": steps}, handle)
            self.model.stop_training = True  # every worker stops here; exiting alone would break the collectives

options = json.loads(sys.argv[7])
rnnkit.train(sys.argv[1], out=sys.argv[2], callbacks=[Timer()], **options)
"""


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def measure(data: Path, workers: int, strategy: str, batch_size: int, args, scratch: Path) -> float:
    """Samples/s of `workers` processes training together (each pinned to its own core)."""
    options = {"strategy": strategy, "batch_size": batch_size, "epochs": 1000, "seed": 1, "early_stopping": False}
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(workers)]}
    processes, reports = [], []
    for index in range(workers):
        report = scratch / f"report-{strategy}-{workers}-{batch_size}-{index}.json"
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        if strategy == "multi-worker":
            env["TF_CONFIG"] = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        out = scratch / f"run-{strategy}-{workers}-{batch_size}"
        command = [sys.executable, "-c", WORKER, str(data), str(out), str(report), str(index % os.cpu_count()),
                   str(args.skip), str(args.steps), json.dumps(options)]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                          text=True))
        reports.append(report)
    for process in processes:
        _, stderr = process.communicate(timeout=1800)
        if process.returncode != 0:
            raise SystemExit(f"a worker failed:\n{stderr[-3000:]}")
    seconds = max(json.loads(report.read_text())["seconds"] for report in reports)
    return args.steps * batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60, help="timed batches")
    parser.add_argument("--skip", type=int, default=10, help="batches before timing (tracing, warm-up)")
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch of the one-worker runs")
    args = parser.parse_args()
    data = require(SHAKESPEARE)
    if data is None:
        return
    print(machine())
    batch = args.batch_size
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        fit = measure(data, 1, "one", batch, args, scratch)
        one = measure(data, 1, "multi-worker", batch, args, scratch)
        same = measure(data, 2, "multi-worker", batch, args, scratch)
        double = measure(data, 2, "multi-worker", 2 * batch, args, scratch)
    rows = [
        ("1 process, Keras fit (no tf.distribute)", batch, fit, ""),
        ("1 worker, --strategy multi-worker", batch, one, f"{one / fit:.2f}x fit"),
        ("2 workers, same global batch", batch, same, f"efficiency {same / (2 * one):.0%}"),
        ("2 workers, a full batch each", 2 * batch, double, f"efficiency {double / (2 * one):.0%}"),
    ]
    print(f"Default textgen model on Tiny Shakespeare, {args.steps} timed steps, one core per process:")
    print(f"{'configuration':42} {'global batch':>12} {'samples/s':>10}  vs one worker")
    for name, size, rate, note in rows:
        print(f"{name:42} {size:>12} {rate:>10.0f}  {note}")


if __name__ == "__main__":
    main()
