"""Promises under faults: worker processes end with their parent, standard output written whole
or failed, the environment's faults worded as such (one line, exit 1), standard error best effort.

Anything with worker processes, signals or real file descriptors runs the installed ``convcli`` in a
subprocess; the rest goes through click's CliRunner.
"""

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
from convcli.cli import main, runner
parent, run_one = os.getpid(), runner._run_one
def slow(job, position):  # each input takes a while in a worker: the batch is still going when killed
    if os.getpid() != parent:
        time.sleep(0.2)
    return run_one(job, position)
runner._run_one = slow
if os.environ.get("NO_PRCTL"):  # the portable watchdog alone
    runner._PR_SET_PDEATHSIG = -1
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
