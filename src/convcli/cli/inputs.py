"""The inputs of a batch: INPUT arguments (files, folders, ``--recursive``, ``-`` for standard input,
``sample:NAME``, ``shape:``, ``matrix:``) turned into :class:`InputFile` objects, one per image, before any is read."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..errors import shown_path
from .faults import closed
from ..images.formats import MATRIX_PREFIX, sniff_folder
from .formats import EXTENSIONS, IMAGE_EXTENSIONS


@dataclass
class InputFile:
    """One input as the command line named it (a folder INPUT gives one per image inside).

    Not necessarily a file: ``sample:NAME``, ``shape:``, ``matrix:`` and standard input are inputs too.
    """

    label: str            # as given: a path, "sample:NAME" or "-"
    source: str | bytes   # what convcli.images reads (its Source): a path, "sample:NAME" or standard input's bytes
    stem: str
    ext: str              # with the dot; the output extension {ext} stands for
    index: int            # 1-based position among the inputs
    path: str | None      # the file, when it is one
    folder: str = ""      # its sub-folder inside a folder INPUT read with --recursive (mirrored under -O)


def collect_inputs(inputs: Sequence[str], *, recursive: bool | None = None) -> list[InputFile]:
    """Turn INPUT arguments into :class:`InputFile` objects; ``-`` reads standard input (once).

    A folder stands for the image files inside it (by extension, any case; hidden ones skipped),
    in sorted order; with ``recursive`` (default: the command's ``--recursive``) for those in its
    sub-folders too, each remembering its sub-folder so that -O DIR can mirror it. A folder with
    no image is a usage error.
    """
    from ..images import sniff_format

    if recursive is None:
        ctx = click.get_current_context(silent=True)
        recursive = bool(ctx is not None and ctx.params.get("recursive"))
    collected: list[InputFile] = []
    stdin_used = False
    for name in inputs:
        index = len(collected) + 1
        if name == "-":
            if stdin_used:
                raise click.UsageError("'-' (standard input) can be given only once")
            stdin_used = True
            if closed(sys.stdin):  # `<&-`
                raise click.ClickException("'-': standard input is closed; nothing to read")
            data = _read_stdin(_ctx_limit("max_file_size"))
            fmt = sniff_format(data[:16]) or "png"
            collected.append(InputFile("-", data, "stdin", EXTENSIONS.get(fmt, ".png"), index, None))
        elif name.startswith("sample:"):
            sample = name.split(":", 1)[1]
            collected.append(InputFile(name, name, sample, ".png", index, None))
        elif name.startswith(MATRIX_PREFIX):  # an inline matrix: numbers in, numbers out (.txt)
            collected.append(InputFile(name, name, "matrix", EXTENSIONS["txt"], index, None))
        elif name.startswith("shape:"):  # a shape without pixels, for --dry-run
            collected.append(InputFile(name, name, "shape", ".npy", index, None))
        elif os.path.isdir(name) and sniff_folder(name) is not None:  # a folder store (Zarr): one input
            stem = os.path.splitext(os.path.basename(name.rstrip(os.sep)) or name)[0]
            collected.append(InputFile(name, name, stem, EXTENSIONS[sniff_folder(name) or "zarr"], index, name))
        elif os.path.isdir(name):
            for relative in _images_in(name, recursive=recursive):
                path = os.path.join(name, relative)
                stem, ext = os.path.splitext(os.path.basename(relative))
                collected.append(InputFile(path, path, stem, ext, len(collected) + 1, path, os.path.dirname(relative)))
        else:  # a file (or a missing path: reading it will say so)
            stem, ext = os.path.splitext(os.path.basename(name.rstrip(os.sep)) or name)
            collected.append(InputFile(name, name, stem, ext or ".png", index, name))
    return collected


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
            raise click.UsageError(f"{shown_path(where)}: cannot read this folder: {error.strerror or error}") from None
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
            f"{shown_path(folder)}: no image files in this folder (looked for {' '.join(IMAGE_EXTENSIONS)}){hint}"
        )
    return [os.path.join(*parts) for parts in sorted(found)]

