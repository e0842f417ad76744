"""The layers of DESIGN §2 hold (import-linter contracts in pyproject.toml), and rnnkit has no import circle.

The contracts are checked on a copy of the source laid out as the wheel installs it (`cli/`
and `datasets/` inside `rnnkit/`): from the repository root grimp cannot see those two.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def installed_layout(target: Path) -> Path:
    """Copy the packages to `target` as pyproject.toml's package-dir maps them; returns `target`."""
    settings = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    mapped = settings["package-dir"]
    shutil.copytree(ROOT / "rnnkit", target / "rnnkit", ignore=shutil.ignore_patterns("__pycache__"))
    for package, folder in mapped.items():
        shutil.copytree(ROOT / folder, target / package.replace(".", "/"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")
    return target


def lint(tree: Path) -> subprocess.CompletedProcess:
    # import-linter puts its working folder first on sys.path, so it reads the copy.
    return subprocess.run([sys.executable, "-c", LINT], cwd=tree, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return installed_layout(tmp_path_factory.mktemp("installed"))


def test_layer_contracts_hold(tree):
    result = lint(tree)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in result.stdout


def test_the_whole_package_is_checked(tree):
    code = ("import grimp; g = grimp.build_graph('rnnkit'); "
            "print(all(m in g.modules for m in ('rnnkit.cli.main', 'rnnkit.datasets.builtin', "
            "'rnnkit.tasks.forecast.task', 'rnnkit.tf_import')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr[-2000:]


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("rnnkit/datasets/tables.py", "import rnnkit.cli.main", "cli above the API"),
        ("rnnkit/tasks/forecast/model.py", "import rnnkit.tasks.sentiment.layers", "No task imports another task"),
        ("rnnkit/atomic.py", "import rnnkit.errors", "cli above the API"),
        ("rnnkit/config.py", "import rnnkit.task", "cli above the API"),
    ],
)
def test_a_broken_layer_fails_the_check(tmp_path, module, line, broken):
    copy = installed_layout(tmp_path)
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}\n")
    result = lint(copy)
    assert result.returncode != 0
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout


CIRCLES = """
import grimp, sys
graph = grimp.build_graph("rnnkit")
index, low, stack, on, cycles = {}, {}, [], set(), []
sys.setrecursionlimit(10000)
def visit(m):
    index[m] = low[m] = len(index); stack.append(m); on.add(m)
    for n in graph.find_modules_directly_imported_by(m):
        if n not in index:
            visit(n); low[m] = min(low[m], low[n])
        elif n in on:
            low[m] = min(low[m], index[n])
    if low[m] == index[m]:
        component = []
        while True:
            n = stack.pop(); on.discard(n); component.append(n)
            if n == m: break
        if len(component) > 1: cycles.append(sorted(component))
for m in sorted(graph.modules):
    if m not in index: visit(m)
print(cycles)
"""


def circles(tree: Path) -> str:
    """The import circles of the tree (strongly connected components of grimp's graph, the root package included)."""
    result = subprocess.run([sys.executable, "-c", CIRCLES], cwd=tree, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_no_import_circle_anywhere(tree):
    assert circles(tree) == "[]"


def test_a_planted_circle_is_found(tmp_path):
    copy = installed_layout(tmp_path)
    (copy / "rnnkit" / "errors.py").write_text((copy / "rnnkit" / "errors.py").read_text() + "\nimport rnnkit\n")
    assert "'rnnkit.errors'" in circles(copy)
