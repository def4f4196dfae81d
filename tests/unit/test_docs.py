"""The documentation states what the code does: the parameter tables of docs/ carry the
dataclasses' defaults, and the command lines of README.md parse with run_controller's parser."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest

from controller.config import Config
from run_controller import build_parser

ROOT = Path(__file__).resolve().parents[2]
# docs whose "| key | default | meaning |" table documents one config.toml section
TABLES = {"harm.md": "harm", "metrics.md": "metrics", "validation.md": "validation"}


def table_rows(text: str) -> list[tuple[list[str], list[str]]]:
    """(keys, defaults) of each row of the first `| key | default |` table: a row may list
    several keys and as many comma-separated defaults."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(r"\|\s*key\s*\|\s*default\s*\|", ln))
    rows = []
    for ln in lines[start + 2 :]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        keys = re.findall(r"`(\w+)`", cells[0])
        values = [v.strip() for v in cells[1].split(",")] if len(keys) > 1 else [cells[1]]
        rows.append((keys, values))
    return rows


def same(doc_value: str, default: object) -> bool:
    """A table's default as written (true, "", 0.20, 127.0.0.1) against the dataclass field."""
    if isinstance(default, bool):
        return doc_value == str(default).lower()
    if isinstance(default, (int, float)):
        try:
            return float(doc_value) == float(default)
        except ValueError:
            return False
    if isinstance(default, tuple):  # a list of names: [] or ["a", "b"]
        return [v.strip().strip('"') for v in doc_value.strip("`[]").split(",") if v.strip()] == list(default)
    return doc_value.strip('"') == default


@pytest.mark.parametrize(("doc", "section"), sorted(TABLES.items()))
def test_a_parameter_table_states_every_field_with_its_default(doc: str, section: str) -> None:
    defaults = getattr(Config(), section)
    rows = table_rows((ROOT / "docs" / doc).read_text())
    shown = {}
    for keys, values in rows:
        assert len(keys) == len(values), f"docs/{doc}: {keys} has {len(values)} defaults"
        shown.update(zip(keys, values, strict=True))
    fields = {f.name for f in dataclasses.fields(defaults)}
    assert set(shown) == fields, f"docs/{doc} [{section}]: missing {fields - set(shown)}, unknown {set(shown) - fields}"
    wrong = {k: (v, getattr(defaults, k)) for k, v in shown.items() if not same(v, getattr(defaults, k))}
    assert wrong == {}, f"docs/{doc} [{section}]: (written, default) differ"


def test_the_table_reader_sees_a_wrong_default() -> None:
    text = "| key | default | meaning |\n|---|---|---|\n| `a`, `b` | 10, 5 | x |\n| `c` | true | y |\n\nafter"
    assert table_rows(text) == [(["a", "b"], ["10", "5"]), (["c"], ["true"])]
    assert same("900", 900.0) and same("true", True) and same('""', "") and same("127.0.0.1", "127.0.0.1")
    assert not same("0.2", 0.1) and not same("false", True) and not same("x", 1.0)


def readme_commands() -> list[list[str]]:
    """run_controller.py command lines of README.md's code blocks, `[optional]` parts unwrapped
    (`[--policy NAME]` -> `--policy 1`, `a|b` -> a), SUMO's part after `--` dropped."""
    out = []
    for line in (ROOT / "README.md").read_text().splitlines():
        m = re.match(r"^(?:\.venv/bin/)?python run_controller\.py (.*?)(?:\s+#.*)?$", line.strip())
        if not m:
            continue
        words = shlex.split(re.sub(r"[\[\]]", "", m.group(1)).replace("...", ""))
        words = words[: words.index("--")] if "--" in words else words
        # placeholders (SUMOCFG, DIR, T, X): a value every option takes
        out.append(["1" if re.fullmatch(r"[A-Z][A-Z_]*", w) else w.split("|")[0] for w in words])
    return out


def test_readme_shows_the_commands() -> None:
    assert {c[0] for c in readme_commands()} >= {"run", "simulate", "import-net", "validate", "replay", "ctl", "field"}


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a[:3]))
def test_every_readme_command_parses(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)  # argparse exits (SystemExit) on an unknown option
    assert args.command == argv[0]


