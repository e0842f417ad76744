"""Configuration: validation messages, unknown keys, JSON round trip."""

from __future__ import annotations

import json

import pytest

from rnnkit.config import Config, apply_overrides
from rnnkit.errors import ConfigError


def test_round_trip_is_identical_json():
    config = apply_overrides(Config(task="textgen"), {"units": 64, "cell": "gru", "max_len": 50, "seed": 3})
    again = Config.from_dict(json.loads(config.to_json()))
    assert again.to_json() == config.to_json()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cell": "lstn"}, "Unknown cell 'lstn'. Expected one of: simple, lstm, gru. Received: cell='lstn'"),
        ({"units": 0}, "Received: units=0"),
        ({"dropout": 1.5}, "dropout must be in [0, 1)"),
        ({"layers": True}, "layers must be an integer"),
        ({"max_len": 1}, "max_len must be an integer >= 2"),
    ],
)
def test_validation_says_what_was_received(overrides, message):
    with pytest.raises(ConfigError) as error:
        apply_overrides(Config(task="textgen"), overrides).validate()
    assert message in str(error.value)


def test_unknown_keys_are_rejected_with_a_fix(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"task": "textgen", "model": {"unit": 3}}))
    with pytest.raises(ConfigError) as error:
        Config.from_file(path)
    assert "unknown key(s): unit" in str(error.value) and "units" in str(error.value)


def test_unknown_option_is_rejected():
    with pytest.raises(ConfigError, match="Unknown option 'colour'"):
        apply_overrides(Config(task="textgen"), {"colour": "red"})
