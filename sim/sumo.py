"""Starting SUMO: libsumo in-process when available (fast), traci over a socket otherwise.

Also the sumocfg handling every command shares: where the network is, which additional files
the config already loads, and how the user's own SUMO arguments win over our defaults.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from controller.errors import DefinitionError


def sumo_home() -> str:
    import sumo  # the eclipse-sumo wheel

    home: str = sumo.SUMO_HOME
    os.environ.setdefault("SUMO_HOME", home)
    return home


def sumo_binary(name: str = "sumo") -> str:
    return str(Path(sumo_home()) / "bin" / name)


def load_api(prefer_libsumo: bool = True) -> ModuleType:
    """libsumo (in-process, one simulation per process) or traci (socket) as fallback."""
    sumo_home()
    if prefer_libsumo:
        try:
            import libsumo

            api: ModuleType = libsumo
            return api
        except ImportError:
            pass
    import traci

    fallback: ModuleType = traci
    return fallback


def start_command(api: ModuleType) -> str:
    """The program name `api.start` runs: libsumo ignores it; traci launches it, so it must be
    the wheel's binary (not necessarily on PATH)."""
    return "sumo" if getattr(api, "__name__", "") == "libsumo" else sumo_binary()


class SumoRefused(Exception):
    """SUMO did not start; the message is SUMO's own reason (its `Error:` lines), else the API's."""


def start_sumo(api: ModuleType, args: Sequence[str]) -> None:
    """`api.start(args)`, raising SumoRefused with SUMO's reason when it refuses. libsumo's own
    exception says only "Process Error": SUMO wrote why to stderr, so under libsumo stderr is read
    while SUMO loads and written back as it came. traci's SUMO is a process of its own that keeps
    the stderr it was started with: not read (its `Error:` line is on stderr as before)."""
    said: list[str] = []
    try:
        if getattr(api, "__name__", "") == "libsumo":
            with stderr_read(said):
                api.start(list(args))
        else:
            api.start(list(args))
    except Exception as exc:
        reasons = [ln.removeprefix("Error:").strip() for ln in "".join(said).splitlines() if ln.startswith("Error:")]
        raise SumoRefused("; ".join(reasons) or f"{type(exc).__name__}: {exc}") from None


