"""Every custom layer round-trips: `from_config(get_config())` gives the same config, and a model using it
saves to .keras and loads back in Keras' safe mode with its task's `custom_objects`, giving the same outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.registry import get_task


def masked_max_pooling():
    import keras

    from rnnkit.tasks.sentiment.layers import MaskedGlobalMaxPooling1D

    inputs = keras.Input((None,), dtype="int64")
    x = keras.layers.Embedding(10, 3, mask_zero=True)(inputs)
    layer = MaskedGlobalMaxPooling1D(name="pool")
    return "sentiment", layer, keras.Model(inputs, layer(x)), np.array([[1, 2, 0, 0], [3, 0, 0, 0]])


def masked_ends():
    import keras

    from rnnkit.tasks.sentiment.layers import MaskedEnds

    inputs = keras.Input((None,), dtype="int64")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    layer = MaskedEnds(bidirectional=True, name="ends")
    return "sentiment", layer, keras.Model(inputs, layer(x)), np.array([[1, 2, 3, 0], [3, 0, 0, 0]])


def test_masked_ends_reads_each_direction_where_it_ends():
    from rnnkit.tasks.sentiment.layers import MaskedEnds

    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)  # forward half: features 0-1, backward: 2-3
    mask = np.array([[True, True, True, False], [True, False, False, False]])
    ends = np.asarray(MaskedEnds(bidirectional=True)(x, mask=mask))
    np.testing.assert_array_equal(ends, [[x[0, 2, 0], x[0, 2, 1], x[0, 0, 2], x[0, 0, 3]],
                                         [x[1, 0, 0], x[1, 0, 1], x[1, 0, 2], x[1, 0, 3]]])
    np.testing.assert_array_equal(np.asarray(MaskedEnds()(x, mask=mask)), [x[0, 2], x[1, 0]])


def window_normalization():
    import keras

    from rnnkit.tasks.forecast.layers import WindowNormalization

    inputs = keras.Input((6, 2))
    layer = WindowNormalization(1, mean=[10.0, 1.0], std=[2.0, 0.5], name="scaling")
    return "forecast", layer, keras.Model(inputs, layer(inputs)), np.random.default_rng(0).normal(10, 2, (3, 6, 2))


def quantile_head():
    import keras

    from rnnkit.tasks.forecast.layers import QuantileForecastHead

    window = keras.Input((6, 2))
    features = keras.layers.GRU(4)(window)
    layer = QuantileForecastHead(horizon=3, num_targets=1, name="quantiles")
    return "forecast", layer, keras.Model(window, layer([features, window])), np.random.default_rng(1).normal(0, 1, (2, 6, 2))


@pytest.mark.parametrize("make", [masked_max_pooling, masked_ends, window_normalization, quantile_head])
def test_custom_layer_round_trip(make, tmp_path):
    import keras

    task, layer, model, inputs = make()
    config = layer.get_config()
    assert json.dumps(type(layer).from_config(config).get_config(), sort_keys=True) == json.dumps(config, sort_keys=True)
    expected = model.predict(inputs, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = get_task(task).load_model(tmp_path / "model.keras")  # safe mode, the task's custom objects
    assert type(loaded.get_layer(layer.name)) is type(layer)
    np.testing.assert_allclose(loaded.predict(inputs, verbose=0), expected, rtol=1e-6)
    if layer.name == "quantiles":
        lower, median, upper = np.moveaxis(expected, -1, 0)
        assert np.all(lower <= median) and np.all(median <= upper)


def test_pinball_loss_weighs_each_quantile():
    from rnnkit.tasks.forecast.layers import pinball_loss

    truth = np.zeros((1, 1, 1), np.float32)
    prediction = np.full((1, 1, 1, 3), -1.0, np.float32)  # every quantile 1 below the truth
    assert np.asarray(pinball_loss(truth, prediction)).ravel().tolist() == pytest.approx([(0.1 + 0.5 + 0.9) / 3])


def test_pinball_loss_of_an_ensemble_is_the_mean_of_its_members():
    from rnnkit.tasks.forecast.layers import pinball_loss

    rng = np.random.default_rng(0)
    truth = rng.normal(size=(4, 3, 2)).astype(np.float32)
    members = rng.normal(size=(4, 3, 2, 3, 5)).astype(np.float32)
    together = np.asarray(pinball_loss(truth, members))
    apart = np.mean([np.asarray(pinball_loss(truth, members[..., k])) for k in range(5)], axis=0)
    np.testing.assert_allclose(together, apart, rtol=1e-6)
