"""Typed, validated run configuration.

A `Config` holds everything needed to repeat a run. It is validated on creation, before
any data is read or TensorFlow is imported, so bad options fail in milliseconds.
`Config.to_dict()` is what `config.json` holds and `Config.from_dict()` reads it back,
rejecting unknown keys.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError

CELLS = ("simple", "lstm", "gru")
LEVELS = ("char", "word")
STRATEGIES = ("auto", "one", "mirrored", "multi-worker")
CLASS_WEIGHTS = ("auto", "balanced", "none")
MISSING_MODES = ("interpolate", "error")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class DataConfig:
    """Where the data comes from and how it becomes tensors.

    Args:
        path: a file, folder or built-in dataset name. Defaults to `""`.
        level: `"char"` or `"word"` tokens (text generation). Defaults to `"char"`.
        encoding: the text encoding; `None` reads strict UTF-8. Defaults to `None`.
        sequence_length: tokens per training window (`--max-len`). Defaults to `100`.
        vocabulary_size: the most frequent tokens kept at word level, plus `[UNK]`
            (`--vocab-size`); `0` keeps every token. Defaults to `20000`.
        val_split: fraction held out for validation: the end of a text corpus, a
            stratified random sample of labelled texts. Defaults to `0.1`.
        text_column: classification: the column holding the text (`--text-col`); found by
            name or content when `None`. Defaults to `None`.
        label_column: classification: the column holding the label (`--label-col`).
            Defaults to `None`.
        target_columns: forecasting: the column(s) to forecast (`--target a,b`); the only
            numeric column when `None`. Defaults to `None`.
        time_column: forecasting: the time column (`--time-col`); found by name or content
            when `None`. Defaults to `None`.
        feature_columns: forecasting: extra input columns (`--features a,b`). Defaults to `None`.
        horizon: forecasting: steps forecast at once; one season when `None`. Defaults to `None`.
        window: forecasting: input steps per forecast; two seasons or two horizons (at
            least 16) when `None`. Defaults to `None`.
        season: forecasting: steps per seasonal cycle; from the time step when `None`
            (monthly 12, weekly 52, hourly 24, ...). Defaults to `None`.
        missing: forecasting: `"interpolate"` missing values by time (with a warning) or
            stop with an `"error"`. Defaults to `"interpolate"`.
    """

    path: str = ""
    level: str = "char"
    encoding: str | None = None
    sequence_length: int = 100
    vocabulary_size: int = 20000
    val_split: float = 0.1
    text_column: str | None = None
    label_column: str | None = None
    target_columns: list[str] | None = None
    time_column: str | None = None
    feature_columns: list[str] | None = None
    horizon: int | None = None
    window: int | None = None
    season: int | None = None
    missing: str = "interpolate"

    def validate(self) -> None:
        self.target_columns = _column_list(self.target_columns, "target")
        self.feature_columns = _column_list(self.feature_columns, "features")
        for option, value, low in (("horizon", self.horizon, 1), ("window", self.window, 2), ("season", self.season, 1)):
            _check(value is None or (_is_int(value) and value >= low),
                   f"{option} must be an integer >= {low}. Received: {option}={value!r}")
        _check(self.horizon is None or self.horizon <= 10000,
               f"horizon must be at most 10000 steps. Received: horizon={self.horizon!r}")
        _check(self.missing in MISSING_MODES,
               f"Unknown missing '{self.missing}'. Expected one of: {', '.join(MISSING_MODES)}. "
               f"Received: missing={self.missing!r}")
        _check(
            self.level in LEVELS,
            f"Unknown level '{self.level}'. Expected one of: {', '.join(LEVELS)}. "
            f"Received: level={self.level!r}",
        )
        _check(
            _is_int(self.sequence_length) and self.sequence_length >= 2,
            f"max_len must be an integer >= 2. Received: max_len={self.sequence_length!r}",
        )
        _check(
            _is_int(self.vocabulary_size) and self.vocabulary_size >= 0,
            "vocab_size must be an integer >= 0 (0 keeps every token). "
            f"Received: vocab_size={self.vocabulary_size!r}",
        )
        _check(
            _is_number(self.val_split) and 0 < self.val_split < 0.5,
            f"val_split must be in (0, 0.5). Received: val_split={self.val_split!r}",
        )
        for option, value in (("text_col", self.text_column), ("label_col", self.label_column),
                              ("time_col", self.time_column)):
            _check(value is None or (isinstance(value, str) and value.strip() != ""),
                   f"{option} must be a column name. Received: {option}={value!r}")
        if self.encoding is not None:
            import codecs

            try:
                text_codec = codecs.lookup(self.encoding)._is_text_encoding
            except LookupError:
                text_codec = False
            if not text_codec:
                raise ConfigError(
                    f"Unknown encoding '{self.encoding}'. Use a Python codec name such as "
                    f"utf-8, latin-1 or cp1252. Received: encoding={self.encoding!r}"
                )


@dataclass
class ModelConfig:
    """The embedding, recurrent stack and head.

    Args:
        cell: `"simple"`, `"lstm"` or `"gru"`. Defaults to `"lstm"`.
        num_layers: recurrent layers in the stack (`--layers`). Defaults to `2`.
        units: units per recurrent layer. Defaults to `256`.
        bidirectional: wrap each layer in `Bidirectional`. Defaults to `False`.
        dropout: dropout between layers, in [0, 1). Defaults to `0.1`.
        embedding_dim: size of the token embedding. Defaults to `64`.
    """

    cell: str = "lstm"
    num_layers: int = 2
    units: int = 256
    bidirectional: bool = False
    dropout: float = 0.1
    embedding_dim: int = 64

    def validate(self) -> None:
        _check(
            self.cell in CELLS,
            f"Unknown cell '{self.cell}'. Expected one of: {', '.join(CELLS)}. "
            f"Received: cell={self.cell!r}",
        )
        _check(
            _is_int(self.num_layers) and 1 <= self.num_layers <= 16,
            f"layers must be an integer from 1 to 16. Received: layers={self.num_layers!r}",
        )
        _check(
            _is_int(self.units) and 1 <= self.units <= 16384,
            f"units must be an integer from 1 to 16384. Received: units={self.units!r}",
        )
        _check(
            _is_number(self.dropout) and 0 <= self.dropout < 1,
            f"dropout must be in [0, 1). Received: dropout={self.dropout!r}",
        )
        _check(
            _is_int(self.embedding_dim) and self.embedding_dim >= 1,
            "embedding_dim must be a positive integer. "
            f"Received: embedding_dim={self.embedding_dim!r}",
        )
        _check(
            isinstance(self.bidirectional, bool),
            f"bidirectional must be true or false. Received: bidirectional={self.bidirectional!r}",
        )


@dataclass
class TrainingConfig:
    """How the model is fitted.

    Args:
        epochs: passes over the training data. Defaults to `10`.
        batch_size: windows per step. Defaults to `64`.
        learning_rate: peak Adam learning rate (warm-up, then cosine decay).
            Defaults to `0.002`.
        clipnorm: clip gradients to this global norm; `0` turns clipping off.
            Defaults to `1.0`.
        seed: random seed; `None` picks one and records it. Defaults to `None`.
        early_stopping: stop when the validation loss stops improving. Defaults to `True`.
        patience: epochs without improvement before early stopping. Defaults to `3`.
        time_budget: stop after this many seconds, with the learning-rate schedule
            fitted to that budget; `None` for no limit. Defaults to `None`.
        mixed_precision: use Keras' `mixed_float16` policy on a GPU. Defaults to `False`.
        strategy: `"auto"`, `"one"`, `"mirrored"` or `"multi-worker"`. Defaults to `"auto"`.
        tensorboard: write TensorBoard logs to `RUN/logs`. Defaults to `False`.
        class_weight: classification: `"auto"` weighs classes inversely to their
            frequency when the largest is over 3x the smallest, `"balanced"` always,
            `"none"` never. Defaults to `"auto"`.
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 0.002
    clipnorm: float = 1.0
    seed: int | None = None
    early_stopping: bool = True
    patience: int = 3
    time_budget: float | None = None
    mixed_precision: bool = False
    strategy: str = "auto"
    tensorboard: bool = False
    class_weight: str = "auto"

    def validate(self) -> None:
        _check(
            _is_int(self.epochs) and self.epochs >= 1,
            f"epochs must be a positive integer. Received: epochs={self.epochs!r}",
        )
        _check(
            _is_int(self.batch_size) and self.batch_size >= 1,
            f"batch_size must be a positive integer. Received: batch_size={self.batch_size!r}",
        )
        _check(
            _is_number(self.learning_rate) and 0 < self.learning_rate <= 10,
            "learning_rate must be a positive number. "
            f"Received: learning_rate={self.learning_rate!r}",
        )
        _check(
            _is_number(self.clipnorm) and self.clipnorm >= 0,
            "clipnorm must be >= 0 (0 turns clipping off). "
            f"Received: clipnorm={self.clipnorm!r}",
        )
        _check(
            self.seed is None or (_is_int(self.seed) and 0 <= self.seed < 2**31),
            f"seed must be an integer from 0 to 2**31-1. Received: seed={self.seed!r}",
        )
        _check(
            _is_int(self.patience) and self.patience >= 1,
            f"patience must be a positive integer. Received: patience={self.patience!r}",
        )
        _check(
            self.time_budget is None
            or (_is_number(self.time_budget) and self.time_budget > 0),
            f"time_budget must be a positive number of seconds. "
            f"Received: time_budget={self.time_budget!r}",
        )
        _check(
            self.strategy in STRATEGIES,
            f"Unknown strategy '{self.strategy}'. Expected one of: "
            f"{', '.join(STRATEGIES)}. Received: strategy={self.strategy!r}",
        )
        _check(
            self.class_weight in CLASS_WEIGHTS,
            f"Unknown class_weight '{self.class_weight}'. Expected one of: "
            f"{', '.join(CLASS_WEIGHTS)}. Received: class_weight={self.class_weight!r}",
        )


