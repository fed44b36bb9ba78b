"""Promises under faults (issue 10, section 3) about the files a run reads and writes: a run never writes
over a file it reads, refuses endless or wrong standard input from its first bytes, and keeps its
one-line errors, device outputs and permission bits. (Its own temporary files: test_images_atomic.py;
PNG metadata bounds: test_images_png_read.py.)

Images are written with Pillow; files are compared byte for byte with what the test wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

from helpers import one_line_error, png


RGB = np.arange(5 * 6 * 3, dtype=np.uint8).reshape(5, 6, 3)
GRAY = np.arange(5 * 6, dtype=np.uint8).reshape(5, 6)


def convcli(*args, cwd, stdin=None):
    """The installed convcli in a subprocess (standard input from a file needs a real descriptor)."""
    installed = Path(sys.executable).with_name("convcli")
    command = [str(installed)] if installed.exists() else [sys.executable, "-m", "convcli"]
    env = dict(os.environ)
    env.pop("CONVCLI_KERNEL_PATH", None)
    return subprocess.run(command + [str(a) for a in args], cwd=cwd, env=env, stdin=stdin,
                          capture_output=True, timeout=120, check=False)


# --- 1. outputs never overwrite what the run reads --------------------------------------------------


def test_split_channel_file_would_overwrite_another_input(run):
    png("a.png", RGB)
    png("a-c0.png", GRAY)
    before = Path("a-c0.png").read_bytes()
    result = run("filter", "a.png", "a-c0.png", "-k", "box3", "-O", ".", "--split", "--name", "{stem}-c{channel}{ext}")
    assert result.exit_code == 2
    line = one_line_error(result.stderr)
    assert "a-c{channel}.png" in line and "a-c0.png" in line and "input" in line
    assert Path("a-c0.png").read_bytes() == before
    assert sorted(os.listdir(".")) == ["a-c0.png", "a.png"]


def test_split_channel_name_linked_to_an_input_is_refused(run):
    png("in.png", RGB)
    os.mkdir("out")
    os.link("in.png", "out/x-c2.png")  # a hard link: same file, another name
    result = run("filter", "in.png", "-k", "box3", "-O", "out", "--split", "--name", "x-c{channel}{ext}")
    assert result.exit_code == 2
    assert "out/x-c2.png" in result.stderr and "the input in.png" in result.stderr
    assert os.listdir("out") == ["x-c2.png"]


def test_report_is_the_output(run):
    png("in.png", GRAY)
    result = run("filter", "in.png", "-k", "box3", "--report", "o3.png", "-o", "o3.png")
    assert result.exit_code == 2
    assert "output o3.png and report o3.png are the same file" in one_line_error(result.stderr)
    assert not Path("o3.png").exists()


def test_report_through_a_folder_link_is_the_output(run):
    png("in.png", GRAY)
    os.symlink(".", "alias")
    result = run("filter", "in.png", "-k", "box3", "--report", "alias/o.png", "-o", "o.png")
    assert result.exit_code == 2 and "are the same file" in result.stderr
    assert not Path("o.png").exists()


def test_report_is_the_pipeline_file(run):
    png("in.png", GRAY)
    Path("p.yaml").write_text("steps:\n  - filter: {kernel: box3}\n")
    result = run("pipeline", "p.yaml", "in.png", "-o", "out.png", "--report", "p.yaml")
    assert result.exit_code == 2
    assert "report p.yaml is the pipeline file p.yaml" in one_line_error(result.stderr)
    assert Path("p.yaml").read_text() == "steps:\n  - filter: {kernel: box3}\n"
    assert not Path("out.png").exists()


def test_output_is_the_kernel_file(run):
    png("in.png", GRAY)
    np.save("kk.npy", np.ones((3, 3)))
    before = Path("kk.npy").read_bytes()
    result = run("filter", "in.png", "-k", "kk.npy", "-o", "kk.npy")
    assert result.exit_code == 2
    assert "output kk.npy is the kernel file kk.npy" in one_line_error(result.stderr)
    assert Path("kk.npy").read_bytes() == before


def test_pipeline_save_is_its_kernel_file(run):
    png("in.png", GRAY)
    os.mkdir("p")
    np.save("p/k.npy", np.ones((2, 2)))
    before = Path("p/k.npy").read_bytes()
    Path("p/q.yaml").write_text("steps:\n  - filter: {kernel: k.npy, save: p/k.npy}\n")
    result = run("pipeline", "p/q.yaml", "in.png", "-o", "out.png")
    assert result.exit_code == 2
    line = one_line_error(result.stderr)
    assert "output p/k.npy is the kernel file" in line and "p/k.npy; refusing" in line
    assert Path("p/k.npy").read_bytes() == before


def test_output_is_the_file_on_standard_input(tmp_path):
    png(tmp_path / "in.png", GRAY)
    before = (tmp_path / "in.png").read_bytes()
    with open(tmp_path / "in.png", "rb") as stdin:
        result = convcli("filter", "-", "-k", "box3", "-o", "in.png", cwd=tmp_path, stdin=stdin)
    assert result.returncode == 2
    assert "output in.png is the file on standard input" in one_line_error(result.stderr.decode())
    assert (tmp_path / "in.png").read_bytes() == before
    with open(tmp_path / "in.png", "rb") as stdin:  # another output is fine
        result = convcli("filter", "-", "-k", "box3", "-o", "out.png", cwd=tmp_path, stdin=stdin)
    assert result.returncode == 0, result.stderr


# --- 7. standard input that is no image is refused from its first bytes ------------------------------


def test_stdin_that_is_no_image_is_refused_without_reading_it_all(tmp_path):
    zeros = tmp_path / "zeros.bin"  # /dev/zero's first 64 MiB: sparse, so free to make
    with open(zeros, "wb") as handle:
        handle.truncate(64 << 20)
    with open(zeros, "rb") as stdin:
        result = convcli("filter", "-", "-k", "box3", "-o", "out.png", cwd=tmp_path, stdin=stdin)
        consumed = os.lseek(stdin.fileno(), 0, os.SEEK_CUR)  # the child shared this file offset
    assert result.returncode == 1
    assert "<stdin>: not a supported image" in one_line_error(result.stderr.decode())
    assert consumed < 1 << 20
    assert not (tmp_path / "out.png").exists()


def test_stdin_image_is_still_read_whole(run):
    data = np.arange(40 * 40, dtype=np.float64).reshape(40, 40)  # more than one read's worth of header
    buffer = __import__("io").BytesIO()
    np.save(buffer, data)
    result = run("filter", "-", "-k", "1", "-o", "out.npy", input=buffer.getvalue())
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.load("out.npy"), data)


# --- 9. one escaping rule for file names in every message --------------------------------------------


def test_newline_in_a_missing_input_name_stays_on_one_error_line(run):
    result = run("filter", "mi\nss.png", "-k", "box3", "-o", "out.png")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "convcli: error: mi\\nss.png: no such file"


def test_newline_in_names_stays_on_one_summary_line(run):
    png("n\nl.png", GRAY)
    result = run("filter", "n\nl.png", "-k", "box3", "-o", "o\nut.png")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[0] == "n\\nl.png 5×6 uint8 → o\\nut.png 5×6 uint8"


def test_newline_in_colliding_output_names_stays_on_one_line(run):
    png("a.png", GRAY)
    png("n\nl.png", GRAY)
    result = run("filter", "a.png", "n\nl.png", "-k", "box3", "-O", "o\nd", "--name", "same.png")
    assert result.exit_code == 2
    assert "Error: a.png and n\\nl.png would both write o\\nd/same.png; add {index} to the name" in result.stderr


def test_newline_in_a_name_stays_on_one_row_of_the_global_pooling_table(run):
    png("n\nl.png", GRAY)
    result = run("pool", "n\nl.png", "--op", "max", "--global")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["input\tchannel\tmax", "n\\nl.png\t0\t29"]


# --- 9. -o /dev/null works ---------------------------------------------------------------------------


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
@pytest.mark.parametrize("extra", [["--format", "png"], ["--format", "npy"], []])
def test_output_to_dev_null_is_written_through(run, extra):
    png("in.png", GRAY)
    result = run("filter", "in.png", "-k", "box3", "-o", "/dev/null", *extra, "--report", "/dev/null")
    assert result.exit_code == 0, result.stderr
    assert os.listdir(".") == ["in.png"]
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
@pytest.mark.parametrize("save", ["/dev/null", "/dev/./null"])
def test_a_saved_step_and_the_output_may_both_be_dev_null(run, save):
    # the same rule however the device is spelt: it takes any number of writes
    png("in.png", GRAY)
    with open("p.yaml", "w") as fh:
        fh.write(f"steps:\n  - filter: {{kernel: box3, save: {save}}}\n  - filter: {{kernel: box3}}\n")
    result = run("pipeline", "p.yaml", "in.png", "-o", "/dev/null", "--format", "png")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(".")) == ["in.png", "p.yaml"]


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_dev_stdout_redirected_to_a_file_is_written_through(tmp_path):
    """`-o /dev/stdout > out.png`: the descriptor the shell opened gets the image (no extension needed,
    the input's format), and a rename never replaces the link in /dev."""
    png(tmp_path / "in.png", GRAY)
    with open(tmp_path / "out.png", "wb") as stdout:
        done = subprocess.run([sys.executable, "-m", "convcli", "filter", "in.png", "-k", "box3", "-o", "/dev/stdout"],
                              cwd=tmp_path, stdout=stdout, stderr=subprocess.PIPE, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    expected = ndimage.convolve(GRAY.astype(float), np.ones((3, 3)) / 9, mode="constant")
    assert np.array_equal(iio.imread(tmp_path / "out.png"), np.clip(np.rint(expected), 0, 255).astype(np.uint8))


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_split_channels_of_a_device_output_are_refused(run):
    # as -o - is: one file per channel would be new files /dev/null-c0... beside the device
    png("in.png", RGB)
    result = run("filter", "in.png", "-k", "box3", "-o", "/dev/null", "--split", "--dry-run")
    assert result.exit_code == 2
    assert one_line_error(result.stderr) == (
        "Error: --split writes one file per channel; /dev/null is a device or FIFO, not a file name")
    assert not os.path.exists("/dev/null-c0")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_output_to_a_named_pipe_takes_the_format_option(tmp_path):
    import threading

    png(tmp_path / "in.png", GRAY)
    os.mkfifo(tmp_path / "pipe")
    got = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "pipe").read_bytes()), daemon=True)
    reader.start()
    result = convcli("filter", "in.png", "-k", "1", "-o", "pipe", "--format", "npy", cwd=tmp_path)
    if not got and reader.is_alive():  # nothing was written: let the reader see the end, not hang
        try:
            os.close(os.open(tmp_path / "pipe", os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
    reader.join(60)
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.load(__import__("io").BytesIO(got[0])), GRAY)


# --- 9. replacing an output keeps its permission bits ------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_replacing_an_output_keeps_its_permission_bits(run, mode):
    png("in.png", GRAY)
    Path("out.png").write_bytes(b"old")
    os.chmod("out.png", mode)
    result = run("filter", "in.png", "-k", "box3", "-o", "out.png")
    assert result.exit_code == 0, result.stderr
    assert Path("out.png").read_bytes()[:4] == b"\x89PNG"
    assert os.stat("out.png").st_mode & 0o7777 == mode


def test_a_new_output_gets_the_umasks_permission_bits(tmp_path):
    from convcli import images

    old = os.umask(0o027)
    try:
        images.write_atomic(str(tmp_path / "new.bin"), b"x")
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "new.bin").st_mode & 0o7777 == 0o640


def test_output_is_the_transposed_convolutions_kernel_file(run):
    png("in.png", GRAY)
    np.save("kk.npy", np.ones((2, 2)))
    before = Path("kk.npy").read_bytes()
    result = run("upsample", "in.png", "--method", "transpose", "-k", "kk.npy", "--factor", "2", "-o", "kk.npy")
    assert result.exit_code == 2
    assert "output kk.npy is the kernel file kk.npy" in one_line_error(result.stderr)
    assert Path("kk.npy").read_bytes() == before


def test_clicks_own_path_messages_stay_on_one_line(run):
    png("in.png", GRAY)
    result = run("filter", "in.png", "-k", "box3", "-o", "out.png", "--kernel-dir", "no\nkd")
    assert result.exit_code == 2
    assert "'no\\nkd' does not exist" in one_line_error(result.stderr)
