"""Configuration: declared options, validation messages, foreign options, config.json round trips."""

from __future__ import annotations

import json

import pytest

from rnnkit.config import Config
from rnnkit.errors import ConfigError
from rnnkit.registry import get_task, task_names


def configured(task: str, **options) -> Config:
    task_object = get_task(task)
    return task_object.apply_options(task_object.default_config(), options).validate()


@pytest.mark.parametrize("task", ["textgen", "sentiment", "forecast"])
def test_round_trip_is_identical_json(task):
    task_object = get_task(task)
    config = configured(task, units=64, cell="gru", seed=3)
    again = task_object.read_config(json.loads(config.to_json()), source="config.json")
    assert again.to_json() == config.to_json() and again == config


def test_config_json_holds_only_the_task_own_fields():
    shared = {"path", "encoding", "val_split", "cell", "num_layers", "units", "dropout", "epochs", "seed"}
    fields = {task: {key for section in ("data", "model", "training") for key in configured(task).to_dict()[section]}
              for task in ("textgen", "sentiment", "forecast")}
    assert all(shared <= keys for keys in fields.values())
    assert {"sequence_length", "level"} <= fields["textgen"] and not {"horizon", "text_column", "class_weight",
                                                                       "bidirectional"} & fields["textgen"]
    assert {"horizon", "target_columns", "missing"} <= fields["forecast"]
    assert not {"level", "sequence_length", "vocabulary_size", "embedding_dim", "class_weight"} & fields["forecast"]
    assert {"text_column", "class_weight", "bidirectional"} <= fields["sentiment"] and "level" not in fields["sentiment"]


def test_task_defaults_override_the_shared_ones():
    assert configured("textgen").model.cell == "gru" and configured("textgen").training.batch_size == 32
    assert configured("sentiment").model.units == 64 and configured("sentiment").model.bidirectional is True
    assert configured("forecast").training.epochs == 100


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cell": "lstn"}, "Unknown cell 'lstn'. Expected one of: simple, lstm, gru. Received: cell='lstn'"),
        ({"units": 0}, "units must be an integer from 1 to 16384. Received: units=0"),
        ({"dropout": 1.5}, "dropout must be in [0, 1). Received: dropout=1.5"),
        ({"layers": True}, "layers must be an integer"),
        ({"max_len": 1}, "max_len must be an integer >= 2"),
        ({"learning_rate": float("nan")}, "learning_rate must be in (0, 10]"),
        ({"clipnorm": -1}, "clipnorm must be >= 0 (0 turns clipping off)"),
        ({"encoding": "rot13"}, "Unknown encoding 'rot13'"),
    ],
)
def test_validation_says_what_was_received(overrides, message):
    with pytest.raises(ConfigError) as error:
        configured("textgen", **overrides)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("task", "option", "value", "owner"),
    [
        ("textgen", "horizon", 12, "forecast"),
        ("textgen", "bidirectional", True, "sentiment"),
        ("textgen", "text_col", "body", "sentiment"),
        ("forecast", "vocab_size", 5000, "sentiment and textgen"),
        ("forecast", "embedding_dim", 32, "sentiment and textgen"),
        ("sentiment", "level", "char", "textgen"),
        ("sentiment", "window", 24, "forecast"),
    ],
)
def test_an_option_of_another_task_is_an_error_naming_it(task, option, value, owner):
    with pytest.raises(ConfigError) as error:
        configured(task, **{option: value})
    flag = "--" + option.replace("_", "-")
    assert f"{flag} is a {owner} option; this is a {task} run" in str(error.value)


def test_every_task_option_is_foreign_to_every_other_task_that_lacks_it():
    for task in task_names():
        own = {option.name for option in get_task(task).all_options()}
        for other in task_names():
            for option in get_task(other).options:
                if option.name not in own:
                    with pytest.raises(ConfigError, match=f"is a .*{other}.* option; this is a {task} run"):
                        get_task(task).apply_options(get_task(task).default_config(), {option.name: option.default or 1})


def test_unknown_option_is_rejected():
    with pytest.raises(ConfigError, match="Unknown option 'colour'"):
        configured("textgen", colour="red")


def test_unknown_keys_are_rejected_with_a_fix():
    with pytest.raises(ConfigError) as error:
        get_task("textgen").read_config({"task": "textgen", "model": {"unit": 3}}, source="config.json")
    assert "unknown key(s): unit" in str(error.value) and "units" in str(error.value)


def test_a_foreign_key_in_a_config_file_is_an_error():
    with pytest.raises(ConfigError) as error:
        get_task("textgen").read_config({"task": "textgen", "data": {"horizon": 12}}, source="c.json")
    assert "c.json: 'data.horizon' is a forecast option (--horizon); this is a textgen config" in str(error.value)


def test_keys_rnnkit_0_1_wrote_for_every_task_are_dropped():
    """0.1 wrote every task's fields, with their defaults, into every config.json."""
    values = {"task": "forecast", "data": {"level": "char", "sequence_length": 100, "text_column": None},
              "model": {"embedding_dim": 64, "bidirectional": False}, "training": {"class_weight": "auto"}}
    config = get_task("forecast").read_config(values, source="old.json")
    assert "sequence_length" not in config.to_dict()["data"] and "embedding_dim" not in config.to_dict()["model"]
    # A value the user changed is not a leftover: it is an error in settings, dropped in a run's record.
    values["model"]["embedding_dim"] = 32
    with pytest.raises(ConfigError, match="'model.embedding_dim' is a .* option"):
        get_task("forecast").read_config(values, source="old.json")
    assert "embedding_dim" not in get_task("forecast").read_config(values, source="run", record=True).to_dict()["model"]


@pytest.mark.parametrize("section", ["data", "model", "training"])
def test_a_section_that_is_not_an_object_is_an_error(section):
    with pytest.raises(ConfigError, match=f"'{section}' must be an object. Received: None"):
        get_task("textgen").read_config({"task": "textgen", section: None}, source="c.json")
