"""The batch loop every image command shares: plan outputs, then read → compute → write each input.

A command hands :func:`run_batch` its inputs, the names of the products it makes from each input
(one per kernel, or one stacked array), and two core-calling functions: ``compute`` (image → arrays
and report steps) and ``describe`` (header → shapes and steps, for ``--dry-run``). This module owns
what commands must never do differently: folder inputs, refusing an output that is an input, atomic
writes, one error line per failed file, worker processes (``--jobs``), the progress bar, the JSON
report and the human summary, and the exit code.

Worker processes (``--jobs N``, default one per CPU core) are forked (Linux): the command's
``compute``/``describe`` are closures, which cannot be pickled, so they wait in the module-level
``_JOB`` when the pool forks, and the only thing sent to a worker is an input's position. A worker
reads, computes, encodes and writes (atomically) by itself and sends back plain data: the input's
report entries and its error lines. The parent prints those and builds the report in input order,
so the results of any ``--jobs`` are those of ``--jobs 1`` (times aside).
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import click

from .._entry import TERMINATING_SIGNALS
from .faults import closed, echo_data, environment_fault, say, stdout_closed, write_data
from .options import OutputOptions
from .types import template_problem

# Formats that can hold any number of channels: where stacked kernel outputs must go.
STACKABLE = ("npy", "tiff")
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif", "bmp": ".bmp", "gif": ".gif", "webp": ".webp", "npy": ".npy"}
FORMAT_ALIASES = {"jpg": "jpeg", "tif": "tiff"}
#: What a folder INPUT contributes: files with these extensions (any case); hidden files and
#: folders (names starting with a dot) are skipped.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".npy")


@dataclass
class Source:
    """One input as the command line named it (a folder INPUT gives one per image inside)."""

    label: str            # as given: a path, "sample:NAME" or "-"
    source: str | bytes   # what convcli.images reads: a path, "sample:NAME" or standard input's bytes
    stem: str
    ext: str              # with the dot; the output extension {ext} stands for
    index: int            # 1-based position among the inputs
    path: str | None      # the file, when it is one
    folder: str = ""      # its sub-folder inside a folder INPUT read with --recursive (mirrored under -O)


@dataclass
class Target:
    """One output file (or standard output) and which product of its input it holds."""

    path: str
    product: int
    format: str
    shown_only: bool = False  # a dry run without -o/-O: the file -O DIR would write, only described


@dataclass
class Product:
    """One result of one input: what ``compute`` returns (and, without pixels, ``describe``)."""

    array: Any                     # the result; None in a dry run
    steps: list[dict]
    has_alpha: bool = False
    shape: tuple[int, ...] | None = None   # the result's shape when there is no array (dry run)
    kind: str = "values"           # "values", "angle" (radians) or "mask" (booleans): see images.map_values
    scale: str = "clip"            # this command's default --scale for integer outputs
    extra: dict = field(default_factory=dict)  # more report fields (e.g. global pooling values)
    dtype: str | None = None       # a dtype this product is always written in (a contact sheet: uint8)
    planned_dtype: str | None = None  # the dtype the steps compute, known without pixels (dry run)
    whole: bool = False            # never split into channel files (a contact sheet is one picture)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape) if self.array is not None else tuple(self.shape or ())


# --------------------------------------------------------------------------------------------------
# Inputs


def collect_sources(inputs: Sequence[str], *, recursive: bool | None = None) -> list[Source]:
    """Turn INPUT arguments into sources; ``-`` reads standard input (once).

    A folder stands for the image files inside it (by extension, any case; hidden ones skipped),
    in sorted order; with ``recursive`` (default: the command's ``--recursive``) for those in its
    sub-folders too, each remembering its sub-folder so that -O DIR can mirror it. A folder with
    no image is a usage error.
    """
    from ..images import sniff_format

    if recursive is None:
        ctx = click.get_current_context(silent=True)
        recursive = bool(ctx is not None and ctx.params.get("recursive"))
    sources: list[Source] = []
    stdin_used = False
    for name in inputs:
        index = len(sources) + 1
        if name == "-":
            if stdin_used:
                raise click.UsageError("'-' (standard input) can be given only once")
            stdin_used = True
            if closed(sys.stdin):  # `<&-`
                raise click.ClickException("'-': standard input is closed; nothing to read")
            data = _read_stdin(_ctx_limit("max_file_size"))
            fmt = sniff_format(data[:16]) or "png"
            sources.append(Source("-", data, "stdin", EXTENSIONS.get(fmt, ".png"), index, None))
        elif name.startswith("sample:"):
            sample = name.split(":", 1)[1]
            sources.append(Source(name, name, sample, ".png", index, None))
        elif name.startswith("shape:"):  # a shape without pixels, for --dry-run
            sources.append(Source(name, name, "shape", ".npy", index, None))
        elif os.path.isdir(name):
            for relative in _images_in(name, recursive=recursive):
                path = os.path.join(name, relative)
                stem, ext = os.path.splitext(os.path.basename(relative))
                sources.append(Source(path, path, stem, ext, len(sources) + 1, path, os.path.dirname(relative)))
        else:  # a file (or a missing path: reading it will say so)
            stem, ext = os.path.splitext(os.path.basename(name.rstrip(os.sep)) or name)
            sources.append(Source(name, name, stem, ext or ".png", index, name))
    return sources


def _ctx_limit(name: str) -> Any:
    """The value of a limit option (``max_file_size``, ...) of the running command, or None."""
    ctx = click.get_current_context(silent=True)
    return ctx.params.get(name) if ctx is not None else None


def _read_stdin(max_file_size: int | None) -> bytes:
    """Standard input's bytes: at most one byte past the file-size limit (default
    ``images.DEFAULT_MAX_FILE_SIZE``), so that an endless or huge stream is refused, not held.

    Its first bytes are read first: when they are no image format (``< /dev/zero``, a text file),
    only they are returned, and reading them refuses the input at once, without reading the rest.
    """
    from ..images import DEFAULT_MAX_FILE_SIZE, SNIFF_BYTES, sniff_format

    limit = max_file_size or DEFAULT_MAX_FILE_SIZE
    stream, chunks, total = sys.stdin.buffer, [], 0
    sniffed = False
    while total <= limit:  # in pieces: read(limit + 1) would allocate the whole limit at once
        # The head in small reads (a pipe gives what it has), then pieces of 1 MiB.
        size = SNIFF_BYTES - total if not sniffed else 1 << 20
        chunk = stream.read(min(size, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if not sniffed and total >= SNIFF_BYTES:
            sniffed = True
            if sniff_format(b"".join(chunks)) is None:
                break
    return b"".join(chunks)


def _images_in(folder: str, *, recursive: bool) -> list[str]:
    """The image files in ``folder`` (and its sub-folders), as sorted paths relative to it."""

    def wanted(entry: os.DirEntry) -> bool:
        return (not entry.name.startswith(".") and os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS
                and entry.is_file())  # follows links; a broken link or a FIFO is no image file

    found: list[tuple[str, ...]] = []
    has_subfolders = False
    todo = [()]
    while todo:
        parts = todo.pop()
        where = os.path.join(folder, *parts)
        try:
            with os.scandir(where) as entries:
                listed = list(entries)
        except OSError as error:
            raise click.UsageError(f"{_shown(where)}: cannot read this folder: {error.strerror or error}") from None
        for entry in listed:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                has_subfolders = True
                if recursive:
                    todo.append(parts + (entry.name,))
            elif wanted(entry):
                found.append(parts + (entry.name,))
    if not found:
        hint = "; add --recursive to take the images in its sub-folders" if has_subfolders and not recursive else ""
        raise click.UsageError(
            f"{_shown(folder)}: no image files in this folder (looked for {' '.join(IMAGE_EXTENSIONS)}){hint}"
        )
    return [os.path.join(*parts) for parts in sorted(found)]


# --------------------------------------------------------------------------------------------------
# Outputs


def _format_of(path: str, options: OutputOptions, source: Source) -> str:
    from ..images import format_from_path, sniff_format, written_through

    # Standard output, and a device or FIFO (-o /dev/null, -o /dev/stdout), need no extension:
    # --format, else the name's extension if it has one, else the input's format.
    if path == "-" or written_through(path):
        if options.output_format:
            return FORMAT_ALIASES.get(options.output_format, options.output_format)
        if path != "-":
            try:
                return format_from_path(path)
            except ValueError:
                pass
        if isinstance(source.source, bytes):
            return sniff_format(source.source[:16]) or "png"
        try:  # the input's own format ("x" + ext: a bare ".npy" would read as a hidden file's name)
            return format_from_path("x" + source.ext) if source.ext else "png"
        except ValueError:
            return "png"
    if os.path.isdir(path):  # `-o out/` for a folder of results: that is -O's job
        raise click.BadParameter(
            f"{_shown(path)} is a folder; -o names one output file: give -O {_shown(path)} to write into the "
            "folder (names from --name), or a file name in it", param_hint="'-o'")
    try:
        fmt = format_from_path(path)
    except ValueError as error:
        raise click.BadParameter(f"{_shown(path)}: {error}", param_hint="output") from None
    wanted = FORMAT_ALIASES.get(options.output_format, options.output_format) if options.output_format else None
    if wanted is not None and wanted != fmt:
        raise click.BadParameter(
            f"{_shown(path)} is a {fmt.upper()} file name but --format says {options.output_format}; "
            "--format is for -o - and {ext} in --name", param_hint="'--format'")
    return fmt


def plan_targets(
    sources: Sequence[Source],
    products: Sequence[str],
    options: OutputOptions,
    *,
    op: str,
    templates: dict[int, str] | None = None,
    reads: Sequence[tuple[str, str]] = (),
) -> dict[int, list[Target]]:
    """Every output path, decided before any pixel is read, and checked: no output (nor a --split
    channel file, nor the report) is a file the run reads (an input, standard input's file, one of
    ``reads``: kernel and pipeline files) or another output, and every output folder exists.

    ``templates`` gives some products a name of their own (a pipeline step's ``save:``), filled in
    like ``--name`` and placed in -O DIR when there is one. In -O DIR, an input found in a
    sub-folder of a folder INPUT (``--recursive``) gets its output in the same sub-folder of DIR.
    """
    templates = templates or {}
    main_products = [p for number, p in enumerate(products) if number not in templates]

    if options.output is not None:
        if len(sources) != 1:
            raise click.UsageError(f"-o takes one input, got {len(sources)}; use -O DIR for several")
        template = options.output
        if len(main_products) > 1 and "{kernel}" not in template:
            raise click.UsageError("several outputs per input need {kernel} in the output name")
    elif options.output_dir is not None:
        template = options.name_template or ("{stem}-{kernel}{ext}" if len(main_products) > 1 else "{stem}{ext}")
        if len(main_products) > 1 and "{kernel}" not in template:
            raise click.UsageError("several outputs per input need {kernel} in --name")
    elif options.dry_run and options.output_required:  # nothing named: describe what -O DIR would write
        template = "{stem}-{kernel}{ext}" if len(main_products) > 1 else "{stem}{ext}"
    else:
        template = None
    shown_only = options.output is None and options.output_dir is None
    named = [(own, "save") for own in templates.values()]
    if template is not None:
        named.insert(0, (template, "'-o'" if options.output is not None else "'--name'"))
    for name, hint in named:
        if "{" in name:  # filled in below: the documented fields only, checked before any is filled
            problem = template_problem(name)
            if problem is not None:
                raise click.BadParameter(problem, param_hint=hint)
    plan: dict[int, list[Target]] = {}
    seen: dict[str, str] = {}
    for source in sources:
        targets: list[Target] = []
        ext = source.ext
        if options.output_format:
            ext = EXTENSIONS[FORMAT_ALIASES.get(options.output_format, options.output_format)]
        in_dir = os.path.join(options.output_dir, source.folder) if options.output_dir is not None else None
        for number, product in enumerate(products):
            own = templates.get(number)
            if own is not None:
                name, folder = own, (in_dir if in_dir is not None and not os.path.isabs(own) else None)
            elif template is not None and not (shown_only and source.path is None and source.label.startswith("shape:")):
                # (a shape: input is a calculator: no file to describe)
                name, folder = template, (in_dir if options.output is None else None)
            else:
                continue
            if name == "-" and folder is None:
                path = "-"
            else:
                if "{" in name:
                    try:
                        # {channel} stays for --split to fill in, one file per channel
                        name = name.format(stem=source.stem, ext=ext, op=op, kernel=product, index=source.index,
                                           channel="{channel}")
                    except (KeyError, IndexError, ValueError) as error:
                        raise click.BadParameter(f"cannot fill {name!r}: {error}", param_hint="output name")
                path = os.path.join(folder, name) if folder is not None else name
            if path != "-" and path in seen and not _is_char_device(path):  # /dev/null takes any number
                if seen[path] == source.label:
                    raise click.UsageError(f"two outputs of {_shown(source.label)} would both be {_shown(path)}; "
                                           "give them different names")
                raise click.UsageError(
                    f"{_shown(seen[path])} and {_shown(source.label)} would both write {_shown(path)}; "
                    "add {index} to the name"
                )
            seen[path] = source.label
            targets.append(Target(path, number, _format_of(path, options, source),
                                  shown_only=shown_only and own is None))
        plan[source.index] = targets
    _check_plan(sources, plan, options, products=products, templates=templates, reads=reads)
    return plan


def _file_id(path: str) -> tuple[int, int] | None:
    return _identity(path)[0]


def _identity(path: str) -> tuple[tuple[int, int] | None, bool]:
    """``(st_dev, st_ino)`` of ``path`` (None when it does not exist) and whether it is a character
    device, from one ``stat``."""
    import stat

    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None, False
    return (st.st_dev, st.st_ino), stat.S_ISCHR(st.st_mode)


def _is_char_device(path: str) -> bool:
    """A character device (``/dev/null``) takes any number of writes of one run; a FIFO does not
    (its reader would get them run together)."""
    return _identity(path)[1]


def _stdin_id() -> tuple[int, int] | None:
    """The identity of the file on standard input (``< FILE``), None for a pipe, a terminal, none."""
    import stat

    try:
        st = os.fstat(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):  # no file descriptor (io.UnsupportedOperation is both)
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def split_paths(path: str) -> tuple[str, str]:
    """The files one target may become with --split: ``(path of a one-channel result, pattern of
    the per-channel files)``; the pattern holds ``{channel}`` (NAME.png → NAME-c{channel}.png).

    Examples
    --------
    >>> split_paths("out/a.png"), split_paths("{channel}-a.png")
    (('out/a.png', 'out/a-c{channel}.png'), ('-a.png', '{channel}-a.png'))
    """
    plain = path.replace("{channel}", "")
    if "{channel}" not in path:
        stem, ext = os.path.splitext(path)
        path = f"{stem}-c{{channel}}{ext}"
    return plain, path


def _check_plan(sources: Sequence[Source], plan: dict[int, list[Target]], options: OutputOptions, *,
                products: Sequence[str], templates: dict[int, str], reads: Sequence[tuple[str, str]]) -> None:
    """Before any work: no file the run writes is one it reads or another it writes (see
    :func:`_refuse_clobbering`); every -o folder exists; --report names a file in a folder that
    exists; --dtype suits every output format."""
    writes: list[tuple[str, str]] = []
    for targets in plan.values():
        for target in targets:
            if target.path == "-" or target.shown_only:
                continue
            role = "output" if target.product not in templates else f"{products[target.product]} output"
            plain, pattern = split_paths(target.path)
            writes.append((role, plain))
            if options.split:
                from ..images import written_through

                if written_through(target.path):  # as for -o -: NAME-c0... would be new files beside it
                    raise click.UsageError(f"--split writes one file per channel; {_shown(target.path)} is a "
                                           "device or FIFO, not a file name")
                writes.append((role, pattern))
            folder = os.path.dirname(target.path) or "."
            if options.output_dir is None and not os.path.isdir(folder):
                raise click.BadParameter(f"folder {_shown(folder)} does not exist", param_hint="'-o'")
            if options.dtype is not None:  # a dtype the format cannot hold is known before any work
                from ..errors import ImageWriteError
                from ..images import check_writable

                try:
                    check_writable(target.format, (1, 1), options.dtype)
                except ImageWriteError as error:
                    raise click.BadParameter(f"{_shown(target.path)}: {error.message}",
                                             param_hint="'--dtype'") from None
    if options.report_path not in (None, "-"):
        folder = os.path.dirname(options.report_path) or "."
        if not os.path.isdir(folder):
            raise click.BadParameter(f"folder {_shown(folder)} does not exist", param_hint="'--report'")
        if os.path.isdir(options.report_path):
            raise click.BadParameter(f"{_shown(options.report_path)} is a folder; give a file name for the report",
                                     param_hint="'--report'")
        writes.append(("report", options.report_path))
    read = [("input", source.path) for source in sources if source.path] + list(reads)
    _refuse_clobbering(read, writes, stdin=any(source.label == "-" for source in sources))


def _shown(path: str) -> str:
    from ..errors import shown_path

    return shown_path(path)


#: What ``{channel}`` becomes in a --split file name: a channel number, as ``str(int)`` writes it.
_CHANNEL_NUMBER = "(?:0|[1-9][0-9]*)"


def _refuse_clobbering(reads: Sequence[tuple[str, str]], writes: Sequence[tuple[str, str]], *, stdin: bool) -> None:
    """Refuse (usage error, exit 2) a run that would write a file it reads, or one file twice.

    ``reads`` and ``writes`` are ``(role, path)`` pairs: inputs, kernel files, pipeline files;
    outputs, ``save:`` files, sheets, the report. A written name holding ``{channel}`` is a
    --split pattern: every channel number. Files are compared by real folder and name (folder
    links, ``./``) and, when they exist, by identity (``st_dev``, ``st_ino``: symbolic and hard
    links); with ``stdin``, standard input's file (``< FILE``) is a read file too. One ``stat``
    per file and one listing per folder of --split outputs, so thousands of inputs are checked in
    a blink. The message names both files.
    """
    real: dict[str, str] = {}

    def where(path: str) -> tuple[str, str]:
        folder, name = os.path.split(path)
        folder = folder or "."
        if folder not in real:
            real[folder] = os.path.realpath(folder)
        return real[folder], name

    def overwrite(written: str, read: str) -> click.UsageError:
        return click.UsageError(f"{written} is {read}; refusing to overwrite a file this run reads")

    def twice(one: str, other: str) -> click.UsageError:
        return click.UsageError(f"{one} and {other} are the same file; give them different names")

    read_at: dict[tuple[str, str], str] = {}
    read_id: dict[tuple[int, int], str] = {}
    for role, path in reads:
        label = f"the {role} {_shown(path)}"
        read_at.setdefault(where(path), label)
        file_id = _file_id(path)
        if file_id is not None:
            read_id.setdefault(file_id, label)
    stdin_id = _stdin_id() if stdin else None
    if stdin_id is not None:
        read_id.setdefault(stdin_id, "the file on standard input")

    written_at: dict[tuple[str, str], str] = {}
    written_id: dict[tuple[int, int], str] = {}
    # --split patterns: real folder → the literal text before {channel} → (regex, label, folder as given)
    patterns: dict[str, dict[str, list[tuple[re.Pattern, str, str]]]] = {}
    for role, path in writes:
        label = f"{role} {_shown(path)}"
        folder, name = where(path)
        if "{channel}" in name:
            parts = name.split("{channel}")
            regex = re.compile(_CHANNEL_NUMBER.join(re.escape(part) for part in parts))
            patterns.setdefault(folder, {}).setdefault(parts[0], []).append((regex, label, os.path.dirname(path)))
            continue
        file_id, device = _identity(path)
        found = read_at.get((folder, name)) or (read_id.get(file_id) if file_id is not None else None)
        if found is not None:
            raise overwrite(label, found)
        if device:  # /dev/null takes any number of writes
            continue
        other = written_at.get((folder, name)) or (written_id.get(file_id) if file_id is not None else None)
        if other is not None and other != label:
            raise twice(other, label)
        written_at[(folder, name)] = label
        if file_id is not None:
            written_id[file_id] = label
    if not patterns:
        return

    def per_channel(folder: str, name: str) -> str | None:
        """``OUTPUT (one file per channel, --split) would write NAME``, when a --split pattern in
        ``folder`` (real) matches ``name``."""
        table = patterns.get(folder)
        if table:
            for start, char in enumerate(name):
                if char in "0123456789":  # where a channel number may begin
                    for regex, label, given in table.get(name[:start], ()):
                        if regex.fullmatch(name):
                            written = _shown(os.path.join(given, name))
                            return f"{label} (one file per channel, --split) would write {written}"
        return None

    for (folder, name), label in read_at.items():
        found = per_channel(folder, name)
        if found is not None:
            raise click.UsageError(f"{found}, which is {label}; refusing to overwrite a file this run reads")
    for (folder, name), label in written_at.items():
        found = per_channel(folder, name)
        if found is not None:
            raise click.UsageError(f"{found}, which {label} writes too; give them different names")
    for folder in patterns:  # links and hard links to read files, under a per-channel name
        try:
            with os.scandir(folder) as entries:
                listed = [(entry.name, entry.path) for entry in entries]
        except OSError:
            continue
        for name, path in listed:
            found = per_channel(folder, name)
            file_id = _file_id(path) if found is not None else None
            if file_id is not None and file_id in read_id:
                raise click.UsageError(
                    f"{found}, which is {read_id[file_id]}; refusing to overwrite a file this run reads")


# --------------------------------------------------------------------------------------------------
# The batch


def worker_count(jobs: int | None) -> int:
    """``--jobs``, or by default the number of CPU cores this process may use."""
    if jobs is not None:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_batch(
    *,
    command: str,
    sources: Sequence[Source],
    products: Sequence[str],
    options: OutputOptions,
    compute: Callable[[Any, Any], list[Product]],
    describe: Callable[[Any], list[Product]],
    stackable: Sequence[bool] | None = None,
    show: Callable[[Source, list[Product]], None] | None = None,
    templates: dict[int, str] | None = None,
    memory: Callable[[Any, list[tuple[int, str, str]]], Any] | None = None,
    reads: Sequence[tuple[str, str]] = (),
) -> None:
    """Run one command over its inputs, write outputs, the report and the summary, and exit.

    ``compute(image, info)`` and ``describe(info)`` (for ``--dry-run``, from the header alone)
    return one :class:`Product` per name in ``products``. ``stackable[i]`` says product ``i`` may
    hold more channels than an image format can (a kernel bank stacked into one array): its output
    must be ``.npy`` or TIFF. ``show(source, products)``, if given, prints results as data on
    standard output (global pooling's table), always in this process and in input order.
    ``templates`` names some products' files themselves (see :func:`plan_targets`); ``reads``
    lists the files the run reads besides its inputs, as ``(role, path)`` (kernel files, the
    pipeline file), which no output may overwrite.
    ``memory(info, outputs)`` estimates an input's working memory from its header and the files
    it makes (``outputs``: (product, dtype, format)), as a :class:`convcli.pipeline.Memory`: it is
    held to ``--max-memory`` before anything is decoded and reported as each file's ``memory``.

    With several inputs and ``--jobs`` other than 1, inputs are done by forked worker processes;
    ``compute`` and ``describe`` then run there (they need not be picklable).
    """
    from .. import images
    from ..errors import EnvironmentFault
    from ..report import build_report, summary_lines, to_json

    started = time.perf_counter()
    root = click.get_current_context().find_root()
    state = root.obj or {}
    verbose, quiet = state.get("verbose", False), state.get("quiet", False)
    plan = plan_targets(sources, products, options, op=command, templates=templates, reads=reads)
    for targets in plan.values():
        for target in targets:
            if (target.product < len(stackable or ()) and stackable[target.product] and target.format not in STACKABLE
                    and not target.shown_only):
                raise click.UsageError(
                    f"several kernels stack into one array with one channel per kernel: write {_shown(target.path)} "
                    "as .npy or .tif, or give {kernel} in the name for one file per kernel"
                )
    writes_stdout = any(t.path == "-" for targets in plan.values() for t in targets)
    for wanted, what in ((writes_stdout and not options.dry_run, "the image"),
                         (options.report_path == "-", "the report"), (show is not None, "the values")):
        if wanted and stdout_closed():  # `>&-`: known before any work
            raise click.ClickException(f"standard output is closed; nowhere to write {what}")
    if writes_stdout and not options.dry_run and _is_terminal(sys.stdout):  # image bytes would garble it
        raise click.UsageError("-o - writes the image's bytes to standard output, which is a terminal here; "
                               "redirect it (> out.png) or pipe it (| other-command), or give -o FILE")
    if not options.dry_run:
        folders = {os.path.dirname(t.path) or "." for targets in plan.values() for t in targets
                   if t.path != "-" and not images.written_through(t.path)}  # nothing is created beside a device
        if options.report_path not in (None, "-") and not images.written_through(options.report_path):
            folders.add(os.path.dirname(options.report_path) or ".")
        for folder in sorted(folders):
            _check_folder(folder, create=options.output_dir is not None)

    job = _Job(sources=list(sources), plan=plan, options=options, compute=compute, describe=describe,
               show=show is not None, verbose=verbose,
               limits=options.limits(), memory=memory)
    workers = min(worker_count(options.jobs), len(job.sources))
    if writes_stdout or "fork" not in _start_methods():
        workers = 1
    progress = _Progress(
        command, len(job.sources), root.color,
        # On a terminal only; with --json too (the report comes after the bar is gone), but not
        # while values are printed on the same terminal.
        enabled=(not quiet and len(job.sources) > 1 and _is_terminal(sys.stderr)
                 and not (show is not None and _is_terminal(sys.stdout))),
    )
    entries: list[dict] = []
    finished = {"done": 0, "failed": 0}  # inputs, as they are emitted

    def emit(outcome: _Outcome) -> None:
        """One input's results, in input order: its shown data, its error lines, its entries."""
        if show is not None and outcome.shown is not None:
            try:
                show(job.sources[outcome.position], outcome.shown)
            except EnvironmentFault as error:  # the values are this input's data: their write failing fails it
                seconds = sum(entry.get("seconds") or 0 for entry in outcome.entries)
                outcome.entries.clear()
                _fail(outcome, job.sources[outcome.position], error, time.perf_counter() - seconds)
        for line in outcome.errors:
            progress.echo(line)
        entries.extend(outcome.entries)
        finished["failed" if outcome.failed else "done"] += 1

    try:
        if workers > 1:
            _Parallel(job, emit, progress).run(workers)
        else:
            for position in range(len(job.sources)):
                outcome = _run_one(job, position)
                emit(outcome)
                progress.tick(position + 1)
                if outcome.failed and options.fail_fast:
                    break
    except BaseException:
        if not options.dry_run:
            _sweep_temp_files(plan)
        raise
    finally:
        progress.stop()

    done, failed = finished["done"], finished["failed"]
    report = build_report(command, entries, counts=(done, failed, len(job.sources) - done - failed))
    if options.report_path == "-":
        echo_data(to_json(report), nl=False)
    elif options.report_path is not None:
        _write_report(options.report_path, to_json(report).encode("utf-8"))
    elif not quiet:
        for line in summary_lines(report, verbose=verbose, dry_run=options.dry_run,
                                  elapsed=time.perf_counter() - started):
            say(line)
    if report["failed"]:
        click.get_current_context().exit(1)


def _write_report(path: str, data: bytes) -> None:
    """The report file, atomically; the file system's refusal (a full disk, ``/dev/full``) is one
    line and exit 1, as for an output."""
    from .. import images
    from ..errors import ConvcliError

    try:
        images.write_atomic(path, data)
    except ConvcliError as error:
        raise click.ClickException(f"report {error}") from None
    except OSError as error:
        raise click.ClickException(f"report {_shown(path)}: cannot write: {environment_fault(error) or error}") from None


def _start_methods() -> list[str]:
    import multiprocessing

    return multiprocessing.get_all_start_methods()


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


@dataclass
class _Job:
    """Everything one input's work needs; forked workers inherit it through ``_JOB``."""

    sources: list[Source]
    plan: dict[int, list[Target]]
    options: OutputOptions
    compute: Callable[[Any, Any], list[Product]]
    describe: Callable[[Any], list[Product]]
    show: bool
    verbose: bool
    limits: Any                     # images.Limits: what every input is held to before decoding
    memory: Callable[[Any, list[tuple[int, str, str]]], Any] | None = None  # see run_batch
    # With workers and --fail-fast (shared between processes): the first failed position, whether
    # each position is settled (written, failed or skipped), and how many leading positions are.
    first_failure: Any = None
    settled: Any = None
    settled_prefix: Any = None


@dataclass
class _Outcome:
    """What one input gave: plain data, sent back by a worker (pickled) to the parent."""

    position: int                                  # 0-based, in ``_Job.sources``
    entries: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # lines for standard error (tracebacks with -v)
    failed: bool = False
    shown: list[Product] | None = None             # the products, when the command shows them
    skipped: bool = False                          # not done: --fail-fast stopped before it


def _run_one(job: _Job, position: int, *, may_write: Callable[[], bool] | None = None) -> _Outcome:
    """Read, compute, encode and write one input; never raises for a bad file or a bug.

    ``may_write``, if given, is asked once before the first write: False skips the input (an
    input before it failed, under --fail-fast).
    """
    import numpy as np

    from .. import images
    from ..errors import ConvcliError, EnvironmentFault, ImageWriteError
    from ..pipeline import check_output
    from ..report import file_entry

    options = job.options
    source = job.sources[position]
    targets = job.plan[source.index]
    outcome = _Outcome(position)
    started = time.perf_counter()
    try:
        if options.no_clobber and not options.dry_run:
            for target in targets:
                if target.path != "-" and os.path.lexists(target.path):
                    raise ConvcliError("exists; --no-clobber refuses to replace it", path=target.path)
        limits, estimate = _memory_limits(job, targets)
        if options.dry_run:
            info = images.probe(source.source, limits=limits)
            results = job.describe(info)
        else:
            image, info = images.read_image(source.source, limits=limits)
            results = job.compute(image, info)
        if job.memory is not None and not estimate:  # a shape-only input: no header to hold to limits
            limits.memory(info)
        memory = {"memory": estimate[0].bytes} if estimate else {}
        if job.show:
            outcome.shown = results
        pieces = [piece for target in targets or [None]
                  for piece in _pieces(target, results[target.product if target else 0], options.split)]
        # From here only the pieces hold the results, and each result is let go once it is mapped:
        # the peak memory of a large image is the float result or its encoding, not both.
        image = results = None
        pieces.reverse()
        while pieces:
            target, result = pieces.pop()
            if target is not None and not target.shown_only and source.path and images.same_file(source.path, target.path):
                raise ConvcliError(f"is the input {source.path}; refusing to overwrite an input", path=target.path)
            computed = str(result.array.dtype) if result.array is not None else result.planned_dtype
            fmt = target.format if target else "npy"
            notes = list(info.notes)
            if target is not None and target.shown_only:
                fmt, note = _shown_output(target, result, options, info.dtype, computed)
                notes.append(note)
            dtype = result.dtype or options.dtype or images.default_dtype(fmt, info.dtype, result_dtype=computed)
            if target is None:  # printed, not written: say what was computed
                dtype = computed or "float64"
            scale = options.scale or result.scale
            if target is not None and not target.shown_only:
                try:
                    images.check_writable(fmt, result.out_shape, dtype, has_alpha=result.has_alpha)
                except ImageWriteError as error:  # name the output, not the input
                    raise ImageWriteError(error.message, path=error.path or target.path) from None
            if options.dry_run or target is None:
                out_shape, mapping = result.out_shape, {"scale": scale if dtype.startswith("uint") else "raw"}
            else:
                alpha_max = _integer_max(info.dtype) if result.has_alpha else None
                with np.errstate(over="ignore", invalid="ignore"):  # a cast's overflow: check_output says it
                    mapped, mapping = images.map_values(
                        result.array, dtype=dtype, scale=scale, alpha=result.has_alpha, kind=result.kind,
                        alpha_max=alpha_max,
                    )
                if not options.allow_nonfinite:
                    check_output(result.array, mapped)
                result = replace(result, array=None)
                out_shape = mapped.shape
                data = images.encode_image(mapped, format=fmt, has_alpha=result.has_alpha,
                                       png_compression=options.png_compression)
                mapped = None
                if may_write is not None:
                    allowed, may_write = may_write(), None
                    if not allowed:
                        return _Outcome(position, skipped=True)
                if target.path == "-":
                    write_data(data)  # all of it, or this file fails (a closed pipe stops the run)
                else:
                    images.write_atomic(target.path, data, no_clobber=options.no_clobber)
                data = None
            outcome.entries.append(file_entry(
                input=source.label, output=target.path if target and not target.shown_only else None,
                input_shape=info.shape, input_dtype=info.dtype,
                output_shape=out_shape, output_dtype=dtype, steps=result.steps,
                seconds=None if options.dry_run else time.perf_counter() - started,
                scale=mapping.get("scale"),
                **{name: mapping[name] for name in ("clipped", "clipped_below", "clipped_above") if name in mapping},
                **({"notes": notes} if notes else {}),
                **memory,
                **result.extra,
            ))
    except (ConvcliError, ValueError) as error:
        _fail(outcome, source, error, started)
    except (click.exceptions.Exit, BrokenPipeError):  # not the file's fault: let the group handle it
        raise
    except Exception as error:  # noqa: BLE001 - a bug must not stop the other files of a batch
        fault = environment_fault(error)
        if fault is not None:  # out of memory, a full disk...: the environment's, not a bug
            _fail(outcome, source, EnvironmentFault(fault), started)
        else:
            _fail(outcome, source, error, started, internal=True,
                  trace=traceback.format_exc().rstrip("\n") if job.verbose else None)
    return outcome


def _shown_output(target: Target, result: Product, options: OutputOptions, input_dtype: str,
                  computed: str | None) -> tuple[str, str]:
    """A dry run without -o or -O describes the file -O DIR would write (``target.shown_only``):
    its format and a note that says so, with what .npy would hold and, when that format cannot hold
    the result, why (the result is then described as .npy)."""
    from .. import images
    from ..errors import ImageWriteError

    npy = options.dtype or images.default_dtype("npy", input_dtype, result_dtype=computed)
    try:
        images.check_writable(target.format, result.out_shape,
                          options.dtype or images.default_dtype(target.format, input_dtype, result_dtype=computed),
                          has_alpha=result.has_alpha)
    except ImageWriteError as error:
        return "npy", (f"no -o or -O: -O DIR would fail ({target.path}: {error.message}); "
                       "shown as a .npy file")
    return target.format, (f"no -o or -O: the output is shown as -O DIR would write it ({target.path}); "
                           f"a .npy file would hold {npy}")


def _memory_limits(job: _Job, targets: list[Target]) -> tuple[Any, list[Any]]:
    """The limits one input is read with: with ``job.memory``, its estimate, from the header and the
    files it makes, is what ``--max-memory`` holds; the list gets the estimate once it is made."""
    from .. import images

    made: list[Any] = []
    if job.memory is None:
        return job.limits, made

    def estimate(info: Any) -> tuple[int, str]:
        outputs = [(t.product, job.options.dtype or images.default_dtype(t.format, info.dtype), t.format)
                   for t in targets]
        made[:] = [job.memory(info, outputs)]
        return made[0].bytes, f"estimated from its header and the plan, most at {made[0].where}"

    return replace(job.limits, memory=estimate), made


def _pieces(target: Target | None, result: Product, split: bool) -> list[tuple[Target | None, Product]]:
    """The files one product makes: itself, or with --split one grey image per channel."""
    if target is None:
        return [(None, result)]
    shape = result.out_shape
    if not split or len(shape) != 3 or result.whole:
        return [(replace(target, path=split_paths(target.path)[0]), result)]
    _, path = split_paths(target.path)
    return [
        (replace(target, path=path.replace("{channel}", str(channel))),
         replace(result, array=None if result.array is None else result.array[..., channel],
                 shape=tuple(shape[:2]), has_alpha=False))
        for channel in range(shape[2])
    ]


def _check_folder(folder: str, *, create: bool) -> None:
    """Before any work: the folder exists (made, under -O DIR) and a file can be created in it.

    Permissions alone do not tell (root, read-only mounts, full quotas), so a probe file is made
    and removed.
    """
    import tempfile

    try:
        if create:
            os.makedirs(folder, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=".convcli-probe.", suffix=".tmp")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise click.UsageError(f"cannot write in the folder {_shown(folder)}: {error.strerror or error}") from None


def _integer_max(dtype: str) -> float | None:
    """Full scale of an integer dtype (alpha's full opacity), None for floats."""
    import numpy as np

    return float(np.iinfo(dtype).max) if np.dtype(dtype).kind in "ui" else None


def _fail(outcome: _Outcome, source: Source, error: BaseException, started: float, *,
          internal: bool = False, trace: str | None = None) -> None:
    from ..report import file_entry

    message = " ".join(str(error).split()) or type(error).__name__
    if internal:
        message = f"internal error ({type(error).__name__}): {message}; please report it (-v shows the traceback)"
    # The line always names the input, also when the error is about a pipeline or an output file.
    shown = "<stdin>" if source.label == "-" else _shown(source.label)
    if shown not in message:
        message = f"{shown}: {message}"
    if trace:
        outcome.errors.append(trace)
    outcome.errors.append(f"convcli: error: {message}")
    outcome.entries.append(file_entry(input=source.label, output=None, status="error", steps=[],
                                      seconds=time.perf_counter() - started, error=message))
    outcome.failed = True


# --------------------------------------------------------------------------------------------------
# Progress


class _Progress:
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


# --------------------------------------------------------------------------------------------------
# Worker processes

#: The batch being run, for forked workers to inherit (set only while a pool runs).
_JOB: _Job | None = None
#: What a worker's signal handler calls: images.remove_temp_files, bound before the fork.
_REMOVE_TEMPS: Callable[[], int] | None = None
#: What stops a worker (and the parent: see cli.main): Ctrl-C, SIGTERM, a hang-up, SIGQUIT.
_SIGNALS = {signal.SIGINT, *TERMINATING_SIGNALS}
#: The process that forks the workers, recorded before each fork.
_PARENT: int | None = None
#: Linux's prctl option that sends a signal to a process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _worker_start() -> None:
    """In a new worker: Ctrl-C, SIGTERM, SIGHUP or SIGQUIT removes its temporary files and ends
    it, quietly; so does its parent's end, however it ends (also SIGKILL).

    The parent blocks these signals while it forks; they are unblocked here, once the handler is
    in place, so a signal that arrived in between is handled too.
    """
    for signum in _SIGNALS:
        signal.signal(signum, _worker_stop)
    _follow_parent(_PARENT)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _follow_parent(parent: int | None) -> None:
    """End this worker with SIGTERM when ``parent`` is gone, so that no worker goes on writing
    outputs (or blocks forever on the parent's pipes) after the parent was killed.

    On Linux the kernel sends it (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread also
    checks twice a second that the parent is still this process's parent (an orphan is adopted by
    another process).
    """
    import threading

    if parent is None:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl here: the watchdog alone
            pass
    if os.getppid() != parent:  # the parent died before prctl: nobody would send the signal
        _worker_stop(signal.SIGTERM, None)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread: temporary files removed

    threading.Thread(target=watch, name="convcli-parent-watch", daemon=True).start()


def _worker_stop(signum: int, frame: Any) -> None:
    try:
        if _REMOVE_TEMPS is not None:
            _REMOVE_TEMPS()
    finally:
        os._exit(128 + signum)


def _worker_task(position: int) -> _Outcome:
    """One input, in a worker (the only function sent to one).

    Under --fail-fast, inputs are computed in parallel but written in input order: an input
    writes only once every input before it is settled, and not at all after a failure, so that
    exactly what ``--jobs 1`` writes is written.
    """
    job = _JOB
    assert job is not None, "a convcli worker started without a batch"
    if not job.options.fail_fast:
        return _run_one(job, position)
    if position > job.first_failure.value:
        outcome = _Outcome(position, skipped=True)
    else:
        outcome = _run_one(job, position, may_write=lambda: _my_turn(job, position))
    if outcome.failed:
        _failed_at(job, position)
    _settle(job, position)
    return outcome


def _my_turn(job: _Job, position: int) -> bool:
    """Wait until every input before ``position`` is settled; True if none of them failed."""
    while position <= job.first_failure.value:
        if job.settled_prefix.value >= position:
            return position <= job.first_failure.value
        time.sleep(0.002)
    return False


def _failed_at(job: _Job, position: int) -> None:
    with job.first_failure.get_lock():
        job.first_failure.value = min(job.first_failure.value, position)


def _settle(job: _Job, position: int) -> None:
    with job.settled_prefix.get_lock():
        job.settled[position] = 1
        prefix = job.settled_prefix.value
        while prefix < len(job.settled) and job.settled[prefix]:
            prefix += 1
        job.settled_prefix.value = prefix


class _Parallel:
    """Inputs done by a pool of forked workers, results emitted in input order.

    At most ``workers × 4`` inputs are queued at a time, and a finished input waits for the ones
    before it at most ``workers × 64`` positions ahead, so memory stays small however many inputs.
    A worker that dies (killed, out of memory, a crash in a decoder) breaks the pool: the inputs
    it may have been doing are done again one at a time, each in a fresh worker, so that only the
    one that kills its worker fails; the others go on in a new pool.
    """

    def __init__(self, job: _Job, emit: Callable[[_Outcome], None], progress: _Progress) -> None:
        import multiprocessing

        self.job = job
        self.emit = emit
        self.progress = progress
        self.ctx = multiprocessing.get_context("fork")
        self.total = len(job.sources)
        self.buffer: dict[int, _Outcome | None] = {}   # finished, waiting for the ones before them
        self.next = 0                                  # the next position to emit
        self.done = 0
        self.stop_after = self.total                   # --fail-fast: the first failed position
        self.executor: Any = None
        self.futures: dict[Any, int] = {}
        self.broke = False

    def run(self, workers: int) -> None:
        global _JOB, _REMOVE_TEMPS
        from .. import images

        if self.job.options.fail_fast:
            self.job.first_failure = self.ctx.Value("q", self.total)
            self.job.settled = self.ctx.Array("b", self.total, lock=False)
            self.job.settled_prefix = self.ctx.Value("q", 0)
        _JOB, _REMOVE_TEMPS = self.job, images.remove_temp_files
        failed = True
        try:
            self._run(deque(range(self.total)), workers, queued=workers * 4, ahead=workers * 64)
            self._flush()
            failed = False
        finally:
            if failed:
                self._kill()
            _JOB = None
            if (failed or self.broke) and not self.job.options.dry_run:
                _sweep_temp_files(self.job.plan)

    def _run(self, pending: deque, workers: int, *, queued: int, ahead: int) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        isolated = queued == 1
        fruitless = 0  # pools in a row that broke before doing anything
        while pending:
            self._start(workers)
            suspects: list[int] = []
            broken = False
            while True:
                while pending and len(self.futures) < queued and pending[0] - self.next < ahead:
                    if pending[0] > self.stop_after:
                        pending.clear()
                        break
                    position = pending.popleft()
                    try:
                        self.futures[self.executor.submit(_worker_task, position)] = position
                    except BrokenProcessPool:
                        pending.appendleft(position)
                        broken = True
                        break
                if not self.futures:
                    break
                if not broken:
                    done, _ = wait(self.futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        position = self.futures.pop(future)
                        if self._collect(position, future):
                            suspects.append(position)
                    broken = bool(suspects)
                if broken:
                    # A worker died: the pool is done for, and every call not finished fails with it.
                    wait(self.futures)
                    for future, position in list(self.futures.items()):
                        if self._collect(position, future):
                            suspects.append(position)
                    self.futures.clear()
                    break
                self._flush()
                self.progress.tick(self.done)
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
            if broken:
                self.broke = True
                fruitless = 0 if suspects else fruitless + 1
                if fruitless >= 3:
                    raise click.ClickException("worker processes keep dying as they start; try --jobs 1")
                suspects.sort()
                if isolated and suspects:
                    for position in suspects:
                        self._record(position, self._died(position))
                elif suspects:
                    self._run(deque(suspects), 1, queued=1, ahead=self.total)
            self._flush()
            self.progress.tick(self.done)

    def _start(self, workers: int) -> None:
        """A new pool, its workers started at once (with fork, the first call starts them all)
        while the stopping signals are blocked, so that no worker is ever without its handlers."""
        import warnings
        from concurrent.futures import ProcessPoolExecutor

        for stream in (sys.stdout, sys.stderr):  # a worker must not write out the parent's buffers
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        global _PARENT
        _PARENT = os.getpid()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a process with threads (BLAS's, here): the workers
                # use none of those threads' locks; fork is what lets closures reach them.
                warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
                self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=self.ctx,
                                                    initializer=_worker_start)
                self.executor.submit(os.getpid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _collect(self, position: int, future: Any) -> bool:
        """Record a finished call; True when it died with its worker (a suspect)."""
        from concurrent.futures.process import BrokenProcessPool

        if future.cancelled():
            self._record(position, None)
            return False
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            return True
        if error is not None:  # the worker's own machinery failed for this input
            outcome = _Outcome(position)
            _fail(outcome, self.job.sources[position], error, time.perf_counter(), internal=True)
            self._record(position, outcome)
        else:
            self._record(position, future.result())
        return False

    def _record(self, position: int, outcome: _Outcome | None) -> None:
        fail_fast = self.job.options.fail_fast
        if fail_fast:  # settled, also when no worker said so (cancelled, or its worker died)
            if outcome is not None and outcome.failed:
                _failed_at(self.job, position)
            _settle(self.job, position)
        if outcome is None or outcome.skipped:
            self.buffer[position] = None
            return
        self.buffer[position] = outcome
        self.done += 1
        if outcome.failed and fail_fast and position < self.stop_after:
            self.stop_after = position
            for future, queued in self.futures.items():
                if queued > position:
                    future.cancel()

    def _died(self, position: int) -> _Outcome:
        outcome = _Outcome(position)
        error = RuntimeError(
            "the worker process doing it died (killed by a signal, out of memory, or crashed)"
        )
        _fail(outcome, self.job.sources[position], error, time.perf_counter())
        return outcome

    def _flush(self) -> None:
        while self.next in self.buffer:
            outcome = self.buffer.pop(self.next)
            if outcome is not None and self.next <= self.stop_after:  # nothing after a --fail-fast failure
                self.emit(outcome)
            self.next += 1

    def _kill(self) -> None:
        """Interrupted: end every worker now (each removes its temporary files), then the pool."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        _quiet_thread(getattr(executor, "_executor_manager_thread", None))
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 1.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():  # stuck in a long computation: its temporary files are swept below
                process.kill()
                process.join(1.0)
        executor.shutdown(wait=False, cancel_futures=True)


def _quiet_thread(thread: Any) -> None:
    """Keep a dying pool's manager thread from printing a traceback: once its workers are killed
    it may meet their closed pipes (``OSError: Bad file descriptor``) while convcli is already
    saying, in one line, why it stops."""
    import threading

    if thread is None:
        return
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if args.thread is not thread:
            previous(args)

    threading.excepthook = hook


def _sweep_temp_files(plan: dict[int, list[Target]]) -> int:
    """Remove the temporary files this run (and its workers) left in its output folders when a
    worker died mid-write, and no other run's (see images.sweep_temp_files); returns how many."""
    from ..images import sweep_temp_files

    return sweep_temp_files(os.path.dirname(target.path) or "." for targets in plan.values()
                            for target in targets if target.path != "-")