@contextmanager
def stderr_read(into: list[str]) -> Iterator[None]:
    """The process's stderr (file descriptor 2, where SUMO's C++ writes) goes to a temporary file
    while the block runs; then its text is written to stderr and appended to `into`. Without a
    usable descriptor 2, nothing is read."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read()
            with open(2, "wb", closefd=False) as err:
                err.write(text)
            into.append(text.decode(errors="replace"))


class SumoConfig:
    """The parts of a SUMO configuration this project needs, with paths made absolute. Options
    are kept under their own names (`values`), whatever synonym or abbreviation the file writes
    them by (<net>, <routes>, <e>, <summary>...): SUMO loads those as they are. `names`: SUMO's
    own table (`option_names`, asked of SUMO when not given, kept in its cache after the first
    time)."""

    def __init__(self, path: str | Path, names: Mapping[str, str] | None = None) -> None:
        self.path = Path(path).resolve()
        if not self.path.is_file():
            raise DefinitionError(str(path), "-", "SUMO config not found")
        try:
            root = ET.parse(self.path).getroot()
        except ET.ParseError as exc:
            raise DefinitionError(str(path), "-", f"malformed XML: {exc}") from None
        names = option_names() if names is None else names
        self.values: dict[str, str] = {}
        for el in root:  # options in sections (<input><net-file .../>) or straight under the root
            for opt in [el] if "value" in el.attrib else el:
                if "value" in opt.attrib:
                    self.values[names.get(opt.tag, opt.tag)] = opt.attrib["value"]
        net = self.values.get("net-file")
        if not net and root.tag == "net":
            why = "a SUMO network, not a configuration (.sumocfg): simulate takes a .sumocfg, import-net a network"
            raise DefinitionError(str(path), "-", why)
        if not net:
            raise DefinitionError(str(path), "input.net-file", "missing")
        self.net_file = self._abs(net)
        if not self.net_file.is_file():
            raise DefinitionError(str(path), "input.net-file", f"{self.net_file} not found")

    def _abs(self, p: str) -> Path:
        return (self.path.parent / p).resolve()

    def files(self, key: str) -> list[Path]:
        raw = self.values.get(key, "")
        return [self._abs(p.strip()) for p in raw.replace(";", ",").split(",") if p.strip()]

    def outputs(self) -> dict[str, str]:
        """The files the configuration itself tells SUMO to write ({option: path}): every `*-output`,
        `*-dump` and log option with a file (not the null device). SUMO writes them beside the
        configuration; `simulate` sends them into its own output folder instead, each at its
        path relative to the configuration (the file name alone where that path is absolute or
        leaves the configuration's folder), so two of one name in two folders stay apart."""
        out = {}
        for key, value in self.values.items():
            written = key.endswith(("-output", "-dump")) or key in LOG_OPTIONS
            if written and "." not in key and value.strip() and value.strip().lower() not in NULL_FILES:
                rel = Path(value.strip())
                out[key] = rel.name if rel.is_absolute() or ".." in rel.parts else str(rel)
        return out

    def seconds(self, key: str) -> float | None:
        """The time option `key` in seconds (sumo_time_s), None when the configuration has none."""
        v = self.values.get(key)
        return None if v is None else sumo_time_s(v)


def sumo_time_s(text: str) -> float:
    """A SUMO time value in seconds: a number, h:m:s or d:h:m:s (`--begin 16:00:00`), as SUMO
    reads it. Raises ValueError otherwise."""
    parts = text.strip().split(":")
    if len(parts) not in (1, 3, 4):
        raise ValueError(f"not a SUMO time: {text!r}")
    return sum(float(p) * unit for p, unit in zip(reversed(parts), (1.0, 60.0, 3600.0, 86400.0), strict=False))


LOG_OPTIONS = frozenset({"log", "message-log", "error-log"})
NULL_FILES = frozenset({"nul", "/dev/null"})


def options_cache_dir() -> Path:
    """Where `option_names` keeps SUMO's table between runs: $XDG_CACHE_HOME/tsc, else ~/.cache/tsc."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tsc"


def option_names(binary: str | None = None) -> dict[str, str]:
    """Every name the installed SUMO accepts for an option, long or short, mapped to the option's
    own name ({"e": "end", "tripinfo": "tripinfo-output", "end": "end", ...}): read from SUMO's
    own template (`sumo --save-template`), so the table is the one SUMO parses with.

    Asking SUMO costs a SUMO start (about 40 ms of CPU, near 1 % of a 900 s city run), so the
    table is kept in `options_cache_dir()` under the binary's identity (its resolved path, size
    and modification time): another SUMO, or the same one reinstalled, is asked again. A cache
    that cannot be read or written is only a cache: SUMO is asked."""
    cmd = [binary or sumo_binary(), "--save-template", "stdout"]
    try:
        real = Path(cmd[0]).resolve()
        st = real.stat()
        identity = {"binary": str(real), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    except OSError:
        identity = None
    cache = None
    if identity is not None:
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
        try:  # RuntimeError: no home folder to be found
            cache = options_cache_dir() / f"sumo-options-{digest}.json"
            kept = json.loads(cache.read_text())
            if kept.get("identity") == identity and isinstance(kept.get("names"), dict):
                return {str(k): str(v) for k, v in kept["names"].items()}
        except (OSError, ValueError, AttributeError, RuntimeError):
            pass
    try:
        text = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise DefinitionError(cmd[0], "--save-template", f"SUMO could not list its options: {exc}") from None
    names: dict[str, str] = {}
    for el in ET.fromstring(text).iter():
        if "type" in el.attrib:  # an option (sections carry no type)
            names[el.tag] = el.tag
            for synonym in el.attrib.get("synonymes", "").split():
                names.setdefault(synonym, el.tag)
    if cache is not None:
        try:  # written whole, then renamed: runs started together never read half a table
            cache.parent.mkdir(parents=True, exist_ok=True)
            part = cache.with_name(f"{cache.name}.{os.getpid()}.part")
            part.write_text(json.dumps({"identity": identity, "names": names}))
            os.replace(part, cache)
        except OSError:
            pass
    return names


def canonical_args(user: Sequence[str], names: Mapping[str, str] | None = None) -> list[str]:
    """The user's SUMO arguments with every option under its own name and its value apart
    (`-e 600` -> `--end 600`, `--tripinfo=t.xml` -> `--tripinfo-output t.xml`), so that ours make
    way for it (`merge_args`) and the additional files it names are found. `names`: SUMO's own
    table (`option_names`, asked of SUMO when not given and the user gave anything). What SUMO does
    not know is left as it is, for SUMO to name; a negative number stays a value.

    A value after `=` that starts with `-` stays joined (`--mesosim=-` -> `--mesosim=-`): SUMO
    takes a separate word as a boolean option's value only when it does not start with `-`, so
    `--mesosim -` is true to SUMO while `--mesosim=-` is false (StringUtils::toBool)."""
    if not user:
        return []
    names = option_names() if names is None else names
    out = []
    for arg in user:
        name, eq, value = arg.partition("=")
        key = name[2:] if name.startswith("--") else name[1:] if name.startswith("-") and len(name) == 2 else None
        if key is None or key not in names:
            out.append(arg)
        elif eq and value.startswith("-"):
            out.append(f"--{names[key]}={value}")
        else:
            out += [f"--{names[key]}", value] if eq else [f"--{names[key]}"]
    return out


def option_at(args: Sequence[str], option: str) -> tuple[int, str | None] | None:
    """Where `--option` is in arguments in `canonical_args` form, and its value when joined to it
    (`--option=-1`; None when the value, if any, is the next word); None when not given."""
    for k, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name == option:
            return k, value if eq else None
    return None


def begin_s_of(scfg: SumoConfig, user: list[str]) -> float:
    """The run's begin in seconds: the user's `--begin` (canonical arguments), else the
    configuration's, else 0 (SUMO's default). A value SUMO cannot read counts as 0 here: SUMO
    refuses it when it starts."""
    value, _ = take_option(user, "--begin")
    try:
        return (scfg.seconds("begin") if value is None else sumo_time_s(value)) or 0.0
    except ValueError:
        return 0.0


def take_option(args: Sequence[str], option: str) -> tuple[str | None, list[str]]:
    """(the value of `--option`, the other arguments), from arguments in `canonical_args` form."""
    rest = list(args)
    found = option_at(rest, option)
    if found is None:
        return None, rest
    k, joined = found
    if joined is not None:
        return joined, rest[:k] + rest[k + 1 :]
    value = rest[k + 1] if k + 1 < len(rest) else ""
    return value, rest[:k] + rest[k + 2 :]


def listed_files(value: str) -> list[str]:
    """SUMO's file list (`a.xml,b.xml` or `a.xml;b.xml`), each made absolute."""
    return [str(Path(a).resolve()) for a in value.replace(";", ",").split(",") if a]


