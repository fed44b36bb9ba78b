"""The ``convcli`` command's entry point (``[project.scripts]`` and ``python -m convcli``).

It imports nothing but the standard library's ``os`` and ``signal`` (and convcli's version string)
before it is ready for Ctrl-C and SIGTERM, so that an interruption while the command-line modules are still being imported (the
first tenth of a second) ends as one interrupted later does: one line, exit 130 or 143, never a
``KeyboardInterrupt`` traceback. Once :func:`convcli.cli.main` runs, it handles them itself.

With ``CONVCLI_HELPER=1`` in the environment, the run goes to a helper process that has already
imported convcli and its libraries (:mod:`convcli._helper`; docs/semantics.md, "The helper
process"); without it, nothing of the helper is imported.
"""

from __future__ import annotations

import os
import signal
import sys

from ._version import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - typing costs 7 ms to import
    from typing import Any


#: The signals that end a run as SIGTERM does (exit 143; README, "Reports and exit codes"): SIGTERM, a hang-up
#: (the terminal closed) and SIGQUIT, those of them this platform has.
TERMINATING_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)


class Terminated(BaseException):
    """SIGTERM, SIGHUP or SIGQUIT arrived: unwind (removing temporary files) and exit 143."""


def terminate(signum: int, frame: Any) -> None:
    """The handler of :data:`TERMINATING_SIGNALS`, here and in :func:`convcli.cli.main`."""
    raise Terminated()


def interruption(error: KeyboardInterrupt | Terminated) -> tuple[str, int]:
    """How an interruption ends a run (README, "Reports and exit codes"): the word convcli says
    and the exit code, 130 for Ctrl-C, 143 for SIGTERM, SIGHUP or SIGQUIT.

    Examples
    --------
    >>> interruption(KeyboardInterrupt()), interruption(Terminated())
    (('interrupted', 130), ('terminated', 143))
    """
    return ("interrupted", 130) if isinstance(error, KeyboardInterrupt) else ("terminated", 143)


#: What ``convcli --version`` prints, here and through Click's version option (cli/__init__.py).
VERSION_TEXT = f"convcli {__version__}"


def main() -> None:
    """Run ``convcli``; an interruption during start-up exits 130 (Ctrl-C) or 143 (SIGTERM).

    With ``CONVCLI_HELPER=1``, in a helper's worker when one can take the run.
    """
    _end_on_terminating_signals()
    if sys.argv[1:] == ["--version"] and _answer_version():
        sys.exit(0)
    if os.environ.get("CONVCLI_HELPER") == "1":
        try:
            from ._helper import run_through_helper

            run_through_helper()  # exits with the worker's code, or returns: no helper took the run
        except (KeyboardInterrupt, Terminated) as error:
            _stop(*interruption(error))
    run_here()


def run_here() -> None:
    """Run ``convcli`` in this process (a helper's worker calls this too)."""
    _end_on_terminating_signals()
    try:
        from .cli import main as run

        run()  # installs its own handlers first thing
    except (KeyboardInterrupt, Terminated) as error:
        _stop(*interruption(error))


def _answer_version() -> bool:
    """Answer ``convcli --version`` alone before Click and the command line are imported (they are
    three quarters of its start-up: README, "Speed"). One write of a few bytes to descriptor 1; if it
    fails (closed, a broken pipe, a full disk) nothing was written and the usual path answers,
    with its usual handling of such streams."""
    try:
        return os.write(1, f"{VERSION_TEXT}\n".encode()) > 0
    except OSError:
        return False


def _end_on_terminating_signals() -> None:
    for signum in TERMINATING_SIGNALS:
        signal.signal(signum, terminate)


def _stop(what: str, code: int) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(f"convcli: {what}\n")
            sys.stderr.flush()
    except (OSError, ValueError):  # messages are best effort
        pass
    sys.exit(code)
