"""Keras layers of the classifier, registered so that `model.keras` files load by name."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


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
