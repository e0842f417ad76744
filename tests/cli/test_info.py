from typer.testing import CliRunner

from rnnkit.cli.main import app


def test_info_shows_versions_and_devices():
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for item in ("tensorflow", "keras", "GPUs", "RNN kernel"):
        assert item in result.stdout
