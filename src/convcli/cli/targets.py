"""The outputs of a batch, decided before any pixel is read: each input's output paths (-o, -O DIR,
--name templates, a pipeline's ``save:``, --split's per-channel files) and their formats, checked
so that no run overwrites a file it reads or writes one file twice."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import click

from ..errors import shown_path
from ..images.formats import FORMAT_TABLE
from .formats import EXTENSIONS, canonical_format
from .inputs import InputFile
from .options import OutputOptions
from .types import template_problem


@dataclass
class Target:
    """One output file (or standard output) and which product of its input it holds."""

    path: str
    product: int
    format: str
    described_only: bool = False  # a dry run without -o/-O: the file -O DIR would write, only described


#: The product that is a contact sheet (--sheet): always an 8-bit picture, whatever --dtype says.
SHEET_PRODUCT = "sheet"
#: The product of --explain-png: the explanation drawn.
EXPLAIN_PRODUCT = "explain"
#: Products that are pictures, always 8-bit RGB whatever --dtype says.
PICTURE_PRODUCTS = (SHEET_PRODUCT, EXPLAIN_PRODUCT)


def check_picture_name(path: str, *, flag: str, what: str) -> None:
    """A drawing (``what``: "the grid", "the kernel drawn") goes into a file of an image format:
    never standard output, a name without one, or a format of numbers (a usage error)."""
    from ..images.formats import EXTENSION_FORMATS, NUMBER_FORMATS

    format_name = EXTENSION_FORMATS.get(os.path.splitext(path)[1].lower())
    if path == "-" or format_name is None or format_name in NUMBER_FORMATS:
        raise click.BadParameter(f"{path}: {what} is a picture; name a .png (or .tif, .webp)", param_hint=f"'{flag}'")

def _format_of(path: str, options: OutputOptions, input_file: InputFile) -> str:
    from ..images import FOLDER_FORMATS, format_from_path, sniff_folder, sniff_format, written_through

    # Standard output, and a device or FIFO (-o /dev/null, -o /dev/stdout), need no extension:
    # --format, else the name's extension if it has one, else the input's format.
    if path == "-" or written_through(path):
        if options.output_format in FOLDER_FORMATS:
            raise click.BadParameter(
                f"a {FORMAT_TABLE[options.output_format].label} store is a folder; it cannot go to {shown_path(path)}: give -o NAME{EXTENSIONS[options.output_format]}",
                param_hint="'--format'")
        if options.output_format:
            return canonical_format(options.output_format)
        if path != "-":
            try:
                return format_from_path(path)
            except ValueError:
                pass
        if isinstance(input_file.source, bytes):
            return sniff_format(input_file.source[:16]) or "png"
        try:  # the input's own format ("x" + ext: a bare ".npy" would read as a hidden file's name)
            return format_from_path("x" + input_file.ext) if input_file.ext else "png"
        except ValueError:
            return "png"
    if os.path.isdir(path) and sniff_folder(path) is None:  # `-o out/` for a folder of results: that is -O's job
        raise click.BadParameter(
            f"{shown_path(path)} is a folder; -o names one output file: give -O {shown_path(path)} to write into the "
            "folder (names from --name), or a file name in it", param_hint="'-o'")
    try:
        fmt = format_from_path(path)
    except ValueError as error:
        raise click.BadParameter(f"{shown_path(path)}: {error}", param_hint="output") from None
    wanted = canonical_format(options.output_format) if options.output_format else None
    if wanted is not None and wanted != fmt:
        raise click.BadParameter(
            f"{shown_path(path)} is a {fmt.upper()} file name but --format says {options.output_format}; "
            "--format is for -o - and {ext} in --name", param_hint="'--format'")
    return fmt


def plan_targets(
    inputs: Sequence[InputFile],
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
        if len(inputs) != 1:
            raise click.UsageError(f"-o takes one input, got {len(inputs)}; use -O DIR for several")
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
    described_only = options.output is None and options.output_dir is None
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
    for input_file in inputs:
        targets: list[Target] = []
        ext = input_file.ext
        if options.output_format:
            ext = EXTENSIONS[canonical_format(options.output_format)]
        in_dir = os.path.join(options.output_dir, input_file.folder) if options.output_dir is not None else None
        for number, product in enumerate(products):
            own = templates.get(number)
            if own is not None:
                name, folder = own, (in_dir if in_dir is not None and not os.path.isabs(own) else None)
            elif template is not None and not (described_only and input_file.path is None
                                               and input_file.label.startswith("shape:")):
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
                        name = name.format(stem=input_file.stem, ext=ext, op=op, kernel=product,
                                           index=input_file.index, channel="{channel}")
                    except (KeyError, IndexError, ValueError) as error:
                        raise click.BadParameter(f"cannot fill {name!r}: {error}", param_hint="output name")
                path = os.path.join(folder, name) if folder is not None else name
            if path != "-" and path in seen and not _is_char_device(path):  # /dev/null takes any number
                if seen[path] == input_file.label:
                    raise click.UsageError(f"two outputs of {shown_path(input_file.label)} would both be "
                                           f"{shown_path(path)}; give them different names")
                raise click.UsageError(
                    f"{shown_path(seen[path])} and {shown_path(input_file.label)} would both write "
                    f"{shown_path(path)}; add {{index}} to the name"
                )
            seen[path] = input_file.label
            targets.append(Target(path, number, _format_of(path, options, input_file),
                                  described_only=described_only and own is None))
        plan[input_file.index] = targets
    _check_plan(inputs, plan, options, products=products, templates=templates, reads=reads)
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


def _check_plan(inputs: Sequence[InputFile], plan: dict[int, list[Target]], options: OutputOptions, *,
                products: Sequence[str], templates: dict[int, str], reads: Sequence[tuple[str, str]]) -> None:
    """Before any work: no file the run writes is one it reads or another it writes (see
    :func:`_refuse_clobbering`); every -o folder exists; --report names a file in a folder that
    exists; --dtype suits every output format."""
    writes: list[tuple[str, str]] = []
    for targets in plan.values():
        for target in targets:
            if target.path == "-" or target.described_only:
                continue
            role = "output" if target.product not in templates else f"{products[target.product]} output"
            plain, pattern = split_paths(target.path)
            writes.append((role, plain))
            if options.split:
                from ..images import written_through

                if written_through(target.path):  # as for -o -: NAME-c0... would be new files beside it
                    raise click.UsageError(f"--split writes one file per channel; {shown_path(target.path)} is a "
                                           "device or FIFO, not a file name")
                writes.append((role, pattern))
            folder = os.path.dirname(target.path) or "."
            if options.output_dir is None and not os.path.isdir(folder):
                raise click.BadParameter(f"folder {shown_path(folder)} does not exist", param_hint="'-o'")
            if options.dtype is not None and products[target.product] not in PICTURE_PRODUCTS:
                # a dtype the format cannot hold is known before any work (a contact sheet is always 8-bit)
                from ..errors import ImageWriteError
                from ..images import check_writable

                try:
                    check_writable(target.format, (1, 1), options.dtype)
                except ImageWriteError as error:
                    raise click.BadParameter(f"{shown_path(target.path)}: {error.message}",
                                             param_hint="'--dtype'") from None
    if options.report_path not in (None, "-"):
        folder = os.path.dirname(options.report_path) or "."
        if not os.path.isdir(folder):
            raise click.BadParameter(f"folder {shown_path(folder)} does not exist", param_hint="'--report'")
        if os.path.isdir(options.report_path):
            raise click.BadParameter(f"{shown_path(options.report_path)} is a folder; give a file name for the report",
                                     param_hint="'--report'")
        writes.append(("report", options.report_path))
    read = [("input", input_file.path) for input_file in inputs if input_file.path] + list(reads)
    _refuse_clobbering(read, writes, stdin=any(input_file.label == "-" for input_file in inputs))


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
        label = f"the {role} {shown_path(path)}"
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
        label = f"{role} {shown_path(path)}"
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
                            written = shown_path(os.path.join(given, name))
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


def sweep_plan_temp_files(plan: dict[int, list[Target]]) -> int:
    """Remove the temporary files this run (and its workers) left in its output folders when a
    worker died mid-write, and no other run's (see images.sweep_temp_files); returns how many."""
    from ..images import sweep_temp_files

    return sweep_temp_files(os.path.dirname(target.path) or "." for targets in plan.values()
                            for target in targets if target.path != "-")
