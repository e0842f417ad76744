"""Import TensorFlow lazily and quietly.

A leaf module: it imports nothing from rnnkit, so commands that never train (`rnnkit --help`,
argument errors) never pay for TensorFlow, and every layer may call `import_tensorflow()`.
"""

from __future__ import annotations

import contextlib
import os
import sys


def import_tensorflow():
    """Import TensorFlow and return it, without the native start-up chatter on stderr.

    TensorFlow's C++ layer logs CUDA probing lines before its logging is configured, so
    `TF_CPP_MIN_LOG_LEVEL` cannot silence them; the file descriptor is muted instead, for
    the import and the first device query only. `RNNKIT_DEBUG=1` shows them.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _native_stderr_muted(not os.environ.get("RNNKIT_DEBUG")):
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


@contextlib.contextmanager
def _native_stderr_muted(enabled: bool):
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
