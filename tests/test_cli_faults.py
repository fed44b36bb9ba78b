"""Promises under faults: worker processes end with their parent, standard output written whole
or failed, the environment's faults worded as such (one line, exit 1), standard error best effort.

Anything with worker processes, signals or real file descriptors runs the installed ``convcli`` in a
subprocess; the rest goes through click's CliRunner.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_cli_batch import convcli, make_batch

# --- workers end with their parent ------------------------------------------------------------------

SLOW_FILES = """
import os, sys, time
from convcli.cli import main, workers
parent, run_one = os.getpid(), workers.run_one
def slow(job, position):  # each input takes a while in a worker: the batch is still going when killed
    if os.getpid() != parent:
        time.sleep(0.2)
    return run_one(job, position)
workers.run_one = slow
if os.environ.get("NO_PRCTL"):  # the portable watchdog alone
    workers._PR_SET_PDEATHSIG = -1
sys.argv = ["convcli"] + sys.argv[1:]
main()
"""


def children(pid):
    """The ids of the processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def alive(pid):
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers fork; /proc lists them")
@pytest.mark.parametrize("signum,prctl", [
    (signal.SIGKILL, True), (signal.SIGKILL, False), (signal.SIGHUP, True), (signal.SIGQUIT, True)])
def test_workers_end_when_their_parent_is_killed(tmp_path, signum, prctl):
    make_batch(tmp_path / "in", count=80, broken=False)
    (tmp_path / "slow.py").write_text(SLOW_FILES)
    with open(tmp_path / "stdout", "wb") as stdout, open(tmp_path / "stderr", "wb") as stderr:
        process = convcli("filter", "in", "-k", "box3", "-O", "out", "-j", "2", cwd=tmp_path,
                          script=tmp_path / "slow.py", stdout=stdout, stderr=stderr, start_new_session=True,
                          environ={} if prctl else {"NO_PRCTL": "1"})
    out = tmp_path / "out"
    workers = []
    try:
        deadline = time.monotonic() + 60
        while len(workers) < 2 or not (out.is_dir() and len(os.listdir(out)) >= 2):
            assert time.monotonic() < deadline and process.poll() is None, "the batch never got going"
            workers = children(process.pid)
            time.sleep(0.05)
        process.send_signal(signum)
        process.wait(timeout=60)
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(pid) for pid in workers), "workers outlived their parent"
        written = sorted(os.listdir(out))
        time.sleep(1.0)
        assert sorted(os.listdir(out)) == written  # nothing more appears
        assert len([name for name in written if not name.startswith(".")]) < 80
    finally:
        for pid in [process.pid] + workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        process.wait()
    if signum != signal.SIGKILL:  # the parent cleaned up like SIGTERM: exit 143, one line
        assert process.returncode == 143
        assert (tmp_path / "stderr").read_text().splitlines()[-1] == "convcli: terminated"


# --- standard output: written whole, or a failure --------------------------------------------------

UNBUFFERED = [pytest.param({}, id="buffered"), pytest.param({"PYTHONUNBUFFERED": "1"}, id="unbuffered")]
NOISE = ("Traceback", "Exception ignored", "internal error")


def small_npy(folder):
    import numpy as np

    np.save(folder / "a.npy", np.arange(4096, dtype=np.float64).reshape(64, 64))


def to_device(tmp_path, environ, *args, device="/dev/full"):
    with open(device, "wb") as stdout:
        process = convcli(*args, cwd=tmp_path, environ=environ, stdout=stdout, stderr=subprocess.PIPE)
        _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr.decode()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("environ", UNBUFFERED)
def test_image_to_a_full_standard_output_fails_that_file(tmp_path, environ):
    small_npy(tmp_path)
    code, stderr = to_device(tmp_path, environ, "filter", "a.npy", "-k", "box3", "-o", "-")
    assert code == 1, stderr
    assert stderr.splitlines() == [
        "convcli: error: a.npy: cannot write to standard output: No space left on device",
        stderr.splitlines()[-1]]
    assert stderr.splitlines()[-1].startswith("0 done, 1 failed")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("environ", UNBUFFERED)
@pytest.mark.parametrize("args", [
    ("kernels", "list"), ("kernels", "list", "--json"), ("kernels", "show", "sobel-x"), ("help", "padding"),
    ("filter", "a.npy", "-k", "box3", "-o", "out.npy", "--json"),
], ids=" ".join)
def test_data_to_a_full_standard_output_is_one_line_and_exit_1(tmp_path, environ, args):
    small_npy(tmp_path)
    code, stderr = to_device(tmp_path, environ, *args)
    assert code == 1, stderr
    assert stderr == "Error: cannot write to standard output: No space left on device\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("environ", UNBUFFERED)
