"""The `Task` base class: everything `Run`, the training driver, export and the CLI ask of a task.

A task is one package under `rnnkit/tasks/` (or another package's module, see
`rnnkit.registry`) with a `Task` subclass that supplies what differs between problems:

- its options (`options`, `defaults`, `evaluate_options`) and the data it `recognizes`;
- a preprocessor, fitted in `prepare` and saved in the run (`load_preprocessor` reads it);
- the model (`build_model`, `compile`) over the shared recurrent stack (`rnnkit.backbone`);
- an inference module (`build_inference`): a `tf.Module` whose functions take raw input and
  return what the user wants; the same functions compute the metrics, answer `Run`'s verbs
  and are the SavedModel's signatures;
- metrics next to baselines (`final_metrics`, `evaluate`), plots, and its verb (`generate`,
  `predict` or `forecast`);
- optionally, its numeric core (`edge_core`) for LiteRT and ONNX export.

The driver (`rnnkit.training.train`) calls them in one fixed order:
options -> prepare -> datasets -> build_model -> compile -> fit -> after_fit -> build_inference ->
final_metrics -> plots. The base implements the plumbing every task shares once: the
configuration, the foreign-option errors, the cached preprocessor and inference module of a
run, loading the model, and assembling the export.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rnnkit.config import SHARED_OPTIONS, Config
from rnnkit.errors import ConfigError, DataError, RunError
from rnnkit.options import Option, Tuned
from rnnkit.plots import learning_curves
from rnnkit.registry import key_owner, option_owners, task_class, task_names


@dataclass
class PreparedData:
    """What `Task.prepare` returns: the fitted preprocessor, training and validation data, a test
    split when the data came with one, and warnings about the data for the user."""

    preprocessor: Any
    train: Any
    validation: Any
    test: Any = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class EdgeCore:
    """A run's numeric core, for LiteRT and ONNX: numbers in, numbers out, no strings or tables, so
    that those runtimes' builtin operators run it. A client prepares the inputs and reads the
    outputs as `description` says (the vocabulary, the labels, how to tokenize or step).

    Args:
        model: the Keras model whose weights `function` reads.
        function: `(*inputs) -> {output name: tensor}`, traced with a batch axis in front of
            each of `inputs`' shapes.
        inputs: `(name, dtype, shape without the batch axis)` of each input, in call order (`None`: any size).
        sample: `(rng, rows) -> {input name: array}`: inputs the export checks the converted
            model on, against `function`.
        description: JSON-ready: what the inputs and outputs mean and how a client makes and reads them.
    """

    model: Any
    function: Any
    inputs: list[tuple[str, str, tuple[int, ...]]]
    sample: Any
    description: dict[str, Any]


class Task:
    """Base class of every task. Subclasses set the class attributes and implement the methods
    that raise `NotImplementedError`.

    Attributes:
        name: the task's name (`--task NAME`, config.json's `task`).
        data_description: what its data is (`"a text corpus"`), for messages.
        options: the task's own options (the shared ones are `rnnkit.config.SHARED_OPTIONS`).
        defaults: the task's defaults for any option, shared or its own, by flat name.
        evaluate_options: options that `evaluate` accepts besides the data.
        monitor: the validation metric the best epoch and early stopping follow (and `rnnkit tune`
            minimizes).
        search_space: the options `rnnkit tune` searches, with their ranges (`rnnkit.options.Tuned`).
    """

    name: ClassVar[str] = ""
    data_description: ClassVar[str] = "data"
    options: ClassVar[tuple[Option, ...]] = ()
    defaults: ClassVar[dict[str, Any]] = {}
    evaluate_options: ClassVar[tuple[Option, ...]] = ()
    monitor: ClassVar[str] = "val_loss"
    search_space: ClassVar[tuple[Tuned, ...]] = ()

    # -- options ---------------------------------------------------------------------------------

    @classmethod
    def all_options(cls) -> tuple[Option, ...]:
        """The shared options and the task's own, with the task's defaults."""
        options = SHARED_OPTIONS + cls.options
        unknown = set(cls.defaults) - {option.name for option in options}
        if unknown:
            raise TypeError(f"{cls.__name__}.defaults names options it does not have: {', '.join(sorted(unknown))}")
        return tuple(dataclasses.replace(option, default=cls.defaults[option.name]) if option.name in cls.defaults
                     else option for option in options)

    def default_config(self) -> Config:
        return Config(self.name, self.all_options())

    def read_config(self, values: dict[str, Any], source: str, record: bool = False) -> Config:
        """A `Config` from a config.json object (see `Config.from_dict`)."""
        return Config.from_dict(values, self.all_options(), source=source, record=record,
                                owner_of=lambda section, key: key_owner(section, key, exclude=self.name))

    def apply_options(self, config: Config, options: dict[str, Any]) -> Config:
        """Set flat options (`units=128`, `max_len=200`) on `config`; `None` values are skipped.
        An option of another task is an error naming that task."""
        for name, value in options.items():
            if value is None:
                continue
            if name not in config.options:
                raise self.foreign_option(name)
            config.set(name, value)
        return config

    def foreign_option(self, name: str) -> ConfigError:
        """The error for an option this task does not have: whose option it is, or that none has it."""
        owners = sorted({task for task, _ in option_owners(name, exclude=self.name)})
        flag = "--" + name.replace("_", "-")
        if not owners:
            known = ", ".join(sorted(option.name for option in self.all_options()))
            return ConfigError(f"Unknown option '{name}'. Expected one of: {known}.")
        hint = f", or pass --task {owners[0]}" if len(owners) == 1 else ""
        return ConfigError(f"{flag} is a {' and '.join(owners)} option; this is a {self.name} run. Drop it{hint}.")

    def check_config(self, config: Config) -> None:
        """Checks across options, beyond each option's own (`Option.check`)."""

    def resolve_for_hardware(self, config: Config, gpu: bool) -> None:
        """Decide the options left to the hardware (`None`: auto), before the model is built and
        config.json records them; `gpu` is whether training sees a GPU."""

    @classmethod
    def recognizes(cls, path: Path, encoding: str | None = None) -> float:
        """How surely `path` is this task's data: 1 yes, 0.5 it could be, 0 no (see `infer_task`)."""
        return 0.0

    @classmethod
    def detected(cls, path: Path, encoding: str | None = None) -> str:
        """What this task found in `path` (`"a text column 'review'"`), for the message that asks
        for `--task` when two tasks recognize it equally; empty when there is nothing to say."""
        return ""

    def check_builtin(self, data: str) -> None:
        """A built-in name of another task's data is an error naming that task."""
        from rnnkit.datasets.builtin import BUILTIN_DATASETS

        builtin = BUILTIN_DATASETS.get(str(data))
        if builtin is not None and builtin.task != self.name:
            raise DataError(f"'{data}' is {builtin.task} data, not {self.data_description}. Pass --task "
                            f"{builtin.task}, or {self.data_description} of your own.")

    # -- training --------------------------------------------------------------------------------

    def prepare(self, config: Config, preprocessor_dir: Path | None = None, cache_dir: Path | None = None) -> PreparedData:
        """Read the data (no TensorFlow needed), fit the preprocessor (or load it from
        `preprocessor_dir` to resume), split it. May record resolved values in `config`.

        `cache_dir` (training only) is a folder of the run where the task may keep data derived
        for training, such as an encoded corpus too large for memory; it survives an interruption
        (so `--resume` can reuse it) and is deleted when training ends. A task whose `prepare`
        has no `cache_dir` parameter is called without it."""
        raise NotImplementedError

    def save_preprocessor(self, prepared: PreparedData, directory: Path) -> None:
        prepared.preprocessor.save(directory)

    def load_preprocessor(self, directory: Path):
        raise NotImplementedError

    def datasets(self, config: Config, prepared: PreparedData):
        """`(train, validation, steps_per_epoch)`: `tf.data` pipelines for `model.fit`."""
        raise NotImplementedError

    def build_model(self, config: Config, prepared: PreparedData):
        raise NotImplementedError

    def compile(self, model, config: Config, optimizer) -> None:
        raise NotImplementedError

    def epoch_metrics(self, config: Config, logs: dict[str, float]) -> dict[str, float]:
        """Metrics derived from Keras' logs at each epoch end (e.g. bits per character)."""
        return {}

    def after_fit(self, model, config: Config, prepared: PreparedData) -> bool:
        """What the task settles with the best model on the validation part before it is scored
        (a forecaster calibrates its interval); `True` when that changed the preprocessor or
        `config`, which are then written again."""
        return False

    def build_inference(self, model, preprocessor):
        """The `tf.Module` that serves raw input; it has `model`, `endpoints()` (name -> `tf.function`,
        the SavedModel's signatures) and `resources()` (layers the export must track)."""
        raise NotImplementedError

    def final_metrics(self, inference, config: Config, prepared: PreparedData, portion: float = 1.0) -> dict[str, Any]:
        """The metrics.json shape for the best model (inside `inference`) and its baselines.

        `portion` (< 1 when a time budget cannot fit scoring all the held-out data) is the share
        of it to score, spread over it or from its start; the metrics then record the share
        scored as `"portion"`. A task whose scoring is always quick may score everything."""
        raise NotImplementedError

    def plots(self, directory: Path, history: list[dict[str, float]], metrics: dict[str, Any], inference,
              prepared: PreparedData) -> None:
        """Write the run's plots into `directory` from what training produced."""
        learning_curves(directory, history)

    def next_steps(self, run) -> list[str]:
        """Plain-text lines `rnnkit train` prints after the metrics: what was found, what to run next."""
        return []

    # -- a trained run ---------------------------------------------------------------------------

    def custom_objects(self) -> dict[str, Any]:
        """Keras objects the saved model needs to load (the task's own layers)."""
        return {}

    def load_model(self, path: Path):
        """The Keras model saved at `path`, in Keras' safe mode: a file that holds code is refused."""
        import zipfile

        import keras

        from rnnkit.tf_import import import_tensorflow

        import_tensorflow()
        damaged = RunError(f"{path} is damaged (not a complete .keras file). Train the run again, or restore the file.")
        if not zipfile.is_zipfile(path):
            raise damaged
        try:
            return keras.saving.load_model(path, custom_objects=self.custom_objects(), compile=False)
        except ValueError as error:
            if "safe_mode" in str(error) or "arbitrary code" in str(error):
                raise RunError(f"{path} contains code (such as a Lambda layer), which rnnkit will not load: loading "
                               "it would run that code. Use a model file written by `rnnkit train`.") from None
            raise
        except (zipfile.BadZipFile, EOFError, OSError, KeyError):
            raise damaged from None

    def preprocessor(self, run):
        """The run's fitted preprocessor, read once."""
        return run.cached("preprocessor", lambda: self.load_preprocessor(run.preprocessor_dir))

    def inference(self, run):
        """The run's inference module, built once."""
        return run.cached("inference", lambda: self.build_inference(run.model, self.preprocessor(run)))

    def evaluate(self, run, data, **options) -> dict[str, Any]:
        """Metrics of the model and its baselines on held-out `data` (the metrics.json shape)."""
        raise NotImplementedError

    def check_evaluate_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """The given `evaluate` options, validated; another task's is an error naming it."""
        own = {option.name: option for option in self.evaluate_options}
        checked = {}
        for name, value in options.items():
            if value is None:
                continue
            if name not in own:
                owners = sorted(task for task in task_names() if task != self.name
                                and any(o.name == name for o in task_class(task).evaluate_options))
                where = f"{' and '.join(owners)} runs" if owners else "no task"
                raise ConfigError(f"{name} applies to {where}; this is a {self.name} run.")
            checked[name] = own[name].validate(value)
        return checked

    def export_archive(self, run, inference=None):
        """A Keras `ExportArchive` of the inference module (the run's own when `None`): its
        endpoints, with the model and the preprocessing layers tracked, so the SavedModel takes
        raw input (DESIGN §7)."""
        import keras

        inference = inference or self.inference(run)
        archive = keras.export.ExportArchive()
        archive.track(run.model)
        for resource in inference.resources():
            archive.track(resource)
        for name, function in inference.endpoints().items():
            archive.add_endpoint(name, function)
        return archive

    def edge_core(self, run, model) -> EdgeCore:
        """The numeric core of `run` over `model` (its Keras model, or a float32 copy of it) for
        LiteRT and ONNX export (`rnnkit.export`)."""
        raise ConfigError(f"A {self.name} run has no LiteRT or ONNX export. Use --format savedmodel or keras.")

    # -- verbs: each task answers its own; the others say which task does ------------------------

    def generate(self, run, *args, **kwargs) -> list[str]:
        raise self.unsupported("generate", run)

    def predict(self, run, *args, **kwargs) -> list[dict[str, Any]]:
        raise self.unsupported("predict", run)

    def forecast(self, run, *args, **kwargs) -> dict[str, Any]:
        raise self.unsupported("forecast", run)

    @classmethod
    def offers(cls, verb: str) -> bool:
        """Whether the task answers `verb` (it overrides the base's method)."""
        return getattr(cls, verb) is not getattr(Task, verb)

    def unsupported(self, verb: str, run) -> RunError:
        owners = [name for name in task_names() if name != self.name and task_class(name).offers(verb)]
        return RunError(f"`{verb}` needs a {' or '.join(owners) or 'different'} run, but {run.path} is a "
                        f"{self.name} run.")
