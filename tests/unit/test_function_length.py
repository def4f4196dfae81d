"""No function over 60 lines anywhere under controller/, sim/ or in run_controller.py
(scripts/long_functions.py lists them for any path)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("long_functions", ROOT / "scripts" / "long_functions.py")
assert spec is not None and spec.loader is not None
long_functions = importlib.util.module_from_spec(spec)
spec.loader.exec_module(long_functions)

CHECKED = ["controller", "sim", "run_controller.py"]


def test_no_function_over_60_lines():
    found = []
    for rel in CHECKED:
        root = ROOT / rel
        for f in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            found += [
                f"{f.relative_to(ROOT)}:{line} {name} ({n} lines)"
                for line, name, n in long_functions.long_functions(f, 60)
            ]
    assert not found, "functions over 60 lines:\n" + "\n".join(found)


def test_the_lister_finds_a_long_function(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(61))
    (tmp_path / "m.py").write_text(f"class C:\n    def f(self):\n{body}\n")
    assert long_functions.long_functions(tmp_path / "m.py", 60) == [(2, "C.f", 62)]
    assert long_functions.main(["--max-lines", "60", str(tmp_path)]) == 1
    assert long_functions.main(["--max-lines", "100", str(tmp_path)]) == 0
