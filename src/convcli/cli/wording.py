"""How the command line words what the core says about options.

The core names an option by its parameter name, in backticks: `` `max_pixels` ``, `` `mode: same` ``
(what the Python API and pipeline files call it; convcli.steps.base.Wording). On the command line,
the names that are options of the running command become its flags (``--max-pixels``,
``--mode same``); the others (a pipeline file's keys, under ``convcli pipeline``) stay as they are,
and so do the keys named by a message about a line of a file (a kernel file's `` `normalize` ``
key is not the ``--normalize`` flag).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import click

#: A name in backticks, with an optional value: `mode`, `mode: same`.
_NAMED = re.compile(r"`([a-z][a-z0-9_]*)(?:: ([^`]+))?`")


class FlagWording:
    """The command line's wording of step options in messages: ``--size K``, ``--size``, ``KY,KX``,
    ``--global`` (see convcli.steps.base.Wording, whose YAML-key wording pipeline files get)."""

    def __call__(self, name: str, value: str | None = None) -> str:
        return f"--{name.replace('_', '-')}" + ("" if value is None else f" {value}")

    def pair(self, first: str, second: str) -> str:
        return f"{first},{second}"

    def switch(self, name: str) -> str:
        return self(name)


#: Step options named as the command line's flags.
FLAGS = FlagWording()


def command_flags(ctx: click.Context | None = None) -> dict[str, tuple[str, bool]]:
    """The running command's options (and the group's) by parameter name: ``(long flag, is a switch)``."""
    ctx = ctx or click.get_current_context(silent=True)
    flags: dict[str, tuple[str, bool]] = {}
    while ctx is not None:
        for param in ctx.command.params:
            if isinstance(param, click.Option) and param.name:
                own = "--" + param.name.rstrip("_").replace("_", "-")  # not an alias (--strides)
                flag = own if own in param.opts else max(param.opts, key=len)
                flags.setdefault(param.name.rstrip("_"), (flag, bool(param.is_flag)))
        ctx = ctx.parent
    return flags


def worded(message: str, flags: Mapping[str, tuple[str, bool]]) -> str:
    """``message`` with the options in ``flags`` named as flags.

    Examples
    --------
    >>> flags = {"max_pixels": ("--max-pixels", False), "global": ("--global", True)}
    >>> worded("raise `max_pixels`; drop `global: true`; `mode` stays", flags)
    'raise --max-pixels; drop --global; `mode` stays'
    """
    def flag(match: re.Match) -> str:
        name, value = match.groups()
        if name not in flags:
            return match.group(0)
        option, switch = flags[name]
        return option if value is None or (switch and value == "true") else f"{option} {value}"

    return _NAMED.sub(flag, message)


def error_text(error: BaseException, flags: Mapping[str, tuple[str, bool]]) -> str:
    """An error's message for the command line, worded with ``flags``. A message about a line of a
    file (a pipeline or kernel file) keeps the names that are keys of such files: there
    `` `normalize` `` is the kernel file's key, not the ``--normalize`` flag."""
    text = str(error)
    if getattr(error, "line", None) is not None:
        keys = _file_keys()
        flags = {name: flag for name, flag in flags.items() if name not in keys}
    return worded(text, flags)


def _file_keys() -> frozenset[str]:
    """The keys of pipeline files (their step options included) and kernel files."""
    from ..kernels.files import YAML_KEYS
    from ..steps import KINDS

    return frozenset({"steps", "name", "description", "save", *YAML_KEYS,
                      *(name for kind in KINDS.values() for name in kind.names)})