def test_global_pooling_values_to_a_full_standard_output_fail_that_file(tmp_path, environ):
    # The table of values is the input's data: a write that fails is that file's failure (a line
    # naming it, counted in the summary and the report), and the run goes on to the next input.
    small_npy(tmp_path)
    (tmp_path / "b.npy").write_bytes((tmp_path / "a.npy").read_bytes())
    code, stderr = to_device(tmp_path, environ, "pool", "a.npy", "b.npy", "--global", "--op", "avg",
                             "--report", "r.json")
    assert code == 1, stderr
    lines = stderr.splitlines()
    assert lines[:2] == ["convcli: error: a.npy: cannot write to standard output: No space left on device",
                         "convcli: error: b.npy: cannot write to standard output: No space left on device"]
    import json

    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["ok"], report["failed"]) == (0, 2)
    assert [entry["status"] for entry in report["files"]] == ["error", "error"]


ALMOST_FULL = """
import errno, io, sys
class AlmostFull(io.RawIOBase):  # a disk with 200 bytes left: short writes, then ENOSPC
    def __init__(self, sink):
        self.sink, self.room = sink, 200
    def writable(self):
        return True
    def write(self, data):
        if not self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        taken = min(len(data), self.room, 64)
        self.sink.write(bytes(data[:taken]))
        self.room -= taken
        return taken
# What PYTHONUNBUFFERED=1 gives: a text layer straight over the raw file, no buffer to retry.
sys.stdout = io.TextIOWrapper(AlmostFull(open(sys.argv.pop(1), "wb", buffering=0)), write_through=True)
from convcli.cli import main
sys.argv = ["convcli"] + sys.argv[1:]
main()
"""


@pytest.mark.parametrize("args", [("filter", "a.npy", "-k", "box3", "-o", "-"),
                                  ("filter", "a.npy", "-k", "box3", "-o", "out.npy", "--json"),
                                  ("kernels", "list", "--json")], ids=" ".join)
def test_short_writes_to_standard_output_are_failures(tmp_path, args):
    small_npy(tmp_path)
    (tmp_path / "almost_full.py").write_text(ALMOST_FULL)
    done = convcli("sink", *args, cwd=tmp_path, script=tmp_path / "almost_full.py")
    assert done.returncode == 1, done.stderr
    assert "cannot write to standard output: No space left on device" in done.stderr
    assert not any(noise in done.stderr for noise in NOISE)
    assert (tmp_path / "sink").stat().st_size == 200
    if "-o" in args and "-" in args:
        assert "0 done, 1 failed" in done.stderr


