"""The forecaster: raw window -> scaling -> the shared recurrent stack -> quantile head."""

from __future__ import annotations

from rnnkit.tasks.forecast.preprocessor import SeriesPreprocessor


def build_forecast_model(config, preprocessor: SeriesPreprocessor):
    """Raw window -> scaled window -> recurrent stack -> quantiles `[batch, horizon, targets, 3]`."""
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
    x = scaled if recent is None else scaled[:, -recent:]
    for layer in build_recurrent_stack(config.model, return_sequences=False):
        x = layer(x)
    outputs = QuantileForecastHead(preprocessor.horizon, preprocessor.num_targets, season=max(preprocessor.season, 1),
                                   dtype="float32", name="quantiles")([x, scaled])
    return keras.Model(inputs, outputs, name=f"forecaster_{config.model.cell}")
