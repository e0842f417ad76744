"""The forecaster: raw window -> scaling -> the shared recurrent stack -> quantile head (one per ensemble member)."""

from __future__ import annotations

from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor


def build_forecast_model(config, preprocessor: SeriesPreprocessor):
    """Raw window -> scaled window -> recurrent stack -> quantiles `[batch, horizon, targets, 3]`; with
    `ensemble` members, each its own stack and head, `[batch, horizon, targets, 3, members]`."""
    import keras

    from rnnkit.backbone import build_recurrent_stack
    from rnnkit.tasks.forecast.layers import QuantileForecastHead, WindowNormalization

    inputs = keras.Input(shape=(preprocessor.window, preprocessor.num_features), dtype="float32", name="history")
    # float32 even under mixed precision: raw values above 65504 or needing more than 11 bits
    # of precision must be scaled before anything is cast to float16.
    scaled = WindowNormalization(preprocessor.num_targets, preprocessor.mean, preprocessor.std,
                                 log_targets=preprocessor.log_targets, dtype="float32", name="scaling")(inputs)
    # The recurrent layers read the recent steps; the linear part reads the whole window,
    # which reaches back a longer season (a week of hourly data) at little cost.
    recent = preprocessor.recurrent_window
    recurrent_input = scaled if recent is None else scaled[:, -recent:]
    members = getattr(config.model, "ensemble", 1) or 1
    outputs = []
    for member in range(members):
        # One network per member, each from its own random start (the first keeps the names of a
        # single network's layers).
        suffix = "" if member == 0 else f"_{member}"
        x = recurrent_input
        for layer in build_recurrent_stack(config.model, return_sequences=False, name=f"rnn{suffix}"):
            x = layer(x)
        outputs.append(QuantileForecastHead(preprocessor.horizon, preprocessor.num_targets,
                                            season=max(preprocessor.season, 1), dtype="float32",
                                            name=f"quantiles{suffix}")([x, scaled]))
    if members > 1:  # [batch, horizon, targets, 3, members]: the pinball loss trains each member
        outputs = [keras.layers.Concatenate(axis=-1, dtype="float32", name="members")(
            [keras.ops.expand_dims(output, -1) for output in outputs])]
    return keras.Model(inputs, outputs[0], name=f"forecaster_{config.model.cell}")
