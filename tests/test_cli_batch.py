"""Batches at scale: folder inputs (--recursive), worker processes (--jobs), --fail-fast, the progress
bar and the summary, signals with workers.

In-process runs (``--jobs 1``) go through click's CliRunner; anything with worker processes runs the
installed ``convcli`` in a subprocess (process pools and CliRunner's swapped streams do not mix).
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.cli import batch

BROKEN = {"img10.png": "garbage", "img20.png": "truncated", "img30.png": "empty"}
BAR = "━"  # what rich draws a bar with


def write_png(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    array = np.random.default_rng(seed).integers(0, 256, size=(12, 10), dtype=np.uint8)
    Image.fromarray(array).save(path)


def make_batch(folder, count=50, broken=True):
    """``count`` small PNG files img00.png ...; with ``broken``, three of them are not images."""
    for number in range(count):
        write_png(folder / f"img{number:02d}.png", number)
    if broken:
        (folder / "img10.png").write_bytes(b"these are garbage bytes, no image at all")
        whole = (folder / "img20.png").read_bytes()
        (folder / "img20.png").write_bytes(whole[: len(whole) // 2])
        (folder / "img30.png").write_bytes(b"")
    return folder


def leftovers(folder):
    """Temporary (or any hidden) files anywhere under ``folder``."""
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
            if name.startswith(".") or name.endswith(".tmp")]


def files_under(folder):
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*") if p.is_file())


def untimed(report):
    for entry in report["files"]:
        entry.pop("seconds", None)
    return report


def convcli(*args, cwd, script=None, environ=None, **popen):
    """Run the installed convcli (or ``script``, a Python file that ends by calling it); with
    ``popen`` arguments, start it and return the process."""
    installed = Path(sys.executable).with_name("convcli")
    if script is not None:
        command = [sys.executable, str(script)]
    else:
        command = [str(installed)] if installed.exists() else [sys.executable, "-m", "convcli"]
    env = dict(os.environ, COLUMNS="100", **(environ or {}))
    env.pop("CONVCLI_KERNEL_PATH", None)
    command += [str(a) for a in args]
    if popen:
        return subprocess.Popen(command, cwd=cwd, env=env, **popen)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


# --- the done-when case: 50 files, 3 broken --------------------------------------------------------


def test_batch_of_50_with_3_broken_files(run, tmp_path):
    make_batch(tmp_path / "in")
    result = run("filter", "in", "-k", "box3", "-O", "out", "--report", "report.json", "-j", "1")
    assert result.exit_code == 1, result.stderr
    assert len(os.listdir(tmp_path / "out")) == 47 and leftovers(tmp_path / "out") == []
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["ok"], report["failed"]) == (47, 3)
    errors = [e for e in report["files"] if e["status"] == "error"]
    assert [e["input"] for e in errors] == [os.path.join("in", name) for name in BROKEN]
    assert all(e["error"].startswith(e["input"] + ": ") and e["output"] is None for e in errors)
    lines = result.stderr.splitlines()
    assert lines == [f"convcli: error: {e['error']}" for e in errors]
    assert "Traceback" not in result.stderr
    assert [e["input"] for e in report["files"]] == [os.path.join("in", f"img{n:02d}.png") for n in range(50)]


def test_workers_give_the_same_bytes_report_and_messages(tmp_path):
    make_batch(tmp_path / "in")
    # Inputs in an order of their own: the report follows it, whatever order the workers finish in.
    inputs = ["in/img42.png", "in/img03.png", "in", "in/img20.png"]
    runs = {}
    for jobs in ("1", "2"):
        done = convcli("filter", *inputs, "-k", "sobel-x", "-O", f"out{jobs}", "--name", "{index}-{stem}{ext}",
                       "--report", f"report{jobs}.json", "--jobs", jobs, cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        runs[jobs] = done
        assert leftovers(tmp_path / f"out{jobs}") == []
    assert runs["1"].stderr == runs["2"].stderr and runs["2"].stderr.count("convcli: error:") == 4
    names = files_under(tmp_path / "out1")
    assert len(names) == 49 and names == files_under(tmp_path / "out2")
    for name in names:
        assert (tmp_path / "out1" / name).read_bytes() == (tmp_path / "out2" / name).read_bytes(), name
    one, two = (untimed(json.loads((tmp_path / f"report{j}.json").read_text())) for j in ("1", "2"))
    for entry in two["files"]:
        if entry["output"]:
            entry["output"] = entry["output"].replace("out2", "out1", 1)
    assert one == two
    assert [e["input"] for e in two["files"]][:4] == ["in/img42.png", "in/img03.png", "in/img00.png", "in/img01.png"]
    assert two["files"][-1]["input"] == "in/img20.png" and (two["ok"], two["failed"]) == (49, 4)


def test_report_keeps_input_order_when_a_slow_input_comes_first(tmp_path):
    np.save(tmp_path / "slow.npy", np.random.default_rng(0).normal(size=(300, 300)))
    make_batch(tmp_path / "small", count=8, broken=False)
    done = convcli("filter", "slow.npy", "small", "-k", "box:25", "-O", "out", "--json", "-j", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [e["input"] for e in report["files"]] == ["slow.npy"] + [f"small/img{n:02d}.png" for n in range(8)]


# --- folder inputs ---------------------------------------------------------------------------------


def test_folder_takes_its_image_files_in_sorted_order(run, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 256, size=(12, 10, 3), dtype=np.uint8))
    for name in ("b.PNG", "a.png", "c.JpEg", "d.tif", "e.npy", "f.webp", "g.BMP", "h.gif"):
        if name.endswith(".npy"):
            np.save(folder / name, np.ones((4, 5)))
        else:
            picture.save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    (folder / "README").write_text("no extension")
    write_png(folder / ".hidden.png", 1)
    write_png(folder / "sub" / "ignored.png", 2)
    result = run("filter", "in", "-k", "box3", "--dry-run", "--json", "-j", "1")
    assert result.exit_code == 0, result.stderr
    inputs = [e["input"] for e in json.loads(result.stdout)["files"]]
    assert inputs == [os.path.join("in", n) for n in
                      ("a.png", "b.PNG", "c.JpEg", "d.tif", "e.npy", "f.webp", "g.BMP", "h.gif")]


def test_recursive_mirrors_sub_folders_under_the_output_folder(run, tmp_path):
    for where in ("a.png", "sub/a.png", "sub/deeper/a.png", "other/b.png", ".git/c.png"):
        write_png(tmp_path / "in" / where, len(where))
    flat = run("filter", "in", "-k", "box3", "-O", "flat", "-j", "1")
    assert flat.exit_code == 0 and files_under(tmp_path / "flat") == ["a.png"]
    deep = run("filter", "in", "-r", "-k", "box3", "-O", "out", "--name", "{stem}-blur{ext}",
               "--report", "report.json", "-j", "1")
    assert deep.exit_code == 0, deep.stderr
    expected = ["a-blur.png", "other/b-blur.png", "sub/a-blur.png", "sub/deeper/a-blur.png"]
    assert files_under(tmp_path / "out") == expected
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(e["input"], e["output"]) for e in report["files"]] == [
        (os.path.join("in", w), os.path.join("out", o)) for w, o in zip(
            ("a.png", "other/b.png", "sub/a.png", "sub/deeper/a.png"), expected)]
    # Each output is its own input filtered, not another a.png's.
    assert run("filter", "in/sub/deeper/a.png", "-k", "box3", "-o", "single.png").exit_code == 0
    assert (tmp_path / "single.png").read_bytes() == (tmp_path / "out/sub/deeper/a-blur.png").read_bytes()
    assert (tmp_path / "single.png").read_bytes() != (tmp_path / "out/sub/a-blur.png").read_bytes()
    again = run("filter", "in", "--recursive", "-k", "box3", "-O", "out", "--name", "{stem}-blur{ext}",
                "--no-clobber", "-j", "1")
    assert again.exit_code == 1 and again.stderr.count("--no-clobber") == 4


def test_recursive_with_workers_and_pipeline_saves(tmp_path):
    for where in ("a.png", "sub/a.png", "sub/deeper/a.png"):
        write_png(tmp_path / "in" / where, len(where))
    (tmp_path / "net.yaml").write_text("steps:\n  - filter: {kernel: box3, save: '{stem}-blur{ext}'}\n"
                                       "  - pool: {op: max, size: 2}\n")
    done = convcli("pipeline", "net.yaml", "in", "-r", "-O", "out", "-j", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert files_under(tmp_path / "out") == [
        "a-blur.png", "a.png", "sub/a-blur.png", "sub/a.png", "sub/deeper/a-blur.png", "sub/deeper/a.png"]


def test_folders_without_images_are_usage_errors(run, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run("filter", "empty", "-k", "box3", "-O", "out")
    assert result.exit_code == 2 and "empty: no image files" in result.stderr
    write_png(tmp_path / "nested" / "sub" / "a.png", 0)
    (tmp_path / "nested" / "notes.txt").write_text("x")
    result = run("filter", "nested", "-k", "box3", "-O", "out")
    assert result.exit_code == 2 and "nested: no image files" in result.stderr and "--recursive" in result.stderr
    assert not (tmp_path / "out").exists()
    assert run("filter", "nested", "-r", "-k", "box3", "-O", "out", "-j", "1").exit_code == 0
    assert files_under(tmp_path / "out") == ["sub/a.png"]


def test_two_folders_with_the_same_names_collide_before_anything_is_written(run, tmp_path):
    write_png(tmp_path / "a" / "x.png", 0)
    write_png(tmp_path / "b" / "x.png", 1)
    result = run("filter", "a", "b", "-k", "box3", "-O", "out")
    assert result.exit_code == 2 and "would both write" in result.stderr and not (tmp_path / "out").exists()
    assert run("filter", "a", "b", "-k", "box3", "-O", "out", "--name", "{index}-{stem}{ext}", "-j", "1").exit_code == 0


@pytest.mark.parametrize("command", [
    ["filter", "-k", "box3"], ["sobel"], ["pool", "--op", "max", "--size", "2"],
    ["upsample", "--factor", "2", "--method", "nearest"],
])
def test_every_command_reads_folders(run, tmp_path, command):
    write_png(tmp_path / "in" / "a.png", 0)
    write_png(tmp_path / "in" / "sub" / "b.png", 1)
    result = run(command[0], "in", *command[1:], "-r", "-O", "out", "-j", "1")
    assert result.exit_code == 0, result.stderr
    assert files_under(tmp_path / "out") == ["a.png", "sub/b.png"]


@pytest.mark.parametrize("command", ["filter", "sobel", "pool", "upsample", "pipeline"])
def test_every_command_has_jobs_and_recursive(run, command):
    result = run(command, "--help")
    assert "--jobs" in result.stdout and "--recursive" in result.stdout


def test_jobs_must_be_positive(run):
    result = run("filter", "sample:camera", "-k", "box3", "--dry-run", "--jobs", "0")
    assert result.exit_code == 2 and "--jobs" in result.stderr


def test_no_worker_for_one_input_or_one_job(run, tmp_path, monkeypatch):
    class NoPool:
        def __init__(self, *args):
            raise AssertionError("a worker pool was started")

    monkeypatch.setattr(batch, "Parallel", NoPool)
    make_batch(tmp_path / "in", count=3, broken=False)
    assert run("filter", "in/img00.png", "-k", "box3", "-o", "one.png", "--jobs", "4").exit_code == 0
    assert run("filter", "in", "-k", "box3", "-O", "out", "--jobs", "1").exit_code == 0
    assert len(os.listdir(tmp_path / "out")) == 3


# --- --fail-fast -----------------------------------------------------------------------------------


def test_fail_fast_with_workers_stops_where_one_job_stops(tmp_path):
    # Workers compute ahead, but under --fail-fast they write in input order and nothing after the
    # first failure: the outputs and the report are those of --jobs 1.
    make_batch(tmp_path / "in", broken=False)
    (tmp_path / "in" / "img25.png").write_bytes(b"not an image")
    (tmp_path / "in" / "img40.png").write_bytes(b"")
    reports = {}
    for jobs in ("1", "2"):
        done = convcli("filter", "in", "-k", "box3", "-O", f"out{jobs}", "--fail-fast", "--jobs", jobs,
                       "--report", f"report{jobs}.json", cwd=tmp_path)
        assert done.returncode == 1, done.stderr
        assert done.stderr.splitlines() == [
            "convcli: error: in/img25.png: not a supported image (PNG, JPEG, TIFF, BMP, GIF, WebP or .npy)"]
        assert sorted(os.listdir(tmp_path / f"out{jobs}")) == [f"img{n:02d}.png" for n in range(25)]
        reports[jobs] = untimed(json.loads((tmp_path / f"report{jobs}.json").read_text()))
        for entry in reports[jobs]["files"]:
            entry["output"] = entry["output"] and entry["output"].replace(f"out{jobs}", "out", 1)
    assert reports["1"] == reports["2"] and (reports["2"]["ok"], reports["2"]["failed"]) == (25, 1)


# --- progress bar and summary ----------------------------------------------------------------------


def test_summary_ends_with_counts_and_time(run, tmp_path):
    make_batch(tmp_path / "in", count=3, broken=False)
    (tmp_path / "in" / "img01.png").write_bytes(b"")
    result = run("filter", "in", "-k", "box3", "-O", "out", "-j", "1")
    assert result.exit_code == 1
    assert re.fullmatch(r"2 done, 1 failed in \d+\.\d\d s", result.stderr.splitlines()[-1])
    assert BAR not in result.stderr and "\r" not in result.stderr and "\x1b" not in result.stderr


def test_no_progress_bar_on_a_pipe(tmp_path):
    make_batch(tmp_path / "in", count=35)
    done = convcli("filter", "in", "-k", "box3", "-O", "out", "-j", "2", cwd=tmp_path)
    assert done.returncode == 1
    assert BAR not in done.stderr and "\r" not in done.stderr and "\x1b" not in done.stderr
    assert re.fullmatch(r"32 done, 3 failed in \d+\.\d\d s", done.stderr.splitlines()[-1])


def _on_a_terminal(tmp_path, *args):
    """Run convcli with standard error on a pseudo-terminal; what it wrote there."""
    pty = pytest.importorskip("pty")
    master, slave = pty.openpty()
    process = convcli(*args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=slave, environ={"TERM": "xterm"})
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    process.stdout.close()
    os.close(master)
    return process.returncode, seen.decode("utf-8", "replace")


def test_progress_bar_only_on_a_terminal_and_never_with_quiet(tmp_path):
    make_batch(tmp_path / "in", count=35)
    code, shown = _on_a_terminal(tmp_path, "filter", "in", "-k", "box3", "-O", "out", "-j", "2")
    assert code == 1 and BAR in shown and "/35" in shown and "files" in shown
    assert shown.count("convcli: error:") == 3 and "Traceback" not in shown
    assert re.search(r"32 done, 3 failed in \d+\.\d\d s", shown)
    code, shown = _on_a_terminal(tmp_path, "-q", "filter", "in", "-k", "box3", "-O", "out2", "-j", "2")
    assert code == 1 and BAR not in shown and shown.count("convcli: error:") == 3
    # --json to a file (here a pipe): the report is standard output's, the bar standard error's
    code, shown = _on_a_terminal(tmp_path, "filter", "in", "-k", "box3", "-O", "out3", "--json", "-j", "2")
    assert code == 1 and BAR in shown and "/35" in shown and shown.count("convcli: error:") == 3
    assert "done" not in shown  # the report replaces the summary


# --- signals and dying workers ---------------------------------------------------------------------

SLOW_WRITES = """
import os, sys, time
real_fsync = os.fsync
def fsync(fd):  # every temporary file but img00.png's hangs before its rename
    name = os.readlink(f"/proc/self/fd/{fd}")
    if name.endswith(".tmp") and ".img00.png." not in name:
        time.sleep(60)
    real_fsync(fd)
