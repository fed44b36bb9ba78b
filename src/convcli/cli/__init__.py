"""The command-line layer: parse options, call the core, write outputs, map errors to exit codes.

Exit codes (README, "Reports and exit codes"): 0 everything done; 1 some input failed, or the environment did
(a full disk, a closed stream, out of memory: one line, never "internal error"); 2 usage error
(bad option, unknown kernel, bad kernel file); 130 interrupted; 141 standard output's reader went
away (a closed pipe); 143 terminated (SIGTERM, SIGHUP, SIGQUIT).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import click

from .._entry import TERMINATING_SIGNALS, VERSION_TEXT, Terminated, interruption
from .._entry import terminate as _terminate
from .._version import __version__
from ..errors import EnvironmentFault
from .faults import (
    CLOSED_PIPE,
    BestEffort,
    environment_fault,
    finish_standard_streams,
    reserve_standard_streams,
    say,
)
from .types import INPUT, PATH_TEXT, ChoiceType

COLOR_CHOICES = ("auto", "always", "never")

#: Every command, and where it is defined ("module:attribute" in convcli.cli). A command's module
#: (and what it imports: the steps, numpy...) is imported only when that command runs, or when
#: ``--help``, ``help reference`` or shell completion lists the commands.
COMMANDS = {
    "filter": "filter:filter_command",
    "sobel": "sobel:sobel_command",
    "pool": "pool:pool_command",
    "upsample": "upsample:upsample_command",
    "conv2d": "conv2d:conv2d_command",
    "pipeline": "pipeline:pipeline_command",
    "kernels": "kernels:kernels_command",
    "show": "show:show_command",
    "animate": "animate:animate_command",
    "help": "help:help_command",
}


class ConvcliGroup(click.Group):
    """A group that turns Ctrl-C, SIGTERM, a closed pipe, the environment's faults and unexpected
    errors into exit codes and one line, never a traceback; and loads its commands lazily (click's
    LazyGroup pattern: ``lazy_commands`` maps a name to ``"module:attribute"`` in convcli.cli).

    ``commands`` holds the commands loaded so far (and any added with ``add_command``);
    :meth:`list_commands` and :meth:`get_command` see them all.
    """

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(import_module(f"{__name__}.{module_name}"), attribute)
            _completing_types(command)
            self.add_command(command, cmd_name)
        return self.commands.get(cmd_name)

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        # --help and --version print (and may meet a closed pipe) while the options are parsed.
        with _guard(None):
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _guard(ctx):
            return super().invoke(ctx)


@contextlib.contextmanager
def _guard(ctx: click.Context | None) -> Iterator[None]:
    """Map what escapes a command to its exit code (README, "Reports and exit codes")."""
    try:
        yield
    except (click.exceptions.Exit, click.ClickException, click.Abort):
        raise
    except (KeyboardInterrupt, Terminated) as error:
        raise click.exceptions.Exit(_interrupted(error)) from None
    except BrokenPipeError:
        # Standard output's reader went away (`convcli ... | head`): stop, quietly, as SIGPIPE would.
        raise click.exceptions.Exit(CLOSED_PIPE) from None
    except EnvironmentFault as error:
        raise click.ClickException(str(error)) from None
    except Exception as error:
        fault = environment_fault(error)
        if fault is not None:  # the user's environment, not a bug: one line, exit 1
            raise click.ClickException(fault) from None
        if ((ctx.obj if ctx is not None else None) or {}).get("verbose"):
            import traceback  # lazy: only an internal error under -v prints one

            traceback.print_exc()
        raise click.ClickException(
            f"internal error ({type(error).__name__}): {error}; please report it (-v shows the traceback)"
        ) from None


def _interrupted(error: KeyboardInterrupt | Terminated) -> int:
    """Say that the run was interrupted (Ctrl-C) or terminated (a signal); its exit code."""
    word, code = interruption(error)
    say(f"convcli: {word}")
    return code


def resolve_color(choice: str, stream: Any = None, environ: Any = None) -> bool:
    """Whether to colour ``stream`` (standard output by default) for ``--color choice``.

    ``always`` and ``never`` are final; ``auto`` colours only a terminal, and never when
    ``NO_COLOR`` is set and not empty (https://no-color.org).
    """
    if choice == "always":
        return True
    if choice == "never":
        return False
    if ((os.environ if environ is None else environ).get("NO_COLOR") or "") != "":
        return False
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@click.group(cls=ConvcliGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="convcli", message=VERSION_TEXT)
@click.option("-q", "--quiet", is_flag=True,
              help="No summary on standard error (errors and warnings are still shown).")
@click.option("-v", "--verbose", is_flag=True, help="Summarise every file; tracebacks for internal errors.")
@click.option("--color", type=ChoiceType(COLOR_CHOICES), default="auto", show_default=True,
              help="Colour in terminal output: auto (only on a terminal, and not when NO_COLOR is set), "
              "always or never.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool, color: str) -> None:
    """convcli: image convolution with exact, documented shape semantics.

    Standard output carries only data (images with -o -, JSON with --json); messages go to
    standard error. Exit 0: all done; 1: some input failed, or the environment did (a full
    disk, a closed stream, out of memory); 2: usage error; 130: Ctrl-C; 141: standard output's
    reader went away (a closed pipe: convcli stops at once, as if killed by SIGPIPE); 143:
    SIGTERM, SIGHUP or SIGQUIT. The semantics behind the options: convcli help TOPIC; every
    command's options on one page: convcli help reference.
    """
    # ctx.obj["color"]: colour standard output or not. ctx.color steers click.echo/secho: forced
    # by always/never/NO_COLOR; with plain auto, click decides per stream (stdout, stderr).
    ctx.obj = {"quiet": quiet, "verbose": verbose, "color": resolve_color(color)}
    if color != "auto" or os.environ.get("NO_COLOR"):
        ctx.color = ctx.obj["color"]


def _completing_types(command: click.Command) -> None:
    """Give plain-text INPUT arguments and PATH options the types that complete them in the shell
    (files, ``sample:NAME``). Both convert exactly as plain text; a parameter declared with
    ``types.INPUT`` or ``types.PATH_TEXT`` (or any other type) is left alone."""
    for param in command.params:
        if type(param.type) is not click.types.StringParamType:
            continue
        if isinstance(param, click.Argument) and param.name == "inputs":
            param.type = INPUT
        elif isinstance(param, click.Option) and param.metavar in ("PATH", "FILE"):
            param.type = PATH_TEXT
    for sub in getattr(command, "commands", {}).values():
        _completing_types(sub)


_completing_types(cli)  # the group's own options; each command's when it is loaded


def main() -> None:
    """Console-script entry point."""
    # A hang-up (the terminal closed) and SIGQUIT end a run as SIGTERM does: temporary files
    # removed, workers stopped, exit 143.
    for signum in TERMINATING_SIGNALS:
        signal.signal(signum, _terminate)
    reserve_standard_streams()
    if sys.stderr is not None:
        sys.stderr = BestEffort(sys.stderr)  # type: ignore[assignment]
    try:
        cli.main(prog_name="convcli")
        code: Any = 0
    except SystemExit as done:
        code = done.code
    except BrokenPipeError:  # what click itself printed met a closed pipe
        code = CLOSED_PIPE
    except (KeyboardInterrupt, Terminated) as error:
        code = _interrupted(error)
    if code is None:
        code = 0
    elif not isinstance(code, int):
        say(str(code))
        code = 1
    sys.exit(finish_standard_streams(code))
