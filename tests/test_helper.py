"""The helper process (``CONVCLI_HELPER=1``, convcli._helper and convcli._helper_server).

Real processes throughout: the installed ``convcli`` in a subprocess, a private XDG_RUNTIME_DIR
per test, a short idle time, and every helper a test started stopped in its teardown. What a run
gives through the helper is compared with what the same run gives in-process (without
``CONVCLI_HELPER``): byte-identical files, standard output, standard error and exit codes.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli import _helper
from test_cli_faults import alive as _alive
from test_cli_faults import children as _children

CONVCLI = str(Path(sys.executable).with_name("convcli"))
WAIT = 60.0  # seconds: a helper imports NumPy, OpenCV... on a busy machine


def _wait_until(condition, what):
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


class Helpers:
    """A private runtime directory; runs convcli with or without the helper; stops its helpers."""

    def __init__(self, runtime, work):
        self.runtime, self.work = runtime, work
        self.directory = runtime / "convcli"
        base = {k: v for k, v in os.environ.items() if not k.startswith("CONVCLI")}
        self.plain = dict(base, XDG_RUNTIME_DIR=str(runtime))
        self.env = dict(self.plain, CONVCLI_HELPER="1", CONVCLI_HELPER_IDLE="20")

    def run(self, *args, helper=True, cwd=None, **kwargs):
        return subprocess.run([CONVCLI, *args], env=self.env if helper else self.plain, cwd=cwd or self.work,
                              capture_output=True, timeout=120, **kwargs)

    def pids(self):
        pids = []
        for lock in self.directory.glob("*.lock") if self.directory.exists() else []:
            text = lock.read_text().strip()
            if text.isdigit():
                pids.append(int(text))
        return [pid for pid in pids if _alive(pid)]

    def listening(self):
        # A helper renames its socket into place once it listens (connecting would fork a worker).
        return self.directory.exists() and any(self.directory.glob("*.sock"))

    def start(self, env=None):
        """Run convcli once (it starts a helper) and wait until the helper listens; its pid."""
        subprocess.run([CONVCLI, "--help"], env=env or self.env, cwd=self.work, capture_output=True,
                       timeout=120, check=True)
        _wait_until(lambda: self.pids() and self.listening(), "a helper listening")
        (pid,) = self.pids()
        return pid

    def stop(self):
        for pid in self.pids():
            for worker in _children(pid):  # a test that failed half-way may leave one waiting
                os.kill(worker, signal.SIGKILL)
            os.kill(pid, signal.SIGTERM)
        for pid in self.pids():
            _wait_until(lambda: not _alive(pid), f"helper {pid} ending")


@pytest.fixture
def helpers(tmp_path):
    runtime = Path(tempfile.mkdtemp(prefix="cvh", dir="/tmp"))  # short: a socket's path has 107 bytes at most
    os.chmod(runtime, 0o700)
    work = tmp_path / "work"
    work.mkdir()
    rng = np.random.default_rng(16)
    Image.fromarray(rng.integers(0, 256, (48, 40), dtype=np.uint8)).save(work / "a.png")
    found = Helpers(runtime, work)
    try:
        yield found
    finally:
        found.stop()
        shutil.rmtree(runtime, ignore_errors=True)


def _untimed(text):
    """Standard error without the summary's time ("1 done, 0 failed in 0.10 s"), the output's name as plain's."""
    return re.sub(rb" in \d+(\.\d+)? s$", b" in T s", text.replace(b"through", b"plain"), flags=re.M)


@contextmanager
def waiting_client(helpers, *args):
    """A client whose worker waits for standard input (a pipe): (the client, the worker's pid)."""
    helper_pid = helpers.start()
    client = subprocess.Popen([CONVCLI, *args], env=helpers.env, cwd=helpers.work, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _wait_until(lambda: _children(helper_pid), "a worker")  # the run is the helper's child
        (worker,) = _children(helper_pid)
        yield client, worker
    finally:
        if client.returncode is None:  # the test did not wait for it
            client.kill()
            client.communicate()
        for stream in (client.stdin, client.stdout, client.stderr):
            stream.close()
    _wait_until(lambda: not _children(helper_pid), "the worker ending")


def _same(plain, through):
    assert (through.returncode, through.stdout, _untimed(through.stderr)) == (
        plain.returncode, plain.stdout, _untimed(plain.stderr))


# --- the same results --------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["filter", "a.png", "-k", "sobel-x", "-o", "OUT.png"],  # a success, its summary on standard error
    ["filter", "a.png", "-k", "no-such-kernel", "-o", "OUT.png"],  # usage error: exit 2
    ["filter", "missing.png", "-k", "box3", "-o", "OUT.png"],  # a missing input: exit 1
    ["filter", "a.png", "-k", "gaussian:sigma=1.5", "-o", "-", "-q"],  # the image on a pipe
    ["kernels", "show", "sobel-x"],
    ["help", "reference"],  # every command's options: the helper imported every module, a run only some
    ["--help"],
])
def test_a_run_through_the_helper_gives_what_it_gives_in_process(helpers, args):
    helper_pid = helpers.start()
    plain = helpers.run(*[a.replace("OUT", "plain") for a in args], helper=False)
    through = helpers.run(*[a.replace("OUT", "through") for a in args])
    assert helpers.pids() == [helper_pid]
    _same(plain, through)
    plain_file, through_file = helpers.work / "plain.png", helpers.work / "through.png"
    assert plain_file.exists() == through_file.exists()
    if plain_file.exists():
        assert through_file.read_bytes() == plain_file.read_bytes()