def test_readme_counts_the_corpus_as_the_catalogue_does() -> None:
    from sim.scenarios.corpus.catalogue import by_name

    said = re.search(r"(\d+) seeded messy\s+networks", (ROOT / "README.md").read_text())
    assert said is not None and int(said.group(1)) == len(by_name())


def test_the_mqtt_contract_lists_every_rejection_reason() -> None:
    from controller.adapters.metrics import FEED_REJECT_REASONS

    doc = (ROOT / "docs" / "mqtt.md").read_text()
    assert [r for r in FEED_REJECT_REASONS if f"`{r}`" not in doc] == []


# `[section] key` (N s) or `section.key` (N s) in prose: N is the default (a product like
# "1.5 x `broker.keepalive_s` (45 s)" is not a default and is passed over)
PROSE_DEFAULT = re.compile(r"(?<![×x] )`(?:\[(\w+)\] |(\w+)\.)(\w+)` \(([-0-9.,]+) ?(?:s|m|h|%|PCU)?[;,)]")


def prose_defaults(text: str) -> list[tuple[str, str, float]]:
    """(section, key, number) of every default quoted in prose."""
    return [
        (m.group(1) or m.group(2), m.group(3), float(m.group(4).replace(",", ""))) for m in PROSE_DEFAULT.finditer(text)
    ]


def test_the_prose_reader_sees_a_default() -> None:
    text = "every `[regions] heartbeat_s` (5 s), `roadside.refresh_s` (5 s) and 1.5 × `broker.keepalive_s` (45 s)"
    assert prose_defaults(text) == [("regions", "heartbeat_s", 5.0), ("roadside", "refresh_s", 5.0)]


def test_defaults_quoted_in_the_docs_are_the_config_defaults() -> None:
    cfg = Config()
    wrong, seen = [], 0
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for section, key, number in prose_defaults(path.read_text()):
            default = getattr(getattr(cfg, section, None), key, None)
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                seen += 1
                if float(default) != number:
                    wrong.append(f"{path.name}: [{section}] {key} said {number:g}, default {default:g}")
    assert seen >= 5 and wrong == []  # the docs quote some: a reader that finds none is broken


def test_every_module_the_docs_run_exists() -> None:
    import importlib.util

    shown = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        shown |= set(re.findall(r"python3? -m ((?:sim|controller)\.[\w.]+)", path.read_text()))
    assert len(shown) >= 5, shown
    assert sorted(m for m in shown if importlib.util.find_spec(m) is None) == []


def test_the_mqtt_contract_states_the_feed_ranges_the_service_checks() -> None:
    from controller.core import feedrules as rules

    doc = (ROOT / "docs" / "mqtt.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(?:…\.)?(\w+)` \|[^|]*\|[^|]*\| ([^|]*)\|", doc, re.M)}
    g = "{:g}".format
    assert rows["period_s"].startswith(f"{g(rules.PERIOD_RANGE_S[0])} … {g(rules.PERIOD_RANGE_S[1])} ")
    assert rows["occupancy"].startswith(f"{g(rules.OCCUPANCY_RANGE[0])} … {g(rules.OCCUPANCY_RANGE[1])},")
    assert f"0 … {g(rules.SPEED_RANGE_MPS[1])}; −1 when none" in rows["speed_mps"]
    assert f"integers 0 … {rules.MAX_COUNT_PER_S} × `period_s`" in rows["counts"]


def config_keys() -> list[tuple[str, str]]:
    """(section, key) of every key config.toml sets (a nested table, [regions.named], as its section's key)."""
    import tomllib

    toml = tomllib.loads((ROOT / "config.toml").read_text())
    return [(section, key) for section, keys in toml.items() if isinstance(keys, dict) for key in keys]


def doc_texts() -> dict[str, str]:
    return {p.name: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}


