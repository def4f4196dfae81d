"""The controller never sees SUMO's truth, and the control core does no I/O.

- nothing under controller/ imports traci, libsumo, sumolib or sumo;
- controller/core imports no I/O or clock (paho, prometheus_client, sqlite3, socket, time, ...)
  and, of the project, only controller.core, controller.model and controller.errors
  (imports under `if TYPE_CHECKING:` are for annotations and do not run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUMO_MODULES = {"traci", "libsumo", "sumolib", "sumo"}
IO_MODULES = {
    "paho",
    "prometheus_client",
    "sqlite3",
    "socket",
    "time",
    "datetime",
    "asyncio",
    "subprocess",
    "threading",
    "multiprocessing",
    "os",
    "io",
    "pathlib",
    "shutil",
    "requests",
    "urllib",
    "http",
    "logging",
    "random",
    "tomllib",
    "sys",
    "signal",
    "select",
}
CORE_MAY_IMPORT = ("controller.core", "controller.model", "controller.errors")


def _runtime_imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Imported module names, skipping `if TYPE_CHECKING:` blocks."""
    out = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and isinstance(child.test, ast.Name) and child.test.id == "TYPE_CHECKING":
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                out.extend((child.lineno, a.name) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                out.extend((child.lineno, f"{child.module}.{a.name}") for a in child.names)
            visit(child)

    visit(tree)
    return out


def _files(folder: str) -> list[Path]:
    files = sorted((ROOT / folder).rglob("*.py"))
    assert files, f"no Python files under {folder}"
    return files


@pytest.mark.parametrize("path", _files("controller"), ids=lambda p: str(p.relative_to(ROOT)))
def test_controller_never_imports_sumo(path):
    for line, name in _runtime_imports(ast.parse(path.read_text())):
        assert name.split(".")[0] not in SUMO_MODULES, f"{path}:{line} imports {name}"


@pytest.mark.parametrize("path", _files("controller/core"), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_is_pure(path):
    tree = ast.parse(path.read_text())
    for line, name in _runtime_imports(tree):
        top = name.split(".")[0]
        assert top not in IO_MODULES, f"{path}:{line} imports I/O or clock module {name}"
        if top == "controller":
            assert name.startswith(CORE_MAY_IMPORT), f"{path}:{line} core imports {name} (adapters/config do I/O)"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in {"open", "print", "input"}, f"{path}:{node.lineno} calls {node.func.id}()"


def test_rule_catches_a_violation(tmp_path):
    """The checker itself must fail on an impure module (a test that cannot fail is a defect)."""
    bad = "import time\nfrom controller.config import load_config\nif TYPE_CHECKING:\n    import paho\n"
    names = [n for _, n in _runtime_imports(ast.parse(bad))]
    assert names == ["time", "controller.config.load_config"]
