"""``--update``: make's rule, decided before any pixel is read.

An input is up to date when every output its targets name exists and none of them is older than
the input or than any file the run reads besides it (``reads``: kernel files, also those found
through ``--kernel-dir``; the pipeline file and the weight files its steps name; ``--weights`` and
``--bias`` files). make rebuilds a
target when a prerequisite is *newer* than it, so an output as new as every file it is made from
(equal modification times, common on file systems that keep whole seconds) is up to date. An
up-to-date input is neither read nor written: its report entries say ``"status": "up-to-date"``.

Inputs that are no file (``sample:``, ``matrix:``, ``shape:``, standard input) and outputs that
are no file (``-o -``, a device, a dry run without -o or -O) are never up to date.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

from .inputs import InputFile
from .targets import Target


def current_inputs(inputs: Sequence[InputFile], plan: dict[int, list[Target]],
                   reads: Sequence[tuple[str, str]]) -> frozenset[int]:
    """The positions (0-based, in ``inputs``) of the inputs whose outputs are up to date.

    ``plan`` maps each input's ``index`` to its targets (:func:`convcli.cli.targets.plan_targets`);
    ``reads`` lists the other files the run reads as ``(role, path)``. One ``stat`` per file.
    """
    newest_read = _newest(path for _, path in reads)
    if newest_read is None:  # a file the run reads is missing: let the run say so
        return frozenset()
    return frozenset(position for position, input_file in enumerate(inputs)
                     if _input_current(input_file, plan[input_file.index], newest_read))


def _input_current(input_file: InputFile, targets: Sequence[Target], newest_read: int) -> bool:
    if input_file.path is None or not targets:
        return False
    newest = _newest([input_file.path])
    if newest is None:
        return False
    oldest_output = _oldest_output(targets)
    return oldest_output is not None and oldest_output >= max(newest, newest_read)


def _oldest_output(targets: Sequence[Target]) -> int | None:
    """The oldest modification time (ns) of the targets' files; None when one is missing or no
    file (standard output, a device or FIFO, a dry run's described-only output)."""
    import stat

    times = []
    for target in targets:
        if target.path == "-" or target.described_only:
            return None
        try:
            st = os.stat(target.path)
        except OSError:
            return None
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):  # a folder: a Zarr store
            return None
        times.append(st.st_mtime_ns)
    return min(times, default=None)


def _newest(paths: Iterable[str]) -> int | None:
    """The newest modification time (ns) of ``paths`` (0 for none); a folder (a Zarr store)
    counts the newest file inside it. None when one is missing."""
    newest = 0
    for path in paths:
        try:
            newest = max(newest, os.stat(path).st_mtime_ns)
        except OSError:
            return None
        if os.path.isdir(path):
            for folder, _, names in os.walk(path):
                for name in names:
                    try:
                        newest = max(newest, os.stat(os.path.join(folder, name)).st_mtime_ns)
                    except OSError:
                        return None
    return newest
