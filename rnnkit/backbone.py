"""One recurrent stack builder for SimpleRNN, LSTM and GRU, uni- or bidirectional.

Layers keep Keras' defaults that run on cuDNN on a GPU (tanh/sigmoid activations, no
`recurrent_dropout`, no `unroll`); dropout is applied between layers instead.
"""

from __future__ import annotations

from typing import Any

RECURRENT_LAYERS = {"simple": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
CELLS = tuple(RECURRENT_LAYERS)


def recurrent_layer_class(cell: str):
    import keras

    return getattr(keras.layers, RECURRENT_LAYERS[cell])


def build_recurrent_stack(config: Any, return_sequences: bool = True, name: str = "rnn", return_state: bool = False):
    """Return the list of layers `[rnn_0, dropout_0, rnn_1, ...]` for `config`.

    Args:
        config: the model section of a run's config (`cell`, `num_layers`, `units`, `dropout`;
            `bidirectional` when the task has that option).
        return_sequences: whether the last recurrent layer returns the whole sequence.
            Defaults to `True`.
        name: prefix of the layer names. Defaults to `"rnn"`.
        return_state: whether each recurrent layer also returns its last state (`[output, *states]`),
            which a stateful caller passes back as `initial_state`. Defaults to `False`.

    Example:
        >>> from types import SimpleNamespace
        >>> layers = build_recurrent_stack(SimpleNamespace(cell="gru", num_layers=1, units=8, dropout=0.1))
        >>> [layer.name for layer in layers]
        ['rnn_0', 'dropout_0']
    """
    import keras

    layer_class = recurrent_layer_class(config.cell)
    if getattr(config, "layer_norm", False):
        if config.cell != "gru":
            from rnnkit.errors import ConfigError

            raise ConfigError(f"--layer-norm normalizes a GRU cell; this run's cell is {config.cell}. Use --cell gru "
                              "or drop --layer-norm.")
        from rnnkit.cells import layer_norm_gru

        layer_class = layer_norm_gru
    layers = []
    for index in range(config.num_layers):
        last = index == config.num_layers - 1
        layer = layer_class(
            config.units,
            return_sequences=return_sequences or not last,
            return_state=return_state,
            name=f"{name}_{index}",
        )
        if getattr(config, "bidirectional", False):
            layer = keras.layers.Bidirectional(layer, name=f"bi{name}_{index}")
        layers.append(layer)
        if config.dropout:
            prefix = "" if name == "rnn" else f"{name}_"
            layers.append(keras.layers.Dropout(config.dropout, name=f"{prefix}dropout_{index}"))
    return layers


def uses_cudnn_kernel(config: Any) -> tuple[bool, str]:
    """Whether a GPU would run this stack on cuDNN, and why not if it would not."""
    if getattr(config, "layer_norm", False):
        return False, ("--layer-norm runs Keras' generic RNN loop (cuDNN has no normalized cell): "
                       "several times slower on a GPU than a plain GRU")
    if config.cell == "simple":
        return False, ("--cell simple forces the generic RNN kernel (SimpleRNN has no cuDNN one): several times "
                       "slower on a GPU than --cell gru or lstm")
    return True, "LSTM/GRU with tanh/sigmoid, no recurrent dropout, no unroll: cuDNN-eligible"