def named_keys(text: str) -> tuple[set[str], tuple[str, ...]]:
    """The words of every `...` span of the prose (one may wrap a line, not a paragraph) and the keys
    set (`key = ...`) in its ``` blocks; the prefixes of `word_*` wildcards."""
    prose, code = [], []
    for k, part in enumerate(re.split(r"^```.*$", text, flags=re.M)):
        (code if k % 2 else prose).append(part)
    spans = [
        " ".join(m.split()) for part in prose for para in part.split("\n\n") for m in re.findall(r"`([^`]+)`", para)
    ]
    words = {w for span in spans for w in re.findall(r"\w+", span)}
    words |= {m for part in code for m in re.findall(r"^\s*(\w+)\s*=", part, flags=re.M)}
    wild = tuple(w[:-1] for span in spans for w in re.findall(r"\b\w+_\*", span))
    return words, wild


def test_every_config_key_is_named_in_the_docs() -> None:
    """A key config.toml sets is named, in `backticks`, in README.md or docs/ (a `prefix_*` wildcard
    counts): a key nobody documents is found only by reading config.toml's comments."""
    words, wild = named_keys("\n".join(doc_texts().values()))
    unnamed = [f"[{s}] {k}" for s, k in config_keys() if k not in words and not k.startswith(wild)]
    assert unnamed == []


def test_every_section_key_the_docs_name_is_a_config_field() -> None:
    """`[section] key` in README.md or docs/ names a field of that section (controller/config.py): a
    key removed or renamed leaves no doc behind."""
    cfg, wrong = Config(), []
    for name, text in doc_texts().items():
        for section, key in re.findall(r"`\[(\w+)\] (\w+)", text):
            fields = getattr(cfg, section, None)
            if fields is None or not hasattr(fields, key):
                wrong.append(f"{name}: [{section}] {key}")
    assert wrong == []


def test_the_key_readers_see_a_key_and_a_wildcard() -> None:
    words, wild = named_keys("a `[harm]\n  min_policy_s` b, `stuck_*`, `x = 1`\n```toml\ny = 2\n```\nc `d`\n\n` e")
    assert {"harm", "min_policy_s", "x", "y", "d"} <= words and wild == ("stuck_",)
    assert not {"a", "b", "c", "e"} & words


# `[section] key` (on ...), `key` (shipped false ...), `section.key` (off ...) in prose: the switch's default
PROSE_SWITCH = re.compile(r"`(?:\[(\w+)\]\s+|(\w+)\.)?(\w+)`,?\s+\((?:shipped\s+|default\s+)?(on|off|true|false)\b")


def prose_switches(text: str, sections: dict[str, set[str]]) -> list[tuple[str, str, bool]]:
    """(section, key, said on) of every switch's default quoted in prose; a key without its section is
    read where exactly one section of `sections` (section -> its keys) has it, else passed over."""
    out = []
    for m in PROSE_SWITCH.finditer(text):
        section, key = m.group(1) or m.group(2), m.group(3)
        owners = [section] if section else [s for s, keys in sections.items() if key in keys]
        if len(owners) == 1 and key in sections.get(owners[0], ()):
            out.append((owners[0], key, m.group(4) in ("on", "true")))
    return out


def test_the_switch_reader_sees_a_default() -> None:
    sections = {"a": {"x", "y"}, "b": {"y", "z"}}
    text = "`[a] x` (shipped false), `z` (on as shipped), `y` (off), `a.y`\n(true), `q` (on), `[b] x` (on)"
    assert prose_switches(text, sections) == [("a", "x", False), ("b", "z", True), ("a", "y", True)]


def test_switches_quoted_on_or_off_in_the_docs_are_the_config_defaults() -> None:
    cfg = Config()
    sections: dict[str, set[str]] = {}
    for section, key in config_keys():
        sections.setdefault(section, set()).add(key)
    wrong, seen = [], 0
    for name, text in doc_texts().items():
        for section, key, said in prose_switches(text, sections):
            default = getattr(getattr(cfg, section), key, None)
            if isinstance(default, bool):
                seen += 1
                if said != default:
                    wrong.append(f"{name}: [{section}] {key} said {'on' if said else 'off'}, default {default}")
    assert seen >= 10 and wrong == []  # the docs quote some: a reader that finds none is broken


def test_every_make_target_the_docs_run_is_in_the_makefile() -> None:
    """`make TARGET` in README.md or docs/ (in backticks, or a line of a ``` block) is a Makefile target."""
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    shown = set()
    for text in doc_texts().values():
        shown |= set(re.findall(r"`make ([\w-]+)", text)) | set(re.findall(r"^make ([\w-]+)", text, flags=re.M))
    assert len(shown) >= 5, shown
    assert sorted(shown - targets) == []


