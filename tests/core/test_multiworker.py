"""Training on several machines: two worker processes on 127.0.0.1 under MultiWorkerMirroredStrategy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import TINY, TINY_SENTIMENT, make_corpus, make_reviews

WORKER = """
import json, sys
import keras, numpy as np
import rnnkit
from rnnkit.cli._errors import install_warning_handler
from rnnkit.tf_import import filter_native_logs

install_warning_handler()  # as `rnnkit train` does: its notes and warnings on stderr,
filter_native_logs()  # without TensorFlow's native chatter

class KeepWeights(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        np.savez(sys.argv[3], *self.model.get_weights())

options = json.loads(sys.argv[4])
run = rnnkit.train(sys.argv[1], out=sys.argv[2], strategy="multi-worker", callbacks=[KeepWeights()], **options)
print(json.dumps({"run": None if run is None else str(run.path)}))
"""

TASKS = {
    # No seed: the workers take the chief's, or they would shuffle and split the data differently.
    "textgen": (lambda path: make_corpus(path, characters=4000), "corpus.txt",
                {**{k: v for k, v in TINY.items() if k != "seed"}, "batch_size": 8}),
    "sentiment": (lambda path: make_reviews(path, rows=96), "reviews.csv", {**TINY_SENTIMENT, "epochs": 1}),
}


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.mark.parametrize("task", sorted(TASKS))
def test_two_workers_end_with_the_weights_the_chief_saved(task, tmp_path):
    make, name, options = TASKS[task]
    data = make(tmp_path / name)
    out = tmp_path / "run"
    root = Path(__file__).resolve().parents[2]
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        scratch = tmp_path / f"tmp{index}"
        scratch.mkdir()
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
               "TMPDIR": str(scratch), "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
        command = [sys.executable, "-c", WORKER, str(data), str(out), str(tmp_path / f"weights{index}.npz"),
                   json.dumps(options)]
        workers.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                        cwd=root))
    results = []
    for worker in workers:
        try:
            stdout, stderr = worker.communicate(timeout=240)
        finally:
            for other in workers:
                if other.poll() is None and worker.returncode is None:
                    other.kill()
        assert worker.returncode == 0, stderr[-3000:]
        results.append((json.loads(stdout.strip().splitlines()[-1]), stderr))

    (chief, chief_log), (other, other_log) = results
    assert chief["run"] == str(out) and other["run"] is None
    assert "worker 0 of 2 training processes (the chief" in chief_log and "worker 1 of 2" in other_log
    assert "Warning" not in chief_log + other_log and "/job:" not in chief_log + other_log
    # Only the chief wrote: one run folder, complete; the other worker's temporary folder is gone.
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file()
    # (TensorFlow's autograph imports the modules it generates from TMPDIR, so where bytecode is written,
    # as in CI, a __pycache__ of them stays there.)
    leftovers = [path.name for index in range(2) for path in (tmp_path / f"tmp{index}").iterdir()]
    assert not [name for name in leftovers if name.startswith("rnnkit")], leftovers
    recorded = json.loads((out / "config.json").read_text())
    assert recorded["runtime"]["strategy"] == "MultiWorkerMirroredStrategy" and recorded["runtime"]["replicas"] == 2
    assert recorded["training"]["batch_size"] == options["batch_size"]

    import rnnkit

    saved = rnnkit.load(out).model.get_weights()
    for index in range(2):
        ended = list(np.load(tmp_path / f"weights{index}.npz").values())
        assert len(ended) == len(saved)
        for mine, chiefs in zip(ended, saved):
            np.testing.assert_allclose(mine, chiefs, atol=1e-5)
    history = (out / "history.csv").read_text().splitlines()
    assert len(history) == 2 and "val_loss" in history[0]


def test_multi_worker_without_tf_config_says_what_to_set(tmp_path):
    from typer.testing import CliRunner

    from rnnkit.cli.main import app

    data = make_corpus(tmp_path / "corpus.txt")
    env = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
    result = CliRunner().invoke(app, ["train", str(data), "--strategy", "multi-worker", "--out",
                                      str(tmp_path / "run")], env={**env, "TF_CONFIG": ""})
    assert result.exit_code == 2, result.output
    assert "TF_CONFIG" in result.output and '"index": 0' in result.output
    assert not (tmp_path / "run").exists()