os.fsync = fsync
from convcli.cli import main
sys.argv = ["convcli"] + sys.argv[1:]
main()
"""


def signal_when(process, ready, signum, *, whole_group, seconds):
    """Send ``signum`` to ``process`` (started in a session of its own; to its whole group with
    ``whole_group``, as a terminal's Ctrl-C) once ``ready()``, and wait for it to end; its standard
    error. Whatever happens, nothing of it is left running."""
    try:
        deadline = time.monotonic() + seconds
        while not ready():
            assert time.monotonic() < deadline and process.poll() is None, "the writes never started"
            time.sleep(0.02)
        if whole_group:
            os.killpg(process.pid, signum)
        else:
            process.send_signal(signum)
        return process.communicate(timeout=seconds)[1]
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork; /proc names the files")
@pytest.mark.parametrize("jobs,signum,whole_group,code", [
    (2, signal.SIGTERM, False, 143),
    (2, signal.SIGINT, True, 130),   # Ctrl-C: the terminal signals every process of the group
    (1, signal.SIGTERM, False, 143),
])
def test_signal_removes_every_temporary_and_keeps_finished_outputs(tmp_path, jobs, signum, whole_group, code):
    make_batch(tmp_path / "in", count=6, broken=False)
    (tmp_path / "slow_writes.py").write_text(SLOW_WRITES)
    process = convcli("filter", "in", "-k", "box3", "-O", "out", "-j", jobs, cwd=tmp_path,
                      script=tmp_path / "slow_writes.py", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      start_new_session=True)
    out = tmp_path / "out"
    stderr = signal_when(process, lambda: (out / "img00.png").exists() and len(leftovers(out)) >= jobs,
                         signum, whole_group=whole_group, seconds=30)
    assert process.returncode == code, stderr.decode()
    assert b"Traceback" not in stderr
    assert leftovers(out) == [] and os.listdir(out) == ["img00.png"]
    with Image.open(out / "img00.png") as image:
        assert image.size == (10, 12)


DYING_WORKER = """
import os, signal, sys
from convcli.cli import main, workers
parent, run_one = os.getpid(), workers.run_one
def dying(job, position):  # the worker that takes img07 dies, as the out-of-memory killer would do it
    if job.inputs[position].stem == "img07" and os.getpid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)
    return run_one(job, position)
workers.run_one = dying
sys.argv = ["convcli"] + sys.argv[1:]
main()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork")
def test_a_dying_worker_fails_only_its_own_file(tmp_path):
    make_batch(tmp_path / "in", count=16, broken=False)
    (tmp_path / "dying.py").write_text(DYING_WORKER)
    done = convcli("filter", "in", "-k", "box3", "-O", "out", "--report", "report.json", "-j", "2",
                   cwd=tmp_path, script=tmp_path / "dying.py")
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        "convcli: error: in/img07.png: the worker process doing it died (killed by a signal, out of memory, or crashed)"]
    assert sorted(os.listdir(tmp_path / "out")) == [f"img{n:02d}.png" for n in range(16) if n != 7]
    assert leftovers(tmp_path / "out") == []
    report = json.loads((tmp_path / "report.json").read_text())
    assert [e["input"] for e in report["files"]] == [f"in/img{n:02d}.png" for n in range(16)]
    assert (report["ok"], report["failed"]) == (15, 1)