def test_a_json_report_is_the_same_but_for_its_times(helpers):
    helpers.start()
    reports = []
    for helper, name in ((False, "plain"), (True, "through")):
        result = helpers.run("filter", "a.png", "-k", "box3", "-o", f"{name}.npy", "--json", helper=helper)
        assert result.returncode == 0
        report = json.loads(result.stdout)

        def untimed(value):
            if isinstance(value, dict):
                return {k: untimed(v) for k, v in value.items() if "second" not in k and "time" not in k}
            if isinstance(value, list):
                return [untimed(v) for v in value]
            return value.replace("through", "plain") if isinstance(value, str) else value

        reports.append(untimed(report))
    assert reports[0] == reports[1]
    assert np.array_equal(np.load(helpers.work / "through.npy"), np.load(helpers.work / "plain.npy"))


def test_standard_input_goes_to_the_worker(helpers):
    data = (helpers.work / "a.png").read_bytes()
    plain = helpers.run("filter", "-", "-k", "sobel-y", "-o", "-", helper=False, input=data)
    with waiting_client(helpers, "filter", "-", "-k", "sobel-y", "-o", "-") as (client, _worker):
        stdout, stderr = client.communicate(data, timeout=120)
    assert (client.returncode, stdout, _untimed(stderr)) == (plain.returncode, plain.stdout, _untimed(plain.stderr))
    assert client.returncode == 0 and stdout[:8] == b"\x89PNG\r\n\x1a\n"


def test_relative_paths_follow_each_clients_working_directory(helpers):
    helpers.start()
    for index, name in enumerate(("one", "two")):
        folder = helpers.work / name
        folder.mkdir()
        pixels = np.full((6, 7), 40 * (index + 1), dtype=np.uint8)
        pixels[2, 3] = 255
        Image.fromarray(pixels).save(folder / "in.png")
        through = helpers.run("filter", "in.png", "-k", "box3", "-o", "out.npy", "-q", cwd=folder)
        assert through.returncode == 0, through.stderr
        expected = helpers.run("filter", "in.png", "-k", "box3", "-o", "plain.npy", "-q", helper=False, cwd=folder)
        assert expected.returncode == 0
        assert np.array_equal(np.load(folder / "out.npy"), np.load(folder / "plain.npy"))


