"""Training on several machines: `tf.distribute.MultiWorkerMirroredStrategy` through a loop of our own.

Keras 3's `fit` cannot train under `MultiWorkerMirroredStrategy` (keras-team/keras#20585,
tensorflow/tensorflow#72388): its `reduce_per_replica` reduces the scalar metrics with
`strategy.reduce("MEAN", v, axis=0)`, which fails across workers. `MultiWorkerFit` runs the same
Keras model's own `train_step` and `test_step` (losses scaled for the replicas by Keras, gradients
summed across every replica by its optimizer) in `strategy.run` inside a `tf.function`, reads the
metrics in cross-replica context (summed over all workers), and calls the Keras callbacks at the
points `fit` does, so checkpoints, history.csv, early stopping, the learning-rate schedule and the
time budget behave as they do there.

Every worker must take each decision at the same step, or the collectives wait forever: what one
worker learns alone (a signal, its clock) is agreed on at every step through one all-reduce, so
the time budget runs on the workers' mean clock and a Ctrl-C on any worker stops them all.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass

from rnnkit.errors import ConfigError

TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\''
)


@dataclass(frozen=True)
class Worker:
    """This process's place in the cluster `TF_CONFIG` describes.

    Args:
        task_type: `"worker"` or `"chief"`.
        index: its index among the tasks of its type.
        count: how many training processes the cluster has (chief and workers).
        chief: it writes the run folder (the chief, else worker 0).
    """

    task_type: str
    index: int
    count: int
    chief: bool

    def describe(self) -> str:
        role = " (the chief: it writes the run folder)" if self.chief else " (the chief writes the run folder)"
        return f"{self.task_type} {self.index} of {self.count} training processes{role}"


def worker_from_environment(environ=os.environ) -> Worker:
    """Read `TF_CONFIG`; a `ConfigError` with an example when it is missing or malformed."""
    raw = environ.get("TF_CONFIG")
    if not raw:
        raise ConfigError("--strategy multi-worker needs TF_CONFIG set on every machine: the cluster's addresses and "
                          f"this machine's place in it, e.g. {TF_CONFIG_EXAMPLE} on the first machine and index 1 on "
                          "the second.")
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        task_type, index = str(task["type"]), int(task["index"])
        workers = {name: list(addresses) for name, addresses in cluster.items() if name in ("chief", "worker")}
        if task_type not in workers or not 0 <= index < len(workers[task_type]):
            raise ValueError(f"task {task_type} {index} is not in the cluster")
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ConfigError(f"TF_CONFIG is not a valid cluster description ({error}). Set it as JSON, e.g. "
                          f"{TF_CONFIG_EXAMPLE}.") from None
    chief = task_type == "chief" or ("chief" not in workers and index == 0)
    return Worker(task_type, index, sum(len(addresses) for addresses in workers.values()), chief)


class MultiWorkerFit:
    """`fit` and `evaluate` for a model built and compiled in a `MultiWorkerMirroredStrategy` scope.

    Args:
        model: the compiled Keras model (its optimizer built in the strategy's scope).
        strategy: the `MultiWorkerMirroredStrategy`.
        interrupted: returns `True` once when this process was asked to stop (Ctrl-C, SIGTERM).
        start: when the run's clock starts (the end of data loading), on `time.monotonic`.
    """

    def __init__(self, model, strategy, interrupted, start: float):
        import tensorflow as tf

        self.model = model
        self.strategy = strategy
        self.interrupted = interrupted
        self.start = start
        self.elapsed = 0.0  # the workers' mean seconds since `start`, as of the last agreement
        self.stop_requested_flag = False
        self._options = tf.data.Options()
        self._options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        # tf.distribute reads the datasets' options in graph mode, and warns each time that it may not see them all.
        warnings.filterwarnings("ignore", message="To make it possible to preserve tf.data options")

        def agree(values):
            mean = tf.distribute.ReduceOp.MEAN
            agreed = strategy.run(lambda: tf.distribute.get_replica_context().all_reduce(mean, tf.identity(values)))
            return strategy.experimental_local_results(agreed)[0]

        @tf.function
        def train_step(iterator, values):
            strategy.run(model.train_step, args=(next(iterator),))
            return model.get_metrics_result(), agree(values)

        @tf.function
        def evaluate(dataset):
            for batch in dataset:
                strategy.run(model.test_step, args=(batch,))
            return model.get_metrics_result()

        self._agree = tf.function(agree)
        self._train_step = train_step
        self._evaluate = evaluate

    # -- what every worker must see alike ------------------------------------------------------

    def agree(self, values: list[float]) -> list[float]:
        """The mean of `values` over every replica of every worker (a collective: all workers call it)."""
        import tensorflow as tf

        return [float(value) for value in self._agree(tf.constant(values, tf.float64)).numpy()]

    def clock(self) -> float:
        """The time budget's clock: `start` plus the workers' mean elapsed seconds at the last agreement."""
        return self.start + self.elapsed

    def stop_requested(self) -> bool:
        """For `TrainingCheckpoint`: whether any worker was interrupted, as of the last agreement."""
        requested, self.stop_requested_flag = self.stop_requested_flag, False
        return requested

    def _local(self) -> list[float]:
        return [time.monotonic() - self.start, 1.0 if self.interrupted() else 0.0]

    def _take(self, agreed: list[float]) -> None:
        self.elapsed = agreed[0]
        self.stop_requested_flag = self.stop_requested_flag or agreed[1] > 0

    # -- Keras' fit and evaluate, the parts rnnkit uses ------------------------------------------

    def distribute(self, dataset):
        return self.strategy.experimental_distribute_dataset(dataset.with_options(self._options))

    def evaluate(self, dataset) -> dict[str, float]:
        self.model.reset_metrics()
        logs = self._evaluate(self.distribute(dataset))
        return {name: float(value) for name, value in logs.items()}

    def fit(self, stream, validation_data, steps_per_epoch: int, epochs: int, initial_epoch: int,
            callbacks: list) -> None:
        """Train `steps_per_epoch` batches of the endless `stream` per epoch, as `model.fit` would."""
        import keras
        import tensorflow as tf

        model = self.model
        callback_list = keras.callbacks.CallbackList(callbacks, model=model, epochs=epochs, steps=steps_per_epoch,
                                                     verbose=0)
        iterator = iter(self.distribute(stream))
        model.stop_training = False
        callback_list.on_train_begin()
        logs: dict[str, float] = {}
        for epoch in range(initial_epoch, epochs):
            model.reset_metrics()
            self._take(self.agree(self._local()))
            callback_list.on_epoch_begin(epoch)
            for step in range(steps_per_epoch):
                callback_list.on_train_batch_begin(step)
                results, agreed = self._train_step(iterator, tf.constant(self._local(), tf.float64))
                logs = {name: float(value) for name, value in results.items()}
                self._take([float(value) for value in agreed.numpy()])
                callback_list.on_train_batch_end(step, logs)
                if self._agreed_stop():
                    break
            epoch_logs = dict(logs)
            if validation_data is not None:
                epoch_logs.update({f"val_{name}": value for name, value in self.evaluate(validation_data).items()})
            callback_list.on_epoch_end(epoch, epoch_logs)
            if self._agreed_stop():
                break
        callback_list.on_train_end(logs)

    def _agreed_stop(self) -> bool:
        """Whether to stop, the same on every worker: any worker's callbacks asked for it."""
        if self.agree([1.0 if self.model.stop_training else 0.0])[0] > 0:
            self.model.stop_training = True
        return bool(self.model.stop_training)


def broadcast_from_chief(strategy, value: int) -> int:
    """The chief's `value` on every worker (a collective: all workers call it). Values below 2**53."""
    import tensorflow as tf

    def chief_value():
        context = tf.distribute.get_replica_context()
        mine = tf.where(context.replica_id_in_sync_group == 0, tf.constant(value, tf.float64),
                        tf.constant(0.0, tf.float64))
        return context.all_reduce(tf.distribute.ReduceOp.SUM, mine)

    summed = strategy.run(tf.function(chief_value))
    return int(strategy.experimental_local_results(summed)[0].numpy())
