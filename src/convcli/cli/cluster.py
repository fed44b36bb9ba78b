"""A batch on a Dask cluster (``--scheduler ADDRESS``, ``CONVCLI_SCHEDULER``; README, "Running on a
cluster"; docs/semantics.md §10): every input file is one task on the cluster's workers.

The client (this process) plans the run as always (:func:`convcli.cli.batch.run_batch`), connects
(:func:`connect`: one line and exit 2 before any work when the scheduler cannot be reached, has no
worker, runs other versions, or a worker does not see this folder), sends the batch's
:class:`~convcli.cli.one_input.Job` to every worker once (its ``compute`` and ``describe`` closures
travel by value, with cloudpickle), then one task per input: :func:`run_file` does
:func:`~convcli.cli.one_input.run_one` on a worker, in the client's working folder (paths are
shared storage), and sends back the plain :class:`~convcli.cli.one_input.Outcome`. Outcomes are
emitted in input order, so the report, the summary, the error lines and the exit code are those of
a local run.

Temporary files written on workers carry the client's owner mark (``images.atomic.owned_by``): the
client sweeps what a worker killed mid-write left. Under ``--fail-fast`` a worker writes its outputs
completely but does not rename them (``images.atomic.staged_commits``); the client puts them in
place in input order and discards those after the first failure, so exactly what ``--jobs 1``
writes is written.

Nothing here imports Dask at module level: ``distributed`` is imported only when a run asks for a
cluster.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import click

from .faults import environment_fault
from .one_input import Job, Outcome, record_failure, run_one
from .cluster_connect import WORKERS_SECONDS, connect
from .progress import ProgressBar

#: Tasks sent ahead of the results, per worker (under --fail-fast 2)...
WINDOW = 32
#: ...and, per worker, how far past the first input not yet emitted a task may be: the outcomes
#: held back for input order stay few however many inputs.
AHEAD = 512
#: How long an interrupted run waits for the tasks running on the cluster to finish (seconds).
GRACE_SECONDS = 3.0


@dataclass(frozen=True)
class TaskContext:
    """What a worker takes on while it does a task of this run (plain data, sent with each task).

    ``cwd`` is the client's working folder (the run's relative paths are read there); ``owner`` the
    client's temporary-file owner mark (``images.atomic.run_owner``); ``stage`` is set under
    ``--fail-fast``: outputs are staged for the client to publish in input order.
    """

    cwd: str
    owner: str
    stage: bool = False


#: One task of convcli at a time per worker process: a task changes the working folder and the
#: temporary files' owner, which are the process's.
_TASK_LOCK = threading.Lock()


@contextlib.contextmanager
def on_worker(context: TaskContext) -> Iterator[None]:
    """Inside the block, this process works for the run ``context`` describes: in its working
    folder, its temporary files named as the run's (a worker's thread pool may run several tasks:
    they take turns)."""
    from ..errors import ConvcliError
    from ..images.atomic import owned_by

    with _TASK_LOCK:
        previous = os.getcwd() if os.path.isdir(".") else None
        try:
            os.chdir(context.cwd)
        except OSError as error:
            raise ConvcliError(f"the working folder {context.cwd} is not on this worker ({error.strerror}); "
                               "a cluster's workers need the same paths as the client (shared storage)") from None
        try:
            with owned_by(context.owner):
                yield
        finally:
            if previous is not None:
                with contextlib.suppress(OSError):
                    os.chdir(previous)


def run_file(job: Job, work: FileWork, context: TaskContext) -> Outcome:
    """One input of a cluster run, on a worker: :func:`run_one` on ``work`` with ``job`` (the
    batch as the client planned it, sent once, without its inputs); under ``context.stage`` its
    outputs are left staged (``Outcome.staged``) for the client to publish."""
    from ..images.atomic import staged_commits

    from ..errors import ConvcliError

    one = replace(job, inputs=[work.input_file], plan={work.input_file.index: work.targets})
    try:
        with on_worker(context):
            if not context.stage:
                outcome = run_one(one, 0)
            else:
                with staged_commits() as staged:
                    outcome = run_one(one, 0)
                outcome.staged = list(staged)
    except Exception as error:  # noqa: BLE001 - sent back as the file's failure, never as a task's error
        # (a task's exception crosses to the client with its traceback, which Dask may fail to
        # rebuild there, leaving the task pending for ever)
        outcome = Outcome(0)
        record_failure(outcome, work.input_file, error, time.perf_counter(),
                       internal=not isinstance(error, ConvcliError))
    outcome.position = work.position
    return outcome


@dataclass(frozen=True)
class FileWork:
    """What one task of a cluster run is given besides the job: its input and that input's outputs
    (the job is sent to the workers without its list of inputs, which may hold millions)."""

    position: int
    input_file: Any      # cli.inputs.InputFile
    targets: list[Any]   # cli.targets.Target: the input's outputs


def _the_job(job: Job) -> Job:
    """The task whose result is a run's job on the workers (see ClusterRun.run)."""
    return job


