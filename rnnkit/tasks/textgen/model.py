"""The language model: Embedding -> the shared recurrent stack -> Dense logits over the vocabulary.

`LanguageModel` is that functional model with one addition for stateful training (truncated
backpropagation through time): given `(token ids, reset)` instead of token ids, it starts each
batch row from the state the previous batch left in that row (zero where `reset` is true), and
keeps the state it ends with for the next batch. The carried state lives outside the saved
weights; `rnnkit.checkpoints` saves it with a mid-epoch checkpoint, so `--resume` stays exact.
"""

from __future__ import annotations

import keras


def build_language_model(config, vocabulary_size: int):
    """The model for `config` (a textgen `Config`); layer names are what generation reads."""
    from rnnkit.backbone import build_recurrent_stack

    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, name="embedding")(inputs)
    for layer in build_recurrent_stack(config.model, return_sequences=True, return_state=True):
        x = layer(x)
        if isinstance(x, (list, tuple)):  # a recurrent layer's output and its last state
            x = x[0]
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return LanguageModel(inputs, logits, name=f"textgen_{config.model.cell}")


@keras.saving.register_keras_serializable(package="rnnkit")
class LanguageModel(keras.Model):
    """The functional language model, which can also read its input as the next part of streams.

    Called on token ids `[batch, steps]`, it is the plain functional model (every row starts from
    a zero state). After `carry_states(rows)`, `fit` on batches `({"token_ids", "reset"}, targets)`
    (`reset` a `[batch]` tensor of 0 and 1) trains statefully: each row reads on from the state the
    previous batch left (zero where `reset` is 1), with no gradient through that state.
    Evaluation and inference stay windowed.
    """

    _carried = None  # a `CarriedStates`, not a Keras-tracked attribute: it is never saved with the model

    def carry_states(self, rows: int) -> None:
        """Keep a state per recurrent layer for `rows` streams (per replica under `tf.distribute`)."""
        import warnings

        sizes = [size for layer in self._recurrent_layers() for size in _state_sizes(layer.cell)]
        object.__setattr__(self, "_carried", CarriedStates(rows, sizes))
        # Under tf.distribute, Keras builds the metrics by calling the model on a first batch,
        # whose extra "reset" input it drops, with this warning; `train_step` reads it.
        warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match", category=UserWarning)

    def save(self, filepath, overwrite=True, zipped=None, **kwargs):
        """Saved as the plain functional model it is (the same layers and weights), so that
        `keras.saving.load_model` reads the file without rnnkit; stateful reading is for training."""
        plain = keras.Model(self.inputs, self.outputs, name=self.name)
        plain.save(filepath, overwrite=overwrite, zipped=zipped, **kwargs)

    @property
    def carried_states(self):
        """The `CarriedStates` of stateful training, or `None`."""
        return self._carried

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, dict) or "reset" not in x or self._carried is None:
            return super().train_step(data)
        # Keras' TensorFlow `train_step` (keras/src/backend/tensorflow/trainer.py), reading streams.
        import tensorflow as tf
        from keras.src.losses import loss as loss_module

        tokens, reset = x["token_ids"], x["reset"]
        with tf.GradientTape() as tape:
            y_pred = self.read_streams(tokens, reset, training=True)
            loss = self._compute_loss(x=tokens, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
            self._loss_tracker.update_state(loss_module.unscale_loss_for_distribution(loss),
                                            sample_weight=tf.shape(tokens)[0])
            loss = self.optimizer.scale_loss(loss)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self.compute_metrics(tokens, y, y_pred, sample_weight=sample_weight)

    def read_streams(self, tokens, reset, training=False):
        """Logits for `tokens`, each row read on from its carried state (zero where `reset` is 1 or
        true); the states it ends with are carried to the next call."""
        if self._carried is None:
            raise RuntimeError("read_streams needs carry_states(rows) first.")
        states = self._carried.read(reset)
        x, position, final = tokens, 0, []
        for layer in self.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            if isinstance(layer, keras.layers.RNN):
                count = len(_state_sizes(layer.cell))
                given = [keras.ops.cast(state, layer.compute_dtype) for state in states[position:position + count]]
                x, *returned = layer(x, initial_state=given, training=training)
                final += returned
                position += count
            else:
                x = layer(x, training=training)
        self._carried.write(final)
        return x

    def _recurrent_layers(self) -> list:
        return [layer for layer in self.layers if isinstance(layer, keras.layers.RNN)]


class CarriedStates:
    """The recurrent states carried from one training batch to the next, one variable per state.

    Under `tf.distribute` each replica keeps its own (`ON_READ` variables: every replica always
    reads the same rows of the global batch, so the same streams).
    """

    def __init__(self, rows: int, sizes: list[int]):
        import tensorflow as tf

        self.rows = rows
        self.strategy = tf.distribute.get_strategy()  # the one in whose scope the model is built
        self.variables = [
            tf.Variable(tf.zeros([rows, size]), trainable=False, name=f"carried_state_{index}",
                        synchronization=tf.VariableSynchronization.ON_READ, aggregation=tf.VariableAggregation.NONE)
            for index, size in enumerate(sizes)
        ]

    def read(self, reset):
        import tensorflow as tf

        keep = 1.0 - tf.reshape(tf.cast(reset, tf.float32), [-1, 1])
        return [variable.read_value() * keep for variable in self.variables]

    def write(self, states) -> None:
        import tensorflow as tf

        for variable, state in zip(self.variables, states):
            variable.assign(tf.stop_gradient(tf.cast(state, tf.float32)))

    def values(self) -> list:
        """Each state's value on each replica of this process: `[state][replica]` numpy arrays."""
        return [[value.numpy() for value in self.strategy.experimental_local_results(variable)]
                for variable in self.variables]

    def restore(self, values: list) -> bool:
        """Assign `values()` saved earlier; `False` (and nothing assigned) when they do not fit."""
        local = [self.strategy.experimental_local_results(variable) for variable in self.variables]
        if len(values) != len(local) or any(len(saved) != len(replicas) for saved, replicas in zip(values, local)):
            return False
        if any(tuple(array.shape) != tuple(replica.shape) for saved, replicas in zip(values, local)
               for array, replica in zip(saved, replicas)):
            return False
        for saved, replicas in zip(values, local):
            for array, replica in zip(saved, replicas):
                replica.assign(array)
        return True

    def clear(self) -> None:
        """Zero every state on every replica of this process."""
        for variable in self.variables:
            for replica in self.strategy.experimental_local_results(variable):
                replica.assign(replica.read_value() * 0.0)


def _state_sizes(cell) -> list[int]:
    size = cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


def compile_language_model(model, optimizer=None) -> None:
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False,  # XLA cannot use the cuDNN RNN kernels
    )
