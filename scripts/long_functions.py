#!/usr/bin/env python3
"""List the functions longer than a limit (default 60 lines) under the given paths.

  scripts/long_functions.py [--max-lines 60] [PATH ...]     (default PATH: controller)

Prints `file:line name lines`, longest first, and exits 1 if there is any. A function's length
counts from its `def` line to its last line, nested functions included (they are counted on their
own as well).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def long_functions(path: Path, max_lines: int) -> list[tuple[int, str, int]]:
    """(line, qualified name, length in lines) of every function in one file over max_lines."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[int, str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (child.end_lineno or child.lineno) - child.lineno + 1
                if length > max_lines:
                    found.append((child.lineno, prefix + child.name, length))
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(tree, "")
    return found


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--max-lines", type=int, default=60)
    p.add_argument("paths", nargs="*", type=Path, default=[Path("controller")])
    args = p.parse_args(argv)
    rows = []
    for root in args.paths:
        files = sorted(root.rglob("*.py")) if root.is_dir() else [root]
        for f in files:
            rows.extend((n, f"{f}:{line}", name) for line, name, n in long_functions(f, args.max_lines))
    for n, where, name in sorted(rows, reverse=True):
        print(f"{where} {name} {n}")
    return 1 if rows else 0


if __name__ == "__main__":
    sys.exit(main())