def stop_tasks(client: Any, futures: list[Any]) -> list[Any]:
    """Stop a run's ``futures``: none is started any more; those a worker holds get
    :data:`GRACE_SECONDS` to finish (a running task cannot be stopped from here, and would write
    after the run's clean-up), then every one left is cancelled. What the finished ones returned.
    (Polled: ``distributed.wait`` needs a default client, which a run does not set.)"""
    finished = []
    try:
        pending = [future for future in futures if not future.done()]
        held = {key for keys in client.processing().values() for key in keys}
        client.cancel([future for future in pending if future.key not in held])
        finishing = [future for future in pending if future.key in held]
        deadline = time.monotonic() + GRACE_SECONDS
        while any(not future.done() for future in finishing) and time.monotonic() < deadline:
            time.sleep(0.02)
        finished = [future.result() for future in finishing if future.status == "finished"]
    except Exception:  # noqa: BLE001 - the cluster went away meanwhile: nothing left to wait for
        pass
    with contextlib.suppress(Exception):
        client.cancel(futures, force=True)
    return finished


def run_on_cluster(job: Job, emit: Callable[[Outcome], None], progress: ProgressBar, *, address: str) -> None:
    """Run every input of ``job`` as a task on the Dask cluster at ``address`` and ``emit`` their
    outcomes in input order, as :class:`convcli.cli.workers.Parallel` does with local workers."""
    from .targets import sweep_plan_temp_files

    try:
        with connect(address) as client:
            ClusterRun(job, emit, progress, client, address).run()
    finally:  # once the run's tasks are over (a LocalCluster's workers are gone): what killed ones left
        sweep_plan_temp_files(job.plan)


