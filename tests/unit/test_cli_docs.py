"""run_controller.py's command line against README.md and docs/: every option of every command is
documented beside the command, and every option a documented command line gives is real."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from run_controller import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _options(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s != "--help"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    """Every command and `ctl` subcommand ("ctl status"), by name; "" the top level."""
    out, todo = {}, [("", build_parser())]
    while todo:
        name, parser = todo.pop()
        out[name] = parser
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                todo += [(f"{name} {n}".strip(), p) for n, p in a.choices.items()]
    return out


def _paragraphs() -> list[str]:
    return [p for f in DOCS for p in re.split(r"\n\s*\n", f.read_text(encoding="utf-8"))]


def test_every_option_of_every_command_is_documented_beside_it():
    """A paragraph of README.md or docs/ that names the command (`simulate ...` or run_controller.py
    simulate) names each of its options."""
    paragraphs = _paragraphs()
    missing = []
    for name, parser in _commands().items():
        top = name.split(" ")[0]
        beside = [p for p in paragraphs if not top or re.search(rf"(run_controller\.py[^\n]*\b{top}\b|`{top}[ `])", p)]
        missing += [
            f"{name or '(global)'} {o}"
            for o in sorted(_options(parser))
            if not any(re.search(rf"{re.escape(o)}(?![\w-])", p) for p in beside)
        ]
    assert not missing, "options no README/docs paragraph names beside their command:\n" + "\n".join(missing)


def test_every_option_a_documented_command_line_gives_is_real():
    """`run_controller.py [--config F] [-v] CMD ... --opt` in README.md or docs/: --opt is an option of CMD
    (of `ctl` or one of its commands, or the top level's); what follows ` -- ` goes to SUMO."""
    commands = _commands()
    line = re.compile(r"run_controller\.py\s+(?:--config\s+\S+\s+)?(?:-v\s+)?([a-z][a-z-]*)([^\n`]*)")
    wrong = []
    for f in DOCS:
        for m in line.finditer(f.read_text(encoding="utf-8")):
            cmd, rest = m.group(1), m.group(2).split(" -- ")[0]
            if cmd not in commands:
                continue  # prose ("run_controller.py  the CLI")
            known = set().union(*(_options(p) for n, p in commands.items() if n == "" or n.split(" ")[0] == cmd))
            wrong += [
                f"{f.name}: {cmd} {o}" for o in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest) if o not in known
            ]
    assert not wrong, "documented options the command does not have:\n" + "\n".join(wrong)


def test_every_option_and_argument_has_a_help_text():
    """`--help` of every command says what each of its options and positional arguments is."""
    bare = [
        f"{name or '(top)'} {a.option_strings or a.dest}"
        for name, parser in _commands().items()
        for a in parser._actions
        if not isinstance(a, argparse._SubParsersAction) and a.dest != "help" and not a.help
    ]
    assert not bare, "without a help text:\n" + "\n".join(bare)
