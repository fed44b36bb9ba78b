"""convcli.images.atomic: write_atomic, its temporary files (named and swept as this process's own),
same_file and written_through.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convcli import images
from convcli.errors import ImageWriteError
from convcli.images import atomic
from helpers import png

# ----------------------------------------------------------------------------------------------
# write_atomic, same_file
# ----------------------------------------------------------------------------------------------


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_write_atomic_creates_and_replaces(tmp_path):
    target = tmp_path / "out.png"
    images.write_atomic(str(target), b"first")
    assert target.read_bytes() == b"first"
    images.write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert leftovers(tmp_path) == []


def test_write_atomic_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    images.write_atomic("here.bin", b"x")
    assert (tmp_path / "here.bin").read_bytes() == b"x"


def test_write_atomic_replace_failure_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def fail(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ImageWriteError) as caught:
        images.write_atomic(str(target), b"new")
    assert str(caught.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_atomic_interrupt_removes_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        images.write_atomic(str(target), b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []
    assert images.remove_temp_files() == 0


def test_remove_temp_files_for_a_signal_handler(tmp_path, monkeypatch):
    seen = []

    def handler_during_write(fd):
        seen.append(images.remove_temp_files())

    monkeypatch.setattr(os, "fsync", handler_during_write)
    with pytest.raises(ImageWriteError):
        images.write_atomic(str(tmp_path / "a.png"), b"data")  # the temp file vanished under it
    assert seen[0] == 1
    assert leftovers(tmp_path) == [] and not (tmp_path / "a.png").exists()


def test_write_atomic_temp_file_refused(tmp_path, monkeypatch):
    """As in a read-only folder (simulated, so that it also holds when the tests run as root)."""
    import tempfile

    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ImageWriteError) as caught:
        images.write_atomic(str(target), b"new")
    assert str(caught.value) == f"{target}: cannot write: Permission denied"
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_write_atomic_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "out.png").write_bytes(b"old")
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="Permission denied"):
            images.write_atomic(str(folder / "out.png"), b"new")
        assert (folder / "out.png").read_bytes() == b"old"
        assert leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_write_atomic_encode_failure_leaves_old_output(tmp_path):
    target = tmp_path / "out.jpg"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError):
        images.write_atomic(str(target), images.encode_image(np.zeros((2, 2), np.uint16), format="jpeg"))
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_atomic_no_clobber(tmp_path):
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(ImageWriteError) as caught:
        images.write_atomic(str(target), b"new", no_clobber=True)
    assert str(caught.value) == f"{target}: exists; `no_clobber` refuses to replace it"
    assert target.read_bytes() == b"old"
    fresh = tmp_path / "fresh.png"
    images.write_atomic(str(fresh), b"new", no_clobber=True)
    assert fresh.read_bytes() == b"new"
    assert leftovers(tmp_path) == []
    images.write_atomic("/dev/null", b"new", no_clobber=True)  # a device is written to, not replaced


def test_write_atomic_no_clobber_race(tmp_path, monkeypatch):
    """A file appearing between the check and the rename is still not replaced."""
    target = tmp_path / "out.png"
    real_fsync = os.fsync

    def appear(fd):
        real_fsync(fd)
        if not target.exists():
            target.write_bytes(b"someone else")

    monkeypatch.setattr(os, "fsync", appear)
    with pytest.raises(ImageWriteError, match="`no_clobber` refuses"):
        images.write_atomic(str(target), b"mine", no_clobber=True)
    assert target.read_bytes() == b"someone else"
    assert leftovers(tmp_path) == []


def test_write_atomic_missing_folder(tmp_path):
    target = tmp_path / "nope" / "out.png"
    with pytest.raises(ImageWriteError) as caught:
        images.write_atomic(str(target), b"x")
    assert "folder" in str(caught.value) and "does not exist" in str(caught.value)


def test_write_atomic_onto_a_folder(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        images.write_atomic(str(tmp_path / "sub"), b"x")


def test_write_atomic_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="data"):
        images.write_atomic(str(tmp_path / "a"), "text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path"):
        images.write_atomic(None, b"x")  # type: ignore[arg-type]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077, 0o002])
def test_write_atomic_permissions_follow_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        target = tmp_path / "out.png"
        images.write_atomic(str(target), b"x")
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    finally:
        os.umask(old)


def test_same_file(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    b = tmp_path / "b.png"
    b.write_bytes(b"x")
    assert images.same_file(str(a), str(a))
    assert images.same_file(str(a), str(tmp_path / "." / "a.png"))
    assert not images.same_file(str(a), str(b))
    assert not images.same_file(str(a), str(tmp_path / "missing.png"))
    assert not images.same_file(str(tmp_path / "missing.png"), str(tmp_path / "missing.png"))
    assert not images.same_file("-", str(a))
    assert not images.same_file("sample:camera", "sample:camera")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_same_file_through_links(tmp_path):
    a = tmp_path / "a.png"
    a.write_bytes(b"x")
    sym = tmp_path / "sym.png"
    sym.symlink_to(a)
    hard = tmp_path / "hard.png"
    os.link(a, hard)
    sub = tmp_path / "sub"
    sub.mkdir()
    dirlink = tmp_path / "dirlink"
    dirlink.symlink_to(sub)
    (sub / "c.png").write_bytes(b"y")
    assert images.same_file(str(a), str(sym))
    assert images.same_file(str(hard), str(a))
    assert images.same_file(str(sym), str(hard))
    assert images.same_file(str(dirlink / "c.png"), str(sub / "c.png"))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="no /dev/null here")
def test_write_atomic_writes_through_a_device_never_replacing_it():
    import stat

    images.write_atomic("/dev/null", b"discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_write_atomic_writes_through_a_fifo(tmp_path):
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    images.write_atomic(str(fifo), b"through")
    reader.join(10)
    assert received == [b"through"] and sorted(os.listdir(tmp_path)) == ["pipe"]
GRAY = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)


# --- 5. a run removes only its own temporary files; any legal name can be written --------------------

OTHER_RUN = """
import os, sys, time
import convcli.images
real_fsync = os.fsync
def fsync(fd):  # stop mid-write, the temporary file written, until the test says go
    open("started", "w").close()
    while not os.path.exists("go"):
        time.sleep(0.01)
    real_fsync(fd)
