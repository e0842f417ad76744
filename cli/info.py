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
        ("--strategy auto", _auto_strategy(len(gpus))),
        ("--mixed-precision", _mixed_precision(tf, gpus)),
    ):
        table.add_row(item, value)
    stdout.print(table)


def _auto_strategy(gpus: int) -> str:
    """What `--strategy auto` picks here (`rnnkit.training.make_strategy`)."""
    if gpus > 1:
        return f"MirroredStrategy over {gpus} GPUs (--batch-size is the global batch)"
    return "one device: the GPU" if gpus else "one device: the CPU"


def _mixed_precision(tf, gpus) -> str:
    """Whether `--mixed-precision` would compute in float16 here, and whether it would pay."""
    if not gpus:
        return "not used on a CPU (trains in float32)"
    details = tf.config.experimental.get_device_details(gpus[0])
    major, minor = details.get("compute_capability") or (0, 0)
    speed = "Tensor Cores: faster" if major >= 7 else "no Tensor Cores: little or no speed-up"
    return f"mixed_float16 on {details.get('device_name', gpus[0].name)} (compute capability {major}.{minor}; {speed})"