def doc_commands(text: str) -> list[str]:
    """What follows `run_controller.py ` in a ``` block's line (a `\\`-continued line joined) or in a
    `...` span of the prose, up to a `#` comment."""
    out = []
    for k, part in enumerate(re.split(r"^```.*$", text, flags=re.M)):
        if k % 2:
            lines = [" ".join(ln.split()) for ln in part.replace("\\\n", " ").splitlines()]
        else:
            lines = [" ".join(s.split()) for para in part.split("\n\n") for s in re.findall(r"`([^`]+)`", para)]
        out += [m.group(1) for ln in lines if (m := re.search(r"run_controller\.py (.*?)(?:\s+#.*)?$", ln))]
    return out


def command_argv(command: str) -> list[str]:
    """A documented command's words for the parser: `[optional]` parts unwrapped, `a|b` -> a, a
    placeholder (DIR, `...` after an option) -> 1, other `...` dropped, SUMO's part after `--` dropped."""
    words = shlex.split(re.sub(r"[\[\]]", "", command))
    words = words[: words.index("--")] if "--" in words else words
    out: list[str] = []
    for w in words:
        if w in ("...", "…"):
            out += ["1"] if out and out[-1].startswith("-") else []
        else:
            w = w.replace("...", "")
            out.append("1" if re.fullmatch(r"[A-Z][A-Z_]*", w) else w.split("|")[0])
    return out


def known_options() -> dict[str, set[str]]:
    """Per subcommand of run_controller's parser, the options it knows (a subcommand's own
    subcommands' too, ctl's), with the parser's own (`--config`)."""
    import argparse

    def options(parser: argparse.ArgumentParser) -> set[str]:
        out = set()
        for action in parser._actions:
            out |= set(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    out |= options(sub)
        return out

    top = build_parser()
    subs = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    own = {o for a in top._actions for o in a.option_strings}
    return {name: options(sub) | own for name, sub in subs.choices.items()}


def unknown_options(argv: list[str], known: dict[str, set[str]]) -> list[str]:
    """The options of a documented command (`--config C SUBCOMMAND ...` or `SUBCOMMAND ...`) its
    subcommand does not know; [] also for a command that is not one (prose about the file)."""
    words = argv[2:] if argv[:1] == ["--config"] else argv
    if not words or words[0] not in known:
        return []
    return [w for w in words[1:] if w.startswith("-") and w.split("=")[0] not in known[words[0]]]


def test_the_command_reader_sees_an_option_the_parser_does_not_know() -> None:
    text = "run `run_controller.py simulate ...\n--metrics-port PORT` and\n```sh\n"
    text += "python run_controller.py ctl \\\n  --user a status  # x\n```"
    assert doc_commands(text) == ["simulate ... --metrics-port PORT", "ctl --user a status"]
    assert command_argv("simulate ... --metrics-port PORT [--via-mqtt] -- --seed 1") == [
        "simulate",
        "--metrics-port",
        "1",
        "--via-mqtt",
    ]
    known = known_options()
    assert unknown_options(["simulate", "--metrics-port", "1"], known) == []  # required ones left out: passed over
    assert unknown_options(["--config", "1", "simulate", "--metrics-portx=1"], known) == ["--metrics-portx=1"]
    assert unknown_options(["ctl", "--user", "a", "override", "J", "--hold-phase", "1"], known) == []
    assert unknown_options(["the", "--x"], known) == []


def test_every_option_the_docs_give_run_controller_is_known_to_its_parser() -> None:
    """Each `run_controller.py SUBCOMMAND ...` of README.md and docs/ names only options its
    subcommand knows (a renamed or removed option leaves no doc behind)."""
    known, wrong, seen = known_options(), [], 0
    for name, text in doc_texts().items():
        for command in doc_commands(text):
            argv = command_argv(command)
            seen += bool(argv) and (argv[0] in known or argv[:1] == ["--config"])
            wrong += [f"{name}: {command}: {o}" for o in unknown_options(argv, known)]
    assert seen >= 20 and wrong == []
