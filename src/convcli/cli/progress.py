"""The progress bar of a batch: files done of all, on standard error when it is a terminal."""

from __future__ import annotations

import sys
import time
from typing import Any

from .faults import say


class ProgressBar:
    """A progress bar (files done of all) on standard error, only when it is a terminal; error
    lines are printed above it while it shows."""

    def __init__(self, command: str, total: int, color: bool | None, *, enabled: bool) -> None:
        self.bar: Any = None
        self.last = 0.0
        if not enabled:
            return
        self.bar, self.task = _start_bar(command, total, color, "files")

    def tick(self, done: int) -> None:
        if self.bar is None:
            return
        now = time.monotonic()
        self.bar.update(self.task, completed=done)
        if now - self.last >= 0.1:
            self.last = now
            self.bar.refresh()

    def echo(self, line: str) -> None:
        if self.bar is None:
            say(line)
        else:
            self.bar.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)
            self.bar.refresh()

    def stop(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.stop()



class BandProgressBar:
    """The progress bar of one streamed input: rows written of all, on standard error (the caller
    makes one only when it is a terminal). Shown from the first band written; ``update`` may be
    called from the thread that writes the bands."""

    def __init__(self, command: str, color: bool | None) -> None:
        self.command, self.color = command, color
        self.bar: Any = None
        self.last = 0.0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar, self.task = _start_bar(self.command, total, self.color, "rows")
        self.bar.update(self.task, completed=done)
        now = time.monotonic()
        if now - self.last >= 0.1 or done == total:
            self.last = now
            self.bar.refresh()

    def stop(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            bar.stop()


def _start_bar(command: str, total: int, color: bool | None, unit: str) -> tuple[Any, Any]:
    """A transient rich bar of ``total`` ``unit`` on standard error, started, and its task."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, no_color=True if color is False else None)
    # No refresh thread (workers are forked): the bar is redrawn as work is done.
    bar = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
        console=console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False,
    )
    task = bar.add_task(command, total=total)
    bar.start()
    bar.refresh()
    return bar, task
