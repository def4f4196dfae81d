"""numba's disk cache for the service's compiled loops, and `warm_up`: what a process's first ticks would
compile, compiled (or loaded from that cache) at its start. Used by `run` (controller/live.py) and bench_mqtt's
controllers, and `simulate --via-mqtt` (the field waits for the first re-plan tick: docs/mqtt.md, Lockstep); I/O,
so not in the core (webster_net and lanerows compile without a cache). Not by an in-process `simulate`: loading at
the start costs numba's own start, about a second of CPU (numba's import, its registries and the scipy it loads),
more than the compiled lane update saves in a 900 s run of the city (about 0.3 s), and also in the webster runs that
never call its loop (BENCHMARKS.md, issue 12, E, sessions 56 and 68); a lazy load needs the core to take its compiled
form from the caller."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def warm_up(policy: str) -> None:
    """What a process's first ticks would pay once, paid at its start instead (`run`: before
    freeze_heap): under webster, its floors' compiled loop (webster_net.compile_raise_rows: numba;
    compiled in the first re-plan tick it would make that tick late, BENCHMARKS.md issue 12); under
    every policy, the estimator's compiled lane update (lanerows.compile_lanes), then used by the
    estimator from here on (lanerows.use_compiled). The same floats: no plan moves. Loaded from numba's
    disk cache in compile_cache_dir() when a process compiled it there before, else compiled and saved
    there; a cache that cannot be written or read is done without (logged)."""
    from controller.core import lanerows

    _load(lanerows.kernels(), lanerows.compile_lanes, lanerows.kernels.cache_clear)
    lanerows.use_compiled()
    if policy == "webster":
        from controller.core.policies import webster_net

        compiled = webster_net._compiled_raise_rows
        _load((compiled(),), webster_net.compile_raise_rows, compiled.cache_clear)


def _load(dispatchers: tuple[Any, ...], compile_now: Callable[[], None], forget: Callable[[], None]) -> None:
    """`dispatchers` (numba's) cached on disk (disk_cached), then compile_now(); on an error of an unreadable
    or broken cache file (not a reason not to start), forget() (new dispatchers, without the cache) and
    compile_now() again."""
    folders = [disk_cached(d) for d in dispatchers]
    try:
        compile_now()
    except Exception as exc:
        if all(f is None for f in folders):
            raise
        log.warning("compile cache in %s not used (%r): compiling without it", folders[0], exc)
        forget()
        compile_now()


def _numba_config() -> Any:
    """numba's config module: its options (CACHE_DIR) are set from the environment when numba is
    imported, so the type checker does not know them."""
    import numba

    return numba.config


def compile_cache_dir() -> Path:
    """Where warm_up keeps the compiled loops (numba's disk cache): under $NUMBA_CACHE_DIR when set, else
    the user's cache folder ($XDG_CACHE_HOME, else ~/.cache) /numba, a folder per text of the modules
    compiled (controller/core/policies/webster_net.py, controller/core/lanerows.py), host CPU and numba
    version. Per text: numba reuses a data file's name when the source changes, and a process reading the
    new index before the new data file is written would load the old code (two processes starting at
    once after an edit)."""
    import numba
    from llvmlite import binding

    from controller.core import lanerows
    from controller.core.policies import webster_net

    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    base = _numba_config().CACHE_DIR or os.path.join(home, "numba")
    text = b"".join(Path(str(m.__file__)).read_bytes() for m in (webster_net, lanerows))
    digest = hashlib.sha256(text).hexdigest()[:16]
    return Path(base) / f"tsc-{digest}-{binding.get_host_cpu_name()}-numba{numba.__version__}"


def disk_cached(compiled: Any) -> Path | None:
    """numba's disk cache for `compiled` (a numba dispatcher) in compile_cache_dir() (made if missing),
    that folder; None, logged: it cannot be written, the dispatcher compiles per process as before."""
    try:
        folder = compile_cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        log.info("no compile cache (%s): compiling at each start", exc)
        return None
    config = _numba_config()
    saved, config.CACHE_DIR = config.CACHE_DIR, str(folder)
    try:
        compiled.enable_caching()  # its locator reads numba.config.CACHE_DIR now
    except RuntimeError as exc:  # numba found no writable folder after all
        log.info("no compile cache (%s): compiling at each start", exc)
        return None
    finally:
        config.CACHE_DIR = saved
    return folder
