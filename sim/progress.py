"""Progress of long runs: a bar on a terminal, plain lines otherwise.

A `Progress` counts units of work (simulated seconds, finished runs). On a terminal it draws a
tqdm bar on stderr with the latest detail as its postfix; anywhere else (a log file, CI, a pipe)
it prints one plain line each time `every` units have passed, so logs stay readable."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO


class Progress:
    """`update(done, detail)` with `done` the units finished so far (monotone), out of `total`.

    bar: None chooses by the stream (a bar only on a terminal); lines go to `write`, else the stream."""

    def __init__(
        self,
        label: str,
        total: float,
        every: float,
        *,
        stream: IO[str] | None = None,
        bar: bool | None = None,
        write: Callable[[str], None] | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.every = every
        self._stream = stream if stream is not None else sys.stderr
        self._write = write or (lambda line: print(line, file=self._stream, flush=True))
        use_bar = self._stream.isatty() if bar is None else bar
        self._bar = None
        if use_bar:
            from tqdm import tqdm  # on a terminal only: a run under a pipe or a benchmark does not import it

            self._bar = tqdm(
                total=round(total) if total > 0 else None,
                desc=label,
                file=self._stream,
                unit="s",
                dynamic_ncols=True,
                leave=True,
            )
        self._done = 0.0
        self._next_line = every

    @property
    def is_bar(self) -> bool:
        return self._bar is not None

    def update(self, done: float, detail: Callable[[], str]) -> None:
        """Advance to `done`; `detail` is called only when something is shown."""
        if self._bar is not None:
            if done > self._done:
                self._bar.update(done - self._done)
            self._done = done
            if done >= self._next_line:
                self._next_line += self.every
                self._bar.set_postfix_str(detail(), refresh=False)
            return
        self._done = done
        if done >= self._next_line:
            self._next_line += self.every
            self._write(f"[{self.label}] {detail()}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
