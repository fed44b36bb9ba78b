"""A real Dask scheduler and real workers, as separate processes, for the cluster tests (issue 17).

``DaskProcesses`` starts them exactly as a user would: ``dask scheduler`` and one ``dask worker`` per
worker (each a nanny with one single-threaded worker process), the ``dask`` script found beside the
Python running the tests. Everything listens on 127.0.0.1 on ports the OS picks (``--port 0``, the
HTTP server on ``127.0.0.1:0``), so two runs on one machine do not clash. Each process is the leader of
a session of its own (``start_new_session``), so its process group is everything it started, and the
teardown kills whole groups: workers first (SIGTERM, up to 5 s, then SIGKILL), then the scheduler. A
start that fails tears everything down too and raises with the tails of the logs.

Measured on the 2-core machine shared with other jobs (Python 3.11, distributed 2026.8.0 and
2024.1.1): a scheduler and 2 workers are up in 1.4–2.5 s and gone in 0.3–0.8 s.

    with DaskProcesses(2) as cluster:
        client = distributed.Client(cluster.address, set_as_default=False)
        ...
        cluster.kill_worker(0)      # a worker gone in the middle of a run
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

#: Seconds a start may take before it counts as failed (about 2 s here; CI machines are slower).
START_TIMEOUT = 60.0
#: Seconds a SIGTERMed process gets to exit before its whole process group is SIGKILLed.
TERM_GRACE = 5.0
#: Lines of each log shown when a start fails.
LOG_TAIL_LINES = 25

HERE = Path(__file__).resolve().parent


def dask_command() -> list[str]:
    """The ``dask`` command of the Python running the tests: its venv's ``bin/dask`` script (not
    resolved: a venv's python is a symlink out of the venv), else ``python -m dask``."""
    script = Path(sys.executable).parent / "dask"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "dask"]


def base_environment() -> dict[str, str]:
    """The test process's environment, with quiet Dask logs, and on PYTHONPATH the convcli the tests
    import and the tests folder (so a task function defined in a test module unpickles on a worker)."""
    import convcli

    env = dict(os.environ)
    env["DASK_DISTRIBUTED__LOGGING__DISTRIBUTED"] = "warning"
    src = str(Path(convcli.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, str(HERE), env.get("PYTHONPATH")) if p)
    return env


def processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, process group) of every process, read from /proc."""
    table = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after it
        state, ppid, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        table.append((int(entry), state, int(ppid), int(pgrp)))
    return table


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    return [pid for pid, state, _, pgrp in processes() if pgrp == pgid and state != "Z"]


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the live children of ``pid``."""
    found = []
    for child, state, ppid, _ in processes():
        if ppid == pid and state != "Z":
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            found.append((child, cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def nannies_starting(dask_scheduler) -> int:
    """How many nannies the scheduler sees starting (run on the scheduler, which imports this
    module: the tests folder is on its PYTHONPATH). The set is internal to distributed, in every
    version from 2024.1.1 to 2026.8.0 at least; without it, registered workers have to do."""
    return len(getattr(dask_scheduler, "_starting_nannies", ()))


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


@dataclass
class Started:
    """One process we started (`dask scheduler` or a `dask worker` nanny), its log and its group."""

    name: str
    process: subprocess.Popen
    log: Path
    killed: bool = False  # on purpose (kill_worker): not a failed start

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def reap(self, deadline: float) -> None:
        """Wait for the process until ``deadline`` (a ``time.monotonic`` value), then SIGKILL its
        whole group (its worker child and resource tracker included) and wait for them to go."""
        try:
            self.process.wait(timeout=max(deadline - time.monotonic(), 0))
        except subprocess.TimeoutExpired:
            pass
        for _ in range(100):
            if not group_members(self.pid):
                break
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            if self.process.poll() is None:
                self.process.wait(timeout=TERM_GRACE)
            time.sleep(0.02)
        self.process.wait()


@dataclass
class WorkerHandle(Started):
    """A ``dask worker --nworkers 1`` process (the nanny) and the worker process it runs."""

    @property
    def nanny_pid(self) -> int:
        return self.pid

    @property
    def worker_pid(self) -> int | None:
        """The pid of the nanny's worker process now (a new one after a crash), or None."""
        # The nanny spawns the worker (`multiprocessing.spawn`) and a resource tracker.
        spawned = [pid for pid, cmdline in children(self.pid) if "spawn_main" in cmdline]
        return spawned[0] if spawned else None


@dataclass
class DaskProcesses:
    """A real ``dask scheduler`` and ``count`` real ``dask worker`` processes on 127.0.0.1.

    Parameters
    ----------
    count
        How many workers to start (each ``--nworkers 1 --nthreads 1``, under a nanny).
    folder
        Where the scheduler file, the logs and the workers' local directories go; a temporary
        folder (removed at the end) if None.
    worker_env
        Extra environment for each worker, by position (None: none). A ``PYTHONPATH`` there is put
        in front of the default one, e.g. a folder with a fake package for a version mismatch.
    scheduler_env
        Extra environment for the scheduler (e.g. ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``).
    """

    count: int = 2
    folder: Path | None = None
    worker_env: list[dict[str, str] | None] | None = None
    scheduler_env: dict[str, str] | None = None
    address: str = field(default="", init=False)
    scheduler: Started | None = field(default=None, init=False)
    workers: list[WorkerHandle] = field(default_factory=list, init=False)
    _own_folder: bool = field(default=False, init=False)

    def __enter__(self) -> DaskProcesses:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def scheduler_file(self) -> Path:
        return self.folder / "scheduler.json"

    def start(self) -> None:
        if self.folder is None:
            self.folder, self._own_folder = Path(tempfile.mkdtemp(prefix="convcli-dask-")), True
        self.folder.mkdir(parents=True, exist_ok=True)
        self.scheduler = self._spawn("scheduler", [
            "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
            "--no-dashboard", "--scheduler-file", str(self.scheduler_file)],
            dict(base_environment(), **(self.scheduler_env or {})))
        deadline = time.monotonic() + START_TIMEOUT
        while not self.scheduler_file.is_file() or not self.scheduler_file.stat().st_size:
            self._check_started(deadline, "the scheduler file")
            time.sleep(0.05)
        self.address = self._read_address(deadline)
        extra = list(self.worker_env or []) + [None] * self.count
        for index in range(self.count):
            self._spawn_worker(extra[index])
        self.wait_for_workers(self.count, timeout=max(deadline - time.monotonic(), 1))

    def start_worker(self, env: dict[str, str] | None = None) -> WorkerHandle:
        """Start one more worker (``env`` as in ``worker_env``) and wait until it has registered."""
        before = sum(not worker.killed for worker in self.workers)
        worker = self._spawn_worker(env)
        self.wait_for_workers(before + 1)
        return worker

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index``'s nanny: the worker is gone (its worker process dies with it)."""
        worker = self.workers[index]
        worker.killed = True
        worker.stop(signal.SIGKILL)
        worker.reap(time.monotonic())

    def crash_worker(self, index: int) -> int:
        """SIGKILL worker ``index``'s worker process (the nanny starts a new one); its old pid."""
        pid = self.workers[index].worker_pid
        if pid is None:
            raise RuntimeError(f"worker {index} has no worker process to crash")
        os.kill(pid, signal.SIGKILL)
        return pid

    def wait_for_workers(self, count: int, timeout: float = START_TIMEOUT) -> None:
        """Wait until exactly ``count`` workers are registered with the scheduler and no nanny is
        still starting: a worker registers before its nanny has finished starting, and a nanny
        whose worker process dies in that window exits instead of starting a new one."""
        import distributed

        deadline = time.monotonic() + timeout
        with warnings.catch_warnings():  # e.g. a mismatched worker's VersionMismatchWarning
            warnings.simplefilter("ignore")
            with distributed.Client(self.address, timeout="10s", set_as_default=False) as client:
                while len(client.nthreads()) != count or client.run_on_scheduler(nannies_starting):
                    self._check_started(deadline, f"{count} workers registered")
                    time.sleep(0.05)

    def worker_logs(self) -> list[str]:
        """Each worker's log so far, in the order of ``workers``."""
        return [worker.log.read_text(errors="replace") for worker in self.workers]

    def scheduler_log(self) -> str:
        return self.scheduler.log.read_text(errors="replace") if self.scheduler else ""

    def close(self) -> None:
        """Workers first (SIGTERM, up to 5 s, then SIGKILL of their groups), then the scheduler
        (a scheduler stopped first leaves its workers retrying it for their --death-timeout)."""
        for group in (self.workers, [self.scheduler] if self.scheduler else []):
            for started in group:
                started.stop()
            deadline = time.monotonic() + TERM_GRACE
            for started in group:
                started.reap(deadline)
        if self._own_folder and self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def pids(self) -> list[int]:
        """Every live process we started, workers' children included."""
        return sorted(pid for started in [self.scheduler, *self.workers] if started
                      for pid in group_members(started.pid))

    # -- inside

    def _spawn(self, name: str, arguments: list[str], env: dict[str, str], kind=Started) -> Started:
        log = self.folder / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([*dask_command(), *arguments], stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, env=env, cwd=self.folder, start_new_session=True)
        return kind(name, process, log)

    def _spawn_worker(self, extra: dict[str, str] | None) -> WorkerHandle:
        name = f"w{len(self.workers)}"
        env = base_environment()
        for key, value in (extra or {}).items():
            env[key] = os.pathsep.join((value, env["PYTHONPATH"])) if key == "PYTHONPATH" else value
        worker = self._spawn(name, [
            "worker", "--scheduler-file", str(self.scheduler_file), "--host", "127.0.0.1",
            "--dashboard-address", "127.0.0.1:0", "--no-dashboard", "--nworkers", "1", "--nthreads", "1",
            "--name", name, "--local-directory", str(self.folder / name), "--death-timeout", "30s"],
            env, kind=WorkerHandle)
        self.workers.append(worker)
        return worker

    def _read_address(self, deadline: float) -> str:
        while True:  # the file may be seen while it is being written
            try:
                return json.loads(self.scheduler_file.read_text())["address"]
            except (ValueError, KeyError):
                self._check_started(deadline, "a readable scheduler file")
                time.sleep(0.05)

    def _check_started(self, deadline: float, waiting_for: str) -> None:
        """Raise, with the logs' tails, if a process we started has exited or time is up."""
        dead = [s for s in [self.scheduler, *self.workers] if s and s.process.poll() is not None
                and not s.killed]
        if not dead and time.monotonic() < deadline:
            return
        why = (", ".join(f"{s.name} exited with {s.process.returncode}" for s in dead)
               or f"no {waiting_for} after {START_TIMEOUT:.0f} s")
        logs = "\n".join(f"--- {s.name}.log\n{tail(s.log)}" for s in [self.scheduler, *self.workers] if s)
        raise RuntimeError(f"the Dask processes did not start ({why})\n{logs}")
