"""The language model: Embedding -> the shared recurrent stack -> Dense logits over the vocabulary."""

from __future__ import annotations


def build_language_model(config, vocabulary_size: int):
    """The model for `config` (a textgen `Config`); layer names are what generation reads."""
    import keras

    from rnnkit.backbone import build_recurrent_stack

    inputs = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, name="embedding")(inputs)
    for layer in build_recurrent_stack(config.model, return_sequences=True):
        x = layer(x)
    logits = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=f"textgen_{config.model.cell}")


def compile_language_model(model, optimizer=None) -> None:
    import keras

    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False,  # XLA cannot use the cuDNN RNN kernels
    )
