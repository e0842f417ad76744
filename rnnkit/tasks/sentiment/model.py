"""The classifier: Embedding (masked) -> the shared recurrent stack -> max over the unmasked steps -> Dense."""

from __future__ import annotations


def build_classifier_model(config, vocabulary_size: int, num_classes: int):
    """Sigmoid output for two classes, softmax for more."""
    import keras

    from rnnkit.backbone import build_recurrent_stack
    from rnnkit.tasks.sentiment.layers import HashedBigrams, MaskedEnds, MaskedGlobalMaxPooling1D, MaskedMean

    inputs = keras.Input(shape=(None,), dtype="int64", name="token_ids")
    embedded = keras.layers.Embedding(vocabulary_size, config.model.embedding_dim, mask_zero=True,
                                      name="embedding")(inputs)
    x = embedded
    embedding_dropout = getattr(config.model, "embedding_dropout", 0.0)
    if embedding_dropout:
        x = keras.layers.SpatialDropout1D(embedding_dropout, name="embedding_dropout")(x)
    for layer in build_recurrent_stack(config.model, return_sequences=True):
        x = layer(x)
    sequence = x
    x = MaskedGlobalMaxPooling1D(name="max_over_time")(sequence)
    if getattr(config.model, "pooling", "max") == "max_mean_last":
        # Johnson & Zhang's pooled LSTM reads more than the max: the mean over the text, and where
        # each direction ends (the forward one on the last word, the backward one on the first).
        mean = MaskedMean(name="mean_over_time")(sequence)
        ends = MaskedEnds(bidirectional=bool(getattr(config.model, "bidirectional", False)), name="ends")(sequence)
        x = keras.layers.Concatenate(name="pooled")([x, mean, ends])
    buckets = getattr(config.model, "bigram_buckets", 0)
    if buckets:
        # fastText beside the recurrent branch: the mean of the words' and the hashed word
        # pairs' embeddings, which a linear layer reads well (Joulin et al. 2017).
        bigrams = HashedBigrams(vocabulary_size, buckets, name="bigrams")(inputs)
        pairs = keras.layers.Embedding(buckets + 1, config.model.embedding_dim, mask_zero=True,
                                       name="bigram_embedding")(bigrams)
        words = MaskedMean(name="mean_words")(embedded)
        pairs = MaskedMean(name="mean_bigrams")(pairs)
        x = keras.layers.Concatenate(name="branches")([x, words, pairs])
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
