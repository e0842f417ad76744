from typer.testing import CliRunner

from rnnkit.cli.main import app


def test_info_shows_versions_and_devices():
    result = CliRunner().invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    for item in ("tensorflow", "keras", "GPUs", "RNN kernel", "--strategy auto", "--mixed-precision"):
        assert item in result.stdout
    # This machine has no GPU: one device, and float32 whatever --mixed-precision says.
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        assert "one device: the CPU" in result.stdout and "not used on a CPU" in result.stdout
