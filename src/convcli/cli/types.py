"""click parameter types: pairs like ``2,3``, paddings, kernels, name templates.

Each turns a command-line string into what the core takes, or fails with click's usage error
(exit 2) saying what was expected.
"""

from __future__ import annotations

import os
import string
from typing import Any

import click

TEMPLATE_FIELDS = ("stem", "ext", "op", "kernel", "index")


def _ints(value: str) -> list[int]:
    return [int(part.strip()) for part in value.replace("x", ",").split(",")]


class PairType(click.ParamType):
    """``2`` or ``2,3`` (rows, cols) → ``(2, 2)`` / ``(2, 3)``, each at least ``minimum``."""

    name = "N[,M]"

    def __init__(self, minimum: int = 1) -> None:
        self.minimum = minimum

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            numbers = _ints(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a whole number or a pair like 2,3", param, ctx)
        if len(numbers) not in (1, 2):
            self.fail(f"{value!r}: give one value or two (rows,cols)", param, ctx)
        if min(numbers) < self.minimum:
            self.fail(f"{value!r}: values must be >= {self.minimum}", param, ctx)
        return (numbers[0], numbers[-1])


class PaddingType(click.ParamType):
    """``P``, ``PH,PW`` or ``TOP,BOTTOM,LEFT,RIGHT`` → a tuple of 1, 2 or 4 ints ``>= 0``."""

    name = "P[,P[,P,P]]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            numbers = _ints(str(value))
        except ValueError:
            self.fail(f"{value!r} is not whole numbers like 1 or 1,2 or 0,1,1,0", param, ctx)
        if len(numbers) not in (1, 2, 4):
            self.fail(
                f"{value!r}: give 1 value (all sides), 2 (rows,cols) or 4 (top,bottom,left,right)", param, ctx
            )
        if min(numbers) < 0:
            self.fail(f"{value!r}: padding cannot be negative", param, ctx)
        return tuple(numbers)


class KernelType(click.ParamType):
    """A kernel spec → :class:`convcli.kernels.Kernel`, searched along ``--kernel-dir`` and
    ``CONVCLI_KERNEL_PATH`` before the built-in library."""

    name = "KERNEL"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..kernels import Kernel, kernel_search_path, load_kernel

        if isinstance(value, Kernel):
            return value
        kernel_dirs = (ctx.params.get("kernel_dirs") if ctx else None) or ()
        try:
            search_path = kernel_search_path(
                kernel_dirs=kernel_dirs, env_path=os.environ.get("CONVCLI_KERNEL_PATH")
            )
            return load_kernel(str(value), search_path=search_path)
        except ValueError as error:  # KernelError is a ValueError too
            self.fail(str(error), param, ctx)


class TemplateType(click.ParamType):
    """An output name template using only ``{stem} {ext} {op} {kernel} {index}``."""

    name = "TEMPLATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(str(value)) if f is not None]
        except ValueError as error:
            self.fail(f"{value!r}: {error} (write a literal brace as {{{{ or }}}})", param, ctx)
        for field in fields:
            base = field.split("!")[0].split(":")[0].split(".")[0].split("[")[0]
            if base not in TEMPLATE_FIELDS:
                self.fail(
                    f"{value!r}: unknown field {{{field}}}; fields are "
                    + " ".join("{" + f + "}" for f in TEMPLATE_FIELDS),
                    param,
                    ctx,
                )
        return str(value)


PAIR = PairType()
PAIR_NONNEG = PairType(minimum=0)
PADDING = PaddingType()
KERNEL = KernelType()
TEMPLATE = TemplateType()
