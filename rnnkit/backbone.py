"""One recurrent stack builder for SimpleRNN, LSTM and GRU, uni- or bidirectional.

Layers keep Keras' defaults that run on cuDNN on a GPU (tanh/sigmoid activations, no
`recurrent_dropout`, no `unroll`); dropout is applied between layers instead.
"""

from __future__ import annotations

from rnnkit.config import ModelConfig


def recurrent_layer_class(cell: str):
    import keras

    return {"simple": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]


def build_recurrent_stack(config: ModelConfig, return_sequences: bool = True, name: str = "rnn"):
    """Return the list of layers `[rnn_0, dropout_0, rnn_1, ...]` for `config`.

    Args:
        config: the model configuration (cell, num_layers, units, dropout, bidirectional).
        return_sequences: whether the last recurrent layer returns the whole sequence.
            Defaults to `True`.
        name: prefix of the layer names. Defaults to `"rnn"`.

    Example:
        >>> layers = build_recurrent_stack(ModelConfig(cell="gru", num_layers=1, units=8))
        >>> [layer.name for layer in layers]
        ['rnn_0', 'dropout_0']
    """
    import keras

    layer_class = recurrent_layer_class(config.cell)
    layers = []
    for index in range(config.num_layers):
        last = index == config.num_layers - 1
        layer = layer_class(
            config.units,
            return_sequences=return_sequences or not last,
            name=f"{name}_{index}",
        )
        if config.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bi{name}_{index}")
        layers.append(layer)
        if config.dropout:
            layers.append(keras.layers.Dropout(config.dropout, name=f"dropout_{index}"))
    return layers


def uses_cudnn_kernel(config: ModelConfig) -> tuple[bool, str]:
    """Whether a GPU would run this stack on cuDNN, and why not if it would not."""
    if config.cell == "simple":
        return False, "SimpleRNN has no cuDNN kernel; use --cell lstm or gru for GPU speed"
    return True, "LSTM/GRU with tanh/sigmoid, no recurrent dropout, no unroll: cuDNN-eligible"
