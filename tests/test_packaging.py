"""The wheel installs only the `rnnkit` top-level package, and `--help` never imports TensorFlow."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_only_the_rnnkit_top_level_name(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (wheel,) = tmp_path.glob("rnnkit-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith((".dist-info", ".data"))}
    assert top_level == {"rnnkit"}
    assert "rnnkit/cli/main.py" in names and "rnnkit/datasets/builtin.py" in names


def test_help_is_instant_and_does_not_import_tensorflow():
    code = (
        "import sys\n"
        "from rnnkit.cli.main import app\n"
        "for command in ('train', 'tune'):\n"
        "    try:\n        app([command, '--help'])\n    except SystemExit:\n        pass\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow imported'\n"
        "assert 'optuna' not in sys.modules, 'Optuna imported'\n"
    )
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "--units" in result.stdout
    assert time.monotonic() - start < 5  # generous for a loaded CI machine; typically ~0.3 s
