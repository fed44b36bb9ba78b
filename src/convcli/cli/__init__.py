"""The command-line layer: parse options, call the core, write outputs, map errors to exit codes.

Exit codes (DESIGN §10): 0 everything done; 1 some input failed; 2 usage error (bad option,
unknown kernel, bad kernel file); 130 interrupted; 143 terminated.
"""

from __future__ import annotations

import signal
import sys
import traceback
from typing import Any

import click

from .._version import __version__
from .filter import filter_command
from .kernels import kernels_command
from .pipeline import pipeline_command
from .pool import pool_command
from .sobel import sobel_command
from .upsample import upsample_command


class Terminated(BaseException):
    """SIGTERM arrived: unwind (removing temporary files) and exit 143."""


class ConvcliGroup(click.Group):
    """A group that turns Ctrl-C, SIGTERM and unexpected errors into exit codes, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("convcli: interrupted", err=True)
            raise click.exceptions.Exit(130) from None
        except Terminated:
            click.echo("convcli: terminated", err=True)
            raise click.exceptions.Exit(143) from None
        except BrokenPipeError:
            # The reader went away (`convcli ... | head`): nothing more to say to it.
            sys.stderr.close()
            raise click.exceptions.Exit(1) from None
        except Exception as error:
            if (ctx.obj or {}).get("verbose"):
                traceback.print_exc()
            raise click.ClickException(
                f"internal error ({type(error).__name__}): {error}; please report it (-v shows the traceback)"
            ) from None


@click.group(cls=ConvcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="convcli", message="%(prog)s %(version)s")
@click.option("-q", "--quiet", is_flag=True, help="No summary on standard error (errors are still shown).")
@click.option("-v", "--verbose", is_flag=True, help="Summarise every file; tracebacks for internal errors.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """convcli: image convolution with exact, documented shape semantics.

    Standard output carries only data (images with -o -, JSON with --json); messages go to
    standard error. Exit 0: all done; 1: some input failed; 2: usage error.
    """
    ctx.obj = {"quiet": quiet, "verbose": verbose}


for command in (filter_command, sobel_command, pool_command, upsample_command, pipeline_command, kernels_command):
    cli.add_command(command)


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated()


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="convcli")