@dataclass
class ClusterRun:
    """The client's loop of one cluster run: tasks submitted a window at a time, outcomes emitted
    in input order, ``--fail-fast``'s staged outputs published in that order."""

    job: Job
    emit: Callable[[Outcome], None]
    progress: ProgressBar
    client: Any
    address: str
    buffer: dict[int, Outcome | None] = field(default_factory=dict)  # finished, waiting for those before them
    next: int = 0              # the next position to emit
    done: int = 0
    stop_after: int = -1       # --fail-fast: the first failed position (set in run)
    inflight: dict[str, int] = field(default_factory=dict)  # task key → position
    futures: dict[str, Any] = field(default_factory=dict)
    workers_gone: bool = False  # the cluster had no worker for WORKERS_SECONDS (_watch_workers)

    def run(self) -> None:
        from collections import deque

        from distributed import as_completed

        from ..images.atomic import run_owner

        job, client = self.job, self.client
        total = len(job.inputs)
        self.stop_after = total
        context = TaskContext(cwd=os.getcwd(), owner=run_owner(), stage=job.options.fail_fast)
        # What workers need of the job: its closures and plan, not this process's callbacks.
        shipped = replace(job, inputs=[], plan={}, current=frozenset(), on_band=None, first_failure=None,
                          settled=None, settled_prefix=None)
        run_id = os.urandom(6).hex()
        # The job as a task of its own, not scattered data: a scattered value is lost for good when
        # every worker holding it dies, while a task's result is computed again from its graph.
        with warnings.catch_warnings():  # Dask's "large object in the graph" (a model's weights)
            warnings.simplefilter("ignore")
            job_future = client.submit(_the_job, shipped, key=f"convcli-job-{run_id}", pure=False)
        workers = max(1, sum(client.nthreads().values()))  # worker threads, each a task at a time
        # Tasks sent ahead: enough to keep every worker busy; under --fail-fast few, since those
        # sent before a failure is known are done for nothing.
        window = (2 if job.options.fail_fast else WINDOW) * workers
        ahead = AHEAD * workers
        pending = deque(range(total))
        completed: Any = None  # as_completed, made with the first task

        def submit(position: int, key: str) -> Any:
            input_file = job.inputs[position]
            work = FileWork(position, input_file, job.plan[input_file.index])
            # Earlier inputs first (Dask's priority: higher runs sooner), as they are emitted first.
            future = client.submit(run_file, job_future, work, context, key=key, pure=False, retries=0,
                                   priority=total - position)
            self.inflight[key], self.futures[key] = position, future
            return future

        def fill() -> None:
            nonlocal completed
            self._flush()
            while pending and len(self.inflight) < window:
                if pending[0] - self.next >= ahead:
                    self._flush()  # inputs recorded here (up to date, bands) may have moved it on
                    if pending[0] - self.next >= ahead:
                        break
                if pending[0] > self.stop_after:
                    pending.clear()
                    return
                position = pending.popleft()
                if position in job.current:  # up to date: neither read nor written, nothing to send
                    self._record(position, run_one(job, position))
                    continue
                banded = self._bands(position, job_future, context)
                if banded is not None:  # a Zarr input too large for one task: its bands are the tasks
                    self._record(position, banded)
                    continue
                future = submit(position, f"convcli-{run_id}-{position}")
                if completed is None:
                    # with_results: each result is fetched as its task ends, on Dask's own thread,
                    # not one round trip at a time from here.
                    completed = as_completed([future], loop=client.loop, with_results=True, raise_errors=False)
                else:
                    completed.add(future)
            self._flush()

        stop_watching = threading.Event()
        threading.Thread(target=self._watch_workers, args=(stop_watching,), name="convcli-workers-watch",
                         daemon=True).start()
        try:
            while True:
                suspects = []  # inputs whose workers died under them (KilledWorker): maybe not their fault
                fill()
                for future, result in completed or ():
                    position = self.inflight.pop(future.key, None)
                    self.futures.pop(future.key, None)
                    if position is None:
                        continue
                    if future.status == "error" and type(result[1]).__name__ == "KilledWorker":
                        suspects.append(position)
                    else:
                        self._record(position, self._collect(position, future, result))
                    future.release()
                    fill()
                    self.progress.tick(self.done)
                completed = None
                # Dask counts a death against every task assigned to the dying worker, also those
                # queued behind the one that killed it: each suspect is run again alone, and only
                # one that kills its workers alone fails (as local workers do, cli/workers.py).
                for position in sorted(suspects):
                    future = submit(position, f"convcli-{run_id}-{position}-alone")
                    [(future, result)] = list(as_completed([future], loop=client.loop, with_results=True,
                                                           raise_errors=False))
                    self.inflight.pop(future.key, None)
                    self.futures.pop(future.key, None)
                    self._record(position, self._collect(position, future, result))
                    future.release()
                    self.progress.tick(self.done)
                self._flush()
                if not pending:  # else: inputs were held back until those before them were emitted
                    break
            self.progress.tick(self.done)
        finally:
            stop_watching.set()
            if self.futures:  # interrupted
                self._wind_down()
            for outcome in self.buffer.values():  # finished, never emitted: their staged files go
                self._discard(outcome)

    def _wind_down(self) -> None:
        """Interrupted: see :func:`stop_tasks`; outputs staged by tasks that finished meanwhile go."""
        for result in stop_tasks(self.client, list(self.futures.values())):
            self._discard(result)

    def _bands(self, position: int, job_future: Any, context: TaskContext) -> Outcome | None:
        """Input ``position`` done as tasks of bands of rows (cli/cluster_bands.py), when it is a
        Zarr input streamed into a Zarr store; None when it is one task like any other file."""
        from ..errors import ConvcliError
        from .cluster_bands import run_bands_on_cluster
        from .wording import error_text

        started = time.perf_counter()
        try:
            return run_bands_on_cluster(self.job, position, client=self.client, job_future=job_future,
                                        context=context, on_band=self.job.on_band)
        except (ConvcliError, ValueError) as error:  # as run_one records a file's failure
            outcome = Outcome(position)
            record_failure(outcome, self.job.inputs[position], error, started, text=error_text(error, self.job.flags))
            return outcome
        except Exception as error:  # noqa: BLE001 - a band task's machinery: this input's failure, not the run's
            from concurrent.futures import CancelledError

            if isinstance(error, CancelledError):
                raise self._lost() from None
            return self._failure(position, error, started)

    def _collect(self, position: int, future: Any, result: Any) -> Outcome:
        """A finished task's outcome, from ``result``: what it returned, or for a task that raised
        Dask's ``(type, exception, traceback)``."""
        if future.status == "cancelled":  # convcli cancels nothing before it stops: the cluster went away
            raise self._lost()
        if future.status != "error":
            result.position = position
            return result
        return self._failure(position, result[1], time.perf_counter())

    def _lost(self) -> click.ClickException:
        what = "every worker of" if self.workers_gone else "the Dask scheduler at"
        return click.ClickException(f"lost {what} {self.address}; {len(self.job.inputs) - self.done} files not done")

    def _watch_workers(self, stop: threading.Event) -> None:
        """On a thread of its own: when the cluster has had no worker for :data:`WORKERS_SECONDS`,
        the tasks would wait for ever; they are cancelled, and the run stops (:meth:`_lost`)."""
        since = None
        while not stop.wait(0.5):
            try:
                workers = self.client.nthreads()
            except Exception:  # noqa: BLE001 - the scheduler itself is gone: the futures say so
                return
            if workers:
                since = None
                continue
            since = time.monotonic() if since is None else since
            if time.monotonic() - since >= WORKERS_SECONDS:
                self.workers_gone = True
                for _ in range(10):  # the main thread may change the dict meanwhile
                    with contextlib.suppress(Exception):
                        self.client.cancel(list(self.futures.values()), force=True)
                        return
                return

    def _failure(self, position: int, error: BaseException, started: float) -> Outcome:
        """Input ``position`` failed on the cluster, not by its own fault as a file: the task's
        workers died (``KilledWorker``), or the task's machinery failed."""
        from distributed import KilledWorker

        from ..errors import ConvcliError

        outcome = Outcome(position)
        fault = environment_fault(error)
        if fault is not None:  # out of memory, a full disk... on a worker: as run_one says it
            from ..errors import EnvironmentFault

            record_failure(outcome, self.job.inputs[position], EnvironmentFault(fault), started)
        elif isinstance(error, KilledWorker):
            died = RuntimeError("every worker process that started it died (killed by a signal, out of memory, "
                                "or crashed)")
            record_failure(outcome, self.job.inputs[position], died, started)
        else:  # the task's own machinery (not the file: run_one records those): a worker without the folder...
            record_failure(outcome, self.job.inputs[position], error, started,
                           internal=not isinstance(error, ConvcliError))
        return outcome

    def _record(self, position: int, outcome: Outcome | None) -> None:
        if outcome is None or outcome.skipped:
            self.buffer[position] = None
            return
        self.buffer[position] = outcome
        self.done += 1
        if outcome.failed and self.job.options.fail_fast:
            self._stop_at(position)

    def _stop_at(self, position: int) -> None:
        """--fail-fast: nothing after ``position`` is started or written. The tasks already sent
        finish (a task cannot be stopped once running, and would leave its files behind the run's
        sweep); their staged outputs are discarded, not published."""
        self.stop_after = min(self.stop_after, position)

    def _flush(self) -> None:
        from ..errors import ImageWriteError
        from ..images.atomic import publish_staged

        while self.next in self.buffer:
            outcome = self.buffer.pop(self.next)
            if outcome is not None and self.next <= self.stop_after:  # nothing after a --fail-fast failure
                staged, outcome.staged = outcome.staged, []
                for number, write in enumerate(staged):
                    try:
                        publish_staged(write)
                    except ImageWriteError as error:  # as the write itself failing: this file fails
                        for rest in staged[number + 1:]:
                            self._discard_one(rest)
                        failed = Outcome(self.next)
                        record_failure(failed, self.job.inputs[self.next], error, time.perf_counter())
                        outcome = failed
                        self._stop_at(self.next)
                        break
                self.emit(outcome)
            else:
                self._discard(outcome)
            self.next += 1

    @staticmethod
    def _discard(outcome: Outcome | None) -> None:
        for write in outcome.staged if outcome is not None else ():
            ClusterRun._discard_one(write)

    @staticmethod
    def _discard_one(write: Any) -> None:
        from ..images.atomic import discard_staged

        discard_staged(write)
