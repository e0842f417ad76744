"""Declared options: one definition per setting, read by the CLI, the Python API and config.json.

An `Option` names a setting once: its flat name (the keyword argument `max_len=`, the flag
`--max-len`), where it lives in `config.json` (`data.sequence_length`), its default, help and
validation. The shared options are in `rnnkit.config`; each task declares its own on its
`Task` class. The CLI builds `rnnkit train` from these declarations, so a task that brings an
option brings its flag too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rnnkit.errors import ConfigError

SECTIONS = ("data", "model", "training")

# Help panels of `rnnkit train --help`.
DATA, MODEL, TRAINING = "Data", "Model", "Training"

Check = Callable[[str, Any], "str | None"]


@dataclass(frozen=True)
class Option:
    """One setting a user can give as a flag, a keyword argument or a config.json key.

    Args:
        name: the keyword argument and, with dashes, the flag (`max_len`, `--max-len`).
        section: the config.json section: `"data"`, `"model"` or `"training"`.
        key: the key in that section. Defaults to `name`.
        default: the value when nothing is given. Defaults to `None`.
        help: one sentence for `--help`. Defaults to `""`.
        type: `int`, `float`, `bool` or `str`. Defaults to `str`.
        choices: the values allowed for a `str` option; empty for any. Defaults to `()`.
        check: `check(name, value)` returns an error message, or `None` when the value is
            fine; `None` values never reach it. Defaults to `None`.
        nullable: whether `None` is a valid value (not given, found from the data).
            Defaults to `False`.
        negative: the flag that sets a `bool` option to false (`--no-early-stopping`);
            `None` for a flag that only switches it on. Defaults to `None`.
        panel: the help panel of `rnnkit train`. Defaults to `"Training"`.
        columns: the value is a column list, given as `"a,b"` or `["a", "b"]`.
            Defaults to `False`.
        resumable: the value may change on `--resume` (how long and how fast to train);
            options that define the model or its data may not. Defaults to `False`.
        absent: what a config file without this key means, when runs made before the option
            existed behaved otherwise than its default (so `--resume` and `--config` rebuild the
            same model). Defaults to `None`: the default.

    Example:
        >>> Option("units", "model", default=256, type=int, check=integer(1, 16384)).validate(0)
        Traceback (most recent call last):
        rnnkit.errors.ConfigError: units must be an integer from 1 to 16384. Received: units=0
    """

    name: str
    section: str
    key: str = ""
    default: Any = None
    help: str = ""
    type: type = str
    choices: tuple[str, ...] = ()
    check: Check | None = None
    nullable: bool = False
    negative: str | None = None
    panel: str = TRAINING
    columns: bool = False
    resumable: bool = False
    absent: Any = None

    def __post_init__(self):
        if self.section not in SECTIONS:
            raise ValueError(f"Option {self.name}: unknown section {self.section!r}")
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """Return `value` normalized (column lists split), or raise `ConfigError` saying what is wrong."""
        if value is None:
            if self.nullable:
                return None
            raise ConfigError(f"{self.name} needs a value. Received: {self.name}=None")
        if self.columns:
            return column_list(self.name, value)
        message = None
        if self.type is bool:
            if not isinstance(value, bool):
                message = f"{self.name} must be true or false. Received: {self.name}={value!r}"
        elif self.type is int and not is_int(value):
            message = (self.check(self.name, value) if self.check else None) or \
                f"{self.name} must be an integer. Received: {self.name}={value!r}"
        elif self.type is float and not is_number(value):
            message = (self.check(self.name, value) if self.check else None) or \
                f"{self.name} must be a number. Received: {self.name}={value!r}"
        elif self.choices and value not in self.choices:
            message = (f"Unknown {self.name} '{value}'. Expected one of: {', '.join(self.choices)}. "
                       f"Received: {self.name}={value!r}")
        elif self.type is str and not isinstance(value, str):
            message = f"{self.name} must be a string. Received: {self.name}={value!r}"
        elif self.check is not None:
            message = self.check(self.name, value)
        if message:
            raise ConfigError(message)
        return float(value) if self.type is float else value


# -- checks -----------------------------------------------------------------------------------


def integer(low: int, high: int | None = None, note: str = "") -> Check:
    """An integer in `[low, high]`: `"units must be an integer from 1 to 16384. Received: units=0"`."""
    span = f">= {low}" if high is None else f"from {low} to {high}"

    def check(name: str, value: Any) -> str | None:
        if is_int(value) and value >= low and (high is None or value <= high):
            return None
        return f"{name} must be an integer {span}{note}. Received: {name}={value!r}"

    return check


def number(low: float, high: float = math.inf, closed: str = "", note: str = "") -> Check:
    """A number in an interval; `closed` names the ends that are included (`"low"`, `"high"`, both).
    A half-line reads "a positive number" or ">= 0"; a bounded one "in [0, 1)"."""
    low_in, high_in = "low" in closed, "high" in closed
    if high == math.inf:
        text = f"must be >= {low:g}" if low_in else "must be a positive number" if low == 0 else f"must be > {low:g}"
    else:
        text = f"must be in {'[' if low_in else '('}{low:g}, {high:g}{']' if high_in else ')'}"

    def check(name: str, value: Any) -> str | None:
        if is_number(value):
            above = value >= low if low_in else value > low
            below = value <= high if high_in else value < high
            if above and below:
                return None
        return f"{name} {text}{note}. Received: {name}={value!r}"

    return check


def non_empty(name: str, value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return None
    return f"{name} must be a column name. Received: {name}={value!r}"


def text_encoding(name: str, value: Any) -> str | None:
    """A Python codec that decodes bytes to text (not `rot13` or `zlib`)."""
    import codecs

    try:
        is_text = codecs.lookup(value)._is_text_encoding
    except (LookupError, TypeError):
        is_text = False
    if is_text:
        return None
    return (f"Unknown encoding '{value}'. Use a Python codec name such as utf-8, latin-1 or cp1252. "
            f"Received: {name}={value!r}")


def column_list(name: str, value: Any) -> list[str] | None:
    """`"a,b"` or `["a", "b"]` -> `["a", "b"]`; an empty list -> `None`."""
    if isinstance(value, str):
        value = value.split(",")
    if not (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        raise ConfigError(f"{name} must be a column name or a comma-separated list of them. "
                          f"Received: {name}={value!r}")
    names = [item.strip() for item in value]
    if not all(names):
        raise ConfigError(f"{name} has an empty column name. Received: {name}={value!r}")
    return names or None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- tuning -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tuned:
    """One option of a task's search space (`Task.search_space`, `rnnkit tune`): a range or a list of values.

    Args:
        name: the option's flat name (`units`).
        low: the smallest value of a range. Defaults to `None` (a list of `choices`).
        high: the largest value of a range. Defaults to `None`.
        log: sample the range on a log scale (learning rates, widths). Defaults to `False`.
        choices: the values to choose from, instead of a range. Defaults to `()`.

    Example:
        >>> Tuned("units", 32, 512, log=True).grid(int)
        [32, 128, 512]
    """

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def grid(self, kind: type) -> list:
        """The values a grid search tries: the choices, or a range's ends and middle (geometric with `log`)."""
        if self.choices:
            return list(self.choices)
        low, high = float(self.low), float(self.high)
        middle = math.sqrt(low * high) if self.log else (low + high) / 2
        values = [low, middle, high]
        values = [int(round(value)) for value in values] if kind is int else [round(value, 6) for value in values]
        return list(dict.fromkeys(values))

    def to_dict(self) -> dict[str, Any]:
        if self.choices:
            return {"choices": list(self.choices)}
        return {"low": self.low, "high": self.high, "log": self.log}
