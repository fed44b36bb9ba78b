"""Batches on real Dask processes: a ``dask scheduler`` and ``dask worker`` processes started as a
user starts them, on 127.0.0.1 (tests/dask_procs.py), driven by the installed ``convcli
--scheduler tcp://...`` in a subprocess. Each run is compared with ``--jobs 1`` on the same inputs:
the output files' bytes, the report, standard error and the exit code. Workers are killed and
crashed mid-run, given other versions, or made blind to the client's folder.

Test-only behaviour goes to workers as Dask preload scripts (``distributed.worker.preload``), which
run in each worker process before it takes tasks: they record which process did a file, slow tasks
down, or kill the process doing one file.
"""

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from dask_procs import DaskProcesses
from test_cli_batch import convcli, leftovers, make_batch, untimed

# Each worker notes the pid that did each file (the client must not do them itself).
RECORD = """
import os
from convcli.cli import cluster
_run_file = cluster.__dict__.setdefault("_unpatched_run_file", cluster.run_file)  # a preload may run twice
def run_file(job, work, context):
    with open(os.path.join({folder!r}, f"{{os.getpid()}}-{{work.position}}"), "w"):
        pass
    return _run_file(job, work, context)
cluster.run_file = run_file
"""

# Every task takes a while, so that a run lasts long enough to kill a worker in its middle.
SLOW = """
import time
from convcli.cli import cluster
_run_one = cluster.__dict__.setdefault("_unpatched_run_one", cluster.run_one)  # a preload may run twice
def run_one(job, position, **kw):
    time.sleep({seconds})
    return _run_one(job, position, **kw)
cluster.run_one = run_one
"""

# The first worker process to write img05.png's temporary file hangs before its rename (the test
# then kills it, mid-write); the retry elsewhere goes through.
HANG_ONCE = """
import os, time
_fsync = os.__dict__.setdefault("_unpatched_fsync", os.fsync)  # a preload may run twice
def fsync(fd):
    name = os.readlink(f"/proc/self/fd/{{fd}}")
    if ".img05.png." in name and name.endswith(".tmp"):
        try:
            os.close(os.open({marker!r}, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            pass
        else:
            time.sleep(120)
    _fsync(fd)
os.fsync = fsync
"""

# Whichever worker process takes img07 dies (as the out-of-memory killer would kill it).
KILLER = """
import os, signal
from convcli.cli import cluster
_run_one = cluster.__dict__.setdefault("_unpatched_run_one", cluster.run_one)  # a preload may run twice
def run_one(job, position, **kw):
    if job.inputs[position].stem == "img07":
        os.kill(os.getpid(), signal.SIGKILL)
    return _run_one(job, position, **kw)
cluster.run_one = run_one
"""

# A worker that cannot see folders named "hidden-*" (as a worker of another machine would not).
BLIND = """
import genericpath, posixpath
_isdir = genericpath.__dict__.setdefault("_unpatched_isdir", genericpath.isdir)  # a preload may run twice
def isdir(path):
    return False if "hidden-" in str(path) else _isdir(path)
genericpath.isdir = posixpath.isdir = isdir
"""


