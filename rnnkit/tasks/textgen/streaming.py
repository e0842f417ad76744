"""Validation with carried state: a language model reading the held-out text as a few long streams.

The windowed validation loss (`model.evaluate` over windows of `--seq-len` tokens) starts every
window from a zero state, so its first tokens are predicted with no context at all. Here the
held-out text is cut into `STREAMS` contiguous streams, read side by side in chunks, each chunk
starting from the state the previous one left, as char-rnn and AWD-LSTM evaluate: only each
stream's first tokens start cold. A copy of the model's recurrent layers that returns its
states does the reading; the trained model is not changed.
"""

from __future__ import annotations

import numpy as np

STREAMS = 32
# A held-out text longer than this is scored on its start (metrics.json says how much).
MAX_TOKENS = 2_000_000


def streaming_loss(model, ids: np.ndarray, chunk: int, streams: int = STREAMS,
                   max_tokens: int = MAX_TOKENS) -> tuple[float, int]:
    """Mean cross-entropy (nats per token) of predicting `ids[1:]` from `ids[:-1]`, state carried
    across chunks of `chunk` tokens, and how many tokens were scored."""
    import tensorflow as tf

    ids = np.asarray(ids[: max_tokens + 1])
    streams = max(1, min(streams, (len(ids) - 1) // max(chunk, 1)))
    length = (len(ids) - 1) // streams
    inputs = ids[: streams * length].reshape(streams, length).astype(np.int32)
    targets = ids[1: streams * length + 1].reshape(streams, length).astype(np.int32)
    reader, sizes = stateful_reader(model)
    states = [tf.zeros([streams, size], tf.float32) for size in sizes]

    @tf.function(reduce_retracing=True)
    def read(x, y, states):
        logits, *states = reader([x, *states], training=False)
        losses = tf.keras.losses.sparse_categorical_crossentropy(y, tf.cast(logits, tf.float32), from_logits=True)
        return tf.reduce_sum(tf.cast(losses, tf.float64)), [tf.cast(state, tf.float32) for state in states]

    total = 0.0
    for start in range(0, length, chunk):
        loss, states = read(inputs[:, start:start + chunk], targets[:, start:start + chunk], states)
        total += float(loss)
    return total / (streams * length), streams * length


def stateful_reader(model):
    """A Keras model `[token ids, *states] -> [logits, *states]` sharing `model`'s weights (copied):
    its embedding and output layers, and its recurrent layers rebuilt to take and return states."""
    import keras

    tokens = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = model.get_layer("embedding")(tokens)
    state_inputs, state_outputs, sizes = [], [], []
    for layer in model.layers:
        if not isinstance(layer, keras.layers.RNN):
            continue
        size = layer.cell.state_size
        layer_sizes = list(size) if isinstance(size, (list, tuple)) else [size]
        given = [keras.Input(shape=(units,), dtype="float32") for units in layer_sizes]
        copy = layer.__class__.from_config({**layer.get_config(), "return_state": True, "return_sequences": True,
                                            "name": f"{layer.name}_stateful"})
        x, *returned = copy(x, initial_state=given)
        copy.set_weights(layer.get_weights())
        state_inputs += given
        state_outputs += returned
        sizes += layer_sizes
    logits = model.get_layer("logits")(x)
    return keras.Model([tokens, *state_inputs], [logits, *state_outputs], name="stateful_reader"), sizes
