"""rnnkit: ready, fast, deployable recurrent-network pipelines over Keras 3.

The public API (TensorFlow is imported only when a model is built or loaded):

    import rnnkit
    run = rnnkit.train("python-docs", epochs=2, out="runs/demo")
    run = rnnkit.load("runs/demo")
    run.generate("The ", length=200, temperature=0.8, top_k=40)
    run.evaluate("held_out.txt")

    run = rnnkit.train("reviews.csv", task="sentiment", out="runs/reviews")
    run.predict(["a wonderful film", "dull and too long"])
    run.export("exported/demo", format="savedmodel")

    run = rnnkit.train("passengers.csv", task="forecast", target="passengers", horizon=12)
    run.forecast("passengers.csv", plot="forecast.png")
    run.evaluate("passengers.csv", backtest=4)
"""

__version__ = "0.1.0"

from rnnkit.config import Config
from rnnkit.errors import ConfigError, DataError, RnnkitError, RunError
from rnnkit.registry import task_names
from rnnkit.runs import Run, load
from rnnkit.training import TrainingInterrupted, train

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "RnnkitError",
    "Run",
    "RunError",
    "TrainingInterrupted",
    "__version__",
    "load",
    "task_names",
    "train",
]