def preload(tmp_path, name, text, **fields):
    """A preload script for workers, as the extra environment that makes them run it."""
    path = tmp_path / f"{name}.py"
    path.write_text(text.format(**fields))
    return {"DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps([str(path)])}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Two real workers that note which process did each file: (cluster, the notes' folder)."""
    folder = tmp_path_factory.mktemp("cluster-record")
    notes = folder / "notes"
    notes.mkdir()
    env = preload(folder, "record", RECORD, folder=str(notes))
    with DaskProcesses(2, folder=folder / "dask", worker_env=[env, env]) as cluster:
        yield cluster, notes


def same_runs(spread, local):
    """The cluster run is the local one; a report that differs is shown field by field."""
    for got, wanted in zip(spread[2]["files"], local[2]["files"]):
        assert {k: v for k, v in got.items() if got.get(k) != wanted.get(k)} == \
            {k: v for k, v in wanted.items() if got.get(k) != wanted.get(k)}, got["input"]
    assert spread == local


def started_by(notes):
    """What the RECORD preload noted: {input position: the pids of the processes that started it}."""
    found = {}
    for note in os.listdir(notes):
        pid, position = map(int, note.split("-"))
        found.setdefault(position, set()).add(pid)
    return found


def start_run(tmp_path, cluster, count, kernel):
    """``count`` files in in/, done with --jobs 1 into local/, then started on ``cluster`` into
    spread/ (with a report): the running process."""
    make_batch(tmp_path / "in", count=count, broken=False)
    reference = convcli("filter", "in", "-k", kernel, "-O", "local", "--jobs", "1", cwd=tmp_path)
    assert reference.returncode == 0
    return convcli("filter", "in", "-k", kernel, "-O", "spread", "--report", "spread.json",
                   "--scheduler", cluster.address, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run_both(tmp_path, address, *args, inputs=("in",)):
    """Run ``args`` with --jobs 1 and on the cluster (outputs in local/ and spread/): for each, the
    exit code, standard error, the untimed report and the output files' bytes."""
    results = []
    for where, out in ((("--jobs", "1"), "local"), (("--scheduler", address), "spread")):
        (tmp_path / out).mkdir(exist_ok=True)  # for -o OUT/NAME (-O makes it)
        done = convcli(*[a.format(out=out) for a in args], *inputs, "--report", f"{out}.json", *where, cwd=tmp_path)
        folder = tmp_path / out
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        assert leftovers(folder) == []
        report = json.loads((tmp_path / f"{out}.json").read_text().replace(f"{out}/", "OUT/"))
        results.append((done.returncode, done.stderr.replace(f"{out}/", "OUT/"), untimed(report), files))
    return results


def test_a_200_file_batch_on_two_real_workers_is_the_jobs_1_run(tmp_path, recorded):
    cluster, notes = recorded
    make_batch(tmp_path / "in", count=200)  # img10, img20, img30 are broken
    local, spread = run_both(tmp_path, cluster.address, "filter", "-k", "gaussian5", "-O", "{out}")
    same_runs(spread, local)
    assert local[0] == 1 and local[1].count("convcli: error:") == 3 and len(local[3]) == 197
    assert (local[2]["ok"], local[2]["failed"]) == (197, 3)
    # Every file was done by the workers' processes, both of them, none by the client.
    done_by = started_by(notes)
    workers = {worker.worker_pid for worker in cluster.workers}
    assert set(done_by) == set(range(200))
    assert set().union(*done_by.values()) == workers and len(workers) == 2


@pytest.mark.parametrize("command", [
    ["sobel", "-O", "{out}"],
    ["pool", "--op", "max", "--size", "2", "-O", "{out}"],
    ["upsample", "--factor", "2", "--method", "nearest", "-O", "{out}"],
    ["conv2d", "--filters", "3", "--kernel-size", "3", "--seed", "7", "--activation", "relu", "-O", "{out}"],
    ["pipeline", "pipe.yaml", "-O", "{out}"],
    ["filter", "-k", "box3", "--fail-fast", "-O", "{out}"],
])
def test_every_command_on_real_workers_is_the_jobs_1_run(tmp_path, recorded, command):
    cluster, _ = recorded
    make_batch(tmp_path / "in", count=21)  # img10 and img20 are broken
    (tmp_path / "pipe.yaml").write_text("steps:\n  - filter: {kernel: sobel-x, boundary: reflect}\n"
                                        "  - pool: {op: max, size: 2}\n")
    local, spread = run_both(tmp_path, cluster.address, *command)
    same_runs(spread, local)
    assert local[0] == 1 and "in/img10.png" in local[1]
    assert len(local[3]) == (10 if "--fail-fast" in command else 19)


def test_a_worker_killed_mid_run_its_files_are_done_again_elsewhere(tmp_path, dask_processes):
    notes = tmp_path / "notes"
    notes.mkdir()
    slow = json.loads(preload(tmp_path, "slow", SLOW, seconds=0.03)["DASK_DISTRIBUTED__WORKER__PRELOAD"])
    record = json.loads(preload(tmp_path, "record", RECORD, folder=str(notes))["DASK_DISTRIBUTED__WORKER__PRELOAD"])
    env = {"DASK_DISTRIBUTED__WORKER__PRELOAD": json.dumps(slow + record)}
    cluster = dask_processes(2, worker_env=[env, env])
    process = start_run(tmp_path, cluster, 200, "gaussian5")
    deadline = time.monotonic() + 60
    while not (tmp_path / "spread").is_dir() or len(os.listdir(tmp_path / "spread")) < 40:
        assert time.monotonic() < deadline and process.poll() is None, "the run ended before the kill"
        time.sleep(0.01)
    cluster.kill_worker(0)  # the nanny and its worker: gone, not restarted
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert b"Traceback" not in stderr and b"error" not in stderr
    report = json.loads((tmp_path / "spread.json").read_text())
    assert [entry["input"] for entry in report["files"]] == sorted(f"in/img{n:02d}.png" for n in range(200))
    assert (report["ok"], report["failed"]) == (200, 0)
    assert leftovers(tmp_path / "spread") == []
    for name in os.listdir(tmp_path / "local"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert len(os.listdir(tmp_path / "spread")) == 200
    # The file the killed worker was doing was started again by the other one: counted once above.
    started = started_by(notes)
    assert set(started) == set(range(200))
    assert any(len(pids) == 2 for pids in started.values())


def test_a_worker_crashing_mid_write_leaves_no_temporary_file(tmp_path, dask_processes):
    env = preload(tmp_path, "hang", HANG_ONCE, marker=str(tmp_path / "hung-once"))
    cluster = dask_processes(2, worker_env=[env, env])
    process = start_run(tmp_path, cluster, 12, "box3")
    deadline = time.monotonic() + 60
    while True:  # the worker process writing img05.png's temporary file, hanging before its rename
        writer = [(index, worker.worker_pid) for index, worker in enumerate(cluster.workers)
                  if worker.worker_pid and _holds_temporary(worker.worker_pid, ".img05.png.")]
        if writer:
            break
        assert time.monotonic() < deadline and process.poll() is None, "img05 was never written"
        time.sleep(0.02)
    assert any(name.startswith(".img05.png.") for name in os.listdir(tmp_path / "spread"))
    index, pid = writer[0]
    assert cluster.crash_worker(index) == pid  # its nanny starts another worker process
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()
    report = json.loads((tmp_path / "spread.json").read_text())
    assert [entry["input"] for entry in report["files"]].count("in/img05.png") == 1
    assert (report["ok"], report["failed"]) == (12, 0)
    assert leftovers(tmp_path / "spread") == []
    assert sorted(os.listdir(tmp_path / "spread")) == sorted(os.listdir(tmp_path / "local"))
    for name in os.listdir(tmp_path / "local"):
        assert (tmp_path / "spread" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def _holds_temporary(pid, mark):
    """Whether process ``pid`` has a temporary file open whose name holds ``mark``."""
    try:
        names = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(mark in os.path.basename(name) and name.endswith(".tmp") for name in names)


def test_a_file_that_kills_every_worker_it_meets_fails_alone(tmp_path, dask_processes):
    env = preload(tmp_path, "killer", KILLER)
    cluster = dask_processes(2, worker_env=[env, env],
                             scheduler_env={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1"})
    make_batch(tmp_path / "in", count=16, broken=False)
    done = convcli("filter", "in", "-k", "box3", "-O", "spread", "--report", "spread.json",
                   "--scheduler", cluster.address, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[0] == ("convcli: error: in/img07.png: every worker process that started it died "
                                           "(killed by a signal, out of memory, or crashed)")
    assert len(done.stderr.splitlines()) == 1  # the report, not a summary
    assert sorted(os.listdir(tmp_path / "spread")) == [f"img{n:02d}.png" for n in range(16) if n != 7]
    report = json.loads((tmp_path / "spread.json").read_text())
    assert (report["ok"], report["failed"]) == (15, 1)


def test_other_versions_on_a_worker_are_one_line_before_any_work(tmp_path, dask_processes):
    from importlib.metadata import version

    fake = tmp_path / "fake"
    (fake / "zarr-0.0.1.dist-info").mkdir(parents=True)
    (fake / "zarr-0.0.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: zarr\nVersion: 0.0.1\n")
    cluster = dask_processes(2, worker_env=[None, {"PYTHONPATH": str(fake)}])
    odd = [address for address, info in _workers(cluster.address).items() if info["name"] == "w1"]
    make_batch(tmp_path / "in", count=3, broken=False)
    done = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", cluster.address, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"Error: --scheduler {cluster.address}: the cluster runs other versions: "
        f"zarr {version('zarr')} here, 0.0.1 on {odd[0]}"]
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def _workers(address):
    """The scheduler's view of its workers: {address: info}."""
    import distributed

    with distributed.Client(address, timeout="10s", set_as_default=False) as client:
        return client.scheduler_info()["workers"]


def test_a_worker_that_cannot_see_this_folder_is_one_line_before_any_work(tmp_path, dask_processes):
    env = preload(tmp_path, "blind", BLIND)
    cluster = dask_processes(1, worker_env=[env])
    folder = tmp_path / "hidden-from-workers"
    make_batch(folder / "in", count=3, broken=False)
    done = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", cluster.address, cwd=folder)
    assert done.returncode == 2
    [worker] = _workers(cluster.address)
    assert done.stderr.splitlines() == [
        f"Error: --scheduler {cluster.address}: the worker {worker} cannot see this folder ({folder}); "
        "a cluster's workers need the same paths as this machine (shared storage)"]
    assert not (folder / "out").exists() or os.listdir(folder / "out") == []


def test_a_workers_address_is_not_the_schedulers(tmp_path, recorded, run):
    cluster, _ = recorded
    worker = next(iter(_workers(cluster.address)))
    make_batch(tmp_path / "in", count=2, broken=False)
    result = run("filter", "in", "-k", "box3", "-O", "out", "--scheduler", worker)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: --scheduler {worker}: that is a Dask Worker, not the scheduler"


def test_a_scheduler_without_workers_is_one_line(tmp_path, dask_processes, run, monkeypatch):
    from convcli.cli import cluster_connect

    cluster = dask_processes(0)
    monkeypatch.setattr(cluster_connect, "WORKERS_SECONDS", 0.5)
    make_batch(tmp_path / "in", count=2, broken=False)
    result = run("filter", "in", "-k", "box3", "-O", "out", "--scheduler", cluster.address)
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: --scheduler {cluster.address}: the scheduler has no worker (waited 0.5 s)"


def test_an_interrupted_fail_fast_run_leaves_no_staged_file(tmp_path, dask_processes):
    # Staged outputs of tasks running when the client stops are the client's to remove: it waits
    # for those tasks (GRACE_SECONDS) and removes what they staged.
    env = preload(tmp_path, "slow", SLOW, seconds=0.8)
    cluster = dask_processes(2, worker_env=[env, env])
    make_batch(tmp_path / "in", count=20, broken=False)
    process = convcli("filter", "in", "-k", "box3", "-O", "out", "--fail-fast", "--scheduler", cluster.address,
                      cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not (tmp_path / "out" / "img01.png").exists():
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    time.sleep(0.3)  # the next tasks are running
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr.decode()
    time.sleep(1.5)  # anything still running on the workers would have written by now
    names = sorted(os.listdir(tmp_path / "out"))
    assert leftovers(tmp_path / "out") == []
    assert names == [f"img{n:02d}.png" for n in range(len(names))]  # in input order, none after a gap


def test_a_zarr_volume_in_bands_on_real_workers_is_the_local_banded_run(tmp_path, recorded):
    from convcli.images.zarr_io import _zarr

    zarr = _zarr()  # imported as convcli imports it (quiet about its codecs' deprecations)
    cluster, notes = recorded
    before = set(os.listdir(notes))
    volume = np.random.default_rng(3).random((300, 200), dtype=np.float32) * 255
    array = zarr.create_array(str(tmp_path / "in.zarr"), shape=volume.shape, chunks=(64, 64), dtype="float32")
    array[:] = volume
    args = ["filter", "-k", "gaussian5", "--boundary", "reflect", "--band-rows", "64", "-o", "{out}/out.zarr"]
    local, spread = run_both(tmp_path, cluster.address, *args, inputs=("in.zarr",))
    same_runs(spread, local)
    assert local[0] == 0 and local[2]["files"][0]["bands"] == {"rows": 64, "count": 5}
    assert set(os.listdir(notes)) == before  # done as tasks of bands, not as one file's task


def test_the_readme_cluster_commands_run_as_written(tmp_path):
    """README, "Running on a cluster": the `dask scheduler`, `dask worker` and convcli lines, run as
    written on this machine (127.0.0.1 for scheduler-host, a free port for 8786)."""
    import socket
    from pathlib import Path

    from dask_procs import base_environment, dask_command, group_members

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Running on a cluster", 1)[1].split("\n## ", 1)[0]
    block = next(body for body in re.findall(r"```sh\n(.*?)```", section, re.S) if "dask scheduler" in body)
    lines = [line.split("#", 1)[0].strip().rstrip("&").strip() for line in block.splitlines() if line.strip()]
    assert [line.split()[:2] for line in lines] == [["dask", "scheduler"], ["dask", "worker"], ["convcli", "filter"]]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    lines = [line.replace("scheduler-host", "127.0.0.1").replace("0.0.0.0", "127.0.0.1").replace("8786", port)
             for line in lines]
    make_batch(tmp_path / "photos", count=5, broken=False)
    started = []
    try:
        for line in lines[:2]:
            with open(tmp_path / f"{line.split()[1]}.log", "wb") as log:
                started.append(subprocess.Popen([*dask_command(), *line.split()[1:]], cwd=tmp_path, stdout=log,
                                                stderr=subprocess.STDOUT, env=base_environment(),
                                                start_new_session=True))
        import distributed

        with distributed.Client(f"tcp://127.0.0.1:{port}", timeout="30s", set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        done = convcli(*lines[2].split()[1:], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(os.listdir(tmp_path / "out")) == [f"img{n:02d}.png" for n in range(5)]
    finally:
        for process in reversed(started):  # the workers, then the scheduler
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            for pid in group_members(process.pid):
                os.kill(pid, signal.SIGKILL)
            process.wait()


def test_inputs_held_back_for_input_order_are_all_done(tmp_path, recorded, run, monkeypatch):
    # Few tasks ahead and few outcomes held: inputs recorded at once (up to date) must not stall
    # the run behind the one input still on the cluster.
    from convcli.cli import cluster as cluster_module

    cluster, _ = recorded
    monkeypatch.setattr(cluster_module, "WINDOW", 1)
    monkeypatch.setattr(cluster_module, "AHEAD", 2)
    make_batch(tmp_path / "in", count=30, broken=False)
    first = run("filter", "in", "-k", "box3", "-O", "out", "--scheduler", cluster.address, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["ok"] == 30 and len(os.listdir(tmp_path / "out")) == 30
    later = time.time() + 10
    for name in ("img00.png", "img17.png"):  # newer than their outputs: done again
        os.utime(tmp_path / "in" / name, (later, later))
    again = run("filter", "in", "-k", "box3", "-O", "out", "--scheduler", cluster.address, "--update", "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["ok"], report["up_to_date"], report["skipped"]) == (2, 28, 0)


def test_a_cluster_left_without_workers_stops_the_run_in_one_line(tmp_path, dask_processes):
    env = preload(tmp_path, "slow", SLOW, seconds=0.2)
    cluster = dask_processes(1, worker_env=[env])
    process = start_run(tmp_path, cluster, 40, "box3")
    deadline = time.monotonic() + 60
    while not (tmp_path / "spread").is_dir() or len(os.listdir(tmp_path / "spread")) < 3:
        assert time.monotonic() < deadline and process.poll() is None, "the run ended before the kill"
        time.sleep(0.01)
    cluster.kill_worker(0)  # the only one: the tasks left would wait for a worker for ever
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    [line] = stderr.decode().splitlines()
    assert re.fullmatch(rf"Error: lost every worker of {cluster.address}; \d+ files not done", line)
    assert leftovers(tmp_path / "spread") == []
