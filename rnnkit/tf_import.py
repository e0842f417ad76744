"""Import TensorFlow lazily and quietly.

A leaf module: it imports nothing from rnnkit, so commands that never train (`rnnkit --help`,
argument errors) never pay for TensorFlow, and every layer may call `import_tensorflow()`.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import sys
import threading

# TensorFlow's native (absl) log lines: "E0000 00:00:1795489752.877744    7849 util.cc:131] oneDNN supports ...",
# absl's notice that precedes them, and LiteRT's delegate notice. Fatal ("F...") lines are not matched: they say why a process died.
NATIVE_LOG_LINE = re.compile(rb"^(?:[IWE]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^ \]]+:\d+\] |WARNING: All log "
                             rb"messages before absl::InitializeLog\(\) is called are written to STDERR|To enable the "
                             rb"following instructions: .* in other operations, rebuild TensorFlow"
                             # a bare task name the chief's native code prints when a multi-worker cluster forms
                             rb"|/job:\w+/replica:\d+/task:\d+\r?\n?$"
                             # LiteRT's interpreter (the check of `rnnkit export --format litert`)
                             rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU)")
_filtering = False


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


def filter_native_logs() -> None:
    """For the rest of this process, drop TensorFlow's native log lines from stderr; pass everything else.

    They come from C++ at any moment (oneDNN notices during the first ops, CUDA probing), past
    any Python logging setting, so file descriptor 2 becomes a pipe that a thread filters into
    the real stderr, and `sys.stderr` writes to the real stderr directly. For the CLI, which owns
    its process; a library never takes over its host's stderr. `RNNKIT_DEBUG=1` keeps every line.
    """
    global _filtering
    if _filtering or os.environ.get("RNNKIT_DEBUG"):
        return
    _filtering = True
    sys.stderr.flush()
    real = os.dup(2)
    read, write = os.pipe()
    os.dup2(write, 2)
    os.close(write)
    errors = sys.stderr.errors if isinstance(sys.stderr, io.TextIOWrapper) else "backslashreplace"
    sys.stderr = io.TextIOWrapper(io.FileIO(os.dup(real), "w"), encoding=sys.stderr.encoding or "utf-8",
                                  errors=errors, line_buffering=True, write_through=True)

    def forward():
        with io.FileIO(read, "r") as source:
            for line in io.BufferedReader(source):
                if not NATIVE_LOG_LINE.match(line):
                    os.write(real, line)

    thread = threading.Thread(target=forward, name="rnnkit-native-stderr", daemon=True)
    thread.start()

    def drain():
        os.dup2(real, 2)  # closes the pipe's last writer: the thread reads what is left, then stops
        thread.join(timeout=2)

    atexit.register(drain)
