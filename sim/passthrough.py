"""The command lines that hand SUMO what follows `--`: one split for every entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def split_sumo_args(argv: Sequence[str] | None = None) -> tuple[list[str], tuple[str, ...]]:
    """(own arguments, SUMO's arguments): everything after the first `--` goes to SUMO unchanged,
    the `--` itself to neither. argv None: the process's own (sys.argv[1:])."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        return args, ()
    cut = args.index("--")
    return args[:cut], tuple(args[cut + 1 :])