def additional_files(scfg: SumoConfig, listed: str | None) -> list[str]:
    """The additional files SUMO loads: the configuration's, then the user's `--additional-files`
    value when given (`listed`, after `--`). SUMO alone would load the user's list only (an option on
    the command line replaces the configuration's), and a user who adds a file of loops or programs
    would lose the scenario's detectors and programs: here the user's list is added to them. A file
    in both lists loads once, where the user's list puts it, so a list that names the configuration's
    files too (as plain SUMO needs) runs as it always did."""
    user = listed_files(listed) if listed is not None else []
    return scenario_files_kept(scfg, listed) + user


def scenario_files_kept(scfg: SumoConfig, listed: str | None) -> list[str]:
    """The configuration's additional files that the user's `--additional-files` value (`listed`)
    does not name: those `additional_files` loads before the user's."""
    user = set(listed_files(listed)) if listed is not None else set()
    return [str(p) for p in scfg.files("additional-files") if str(p) not in user]


def merge_args(defaults: list[str], user: list[str]) -> list[str]:
    """Our default options, minus those the user sets, then the user's arguments unchanged.
    (SUMO refuses an option given twice on one command line, so ours must make way; the user's
    options under their own names: `canonical_args`.)"""
    user_opts = {a[2:].partition("=")[0] for a in user if a.startswith("--")}
    out, i = [], 0
    while i < len(defaults):
        opt = defaults[i]
        has_value = i + 1 < len(defaults) and not defaults[i + 1].startswith("--")
        if opt.lstrip("-") not in user_opts:
            out.extend(defaults[i : i + 2] if has_value else [opt])
        i += 2 if has_value else 1
    return out + list(user)