@pytest.mark.parametrize("environ", UNBUFFERED)
@pytest.mark.parametrize("args", [
    ("filter", "big.npy", "-k", "box3", "-o", "-"),
    ("filter", "big.npy", "-k", "box3", "-o", "out.npy", "--json"),
    ("kernels", "list"), ("kernels", "list", "--json"), ("--help",), ("filter", "--help"), ("help", "padding"),
], ids=" ".join)
def test_a_closed_pipe_exits_141_quietly(tmp_path, environ, args):
    import numpy as np

    np.save(tmp_path / "big.npy", np.zeros((400, 400)))
    process = convcli(*args, cwd=tmp_path, environ=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before anything is written (`| true`)
    _, stderr = process.communicate(timeout=120)
    stderr = stderr.decode()
    assert process.returncode == 141, stderr
    assert not any(noise in stderr for noise in NOISE), stderr


# --- the environment's faults: one line, exit 1 ------------------------------------------------------

SLOW_IMPORTS = """
import sys, time
class Slow:  # the command line's modules take a long time to import: time to press Ctrl-C
    def find_spec(self, name, path=None, target=None):
        if name == "click":
            sys.stderr.write("importing\\n")
            sys.stderr.flush()
            time.sleep(60)
        return None
sys.meta_path.insert(0, Slow())
from convcli._entry import main
sys.argv = ["convcli", "--help"]
main()
"""


@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_an_interruption_while_importing_is_one_line(tmp_path, signum, code, word):
    (tmp_path / "slow_imports.py").write_text(SLOW_IMPORTS)
    process = subprocess.Popen([sys.executable, str(tmp_path / "slow_imports.py")], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stderr.readline() == b"importing\n"
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == code
    assert (stdout, stderr) == (b"", f"convcli: {word}\n".encode())


def test_the_console_script_is_the_entry_module():
    # The entry module imports the command line only once it handles Ctrl-C (see convcli._entry).
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "convcli"]
    assert script.value == "convcli._entry:main"


def in_shell(tmp_path, line, **environ):
    """Run ``line`` in sh with ``$CONVCLI`` the installed command (for `<&-`, `>&-`, `2>&-`)."""
    installed = Path(sys.executable).with_name("convcli")
    env = dict(os.environ, CONVCLI=str(installed), **environ)
    env.pop("CONVCLI_KERNEL_PATH", None)
    return subprocess.run(["sh", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("line,message", [
    ('"$CONVCLI" filter a.npy -k box3 -o - >&-', "Error: standard output is closed; nowhere to write the image"),
    ('"$CONVCLI" filter a.npy -k box3 -o out.npy --json >&-',
     "Error: standard output is closed; nowhere to write the report"),
    ('"$CONVCLI" pool a.npy --global max >&-', "Error: standard output is closed; nowhere to write the values"),
    ('"$CONVCLI" kernels list >&-', "Error: cannot write to standard output: it is closed"),
    ('"$CONVCLI" filter - -k box3 -o out.npy <&-', "Error: '-': standard input is closed; nothing to read"),
])
def test_closed_standard_streams_are_one_line_before_any_work(tmp_path, line, message):
    small_npy(tmp_path)
    done = in_shell(tmp_path, line)
    assert (done.returncode, done.stderr) == (1, message + "\n")
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


@pytest.mark.parametrize("environ", UNBUFFERED)
@pytest.mark.parametrize("stderr", ["closed pipe", "/dev/full", "closed"])
@pytest.mark.parametrize("inputs,code", [(("a.npy", "nope.npy", "b.npy"), 1), (("a.npy", "b.npy"), 0)])
def test_standard_error_is_best_effort(tmp_path, environ, stderr, inputs, code):
    # `convcli ... 2>&1 | head -1`: the messages stop reaching anyone; the work and its exit code do not change.
    import numpy as np

    if stderr == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    np.save(tmp_path / "a.npy", np.ones((8, 8)))
    np.save(tmp_path / "b.npy", np.ones((8, 8)))
    args = ["filter", *inputs, "-k", "box3", "-O", "out", "-j", "1", "-v"]
    if stderr == "closed":
        done = in_shell(tmp_path, '"$CONVCLI" "$@" 2>&-'.replace('"$@"', " ".join(args)), **environ)
        returncode = done.returncode
    else:
        with open(os.devnull if stderr == "closed pipe" else stderr, "wb") as sink:
            process = convcli(*args, cwd=tmp_path, environ=environ, stdout=sink,
                              stderr=subprocess.PIPE if stderr == "closed pipe" else sink)
            if process.stderr is not None:
                process.stderr.close()  # nobody reads the messages
            returncode = process.wait(timeout=120)
    assert returncode == code
    assert sorted(os.listdir(tmp_path / "out")) == ["a.npy", "b.npy"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_report_on_a_full_disk_is_one_line_and_exit_1(tmp_path):
    small_npy(tmp_path)
    done = convcli("filter", "a.npy", "-k", "box3", "-o", "out.npy", "--report", "/dev/full", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "Error: report /dev/full: cannot write: No space left on device\n")


# A newline in the folder's name stays escaped, so the error is one line.
@pytest.mark.parametrize("folder,shown", [("reports", "reports"), ("rep\nort", "rep\\nort")])
def test_a_report_naming_a_folder_is_refused_before_any_work(run, tmp_path, folder, shown):
    small_npy(tmp_path)
    os.mkdir(tmp_path / folder)
    result = run("filter", "a.npy", "-k", "box3", "-o", "out.npy", "--report", folder)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        f"Error: Invalid value for '--report': {shown} is a folder; give a file name for the report")
    assert not (tmp_path / "out.npy").exists()


def raising(error):
    def read_image(*args, **kwargs):
        raise error
    return read_image


OPENCV_OUT_OF_MEMORY = (
    "OpenCV(4.8.0) /io/opencv/modules/core/src/alloc.cpp:73: error: (-4:Insufficient memory) "
    "Failed to allocate 17179869184 bytes in function 'OutOfMemoryError'\n")


@pytest.mark.parametrize("make_error,message", [
    (lambda: MemoryError("Unable to allocate 8.00 GiB for an array with shape (32768, 32768)"),
     "out of memory: Unable to allocate 8.00 GiB for an array with shape (32768, 32768)"),
    (lambda: __import__("cv2").error(OPENCV_OUT_OF_MEMORY), "out of memory (OpenCV could not allocate its buffers)"),
    (lambda: OSError(28, "No space left on device"), "No space left on device"),
], ids=["MemoryError", "OpenCV", "ENOSPC"])
def test_out_of_memory_and_a_full_disk_fail_the_file_without_internal_error(run, tmp_path, monkeypatch,
                                                                             make_error, message):
    from convcli import images

    small_npy(tmp_path)
    monkeypatch.setattr(images, "read_image", raising(make_error()))
    result = run("filter", "a.npy", "-k", "box3", "-o", "out.npy")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"convcli: error: a.npy: {message}"


def test_out_of_memory_outside_a_file_is_one_line(run, monkeypatch):
    from convcli import kernels

    def survey_kernels(**kwargs):
        raise MemoryError()

    monkeypatch.setattr(kernels, "survey_kernels", survey_kernels)
    result = run("kernels", "list")
    assert (result.exit_code, result.stderr) == (1, "Error: out of memory\n")


# --- smaller promises: name templates, a bad kernel file in CONVCLI_KERNEL_PATH ----------------------


@pytest.mark.parametrize("option,template,field", [
    ("--name", "{stem.__class__}.png", "{stem.__class__}"),
    ("--name", "{stem[0]}.png", "{stem[0]}"),
    ("--name", "{}.png", "{}"),
    ("--name", "{index:{stem}}.png", "{index:{stem}}"),
    ("-o", "{stem.__class__.__mro__}.png", "{stem.__class__.__mro__}"),
], ids=lambda value: str(value))
def test_name_templates_take_only_the_documented_fields(run, option, template, field):
    args = ["-O", "out", "--name", template] if option == "--name" else ["-o", template]
    result = run("filter", "sample:camera", "-k", "box3", *args)
    assert result.exit_code == 2
    last = result.stderr.splitlines()[-1]
    assert f"unknown field {field}; fields are {{stem}} {{ext}} {{op}} {{kernel}} {{index}} {{channel}}" in last
    assert not os.path.exists("out")


def test_documented_fields_with_a_format_spec_are_fine(run):
    result = run("filter", "sample:camera", "-k", "box3", "-O", "out", "--name", "{index:03d}-{stem}{ext}", "-q")
    assert result.exit_code == 0 and os.listdir("out") == ["001-camera.png"]


def test_a_save_template_takes_only_the_documented_fields(run):
    Path("p.yaml").write_text("steps:\n  - filter: {kernel: box3, save: '{stem.__class__}.png'}\n")
    result = run("pipeline", "p.yaml", "sample:camera", "-o", "out.png")
    assert result.exit_code == 2 and "unknown field {stem.__class__}" in result.stderr


def test_a_bad_kernel_file_in_the_kernel_path_hides_nothing_else(run, tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "bad.yaml").write_text("matrix:\n  - [1, 2]\n  - [3]\n")
    (tmp_path / "mine" / "tiny.yaml").write_text("description: one\nmatrix: [[1]]\n")
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", str(tmp_path / "mine"))
    for args in (("kernels", "list"), ("kernels", "list", "--json")):
        result = run(*args)
        assert result.exit_code == 0
        if "--json" in args:
            names = [entry["name"] for entry in json.loads(result.stdout)]
        else:
            names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
        assert "tiny" in names and "sobel-x" in names and "bad" not in names
        assert result.stderr == (f"convcli: warning: {tmp_path / 'mine' / 'bad.yaml'}:3: row 2 has 1 values, "
                                 "row 1 has 2; every row needs the same number of values; not listed\n")
    assert run("filter", "sample:camera", "-k", "tiny", "-o", "t.png").exit_code == 0
    assert run("filter", "sample:camera", "-k", "bad", "-o", "b.png").exit_code == 2


def test_an_environment_fault_names_its_file_on_one_line():
    import errno

    from convcli.cli.faults import environment_fault

    error = OSError(errno.ENOSPC, "No space left on device", "out\n.png")
    assert environment_fault(error) == "out\\n.png: No space left on device"


# --- issue 11: what a newcomer trips over ----------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a pseudo-terminal")
def test_image_bytes_to_a_terminal_are_refused(tmp_path):
    import pty

    small_npy(tmp_path)
    leader, follower = pty.openpty()
    try:
        process = convcli("filter", "a.npy", "-k", "box3", "-o", "-", "--format", "png", cwd=tmp_path,
                          environ={}, stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        _, stderr = process.communicate(timeout=120)
        os.set_blocking(leader, False)
        try:
            shown = os.read(leader, 4096)
        except OSError:  # EIO or EAGAIN: nothing was written to the terminal
            shown = b""
    finally:
        os.close(leader)
    assert process.returncode == 2
    assert "standard output, which is a terminal here" in stderr.decode()
    assert b"PNG" not in shown
