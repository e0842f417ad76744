"""`rnnkit info`: versions, devices and GPU/cuDNN status."""

from __future__ import annotations

import platform

from rich.table import Table

from rnnkit.cli._render import stdout


def info() -> None:
    """Show versions, devices and whether the fast GPU kernels are available."""
    from rnnkit import __version__
    from rnnkit.tf_import import import_tensorflow

    tf = import_tensorflow()
    import keras

    build = tf.sysconfig.get_build_info()
    gpus = tf.config.list_physical_devices("GPU")
    table = Table(title="rnnkit info", show_header=False)
    table.add_column("item")
    table.add_column("value")
    for item, value in (
        ("rnnkit", __version__),
        ("python", platform.python_version()),
        ("tensorflow", tf.__version__),
        ("keras", f"{keras.__version__} (backend: {keras.backend.backend()})"),
        ("built with CUDA", str(build.get("is_cuda_build", False))),
        ("CUDA / cuDNN", f"{build.get('cuda_version', '-')} / {build.get('cudnn_version', '-')}"),
        ("CPUs", ", ".join(device.name for device in tf.config.list_physical_devices("CPU"))),
        ("GPUs", ", ".join(device.name for device in gpus) or "none"),
        ("RNN kernel", "cuDNN for LSTM/GRU (SimpleRNN has none)" if gpus else "CPU (no GPU found)"),
    ):
        table.add_row(item, value)
    stdout.print(table)
