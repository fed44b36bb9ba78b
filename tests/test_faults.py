"""Faults while writing: a full disk, a failing rename, a report that cannot be written.

Each is simulated by making one system call fail; the promise checked is the README's (Inputs and
outputs; Reports and exit codes): an error for that file, the existing output untouched, no
temporary file left, the other files still done.
"""

import errno
import json
import os
from pathlib import Path

import numpy as np


def full_disk(monkeypatch, *, after=0):
    """Make the atomic writer's fsync fail with ENOSPC after ``after`` successful writes."""
    import convcli.images

    calls = {"n": 0}
    real_fsync = os.fsync

    def failing_fsync(fd):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(convcli.images.atomic.os, "fsync", failing_fsync)


def leftovers(folder):
    return sorted(p.name for p in Path(folder).rglob("*") if p.name.endswith(".tmp"))


def test_full_disk_fails_that_file_keeps_the_old_output_and_leaves_no_temporary(run, monkeypatch):
    np.save("in.npy", np.ones((4, 4)))
    Path("out.npy").write_bytes(b"old")
    full_disk(monkeypatch)
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy")
    assert result.exit_code == 1
    assert "out.npy" in result.stderr and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert Path("out.npy").read_bytes() == b"old"
    assert leftovers(".") == []


def test_full_disk_midway_through_a_batch_fails_only_the_files_it_hits(run, monkeypatch):
    for name in "abc":
        np.save(f"{name}.npy", np.ones((4, 4)))
    full_disk(monkeypatch, after=1)
    result = run("filter", "a.npy", "b.npy", "c.npy", "-k", "box3", "-O", "out", "-j", "1", "--report", "r.json")
    assert result.exit_code == 1
    report = json.loads(Path("r.json").read_text()) if Path("r.json").exists() else None
    assert os.listdir("out") == ["a.npy"]
    assert leftovers(".") == []
    assert report is None or report["ok"] == 1  # the report itself may not fit on the full disk


def test_failing_rename_leaves_no_temporary(run, monkeypatch):
    import convcli.images

    np.save("in.npy", np.ones((4, 4)))

    def failing_replace(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(convcli.images.atomic.os, "replace", failing_replace)
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.npy")
    assert result.exit_code == 1 and "out.npy" in result.stderr
    assert not Path("out.npy").exists() and leftovers(".") == []


def test_report_is_valid_json_without_nan(run):
    np.save("in.npy", np.full((3, 3), 1e308))
    result = run("filter", "in.npy", "-k", "box3", "-o", "out.png", "--json")
    report = json.loads(result.stdout, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)))
    assert report["files"][0]["status"] in ("ok", "error")


def test_unwritable_output_folder_is_found_before_any_work(run, monkeypatch):
    import tempfile

    np.save("in.npy", np.ones((4, 4)))
    os.mkdir("locked")
    real_mkstemp = tempfile.mkstemp

    def refusing_mkstemp(*args, dir=None, **kwargs):
        if dir and os.path.basename(os.path.normpath(dir)) == "locked":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refusing_mkstemp)
    result = run("filter", "in.npy", "-k", "box3", "-O", "locked")
    assert result.exit_code == 2 and "cannot write in the folder locked" in result.stderr
    assert os.listdir("locked") == []