os.fsync = fsync
try:
    convcli.images.write_atomic("out/a.png", b"theirs")
except Exception as error:
    sys.exit(f"other run failed: {error}")
"""


def test_interrupted_run_leaves_another_runs_temporary_file_alone(run, monkeypatch, tmp_path):
    import time

    import convcli.images

    png("in.png", GRAY)
    os.mkdir("out")
    Path("other.py").write_text(OTHER_RUN)
    other = subprocess.Popen([sys.executable, "other.py"], cwd=tmp_path, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60  # a hang guard, not a timing assertion
        while not Path("started").exists():
            assert other.poll() is None and time.monotonic() < deadline, other.stderr.read()
            time.sleep(0.01)
        theirs = [name for name in os.listdir("out") if name.endswith(".tmp")]
        assert len(theirs) == 1

        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(convcli.images, "encode_image", interrupted)
        result = run("filter", "in.png", "-k", "box3", "-o", "out/a.png")  # Ctrl-C while this run works
        assert result.exit_code == 130
        assert [name for name in os.listdir("out") if name.endswith(".tmp")] == theirs
    finally:
        Path("go").touch()
        _, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert Path("out/a.png").read_bytes() == b"theirs"


def test_sweep_removes_this_processes_temporaries_only(tmp_path):
    from convcli import images

    ours = atomic._temp_prefix("a.png", 255) + "abcd_123.tmp"
    others = [".a.png.1.abcd_123.tmp" if atomic._OWNER != "1" else ".a.png.2.abcd_123.tmp",  # another pid
              ".a.png.abcd_123.tmp",  # an older convcli's
              "a.png"]
    for name in [ours, *others]:
        (tmp_path / name).write_bytes(b"x")
    assert images.sweep_temp_files([str(tmp_path)]) == 1
    assert sorted(os.listdir(tmp_path)) == sorted(others)


@pytest.mark.parametrize("length", [242, 250, 255])
def test_names_up_to_the_file_systems_limit_can_be_written(tmp_path, length):
    from convcli import images

    name = "é" * ((length - 4) // 2) + "x" * ((length - 4) % 2) + ".npy"  # two bytes a letter
    assert len(os.fsencode(name)) == length
    images.write_atomic(str(tmp_path / name), b"data")
    assert os.listdir(tmp_path) == [name] and (tmp_path / name).read_bytes() == b"data"


def test_two_long_names_that_differ_at_the_end_get_their_own_temporaries():

    one, two = "x" * 250 + "1.png", "x" * 250 + "2.png"
    prefixes = {atomic._temp_prefix(one, 255), atomic._temp_prefix(two, 255)}
    assert len(prefixes) == 2 and all(len(os.fsencode(p)) + 12 <= 255 for p in prefixes)


def test_cli_writes_a_255_byte_output_name(run):
    png("in.png", GRAY)
    name = "y" * 251 + ".png"
    result = run("filter", "in.png", "-k", "box3", "-o", name)
    assert result.exit_code == 0, result.stderr
    assert set(os.listdir(".")) == {"in.png", name}


KILLED_MID_WRITE = """
import os, signal, sys
import convcli.images
parent, real_fsync = os.getpid(), os.fsync
def fsync(fd):  # the worker writing img03's output is killed with its temporary file written
    if ".img03.png." in os.readlink(f"/proc/self/fd/{fd}") and os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    real_fsync(fd)
os.fsync = fsync
from convcli.cli import main
sys.argv = ["convcli"] + sys.argv[1:]
main()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork; /proc names the files")
def test_temporary_file_of_a_worker_killed_mid_write_is_removed_by_its_parent(tmp_path):
    os.mkdir(tmp_path / "in")
    for number in range(6):
        png(tmp_path / "in" / f"img{number:02d}.png", GRAY + number)
    (tmp_path / "killed.py").write_text(KILLED_MID_WRITE)
    done = subprocess.run([sys.executable, "killed.py", "filter", "in", "-k", "box3", "-O", "out", "-j", "2"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "in/img03.png: the worker process doing it died" in done.stderr
    assert sorted(os.listdir(tmp_path / "out")) == [f"img{n:02d}.png" for n in range(6) if n != 3]
