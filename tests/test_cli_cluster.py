"""Batches on a Dask cluster (``--scheduler``, cli/cluster.py): the one-line refusals before any
work, and runs through ``--scheduler local:N`` and the session's real scheduler and workers
(``dask_cluster``) compared with ``--jobs 1`` (outputs byte for byte, the report, standard error,
exit codes). Faults with real processes are in tests/test_cli_cluster_procs.py.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from convcli.cli import cluster, cluster_connect

from test_cli_batch import convcli, leftovers, make_batch, signal_when, untimed


@pytest.fixture
def listener():
    """A TCP port on 127.0.0.1 that accepts connections and then does ``behaviour`` (a function of
    the accepted socket); its address."""
    servers, accepted = [], []

    def start(behaviour):
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        servers.append(server)

        def serve():
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                accepted.append(connection)
                behaviour(connection)

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    for open_socket in [*servers, *accepted]:  # a socket left open is a ResourceWarning (an error here)
        open_socket.close()


def free_port():
    """A port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def refused(run, tmp_path, *args, usage=False):
    """Run a filter batch that must be refused before any work: exit 2, one line (after the usage
    lines, for a usage error), nothing written."""
    make_batch(tmp_path / "in", count=3, broken=False)
    result = run("filter", "in", "-k", "box3", "-O", "out", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    if usage:
        assert lines[0].startswith("Usage:")
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []
    return lines[0]


@pytest.mark.parametrize("count", ["0", "x", "", "-1", "1.5"])
def test_local_needs_a_whole_number_of_workers(run, tmp_path, count):
    line = refused(run, tmp_path, "--scheduler", f"local:{count}", usage=True)
    assert "local:N" in line and repr(count) in line


def test_jobs_and_scheduler_are_one_or_the_other(run, tmp_path):
    line = refused(run, tmp_path, "--scheduler", "local:1", "--jobs", "2", usage=True)
    assert "--jobs" in line and "--scheduler" in line


def test_a_refused_connection_is_one_line(run, tmp_path):
    address = f"tcp://127.0.0.1:{free_port()}"
    line = refused(run, tmp_path, "--scheduler", address)
    assert line.endswith(f"--scheduler {address}: cannot connect: Connection refused")


def test_the_address_needs_a_port(run, tmp_path):
    line = refused(run, tmp_path, "--scheduler", "127.0.0.1")
    assert "--scheduler 127.0.0.1: " in line and "port" in line


def test_an_unknown_scheme(run, tmp_path):
    line = refused(run, tmp_path, "--scheduler", "foo://127.0.0.1:1")
    assert "unknown address scheme 'foo'" in line


def test_a_silent_listener_is_given_up_on_in_time(run, tmp_path, listener, monkeypatch):
    # Dask's own Client would wait for ever on a port that accepts and never speaks.
    held = []
    address = listener(held.append)
    monkeypatch.setattr(cluster_connect, "CONNECT_SECONDS", 0.5)
    line = refused(run, tmp_path, "--scheduler", address)
    assert line.endswith("no answer from a Dask scheduler within 0.5 s")


def test_something_else_answering_is_not_a_scheduler(run, tmp_path, listener):
    # Dask reads the first bytes as a frame length (an HTTP reply: exabytes, a MemoryError).
    def http(connection):
        connection.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n" * 4)
        connection.close()

    address = listener(http)
    line = refused(run, tmp_path, "--scheduler", address)
    assert line == f"Error: --scheduler {address}: what answers there is not a Dask scheduler"


def test_the_environment_variable_names_the_scheduler(run, tmp_path, monkeypatch):
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setenv("CONVCLI_SCHEDULER", address)
    line = refused(run, tmp_path)
    assert f"--scheduler {address}: cannot connect" in line


def test_without_dask_installed_the_line_says_what_to_install(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    line = refused(run, tmp_path, "--scheduler", "tcp://127.0.0.1:1")
    assert 'pip install "convcli[cluster]"' in line


def test_version_mismatch_names_each_package_and_process():
    mine = {"python": "3.11", "numpy": "2.4.6", "convcli": "0.1.0", "zarr": "3.1.6"}
    theirs = {
        "the scheduler": {"python": "3.11"},
        "tcp://10.0.0.1:1": {"python": "3.11", "numpy": "2.4.6", "convcli": "0.1.0", "zarr": "3.1.6"},
        "tcp://10.0.0.2:1": {"python": "3.12", "numpy": "2.4.6", "convcli": "0.0.9", "zarr": None},
        "tcp://10.0.0.3:1": {"python": "3.12", "numpy": "2.4.6", "convcli": "0.1.0", "zarr": "3.1.6"},
    }
    assert cluster_connect.version_mismatch(mine, theirs) == (
        "the cluster runs other versions: python 3.11 here, 3.12 on tcp://10.0.0.2:1, tcp://10.0.0.3:1; "
        "convcli 0.1.0 here, 0.0.9 on tcp://10.0.0.2:1; zarr 3.1.6 here, none on tcp://10.0.0.2:1")
    assert cluster_connect.version_mismatch(mine, {"w": dict(mine)}) is None


def test_a_task_works_in_the_clients_folder_and_names_temporaries_as_its(tmp_path, monkeypatch):
    from convcli.images import atomic

    context = cluster.TaskContext(cwd=str(tmp_path), owner="42-cafe0123")
    monkeypatch.chdir("/")
    with cluster.on_worker(context):
        assert os.getcwd() == str(tmp_path)
        assert atomic.owner_mark() == ".42-cafe0123."
    assert os.getcwd() == "/" and atomic.owner_mark() == atomic._OWNER_MARK


def test_a_task_whose_folder_is_missing_says_so(tmp_path):
    from convcli.errors import ConvcliError

    with pytest.raises(ConvcliError, match="is not on this worker .*shared storage"):
        with cluster.on_worker(cluster.TaskContext(cwd=str(tmp_path / "nowhere"), owner="1-ab")):
            pass


# -- runs on `--scheduler local:2`, against --jobs 1 --------------------------------------------------


def outcome(tmp_path, *args, out):
    """Run a batch with ``args`` into ``out``: exit code, standard error, the report (untimed, the
    output folder's name taken out) and the output files' bytes."""
    done = convcli("filter", "in", "-k", "box3", "-O", out, "--report", f"{out}.json", *args, cwd=tmp_path)
    report = (tmp_path / f"{out}.json").read_text().replace(f"{out}/", "OUT/")
    files = {name: (tmp_path / out / name).read_bytes() for name in sorted(os.listdir(tmp_path / out))}
    assert leftovers(tmp_path / out) == []
    return done.returncode, done.stderr.replace(f"{out}/", "OUT/"), untimed(json.loads(report)), files


@pytest.mark.parametrize("extra", [(), ("--fail-fast",)], ids=["all", "fail-fast"])
def test_local_cluster_run_is_the_in_process_run(tmp_path, extra):
    make_batch(tmp_path / "in", count=24)  # two broken files among them
    local = outcome(tmp_path, "--jobs", "1", *extra, out="local")
    spread = outcome(tmp_path, "--scheduler", "local:2", *extra, out="spread")
    assert local[0] == spread[0] == 1
    assert spread[1] == local[1] and "img10.png" in spread[1]
    assert spread[2] == local[2]
    assert spread[3] == local[3]
    if extra:  # nothing after the first failure (img10)
        assert sorted(spread[3]) == [f"img{n:02d}.png" for n in range(10)]
    else:
        assert len(spread[3]) == 22  # img10 and img20 are broken (img30 is beyond 24)


def test_update_and_no_clobber_on_a_cluster(tmp_path, dask_cluster):
    address = dask_cluster.address  # the session's real processes: a local:N run starts its own each time
    make_batch(tmp_path / "in", count=6, broken=False)
    first = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", address, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    times = {name: os.stat(tmp_path / "out" / name).st_mtime_ns for name in os.listdir(tmp_path / "out")}
    again = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", address, "--update", "--json",
                    cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["up_to_date"] == 6
    assert times == {name: os.stat(tmp_path / "out" / name).st_mtime_ns for name in os.listdir(tmp_path / "out")}
    refused = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", address, "--no-clobber",
                      cwd=tmp_path)
    assert refused.returncode == 1 and refused.stderr.count("exists") == 6
    assert leftovers(tmp_path / "out") == []


def test_a_pipeline_with_weights_and_printed_values_run_on_the_cluster(tmp_path, dask_cluster):
    # The job's closures (a pipeline's steps with their weights, global pooling's printed values)
    # travel to the workers; the values still print here, in input order.
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(tmp_path / "a.png")
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)[::-1].copy()).save(tmp_path / "b.png")
    np.save(tmp_path / "w.npy", np.ones((2, 2, 1, 1), dtype=np.float32))
    (tmp_path / "net.yaml").write_text("steps:\n  - conv2d: {weights: w.npy, activation: relu}\n")
    for args in (("pipeline", "net.yaml", "a.png", "b.png", "-O", "{}"), ("pool", "a.png", "b.png", "--global")):
        runs = {}
        for where in (("--jobs", "1"), ("--scheduler", dask_cluster.address)):
            out = "o" + where[0].strip("-")
            command = [a.format(out) for a in args]
            done = convcli(*command, *where, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            files = ({name: (tmp_path / out / name).read_bytes() for name in os.listdir(tmp_path / out)}
                     if "-O" in command else None)
            runs[where[0]] = (done.stdout, files)
        assert runs["--jobs"] == runs["--scheduler"]
    expected = np.arange(64).reshape(8, 8)[:-1, :-1] + np.arange(64).reshape(8, 8)[1:, 1:]
    expected = expected + np.arange(64).reshape(8, 8)[:-1, 1:] + np.arange(64).reshape(8, 8)[1:, :-1]
    assert np.array_equal(np.asarray(Image.open(tmp_path / "oscheduler" / "a.png")), np.clip(expected, 0, 255))


def test_progress_bar_follows_the_tasks_on_a_terminal(tmp_path, dask_cluster):
    from test_cli_batch import BAR, _on_a_terminal

    make_batch(tmp_path / "in", count=35)
    code, shown = _on_a_terminal(tmp_path, "filter", "in", "-k", "box3", "-O", "out", "--scheduler", "local:2")
    assert code == 1 and BAR in shown and "/35" in shown and "files" in shown
    assert shown.count("convcli: error:") == 3 and "Traceback" not in shown
    code, shown = _on_a_terminal(tmp_path, "-q", "filter", "in", "-k", "box3", "-O", "out2", "--scheduler",
                                 dask_cluster.address)
    assert code == 1 and BAR not in shown and shown.count("convcli: error:") == 3


# Spawned LocalCluster workers run this file's top as __mp_main__: the slow fsync reaches them too.
SLOW_WRITES = """
import os, sys, time
real_fsync = os.fsync
def fsync(fd):  # img01.png's and img02.png's temporary files hang before their rename
    name = os.readlink(f"/proc/self/fd/{fd}")
    if name.endswith(".tmp") and (".img01.png." in name or ".img02.png." in name):
        time.sleep(60)
    real_fsync(fd)
os.fsync = fsync
if __name__ == "__main__":
    from convcli.cli import main
    sys.argv = ["convcli"] + sys.argv[1:]
    main()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc names the files")
@pytest.mark.parametrize("signum,whole_group,code", [(signal.SIGTERM, False, 143), (signal.SIGINT, True, 130)])
def test_a_signal_stops_the_run_and_its_local_cluster_leaving_no_temporary(tmp_path, signum, whole_group, code):
    make_batch(tmp_path / "in", count=6, broken=False)
    (tmp_path / "slow_writes.py").write_text(SLOW_WRITES)
    process = convcli("filter", "in", "-k", "box3", "-O", "out", "--scheduler", "local:2", cwd=tmp_path,
                      script=tmp_path / "slow_writes.py", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                      start_new_session=True)
    out = tmp_path / "out"
    # once both workers hang in a write
    stderr = signal_when(process, lambda: len(leftovers(out)) >= 2, signum, whole_group=whole_group, seconds=60)
    assert process.returncode == code, stderr.decode()
    assert b"Traceback" not in stderr
    written = sorted(os.listdir(out))
    assert leftovers(out) == [] and "img01.png" not in written and "img02.png" not in written
    for name in written:  # what was written is whole
        with Image.open(out / name) as image:
            assert image.size == (10, 12)
    deadline = time.monotonic() + 10
    while _processes_of_session(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [_command_line(pid) for pid in _processes_of_session(process.pid)] == []


def _command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as line:
            return line.read().replace(b"\0", b" ").decode()
    except OSError:
        return f"{pid} (gone)"


def _processes_of_session(session):
    """The processes still alive in session ``session`` (the run and its cluster's)."""
    alive = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                alive.append(int(entry))
    return alive


def test_an_explicit_jobs_wins_over_the_environments_scheduler(run, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVCLI_SCHEDULER", f"tcp://127.0.0.1:{free_port()}")  # nothing there
    make_batch(tmp_path / "in", count=3, broken=False)
    result = run("filter", "in", "-k", "box3", "-O", "out", "--jobs", "1")
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["img00.png", "img01.png", "img02.png"]


def test_an_empty_scheduler_is_this_machine(run, tmp_path, monkeypatch):
    monkeypatch.setenv("CONVCLI_SCHEDULER", "")
    make_batch(tmp_path / "in", count=2, broken=False)
    assert run("filter", "in", "-k", "box3", "-O", "out", "--jobs", "1").exit_code == 0
    assert len(os.listdir(tmp_path / "out")) == 2


def test_a_bad_local_count_is_refused_also_in_a_dry_run(run, tmp_path):
    line = refused(run, tmp_path, "--scheduler", "local:two", "--dry-run", usage=True)
    assert "local:N" in line and "'two'" in line
