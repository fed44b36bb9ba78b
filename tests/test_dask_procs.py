"""tests/dask_procs.py, the real Dask processes of the cluster tests (issue 17), checked from outside:
psutil's view of processes and sockets, and a client of our own asking the scheduler, never the
helper's own bookkeeping."""

from __future__ import annotations

import json
import os
import re
import time

import distributed
import psutil
import pytest

from dask_procs import DaskProcesses

#: Seconds a test waits for the scheduler to see a change (it takes well under a second here).
SETTLE = 30.0


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def tree(pid: int) -> set[int]:
    """``pid`` and all its descendants, as psutil sees them now."""
    process = psutil.Process(pid)
    return {pid, *(child.pid for child in process.children(recursive=True))}


def everything(cluster: DaskProcesses) -> set[int]:
    return set().union(tree(cluster.scheduler.pid), *(tree(worker.nanny_pid) for worker in cluster.workers))


def workers_seen(client, count: int) -> dict[str, int]:
    """Wait until the scheduler has ``count`` workers; their addresses and process ids."""
    deadline = time.monotonic() + SETTLE
    while len(client.nthreads()) != count:
        assert time.monotonic() < deadline, f"the scheduler has {len(client.nthreads())} workers, not {count}"
        time.sleep(0.05)
    return client.run(os.getpid)


def test_the_workers_are_processes_of_their_own_that_run_tasks(dask_cluster):
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", dask_cluster.address)
    assert json.loads(dask_cluster.scheduler_file.read_text())["address"] == dask_cluster.address
    with distributed.Client(dask_cluster.address, timeout="10s", set_as_default=False) as client:
        answers = {client.submit(os.getpid, pure=False).result() for _ in range(6)}
        by_address = workers_seen(client, 2)
    assert os.getpid() not in answers
    assert answers <= set(by_address.values())
    # The handles name the nanny (`dask worker`) and the worker process it runs, a child of it.
    assert sorted(by_address.values()) == sorted(worker.worker_pid for worker in dask_cluster.workers)
    for worker in dask_cluster.workers:
        assert psutil.Process(worker.worker_pid).ppid() == worker.nanny_pid
        assert worker.nanny_pid != worker.worker_pid


def test_every_listening_socket_is_on_the_loopback_address(dask_cluster):
    ours = everything(dask_cluster)
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.pid in ours and c.status == psutil.CONN_LISTEN]
    port = int(dask_cluster.address.rsplit(":", 1)[1])
    assert port in {c.laddr.port for c in listening}
    # scheduler, 2 nannies and 2 workers at least; the HTTP servers are on OS-chosen ports too
    assert len(listening) >= 5
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}, listening
    assert 8787 not in {c.laddr.port for c in listening}


def test_kill_worker_leaves_one_worker_and_start_worker_adds_one(dask_processes, tmp_path):
    cluster = dask_processes(2)
    gone = tree(cluster.workers[0].nanny_pid)
    assert len(gone) >= 2  # the nanny and its worker process (and multiprocessing's resource tracker)
    with distributed.Client(cluster.address, timeout="10s", set_as_default=False) as client:
        cluster.kill_worker(0)
        remaining = workers_seen(client, 1)
        assert not any(alive(pid) for pid in gone)
        assert list(remaining.values()) == [cluster.workers[1].worker_pid]
        assert client.submit(os.getpid, pure=False).result() == cluster.workers[1].worker_pid

        # A worker with an environment of its own: its PYTHONPATH goes first (a fake package shadows
        # the real one), and convcli stays importable.
        (tmp_path / "convcli_probe.py").write_text("WHERE = 'the fake folder'\n")
        extra = cluster.start_worker(env={"PYTHONPATH": str(tmp_path), "CONVCLI_PROBE": "on"})
        by_address = workers_seen(client, 2)
        address = next(a for a, pid in by_address.items() if pid == extra.worker_pid)
        probe = client.submit(eval, "(__import__('convcli_probe').WHERE, __import__('os').environ['CONVCLI_PROBE'],"
                                    " __import__('convcli').__name__)", workers=[address], pure=False)
        assert probe.result() == ("the fake folder", "on", "convcli")
        assert client.run(os.getenv, "CONVCLI_PROBE") == {a: ("on" if a == address else None) for a in by_address}


def test_a_crashed_worker_comes_back_and_teardown_leaves_no_process(tmp_path):
    with DaskProcesses(2, folder=tmp_path) as cluster:
        before = everything(cluster)
        with distributed.Client(cluster.address, timeout="10s", set_as_default=False) as client:
            old = cluster.crash_worker(1)
            deadline = time.monotonic() + SETTLE
            while cluster.workers[1].worker_pid in (None, old):
                assert time.monotonic() < deadline, "the nanny did not start a new worker"
                time.sleep(0.05)
            assert not alive(old)
            assert cluster.workers[1].nanny_pid in before  # the same nanny, a new worker process
            by_address = workers_seen(client, 2)
            assert cluster.workers[1].worker_pid in by_address.values()
        every = before | everything(cluster)
        started = time.monotonic()
    assert time.monotonic() - started < 15  # 5 s of grace for each group at most, then SIGKILL
    assert [pid for pid in sorted(every) if alive(pid)] == []
    assert not cluster.scheduler_file.exists()  # the scheduler stopped cleanly and removed it


def test_a_failing_start_raises_with_the_logs_and_leaves_no_process(tmp_path):
    # A worker whose `distributed` cannot be imported: `dask worker` is not even a command there.
    fake = tmp_path / "fake"
    (fake / "distributed").mkdir(parents=True)
    (fake / "distributed" / "__init__.py").write_text("raise ImportError('a broken distributed for this test')\n")
    cluster = DaskProcesses(1, folder=tmp_path / "run", worker_env=[{"PYTHONPATH": str(fake)}])
    with pytest.raises(RuntimeError, match=r"did not start \(w0 exited with \d+\)") as raised:
        with cluster:
            pass
    assert "--- w0.log" in str(raised.value) and "--- scheduler.log" in str(raised.value)
    assert not alive(cluster.scheduler.pid) and not alive(cluster.workers[0].nanny_pid)
