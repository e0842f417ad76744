"""Text read as a few long streams with carried state: stateful training batches and validation.

Training (`stream_dataset`): the training text is cut into one contiguous stream per batch row;
batch k holds the k-th chunk of `--max-len` tokens of every stream, so a row continues the text
its previous batch ended with, and `LanguageModel` carries the recurrent state across batches
(truncated backpropagation through time, as char-rnn and AWD-LSTM train). Each pass starts the
chunks at a random offset (other cut points every epoch) from a zero state; a stream's state is
also reset before a batch with probability `--state-reset`, so the model keeps learning to start
cold too (the windowed validation loss starts every window cold).

Validation (`streaming_loss`): the windowed validation loss (`model.evaluate` over windows of
`--max-len` tokens) starts every window from a zero state, so its first tokens are predicted with
no context at all. Here the held-out text is cut into `STREAMS` contiguous streams, read side by
side in chunks, each chunk starting from the state the previous one left, as char-rnn and AWD-LSTM
evaluate: only each stream's first tokens start cold. A copy of the model's recurrent layers that
returns its states does the reading; the trained model is not changed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

STREAMS = 32
# A held-out text longer than this is scored on its start (metrics.json says how much).
MAX_TOKENS = 2_000_000


def stream_layout(length: int, sequence_length: int, streams: int) -> tuple[int, int] | None:
    """`(tokens per stream, batches per pass)` for a text of `length` tokens cut into `streams`
    streams read `sequence_length` tokens a batch; `None` when a stream would not hold two batches."""
    stream_length = (length - 1) // streams
    steps = (stream_length - 1) // sequence_length
    return (stream_length, steps) if steps >= 2 else None


def stream_dataset(ids, sequence_length: int, streams: int, seed: int | None, reset_probability: float):
    """Stateful training batches over `ids`: `({"token_ids", "reset"}, next token ids)`.

    Row s of batch k is `ids[s*S + o + k*L : s*S + o + (k+1)*L]` (its targets one token on), with S
    tokens per stream, L = `sequence_length` and o a random offset in 0..S-1-steps*L drawn anew on
    each pass (as `windows_dataset` draws its orders: a fresh pipeline with the same `seed` replays
    the same passes). `reset` (`[streams]` float32, 0 or 1) is 1 for every row of a pass's first
    batch and for each other row with probability `reset_probability`. Every batch has `streams` rows.
    """
    import tensorflow as tf

    layout = stream_layout(len(ids), sequence_length, streams)
    if layout is None:
        raise ValueError(f"{len(ids)} tokens are too few for {streams} streams of two {sequence_length}-token batches")
    stream_length, steps = layout
    slack = stream_length - 1 - steps * sequence_length
    rows = np.arange(streams, dtype=np.int64)[:, None] * stream_length + np.arange(sequence_length + 1)
    release = page_releaser(ids)

    def gather(start) -> np.ndarray:
        batch = ids[rows + start].astype(np.int32)
        release()
        return batch

    def one_pass(key):
        offset = tf.math.floormod(key[0], slack + 1)

        def batch(k):
            tokens = tf.ensure_shape(
                tf.numpy_function(gather, [offset + k * sequence_length], tf.int32, stateful=False),
                [streams, sequence_length + 1])
            draws = tf.random.stateless_uniform([streams], seed=tf.stack([key[1], k]))
            reset = tf.logical_or(draws < reset_probability, tf.equal(k, 0))
            # A dict with the model's input name, and numbers, as Keras' build under tf.distribute
            # averages the first batch's inputs over the replicas and calls the model on them.
            return {"token_ids": tokens[:, :-1], "reset": tf.cast(reset, tf.float32)}, tokens[:, 1:]

        return tf.data.Dataset.range(steps).map(batch)

    keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2, drop_remainder=True).take(1)
    return keys.flat_map(one_pass).prefetch(tf.data.AUTOTUNE), steps


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


def page_releaser(ids) -> Callable[[], None]:
    """For a read-only memory-mapped file, a function that unmaps the pages read so far from this
    process; for anything else, one that does nothing.

    The kernel maps a whole page-cache folio (often hundreds of KiB) on each touch, so windows drawn
    at random would soon map the whole file into the process's resident set: reclaimable, but what
    `top` and the peak RSS report. The pages stay in the page cache; reading them again costs a
    minor fault (about 0.1 ms per batch of 32 windows, beside steps of many milliseconds).
    """
    import mmap

    mapping = getattr(ids, "_mmap", None)  # numpy's handle on the mapping, the same in every slice
    if mapping is None or getattr(ids, "mode", None) != "r" or not hasattr(mmap, "MADV_DONTNEED"):
        return lambda: None
    return lambda: mapping.madvise(mmap.MADV_DONTNEED)
