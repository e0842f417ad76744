"""Keras layers of the classifier, registered so that `model.keras` files load by name."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


PAIR_PRIME = 2_147_483_647  # 2**31 - 1; ids below 2**32 keep the product within int64


@keras.saving.register_keras_serializable(package="rnnkit")
class MaskedMean(keras.layers.Layer):
    """The mean over the unmasked steps `[batch, steps, features]` -> `[batch, features]`; 0 for a
    row with none (Keras' `GlobalAveragePooling1D` divides by zero there: a text of one word has
    no word pair)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        weights = ops.expand_dims(ops.cast(mask, inputs.dtype), -1)
        total = ops.sum(inputs * weights, axis=1)
        return total / ops.maximum(ops.sum(weights, axis=1), ops.cast(1.0, inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="rnnkit")
class HashedBigrams(keras.layers.Layer):
    """Token ids `[batch, steps]` -> ids of each pair of neighbouring words, hashed into
    `buckets` (1..buckets; 0 where either word is padding or [UNK]), for a fastText-style
    bigram branch (Joulin et al. 2017) computed inside the model from the ids it already has.
    The first word is multiplied by a large prime (no common factor with any bucket count
    below it), so every word of the pair changes the bucket.

    Args:
        vocabulary_size: the size of the token vocabulary (ids below it).
        buckets: how many bigram ids there are.
    """

    def __init__(self, vocabulary_size: int, buckets: int, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size = int(vocabulary_size)
        self.buckets = int(buckets)

    def call(self, inputs):
        ids = ops.cast(inputs, "int64")
        first, second = ids[:, :-1], ids[:, 1:]
        known = ops.logical_and(first > 1, second > 1)  # 0: padding, 1: [UNK]
        pair = (first * PAIR_PRIME + second) % self.buckets + 1
        return ops.where(known, pair, ops.zeros_like(pair))

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else max(steps - 1, 0))

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "buckets": self.buckets}


@keras.saving.register_keras_serializable(package="rnnkit")
class MaskedGlobalMaxPooling1D(keras.layers.Layer):
    """Max over time of the unmasked steps only.

    Keras' `GlobalMaxPooling1D` ignores the mask, so the zeros a recurrent layer outputs at
    padded steps would take part in the max, and a prediction would depend on how much
    padding its batch happened to have.

    Example:
        >>> x = keras.ops.convert_to_tensor([[[1.0], [-3.0], [0.0]]])
        >>> MaskedGlobalMaxPooling1D()(x, mask=keras.ops.convert_to_tensor([[True, True, False]]))
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return ops.max(inputs, axis=1)
        lowest = np.finfo(keras.backend.standardize_dtype(inputs.dtype)).min
        keep = ops.expand_dims(ops.cast(mask, "bool"), -1)
        return ops.max(ops.where(keep, inputs, ops.cast(lowest, inputs.dtype)), axis=1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


@keras.saving.register_keras_serializable(package="rnnkit")
class MaskedEnds(keras.layers.Layer):
    """Where each direction of a recurrent layer ends: `[batch, steps, features]` -> `[batch, features]`,
    the output at each row's last unmasked step (right padding); with `bidirectional`, the forward half
    there and the backward half at the first step, where the backward direction has read the whole text.

    Args:
        bidirectional: whether the features are a forward half then a backward half. Defaults to `False`.
    """

    def __init__(self, bidirectional: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.bidirectional = bool(bidirectional)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        steps = ops.shape(inputs)[1]
        if mask is None:
            last = ops.full((ops.shape(inputs)[0],), steps - 1, dtype="int32")
        else:
            last = ops.maximum(ops.sum(ops.cast(mask, "int32"), axis=1) - 1, 0)
        at_last = ops.take_along_axis(inputs, ops.reshape(last, (-1, 1, 1)), axis=1)[:, 0]
        if not self.bidirectional:
            return at_last
        half = inputs.shape[-1] // 2
        return ops.concatenate([at_last[:, :half], inputs[:, 0, half:]], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "bidirectional": self.bidirectional}
