"""The worker processes of a batch (``--jobs N``, default one per CPU core): a pool of forked
workers, their signals, and the state they share under ``--fail-fast``.

Workers are forked (Linux): the command's ``compute``/``describe`` are closures, which cannot be
pickled, so they wait in the module-level ``_JOB`` when the pool forks, and the only thing sent to
a worker is an input's position. A worker reads, computes, encodes and writes (atomically) by
itself (:func:`convcli.cli.one_input.run_one`) and sends back plain data: the input's report entries
and its error lines. The parent prints those and builds the report in input order, so the results
of any ``--jobs`` are those of ``--jobs 1`` (times aside).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import click

from .._entry import TERMINATING_SIGNALS
from .._system import usable_cpus
from .one_input import Job, Outcome, record_failure, run_one
from .progress import ProgressBar
from .targets import sweep_plan_temp_files


def worker_count(jobs: int | None) -> int:
    """``--jobs``, or by default the number of CPU cores this process may use."""
    return jobs if jobs is not None else usable_cpus()


#: The batch being run, for forked workers to inherit (set only while a pool runs).
_JOB: Job | None = None
#: What a worker's signal handler calls: images.remove_temp_files, bound before the fork.
_REMOVE_TEMPS: Callable[[], int] | None = None
#: What stops a worker (and the parent: see cli.main): Ctrl-C, SIGTERM, a hang-up, SIGQUIT.
_SIGNALS = {signal.SIGINT, *TERMINATING_SIGNALS}
#: The process that forks the workers, recorded before each fork.
_PARENT: int | None = None
#: Linux's prctl option that sends a signal to a process when its parent dies.
_PR_SET_PDEATHSIG = 1


def _worker_start() -> None:
    """In a new worker: Ctrl-C, SIGTERM, SIGHUP or SIGQUIT removes its temporary files and ends
    it, quietly; so does its parent's end, however it ends (also SIGKILL).

    The parent blocks these signals while it forks; they are unblocked here, once the handler is
    in place, so a signal that arrived in between is handled too.
    """
    for signum in _SIGNALS:
        signal.signal(signum, _worker_stop)
    _follow_parent(_PARENT)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)


def _follow_parent(parent: int | None) -> None:
    """End this worker with SIGTERM when ``parent`` is gone, so that no worker goes on writing
    outputs (or blocks forever on the parent's pipes) after the parent was killed.

    On Linux the kernel sends it (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread also
    checks twice a second that the parent is still this process's parent (an orphan is adopted by
    another process).
    """
    import threading

    if parent is None:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl here: the watchdog alone
            pass
    if os.getppid() != parent:  # the parent died before prctl: nobody would send the signal
        _worker_stop(signal.SIGTERM, None)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread: temporary files removed

    threading.Thread(target=watch, name="convcli-parent-watch", daemon=True).start()


def _worker_stop(signum: int, frame: Any) -> None:
    try:
        if _REMOVE_TEMPS is not None:
            _REMOVE_TEMPS()
    finally:
        os._exit(128 + signum)


def _worker_task(position: int) -> Outcome:
    """One input, in a worker (the only function sent to one).

    Under --fail-fast, inputs are computed in parallel but written in input order: an input
    writes only once every input before it is settled, and not at all after a failure, so that
    exactly what ``--jobs 1`` writes is written.
    """
    job = _JOB
    assert job is not None, "a convcli worker started without a batch"
    if not job.options.fail_fast:
        return run_one(job, position)
    if position > job.first_failure.value:
        outcome = Outcome(position, skipped=True)
    else:
        outcome = run_one(job, position, may_write=lambda: _my_turn(job, position))
    if outcome.failed:
        _failed_at(job, position)
    _settle(job, position)
    return outcome


def _my_turn(job: Job, position: int) -> bool:
    """Wait until every input before ``position`` is settled; True if none of them failed."""
    while position <= job.first_failure.value:
        if job.settled_prefix.value >= position:
            return position <= job.first_failure.value
        time.sleep(0.002)
    return False


def _failed_at(job: Job, position: int) -> None:
    with job.first_failure.get_lock():
        job.first_failure.value = min(job.first_failure.value, position)


def _settle(job: Job, position: int) -> None:
    with job.settled_prefix.get_lock():
        job.settled[position] = 1
        prefix = job.settled_prefix.value
        while prefix < len(job.settled) and job.settled[prefix]:
            prefix += 1
        job.settled_prefix.value = prefix


class Parallel:
    """Inputs done by a pool of forked workers, results emitted in input order.

    At most ``workers × 4`` inputs are queued at a time, and a finished input waits for the ones
    before it at most ``workers × 64`` positions ahead, so memory stays small however many inputs.
    A worker that dies (killed, out of memory, a crash in a decoder) breaks the pool: the inputs
    it may have been doing are done again one at a time, each in a fresh worker, so that only the
    one that kills its worker fails; the others go on in a new pool.
    """

    def __init__(self, job: Job, emit: Callable[[Outcome], None], progress: ProgressBar) -> None:
        import multiprocessing

        self.job = job
        self.emit = emit
        self.progress = progress
        self.ctx = multiprocessing.get_context("fork")
        self.total = len(job.inputs)
        self.buffer: dict[int, Outcome | None] = {}    # finished, waiting for the ones before them
        self.next = 0                                  # the next position to emit
        self.done = 0
        self.stop_after = self.total                   # --fail-fast: the first failed position
        self.executor: Any = None
        self.futures: dict[Any, int] = {}
        self.broke = False

    def run(self, workers: int) -> None:
        global _JOB, _REMOVE_TEMPS
        from .. import images

        if self.job.options.fail_fast:
            self.job.first_failure = self.ctx.Value("q", self.total)
            self.job.settled = self.ctx.Array("b", self.total, lock=False)
            self.job.settled_prefix = self.ctx.Value("q", 0)
        _JOB, _REMOVE_TEMPS = self.job, images.remove_temp_files
        failed = True
        try:
            self._run(deque(range(self.total)), workers, queued=workers * 4, ahead=workers * 64)
            self._flush()
            failed = False
        finally:
            if failed:
                self._kill()
            _JOB = None
            if (failed or self.broke) and not self.job.options.dry_run:
                sweep_plan_temp_files(self.job.plan)

    def _run(self, pending: deque, workers: int, *, queued: int, ahead: int) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait
        from concurrent.futures.process import BrokenProcessPool

        isolated = queued == 1
        fruitless = 0  # pools in a row that broke before doing anything
        while pending:
            self._start(workers)
            suspects: list[int] = []
            broken = False
            while True:
                while pending and len(self.futures) < queued and pending[0] - self.next < ahead:
                    if pending[0] > self.stop_after:
                        pending.clear()
                        break
                    position = pending.popleft()
                    try:
                        self.futures[self.executor.submit(_worker_task, position)] = position
                    except BrokenProcessPool:
                        pending.appendleft(position)
                        broken = True
                        break
                if not self.futures:
                    break
                if not broken:
                    done, _ = wait(self.futures, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in done:
                        position = self.futures.pop(future)
                        if self._collect(position, future):
                            suspects.append(position)
                    broken = bool(suspects)
                if broken:
                    # A worker died: the pool is done for, and every call not finished fails with it.
                    wait(self.futures)
                    for future, position in list(self.futures.items()):
                        if self._collect(position, future):
                            suspects.append(position)
                    self.futures.clear()
                    break
                self._flush()
                self.progress.tick(self.done)
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None
            if broken:
                self.broke = True
                fruitless = 0 if suspects else fruitless + 1
                if fruitless >= 3:
                    raise click.ClickException("worker processes keep dying as they start; try --jobs 1")
                suspects.sort()
                if isolated and suspects:
                    for position in suspects:
                        self._record(position, self._died(position))
                elif suspects:
                    self._run(deque(suspects), 1, queued=1, ahead=self.total)
            self._flush()
            self.progress.tick(self.done)

    def _start(self, workers: int) -> None:
        """A new pool, its workers started at once (with fork, the first call starts them all)
        while the stopping signals are blocked, so that no worker is ever without its handlers."""
        import warnings
        from concurrent.futures import ProcessPoolExecutor

        for stream in (sys.stdout, sys.stderr):  # a worker must not write out the parent's buffers
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        global _PARENT
        _PARENT = os.getpid()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            with warnings.catch_warnings():
                # Python 3.12+ warns about fork in a process with threads (BLAS's, here): the workers
                # use none of those threads' locks; fork is what lets closures reach them.
                warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
                self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=self.ctx,
                                                    initializer=_worker_start)
                self.executor.submit(os.getpid)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _collect(self, position: int, future: Any) -> bool:
        """Record a finished call; True when it died with its worker (a suspect)."""
        from concurrent.futures.process import BrokenProcessPool

        if future.cancelled():
            self._record(position, None)
            return False
        error = future.exception()
        if isinstance(error, BrokenProcessPool):
            return True
        if error is not None:  # the worker's own machinery failed for this input
            outcome = Outcome(position)
            record_failure(outcome, self.job.inputs[position], error, time.perf_counter(), internal=True)
            self._record(position, outcome)
        else:
            self._record(position, future.result())
        return False

    def _record(self, position: int, outcome: Outcome | None) -> None:
        fail_fast = self.job.options.fail_fast
        if fail_fast:  # settled, also when no worker said so (cancelled, or its worker died)
            if outcome is not None and outcome.failed:
                _failed_at(self.job, position)
            _settle(self.job, position)
        if outcome is None or outcome.skipped:
            self.buffer[position] = None
            return
        self.buffer[position] = outcome
        self.done += 1
        if outcome.failed and fail_fast and position < self.stop_after:
            self.stop_after = position
            for future, queued in self.futures.items():
                if queued > position:
                    future.cancel()

    def _died(self, position: int) -> Outcome:
        outcome = Outcome(position)
        error = RuntimeError(
            "the worker process doing it died (killed by a signal, out of memory, or crashed)"
        )
        record_failure(outcome, self.job.inputs[position], error, time.perf_counter())
        return outcome

    def _flush(self) -> None:
        while self.next in self.buffer:
            outcome = self.buffer.pop(self.next)
            if outcome is not None and self.next <= self.stop_after:  # nothing after a --fail-fast failure
                self.emit(outcome)
            self.next += 1

    def _kill(self) -> None:
        """Interrupted: end every worker now (each removes its temporary files), then the pool."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        _quiet_thread(getattr(executor, "_executor_manager_thread", None))
        processes = list((getattr(executor, "_processes", None) or {}).values())
        for process in processes:
            try:
                process.terminate()
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 1.0
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():  # stuck in a long computation: its temporary files are swept below
                process.kill()
                process.join(1.0)
        executor.shutdown(wait=False, cancel_futures=True)


def _quiet_thread(thread: Any) -> None:
    """Keep a dying pool's manager thread from printing a traceback: once its workers are killed
    it may meet their closed pipes (``OSError: Bad file descriptor``) while convcli is already
    saying, in one line, why it stops."""
    import threading

    if thread is None:
        return
    previous = threading.excepthook

    def hook(args: Any) -> None:
        if args.thread is not thread:
            previous(args)

    threading.excepthook = hook