@dataclass
class Config:
    """The full, resolved configuration of one run (what `config.json` holds)."""

    task: str
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    versions: dict[str, str] = field(default_factory=dict)
    # What preparing the data found (columns, classes, weights, rows dropped): a record for
    # the reader, rewritten by every run, never read back as a setting.
    data_summary: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> "Config":
        self.data.validate()
        self.model.validate()
        self.training.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_dict(cls, values: dict[str, Any], source: str = "config", base: "Config | None" = None) -> "Config":
        """Read a config dict; keys it omits keep `base`'s values (the task's defaults)."""
        _reject_unknown(values, {f.name for f in fields(cls)}, source)
        if "task" not in values:
            raise ConfigError(f"{source} has no 'task' key. Add \"task\": \"textgen\".")
        sections = {}
        for name, section_cls in (("data", DataConfig), ("model", ModelConfig), ("training", TrainingConfig)):
            section = values.get(name, {}) or {}
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: '{name}' must be an object. Received: {section!r}")
            _reject_unknown(section, {f.name for f in fields(section_cls)}, f"{source} section '{name}'")
            merged = dataclasses.asdict(getattr(base, name)) if base is not None else {}
            sections[name] = section_cls(**{**merged, **section})
        return cls(task=values["task"], versions=dict(values.get("versions") or {}),
                   data_summary=dict(values.get("data_summary") or {}), **sections)

    @classmethod
    def from_file(cls, path: str | Path, base: "Config | None" = None) -> "Config":
        """Read `config.json` (or the one inside a run folder)."""
        return cls.from_dict(read_config_file(path), source=str(path), base=base)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The raw JSON object of a config file; a run folder stands for its `config.json`."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
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
    return values


