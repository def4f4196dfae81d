"""sim/progress.py: a bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import io

from sim.progress import Progress


def test_plain_lines_every_period_with_the_detail_only_when_shown() -> None:
    lines: list[str] = []
    asked: list[float] = []
    p = Progress("fixed", 100.0, 30.0, bar=False, write=lines.append)
    for t in range(1, 101):
        p.update(float(t), lambda t=t: asked.append(t) or f"t={t}")
    p.close()
    assert lines == ["[fixed] t=30", "[fixed] t=60", "[fixed] t=90"]
    assert asked == [30, 60, 90]


def test_a_bar_counts_to_the_total_and_prints_no_plain_line() -> None:
    stream = io.StringIO()
    lines: list[str] = []
    p = Progress("adaptive", 50.0, 10.0, stream=stream, bar=True, write=lines.append)
    for t in range(1, 51):
        p.update(float(t), lambda t=t: f"t={t}")
    p.close()
    shown = stream.getvalue()
    assert "adaptive" in shown and "50/50" in shown.replace(".0", "") and "100%" in shown
    assert lines == []


def test_not_a_terminal_means_lines() -> None:
    stream = io.StringIO()  # isatty() is False
    p = Progress("x", 10.0, 5.0, stream=stream)
    assert not p.is_bar
    p.update(5.0, lambda: "half")
    assert stream.getvalue() == "[x] half\n"
