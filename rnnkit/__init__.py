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

    search = rnnkit.tune("passengers.csv", target="passengers", horizon=12, trials=20, out="runs/tune")
    search.best["config"]   # runs/tune/best_config.json: rnnkit.train(config=...) trains it again

Add a task of your own with `rnnkit.register_task(MyTask)` (a `rnnkit.Task` subclass), or
from another package with an entry point in the group `rnnkit.tasks` (see `rnnkit.registry`).
"""

from rnnkit.config import Config
from rnnkit.errors import ConfigError, DataError, RnnkitError, RunError
from rnnkit.options import Option
from rnnkit.registry import register_task, task_names
from rnnkit.runs import Run, load
from rnnkit.task import PreparedData, Task
from rnnkit.training import TrainingInterrupted, train
from rnnkit.tuning import Search, SearchInterrupted, load_search, tune
from rnnkit.version import __version__

__all__ = [
    "Config",
    "ConfigError",
    "DataError",
    "Option",
    "PreparedData",
    "RnnkitError",
    "Run",
    "RunError",
    "Search",
    "SearchInterrupted",
    "Task",
    "TrainingInterrupted",
    "__version__",
    "load",
    "load_search",
    "register_task",
    "task_names",
    "train",
    "tune",
]
