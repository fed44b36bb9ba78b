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
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        console = Console(file=sys.stderr, no_color=True if color is False else None)
        # No refresh thread (workers are forked): the bar is redrawn as files finish.
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"), TimeElapsedColumn(),
            console=console, transient=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False,
        )
        self.task = self.bar.add_task(command, total=total)
        self.bar.start()
        self.bar.refresh()

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