MAKEFILE = """\
IN := $(wildcard in/*.png)
all: $(IN:in/%.png=out/%.png)
out/%.png: in/%.png
\t@mkdir -p out
\t@"$(CONVCLI)" -q filter $< -k sobel-x -o $@
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_j2_through_the_helper_writes_the_same_files(helpers):
    # The README's use: a pattern rule, one call per file, `make -j2` with CONVCLI_HELPER=1 exported.
    rng = np.random.default_rng(5)
    (helpers.work / "in").mkdir()
    for index in range(12):
        Image.fromarray(rng.integers(0, 256, (24, 20 + index), dtype=np.uint8)).save(helpers.work / "in" / f"{index}.png")
    (helpers.work / "Makefile").write_text(MAKEFILE)
    make = ["make", "-s", "-j2", f"CONVCLI={CONVCLI}"]
    plain = subprocess.run(make, cwd=helpers.work, env=helpers.plain, capture_output=True, timeout=300)
    assert (plain.returncode, plain.stderr) == (0, b"")
    expected = {path.name: path.read_bytes() for path in (helpers.work / "out").iterdir()}
    assert len(expected) == 12
    helpers.start()
    shutil.rmtree(helpers.work / "out")
    through = subprocess.run(make, cwd=helpers.work, env=helpers.env, capture_output=True, timeout=300)
    assert (through.returncode, through.stderr) == (0, b"")
    assert {path.name: path.read_bytes() for path in (helpers.work / "out").iterdir()} == expected
    assert len(helpers.pids()) == 1  # one helper served them all


# --- signals ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("signum,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_a_signal_to_the_client_reaches_the_worker(helpers, signum, code, word):
    with waiting_client(helpers, "filter", "-", "-k", "box3", "-o", "out.png") as (client, _worker):
        client.send_signal(signum)
        client.wait(timeout=120)  # standard input stays open: the worker ends by the signal, not by its end
        stdout, stderr = client.communicate(timeout=120)
    assert (client.returncode, stdout, stderr) == (code, b"", f"convcli: {word}\n".encode())
    assert not (helpers.work / "out.png").exists()


def _state(pid):
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_ctrl_z_stops_the_worker_with_its_client_and_fg_continues_both(helpers):
    data = (helpers.work / "a.png").read_bytes()
    with waiting_client(helpers, "filter", "-", "-k", "box3", "-o", "out.png", "-q") as (client, worker):
        client.send_signal(signal.SIGTSTP)
        _wait_until(lambda: _state(client.pid) == "T" and _state(worker) == "T", "both stopped")
        client.send_signal(signal.SIGCONT)
        _wait_until(lambda: _state(worker) != "T", "the worker continued")
        stdout, stderr = client.communicate(data, timeout=120)
    assert (client.returncode, stdout, stderr) == (0, b"", b"")
    assert (helpers.work / "out.png").exists()


@pytest.mark.parametrize("line", ['"$C" filter a.png -k box3 -o - >&-', '"$C" filter - -k box3 -o x.png <&-',
                                  '"$C" filter a.png -k box3 -o y.png 2>&-; echo "exit $?"'])
def test_closed_standard_streams_stay_closed(helpers, line):
    helpers.start()
    results = []
    for env in (helpers.plain, helpers.env):
        results.append(subprocess.run(["sh", "-c", line], env=dict(env, C=CONVCLI), cwd=helpers.work,
                                      capture_output=True, timeout=120))
    _same(*results)
    assert results[0].returncode != 0 or results[0].stdout == b"exit 0\n"


def test_a_worker_killed_by_a_signal_is_one_line(helpers):
    with waiting_client(helpers, "filter", "-", "-k", "box3", "-o", "out.png") as (client, worker):
        os.kill(worker, signal.SIGKILL)
        stdout, stderr = client.communicate(timeout=120)
    assert (client.returncode, stdout, stderr) == (128 + signal.SIGKILL, b"",
                                                   b"convcli: the helper's worker ended by signal 9\n")


def test_a_killed_client_stops_its_worker(helpers):
    with waiting_client(helpers, "filter", "-", "-k", "box3", "-o", "out.png") as (client, _worker):
        client.kill()
    assert not (helpers.work / "out.png").exists()  # the worker ended (waiting_client waits for that)


# --- starts and stops by itself; safe --------------------------------------------------------------


def test_a_helper_ends_after_its_idle_time(helpers):
    env = dict(helpers.env, CONVCLI_HELPER_IDLE="1")
    pid = helpers.start(env)
    _wait_until(lambda: not _alive(pid), "the idle helper ending")
    assert list(helpers.directory.glob("*.sock")) == []


def test_a_helper_ends_when_its_socket_is_removed(helpers):
    pid = helpers.start()
    (socket_file,) = helpers.directory.glob("*.sock")
    socket_file.unlink()
    _wait_until(lambda: not _alive(pid), "the helper ending without its socket")


def test_a_second_helper_is_refused_by_the_lock(helpers):
    pid = helpers.start()
    (socket_file,) = helpers.directory.glob("*.sock")
    before = socket_file.stat().st_ino
    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]  # what the client started
    second = subprocess.run(command, env=helpers.env, capture_output=True, timeout=120)
    assert (second.returncode, second.stdout, second.stderr) == (0, b"", b"")
    assert socket_file.stat().st_ino == before and helpers.pids() == [pid]


@pytest.mark.parametrize("spoil", ["mode", "symlink", "owner"])
def test_an_unsafe_directory_means_no_helper(helpers, spoil):
    if spoil == "mode":
        helpers.directory.mkdir(mode=0o700)
        os.chmod(helpers.directory, 0o755)
    elif spoil == "symlink":
        elsewhere = helpers.runtime / "elsewhere"
        elsewhere.mkdir(mode=0o700)
        helpers.directory.symlink_to(elsewhere)
    else:
        if os.getuid() != 0:
            pytest.skip("only root can give a directory to another user")
        helpers.directory.mkdir(mode=0o700)
        os.chown(helpers.directory, 65534, 65534)
    plain = helpers.run("filter", "a.png", "-k", "sobel-x", "-o", "plain.png", helper=False)
    through = helpers.run("filter", "a.png", "-k", "sobel-x", "-o", "through.png")
    _same(plain, through)
    assert (helpers.work / "through.png").read_bytes() == (helpers.work / "plain.png").read_bytes()
    time.sleep(0.5)  # a helper would have created its lock file by now
    assert [p.name for p in helpers.directory.resolve().iterdir()] == []


def test_no_helper_is_started_where_its_socket_path_would_be_too_long(helpers, tmp_path):
    runtime = tmp_path / ("r" * (_helper.MAX_SOCKET_PATH - len(str(tmp_path))))
    runtime.mkdir(mode=0o700)
    env = dict(helpers.env, XDG_RUNTIME_DIR=str(runtime))
    result = subprocess.run([CONVCLI, "--help"], env=env, capture_output=True, timeout=120)
    assert (result.returncode, result.stderr) == (0, b"")
    assert list((runtime / "convcli").iterdir()) == []  # not even a lock file: no helper tried


@pytest.mark.parametrize("value", [None, "0", "yes"])
def test_without_CONVCLI_HELPER_1_nothing_of_the_helper_is_imported(helpers, value):
    env = dict(helpers.plain) if value is None else dict(helpers.plain, CONVCLI_HELPER=value)
    script = ("import sys\nfrom convcli._entry import main\nsys.argv = ['convcli', '--help']\n"
              "try:\n    main()\nexcept SystemExit:\n    pass\n"
              "print(sorted(m for m in sys.modules if m.startswith('convcli._helper')))\n")
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.stdout.splitlines()[-1] == "[]"
    assert not helpers.directory.exists()


def test_the_client_imports_only_cheap_modules():
    # Beyond what the entry point imports anyway (signal, which imports enum).
    script = ("import sys\nimport convcli._entry\nbefore = set(sys.modules)\nimport convcli._helper\n"
              "print(sorted(m for m in set(sys.modules) - before if not m.startswith('convcli')))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    new = set(eval(result.stdout))
    assert new <= {"_socket", "_struct", "resource"}, new


# --- pieces ------------------------------------------------------------------------------------------


def test_fields_round_trip_and_a_cut_request_is_refused():
    fields = [b"", b"a=b", bytes(range(256)), "é".encode()]
    assert _helper.decode_fields(_helper.encode_fields(fields)) == fields
    data = _helper.encode_fields([b"abcdef"])
    with pytest.raises(ValueError, match="`data` ends inside a field"):
        _helper.decode_fields(data[:-1])
    with pytest.raises(ValueError, match="`data` ends inside a field's length"):
        _helper.decode_fields(data[:2])


@pytest.mark.parametrize("seen", ["/proc/self/ns/mnt", "/"])
def test_the_key_changes_with_the_namespaces_and_root_and_nice_value(monkeypatch, seen):
    # A client in another mount namespace or chroot (a container sharing the socket directory)
    # sees other files: it must not be served by this helper.
    key = _helper.helper_key()
    real_stat = os.stat

    def elsewhere(path, *args, **kwargs):
        info = real_stat(path, *args, **kwargs)
        return os.stat_result((info.st_mode, info.st_ino + 1, *info[2:])) if path == seen else info

    monkeypatch.setattr(os, "stat", elsewhere)
    assert _helper.helper_key() != key
    monkeypatch.setattr(os, "stat", real_stat)
    monkeypatch.setattr(os, "getpriority", lambda which, who: 19)
    assert _helper.helper_key() != key


def test_the_key_changes_with_what_is_read_at_import_time(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    first = _helper.helper_key()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    second = _helper.helper_key()
    monkeypatch.setenv("SOMETHING_ELSE", "1")  # read at run time: the worker gets it, the key ignores it
    assert first != second == _helper.helper_key()


@pytest.mark.parametrize("value,expected", [(None, 30.0), ("2.5", 2.5), ("0", 30.0), ("-1", 30.0), ("nan", 30.0),
                                            ("soon", 30.0)])
def test_the_idle_time(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("CONVCLI_HELPER_IDLE", raising=False)
    else:
        monkeypatch.setenv("CONVCLI_HELPER_IDLE", value)
    assert _helper.idle_seconds() == expected


def test_the_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert _helper.helper_directory() == str(tmp_path / "convcli")
    monkeypatch.setenv("XDG_RUNTIME_DIR", "relative")
    assert _helper.helper_directory() == f"/tmp/convcli-{os.getuid()}"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert _helper.helper_directory() == f"/tmp/convcli-{os.getuid()}"
