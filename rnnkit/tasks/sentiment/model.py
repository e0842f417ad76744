"""The classifier: Embedding (masked) -> the shared recurrent stack -> max over the unmasked steps -> Dense."""

from __future__ import annotations


def build_classifier_model(config, vocabulary_size: int, num_classes: int):
    """Sigmoid output for two classes, softmax for more."""
    import keras

    from rnnkit.backbone import build_recurrent_stack
    from rnnkit.tasks.sentiment.layers import MaskedGlobalMaxPooling1D

    inputs = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, mask_zero=True, name="embedding")(inputs)
    for layer in build_recurrent_stack(config.model, return_sequences=True):
        x = layer(x)
    x = MaskedGlobalMaxPooling1D(name="max_over_time")(x)
    binary = num_classes == 2
    outputs = keras.layers.Dense(1 if binary else num_classes, activation="sigmoid" if binary else "softmax",
                                 dtype="float32", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"classifier_{config.model.cell}")


def compile_classifier(model, optimizer) -> None:
    import keras

    binary = model.output_shape[-1] == 1
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy() if binary else keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="accuracy") if binary
                 else keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        jit_compile=False,  # XLA cannot use the cuDNN RNN kernels
    )
