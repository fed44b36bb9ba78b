"""click parameter types: choices, pairs like ``2,3``, paddings, kernels, inputs, name templates.

Each turns a command-line string into what the core takes, or fails with click's usage error
(exit 2) saying what was expected (for a mistyped choice, also the closest ones). Kernels and
inputs also complete in the shell (click's own completion, ``_CONVCLI_COMPLETE=bash_source
convcli``; see docs/completion.md): completion never raises, never parses a kernel file, never
warns, and imports numpy only to list ``sample:`` names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import BashComplete, CompletionItem, add_completion_class, split_arg_string

from ..errors import did_you_mean

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

TEMPLATE_FIELDS = ("stem", "ext", "op", "kernel", "index", "channel")

SAMPLE_PREFIX = "sample:"
_DESCRIPTION = re.compile(r"^description:[ \t]*(.*?)[ \t]*$", re.MULTILINE)


class ChoiceType(click.Choice):
    """click's Choice (same usage error, exit 2) that ends a mistyped value's message with the
    closest choices, as for kernel names; every choice option of the CLI uses it.

    ``refused`` maps values that are neither listed nor completed to the message that refuses them
    (``--boundary mirror``: the core's explanation).
    """

    def __init__(self, choices: Iterable[str], *, case_sensitive: bool = True,
                 refused: Mapping[str, str] | None = None) -> None:
        super().__init__(tuple(choices), case_sensitive=case_sensitive)
        self.refused = dict(refused or {})

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and self.refused:
            given = self.normalize_choice(value, ctx)
            for name, message in self.refused.items():
                if self.normalize_choice(name, ctx) == given:
                    self.fail(message, param, ctx)
        return super().convert(value, param, ctx)

    def get_invalid_choice_message(self, value: Any, ctx: click.Context | None) -> str:
        message = super().get_invalid_choice_message(value, ctx)
        hint = did_you_mean(self.normalize_choice(str(value), ctx),
                            [self.normalize_choice(choice, ctx) for choice in self.choices])
        return f"{message.rstrip('.')}; {hint}" if hint else message


def _ints(value: str) -> list[int]:
    return [int(part.strip()) for part in value.replace("x", ",").split(",")]


class IntsType(click.ParamType):
    """Comma-separated whole numbers (``2``, ``2,3``, ``0,1,1,0``): as many as ``counts`` allows,
    each at least ``minimum``."""

    def __init__(self, name: str, *, counts: tuple[int, ...], minimum: int, forms: str) -> None:
        self.name, self.counts, self.minimum, self.forms = name, counts, minimum, forms

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        try:
            numbers = _ints(str(value))
        except ValueError:
            self.fail(f"{value!r} is not whole numbers like {self.forms}", param, ctx)
        if len(numbers) not in self.counts:
            self.fail(f"{value!r}: give {self.forms}", param, ctx)
        if min(numbers) < self.minimum:
            self.fail(f"{value!r}: values must be >= {self.minimum}"
                      + (" (padding cannot be negative)" if self.minimum == 0 else ""), param, ctx)
        return self.shape(numbers)

    def shape(self, numbers: list[int]) -> tuple[int, ...]:
        return tuple(numbers)


class PairType(IntsType):
    """``2`` or ``2,3`` (rows, cols) → ``(2, 2)`` / ``(2, 3)``, each at least ``minimum``."""

    def __init__(self, minimum: int = 1) -> None:
        super().__init__("N[,M]", counts=(1, 2), minimum=minimum, forms="one value or two (rows,cols) like 2 or 2,3")

    def shape(self, numbers: list[int]) -> tuple[int, ...]:
        return (numbers[0], numbers[-1])


class PaddingType(IntsType):
    """``P``, ``PH,PW`` or ``TOP,BOTTOM,LEFT,RIGHT`` → a tuple of 1, 2 or 4 ints ``>= 0``."""

    def __init__(self) -> None:
        super().__init__("P[,P[,P,P]]", counts=(1, 2, 4), minimum=0,
                         forms="1 value (all sides), 2 (rows,cols) or 4 (top,bottom,left,right)")


class KernelType(click.ParamType):
    """A kernel spec → :class:`convcli.kernels.Kernel`, searched along ``--kernel-dir`` and
    ``CONVCLI_KERNEL_PATH`` before the built-in library."""

    name = "KERNEL"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        """Kernel names along the search path and the parametric forms starting with ``incomplete``;
        files when it looks like a path or nothing else matches. Never raises."""
        try:
            return kernel_completions(ctx, incomplete)
        except Exception:  # completion must never break the shell
            return [CompletionItem(incomplete, type="file")]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from ..kernels import Kernel, load_kernel

        if isinstance(value, Kernel):
            return value
        kernel_dirs = (ctx.params.get("kernel_dirs") if ctx else None) or ()
        try:
            return load_kernel(str(value), search_path=search_path(ctx, kernel_dirs))
        except ValueError as error:  # KernelError is a ValueError too
            message = str(error)
            if "kernels in one spec" in message and param is not None and param.opts:
                # the core names the kernels; on the command line each is its own -k
                flag = min(param.opts, key=len)
                message += " (" + " ".join(f"{flag} {part.strip()}" for part in str(value).split(",")) + ")"
            self.fail(message, param, ctx)


_KERNEL_PATH_WARNED = "convcli.kernel_path_warned"  # in click's Context.meta, shared by a run's contexts


def search_path(ctx: click.Context | None, kernel_dirs: Sequence[str]) -> list[Path]:
    """The kernel search path of this run: ``--kernel-dir`` folders, ``CONVCLI_KERNEL_PATH``, the built-ins.

    The first time in a run (not while completing), each ``CONVCLI_KERNEL_PATH`` entry that is not
    a folder gets one warning line on standard error; -q does not hide it, nor does it change the
    exit status. A ``--kernel-dir`` that is not a folder is an error (KernelError) instead.
    """
    from ..kernels import kernel_search_path, search_path_problems

    env_path = os.environ.get("CONVCLI_KERNEL_PATH")
    if ctx is None or not (ctx.resilient_parsing or ctx.meta.get(_KERNEL_PATH_WARNED)):
        if ctx is not None:
            ctx.meta[_KERNEL_PATH_WARNED] = True
        from .faults import say

        for problem in search_path_problems(env_path):
            say(f"convcli: warning: CONVCLI_KERNEL_PATH: {problem}")
    return kernel_search_path(kernel_dirs=kernel_dirs, env_path=env_path)


class InputType(click.types.StringParamType):
    """An INPUT: a path, ``-``, ``sample:NAME``, ``shape:HxW`` or ``matrix:1 2; 3 4``. Converts like plain
    text; completes files, ``sample:`` names and the ``matrix:`` prefix."""

    name = "input"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            return input_completions(incomplete)
        except Exception:  # completion must never break the shell
            return [CompletionItem(incomplete, type="file")]


class PathTextType(click.types.StringParamType):
    """Plain text that names a file (``-o PATH``, ``--report PATH``): converts like text, completes files."""

    name = "path"

    def shell_complete(self, ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        return [CompletionItem(incomplete, type="file")]


def template_problem(value: str) -> str | None:
    """What is wrong with the output name template ``value``, or None.

    Only the documented fields (:data:`TEMPLATE_FIELDS`) may appear, each by its bare name, with
    an optional format spec (``{index:04d}``): no attribute or index access (``{stem.__class__}``,
    ``{stem[0]}``), no positional ``{}``, no field inside a format spec.
    """
    import string  # lazy: only a command given a name template needs it

    fields = " ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError as error:
        return f"{value!r}: {error} (write a literal brace as {{{{ or }}}})"
    for _, field, spec, _ in parsed:
        if field is None:
            continue
        if field not in TEMPLATE_FIELDS or "{" in (spec or ""):
            shown = "{" + field + (":" + spec if spec else "") + "}"
            return f"{value!r}: unknown field {shown}; fields are {fields} (no attribute or index access)"
    return None


class TemplateType(click.ParamType):
    """An output name template using only the fields of :data:`TEMPLATE_FIELDS`."""

    name = "TEMPLATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        problem = template_problem(str(value))
        if problem is not None:
            self.fail(problem, param, ctx)
        return str(value)


PAIR = PairType()
PAIR_NONNEG = PairType(minimum=0)
PADDING = PaddingType()
KERNEL = KernelType()
INPUT = InputType()
PATH_TEXT = PathTextType()
TEMPLATE = TemplateType()


# --------------------------------------------------------------------------------------------------
# Shell completion


def kernel_folders(ctx: click.Context | None) -> list[Path]:
    """``--kernel-dir`` folders given so far, then ``CONVCLI_KERNEL_PATH``, then the built-ins."""
    from pathlib import Path  # lazy, as in kernels.spec

    # lazy: the spec grammar (no numpy) only when completing, not for `convcli --version`
    from ..kernels.spec import builtin_kernel_dir

    given = (ctx.params.get("kernel_dirs") if ctx is not None else None) or ()
    env = os.environ.get("CONVCLI_KERNEL_PATH") or ""
    return [*(Path(d) for d in given), *(Path(p) for p in env.split(os.pathsep) if p), builtin_kernel_dir()]


def _description(file: Path) -> str | None:
    """The ``description:`` line of a kernel file, read cheaply (no YAML parsing), or None."""
    try:
        with open(file, encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    match = _DESCRIPTION.search(head)
    if not match or not match.group(1):
        return None
    text = match.group(1)
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text if len(text) <= 72 else text[:71].rstrip() + "…"


def kernel_names(ctx: click.Context | None = None) -> dict[str, Path]:
    """Every ``NAME.yaml`` along the search path (first folder wins), by name; files are not parsed,
    so a broken kernel file still completes (and is reported when used)."""
    from ..kernels.spec import valid_name  # lazy, as in kernel_folders

    found: dict[str, Path] = {}
    for folder in kernel_folders(ctx):
        try:
            files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        except OSError:
            continue
        for file in files:
            name = file.stem
            if name not in found and valid_name(name):
                found[name] = file
    return found


def _looks_like_path(text: str) -> bool:
    from ..kernels.spec import FILE_EXTENSIONS  # lazy, as in kernel_folders

    return text.startswith((".", "~", os.sep)) or os.sep in text or text.lower().endswith(FILE_EXTENSIONS)


def parametric_prefixes() -> tuple[tuple[str, str], ...]:
    """Parametric kernel forms, completed as prefixes the user goes on typing (README, Kernels):
    (prefix, description) pairs."""
    from ..kernels.spec import PARAMETRIC  # lazy, as in kernel_folders

    return tuple((form.prefix, form.completion) for form in PARAMETRIC.values())


def kernel_completions(ctx: click.Context | None, incomplete: str) -> list[CompletionItem]:
    """Completions for a KERNEL argument (see :meth:`KernelType.shell_complete`)."""
    if _looks_like_path(incomplete):
        return [CompletionItem(incomplete, type="file")]
    items = [
        CompletionItem(name, help=_description(file))
        for name, file in sorted(kernel_names(ctx).items())
        if name.startswith(incomplete)
    ]
    items += [CompletionItem(prefix, help=text) for prefix, text in parametric_prefixes()
              if prefix.startswith(incomplete) and prefix != incomplete]
    return items or [CompletionItem(incomplete, type="file")]


def input_completions(incomplete: str) -> list[CompletionItem]:
    """Completions for an INPUT: files, ``sample:NAME`` once the text starts like ``sample:``, and the
    ``matrix:`` prefix of inline numbers once it starts like that."""
    from ..images.formats import MATRIX_PREFIX  # standard library only

    items = [CompletionItem(incomplete, type="file")]
    if incomplete and MATRIX_PREFIX.startswith(incomplete) and incomplete != MATRIX_PREFIX:
        items.append(CompletionItem(MATRIX_PREFIX, help="inline numbers: rows split by ';' ('matrix:1 2; 3 4')"))
    if incomplete and (incomplete.startswith(SAMPLE_PREFIX) or SAMPLE_PREFIX.startswith(incomplete)):
        from ..images import sample_names  # numpy: only when completing a sample name

        items += [CompletionItem(SAMPLE_PREFIX + name, help="scikit-image sample image")
                  for name in sample_names() if (SAMPLE_PREFIX + name).startswith(incomplete)]
    return items


class ConvcliBashComplete(BashComplete):
    """click's bash completion, fixed for words holding ``:`` or ``=`` (``sample:astronaut``,
    ``gaussian:sigma=``), which bash splits apart (they are in ``COMP_WORDBREAKS``).

    The script also passes ``COMP_LINE``/``COMP_POINT``: the Python side then splits the line itself,
    and answers only the part after the last word break, which is what bash replaces. A completion
    ending in ``:`` or ``=`` gets no trailing space. Files are offered next to names (``compgen -f``)
    instead of only when no name matches. Without ``COMP_LINE`` it reads ``COMP_WORDS``/``COMP_CWORD``
    exactly as click does.
    """

    source_template = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response

    response=$(env COMP_WORDS="${COMP_WORDS[*]}" COMP_CWORD=$COMP_CWORD \
COMP_LINE="$COMP_LINE" COMP_POINT="$COMP_POINT" COMP_WORDBREAKS="$COMP_WORDBREAKS" \
%(complete_var)s=bash_complete $1)

    for completion in $response; do
        IFS=',' read type value <<< "$completion"

        if [[ $type == 'dir' ]]; then
            compopt -o filenames
            COMPREPLY+=($(compgen -d -- "$2"))
        elif [[ $type == 'file' ]]; then
            compopt -o filenames
            COMPREPLY+=($(compgen -f -- "$2"))
        elif [[ $type == 'nospace' ]]; then
            compopt -o nospace
            COMPREPLY+=($value)
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=($value)
        fi
    done

    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""

    _strip = ""

    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("COMP_LINE")
        if not line:
            return super().get_completion_args()
        try:
            point = int(os.environ.get("COMP_POINT") or len(line))
        except ValueError:
            point = len(line)
        text = line[:point]
        words = split_arg_string(text)
        # The text ends between words when appending a letter starts a new word.
        if len(split_arg_string(text + "x")) > len(words):
            args, incomplete = words[1:], ""
        else:
            args, incomplete = words[1:-1], words[-1]
        breaks = os.environ.get("COMP_WORDBREAKS", "\"'><=;|&(:")
        cut = max((incomplete.rfind(c) for c in set(breaks) if not c.isspace()), default=-1)
        self._strip = incomplete[: cut + 1]
        return args, incomplete

    def format_completion(self, item: CompletionItem[Any]) -> str:
        value = str(item.value)
        kind = item.type
        if kind == "plain" and value.endswith((":", "=")):
            kind = "nospace"
        if kind in ("plain", "nospace") and self._strip and value.startswith(self._strip):
            value = value[len(self._strip):]
        return f"{kind},{value}"


add_completion_class(ConvcliBashComplete, "bash")
