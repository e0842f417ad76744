"""The run configuration: the options every task shares, and the `Config` that holds a run's values.

A `Config` holds the shared options plus its task's own (`Task.options`), in three sections
(`data`, `model`, `training`), and nothing else: `config.json` is `Config.to_dict()`.
It is validated before any data is read or TensorFlow is imported, so bad options fail in
milliseconds. Reading a config file rejects unknown keys and keys of another task's options.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rnnkit.backbone import CELLS
from rnnkit.errors import ConfigError
from rnnkit.options import DATA, MODEL, SECTIONS, TRAINING, Option, integer, number, text_encoding

STRATEGIES = ("auto", "one", "mirrored", "multi-worker")
CONFIG_FILE = "config.json"
# What the data section records besides options: where the data is, and its fingerprint
# (`rnnkit.datasets.fingerprint`), by which `--resume` knows the data has not changed.
RECORDED_DATA_KEYS = {"path": "", "fingerprint": None}

# The options of every task, in config.json order (a task's own options follow in each section).
SHARED_OPTIONS: tuple[Option, ...] = (
    Option("encoding", "data", nullable=True, check=text_encoding, panel=DATA,
           help="Text encoding of DATA (e.g. latin-1); strict UTF-8 when not given."),
    Option("val_split", "data", default=0.1, type=float, check=number(0, 0.5), panel=DATA,
           help="Fraction held out for validation (forecast: for validation and again for testing, at the end)."),
    Option("cell", "model", default="lstm", choices=CELLS, panel=MODEL, help="Recurrent cell."),
    Option("layers", "model", key="num_layers", default=2, type=int, check=integer(1, 16), panel=MODEL,
           help="Recurrent layers."),
    Option("units", "model", default=256, type=int, check=integer(1, 16384), panel=MODEL,
           help="Units per recurrent layer (per direction)."),
    Option("dropout", "model", default=0.1, type=float, check=number(0, 1, closed="low"), panel=MODEL,
           help="Dropout after each recurrent layer, in [0, 1)."),
    Option("epochs", "training", resumable=True, default=10, type=int, check=integer(1), help="Passes over the training data."),
    Option("batch_size", "training", default=64, type=int, check=integer(1), help="Examples per step (the global batch)."),
    Option("learning_rate", "training", resumable=True, default=0.002, type=float, check=number(0, 10, closed="high"),
           help="Peak Adam learning rate (warm-up, then cosine decay)."),
    Option("clipnorm", "training", resumable=True, default=1.0, type=float, check=number(0, closed="low", note=" (0 turns clipping off)"),
           help="Clip gradients to this global norm; 0 turns it off."),
    Option("seed", "training", type=int, nullable=True, check=integer(0, 2**31 - 1),
           help="Random seed: the same seed repeats a CPU run; drawn and recorded when not given."),
    Option("early_stopping", "training", resumable=True, default=True, type=bool, negative="--no-early-stopping",
           help="Stop when the validation loss stops improving."),
    Option("patience", "training", resumable=True, default=3, type=int, check=integer(1),
           help="Epochs without improvement before early stopping."),
    Option("time_budget", "training", resumable=True, type=float, nullable=True, check=number(0, note=" of seconds"),
           help="Stop after this many seconds, fitting the learning-rate schedule to it."),
    Option("mixed_precision", "training", default=False, type=bool, help="Keras mixed_float16 policy (GPU only)."),
    Option("strategy", "training", resumable=True, default="auto", choices=STRATEGIES,
           help="tf.distribute strategy. auto: mirrored on 2+ GPUs, else one device; mirrored: every GPU of this "
                "machine (--batch-size stays the global batch); multi-worker: several machines, the same command "
                "on each with TF_CONFIG set, e.g. TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
                "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}' on host1 and "
                "index 1 on host2; worker 0 writes --out."),
    Option("tensorboard", "training", resumable=True, default=False, type=bool, help="Write TensorBoard logs to RUN/logs."),
)

# What rnnkit 0.1 wrote into config.json for the options a task did not have (it wrote every
# task's fields into every run). A config file holding one of these under another task's
# option is read as such a file and the key dropped; any other value is an error.
_WRITTEN_BY_0_1: dict[str, tuple] = {
    "level": ("char", "word"), "sequence_length": (100,), "vocabulary_size": (20000,), "embedding_dim": (64,),
    "bidirectional": (False,), "class_weight": ("auto",), "missing": ("interpolate",),
}


class Section:
    """One section of a config (`config.data`, `config.model`, `config.training`): attributes for
    its declared keys only, so a misspelt key is an error rather than a silent new field."""

    def __init__(self, name: str, values: dict[str, Any]):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"config section '{self._name}' has no '{key}'") from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key not in self._values:
            raise AttributeError(f"config section '{self._name}' has no '{key}'")
        self._values[key] = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Section) and (self._name, self._values) == (other._name, other._values)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._values)

    def __repr__(self) -> str:
        return f"Section({self._name!r}, {self._values!r})"


class Config:
    """The full, resolved configuration of one run (what `config.json` holds).

    Args:
        task: the task's registered name.
        options: every option the task accepts (the shared ones and its own).
        values: `{section: {key: value}}` to set over the options' defaults. Defaults to `None`.
        versions: library versions the run was trained with. Defaults to `None`.
        data_summary: what preparing the data found (columns, classes, rows dropped): a record
            for the reader, rewritten by every run, never read back as a setting. Defaults to `None`.
        runtime: how the run was trained (dtype policy, tf.distribute strategy, replicas,
            devices): a record like `data_summary`. Defaults to `None`.
    """

    def __init__(self, task: str, options: Iterable[Option], values: dict[str, dict] | None = None,
                 versions: dict[str, str] | None = None, data_summary: dict[str, Any] | None = None,
                 runtime: dict[str, Any] | None = None):
        self.task = task
        self.options = {option.name: option for option in options}
        sections = {name: dict(RECORDED_DATA_KEYS) if name == "data" else {} for name in SECTIONS}
        for option in self.options.values():
            sections[option.section][option.key] = option.default
        for name, given in (values or {}).items():
            sections[name].update(given)
        self.data, self.model, self.training = (Section(name, sections[name]) for name in SECTIONS)
        self.versions = dict(versions or {})
        self.data_summary = dict(data_summary or {})
        self.runtime = dict(runtime or {})

    def section(self, name: str) -> Section:
        return getattr(self, name)

    def get(self, name: str) -> Any:
        """The value of the flat option `name` (`max_len` -> `data.sequence_length`)."""
        option = self.options[name]
        return getattr(self.section(option.section), option.key)

    def set(self, name: str, value: Any) -> None:
        option = self.options[name]
        setattr(self.section(option.section), option.key, value)

    def validate(self) -> "Config":
        """Check every option's value (and normalize column lists); raises `ConfigError`."""
        for name, option in self.options.items():
            self.set(name, option.validate(self.get(name)))
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "data": self.data.to_dict(), "model": self.model.to_dict(),
                "training": self.training.to_dict(), "versions": self.versions, "data_summary": self.data_summary, "runtime": self.runtime}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Config(task={self.task!r})"

    @classmethod
    def from_dict(cls, values: dict[str, Any], options: Iterable[Option], source: str = "config",
                  owner_of: Callable[[str, str], tuple[str, Option] | None] = lambda section, key: None,
                  record: bool = False) -> "Config":
        """Read a config dict (a `config.json`); keys it omits keep the options' defaults.

        Args:
            values: the parsed JSON object, with its `task`.
            options: the options of that task.
            source: the file, for messages. Defaults to `"config"`.
            owner_of: `owner_of(section, key)` is `(task, option)` when the key is another
                task's option, else `None`. Defaults to knowing no other task.
            record: the file is a run's own record (`rnnkit.load`, `--resume`), not settings
                to train with: keys of other tasks' options, which rnnkit 0.1 wrote into every
                run, are dropped whatever their value. Defaults to `False`.

        Raises:
            ConfigError: a key is unknown or belongs to another task's option, or a section
                is not an object.
        """
        options = list(options)
        _reject_unknown(source, values, {"task", *SECTIONS, "versions", "data_summary", "runtime"})
        task = values["task"]
        given: dict[str, dict] = {}
        for name in SECTIONS:
            section = values.get(name, {})
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: '{name}' must be an object. Received: {section!r}")
            keys = {option.key for option in options if option.section == name} | (set(RECORDED_DATA_KEYS) if name == "data" else set())
            foreign = {key: owner_of(name, key) for key in section if key not in keys}
            _reject_unknown(f"{source} section '{name}'", {k for k, owner in foreign.items() if owner is None}, keys)
            for key, (owner, option) in ((k, o) for k, o in foreign.items() if o is not None):
                value = section[key]
                if not (record or value is None or value in _WRITTEN_BY_0_1.get(key, ())):
                    raise ConfigError(f"{source}: '{name}.{key}' is a {owner} option ({option.flag}); this is a "
                                      f"{task} config. Remove it, or set \"task\": \"{owner}\".")
            given[name] = {key: value for key, value in section.items() if key in keys}
            given[name].update({option.key: option.absent for option in options
                                if option.section == name and option.absent is not None and option.key not in section})
        for name in ("versions", "data_summary", "runtime"):
            if not isinstance(values.get(name, {}), dict):
                raise ConfigError(f"{source}: '{name}' must be an object. Received: {values[name]!r}")
        return cls(task, options, given, versions=values.get("versions"), data_summary=values.get("data_summary"),
                   runtime=values.get("runtime"))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw JSON object of a config file; a run folder stands for its `config.json`."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except OSError as error:
        raise ConfigError(f"Cannot read config file {path}: {error.strerror}.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"Config file {path} is not valid JSON: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"Config file {path} must hold a JSON object.")
    if "task" not in values:
        raise ConfigError(f"{path} has no 'task' key. Add \"task\": \"textgen\" (or another task).")
    if not isinstance(values["task"], str):
        raise ConfigError(f"{path}: 'task' must be a task name. Received: {values['task']!r}")
    return values


def _reject_unknown(source: str, values: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{source} has unknown key(s): {', '.join(unknown)}. "
                          f"Expected only: {', '.join(sorted(known))}. Remove or rename them.")
