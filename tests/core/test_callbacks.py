"""rnnkit's own Keras callbacks: the learning-rate schedule, derived metrics, the atomic best-model saver."""

from __future__ import annotations

import math

import numpy as np
import pytest


def tiny_model():
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1.0), loss="mse")
    return model


def test_warmup_then_cosine_to_five_percent():
    from rnnkit.callbacks import WarmupCosineSchedule

    schedule = WarmupCosineSchedule(peak=0.01, total_steps=400)
    schedule.set_model(tiny_model())
    assert schedule.warmup == 20
    rates = []
    for step in (0, 10, 20, 210, 400, 500):
        schedule._set(step)
        rates.append(float(schedule.model.optimizer.learning_rate))
    assert rates[0] == pytest.approx(0.001) and rates[1] == pytest.approx(0.0055)
    assert rates[2] == pytest.approx(0.01)
    assert rates[3] == pytest.approx(0.01 * (0.05 + 0.95 * 0.5), rel=1e-6)  # half way through the decay
    assert rates[4] == pytest.approx(0.0005) and rates[5] == pytest.approx(0.0005)


def test_time_budget_stops_training():
    from rnnkit.callbacks import TimeBudget, WarmupCosineSchedule

    model = tiny_model()
    schedule = WarmupCosineSchedule(peak=0.01, total_steps=10**6, budget=TimeBudget(1e-9))
    history = model.fit(np.zeros((64, 2)), np.zeros((64, 1)), batch_size=8, epochs=5, verbose=0, callbacks=[schedule])
    assert len(history.history["loss"]) == 1 and model.stop_training


def test_derived_metrics_and_learning_rate_join_the_logs():
    from rnnkit.callbacks import DerivedMetrics

    callback = DerivedMetrics(lambda logs: {"bits_per_char": logs["loss"] / math.log(2)})
    callback.set_model(tiny_model())
    logs = {"loss": math.log(2)}
    callback.on_epoch_end(0, logs)
    assert logs["bits_per_char"] == pytest.approx(1.0) and logs["learning_rate"] == pytest.approx(1.0)


def test_best_model_saver_keeps_only_improvements_and_leaves_no_temporary_file(tmp_path):
    from rnnkit.callbacks import BestModelSaver

    saver = BestModelSaver(tmp_path / "model.keras", "val_loss", best=1.0)
    saver.set_model(tiny_model())
    saver.on_epoch_end(0, {"val_loss": 2.0})
    assert not (tmp_path / "model.keras").exists()
    saver.on_epoch_end(1, {"val_loss": float("nan")})
    assert not (tmp_path / "model.keras").exists()
    saver.on_epoch_end(2, {"val_loss": 0.5})
    first = (tmp_path / "model.keras").stat().st_mtime_ns
    saver.on_epoch_end(3, {"val_loss": 0.7})
    assert (tmp_path / "model.keras").stat().st_mtime_ns == first and saver.best == 0.5
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]