# Flat option names (CLI flags and API keyword arguments) -> (section, field).
OPTIONS: dict[str, tuple[str, str]] = {
    "level": ("data", "level"),
    "encoding": ("data", "encoding"),
    "max_len": ("data", "sequence_length"),
    "vocab_size": ("data", "vocabulary_size"),
    "val_split": ("data", "val_split"),
    "text_col": ("data", "text_column"),
    "label_col": ("data", "label_column"),
    "target": ("data", "target_columns"),
    "time_col": ("data", "time_column"),
    "features": ("data", "feature_columns"),
    "horizon": ("data", "horizon"),
    "window": ("data", "window"),
    "season": ("data", "season"),
    "missing": ("data", "missing"),
    "cell": ("model", "cell"),
    "layers": ("model", "num_layers"),
    "units": ("model", "units"),
    "bidirectional": ("model", "bidirectional"),
    "dropout": ("model", "dropout"),
    "embedding_dim": ("model", "embedding_dim"),
    "epochs": ("training", "epochs"),
    "batch_size": ("training", "batch_size"),
    "learning_rate": ("training", "learning_rate"),
    "clipnorm": ("training", "clipnorm"),
    "seed": ("training", "seed"),
    "early_stopping": ("training", "early_stopping"),
    "patience": ("training", "patience"),
    "time_budget": ("training", "time_budget"),
    "mixed_precision": ("training", "mixed_precision"),
    "strategy": ("training", "strategy"),
    "tensorboard": ("training", "tensorboard"),
    "class_weight": ("training", "class_weight"),
}


def apply_overrides(config: Config, overrides: dict[str, Any]) -> Config:
    """Set flat options (`units=128`, `max_len=200`) on `config`; `None` values are skipped."""
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in OPTIONS:
            raise ConfigError(
                f"Unknown option '{name}'. Expected one of: {', '.join(sorted(OPTIONS))}."
            )
        section, attribute = OPTIONS[name]
        setattr(getattr(config, section), attribute, value)
    return config


def _reject_unknown(values: dict, known: set[str], source: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{source} has unknown key(s): {', '.join(unknown)}. "
            f"Expected only: {', '.join(sorted(known))}. Remove or rename them."
        )


def _column_list(value: Any, option: str) -> list[str] | None:
    """`"a,b"` or `["a", "b"]` -> `["a", "b"]`; `None` and `""` -> `None`."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(",")
    _check(isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value),
           f"{option} must be a column name or a comma-separated list of them. Received: {option}={value!r}")
    names = [name.strip() for name in value]
    _check(all(names), f"{option} has an empty column name. Received: {option}={value!r}")
    return names or None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
