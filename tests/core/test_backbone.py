"""The shared recurrent stack: one builder for SimpleRNN, LSTM and GRU, uni- or bidirectional."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rnnkit.backbone import CELLS, build_recurrent_stack, uses_cudnn_kernel


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_stack_shape_names_and_sequences(cell, bidirectional):
    import keras

    config = SimpleNamespace(cell=cell, num_layers=2, units=4, dropout=0.2, bidirectional=bidirectional)
    layers = build_recurrent_stack(config, return_sequences=False)
    assert [type(layer).__name__ for layer in layers] == (["Bidirectional" if bidirectional else
                                                           {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}[cell],
                                                           "Dropout"] * 2)
    recurrent = [layer.forward_layer if bidirectional else layer for layer in layers[::2]]
    assert [layer.return_sequences for layer in recurrent] == [True, False]
    x = keras.ops.zeros((3, 5, 2))
    for layer in layers:
        x = layer(x)
    assert tuple(x.shape) == (3, 8 if bidirectional else 4)


def test_no_dropout_layers_without_dropout_and_no_bidirectional_attribute_needed():
    config = SimpleNamespace(cell="gru", num_layers=3, units=4, dropout=0.0)
    assert [layer.name for layer in build_recurrent_stack(config)] == ["rnn_0", "rnn_1", "rnn_2"]


def test_cudnn_eligibility_is_reported():
    assert uses_cudnn_kernel(SimpleNamespace(cell="gru"))[0] and uses_cudnn_kernel(SimpleNamespace(cell="lstm"))[0]
    fast, reason = uses_cudnn_kernel(SimpleNamespace(cell="simple"))
    assert not fast and "--cell gru or lstm" in reason
