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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import click

from .one_input import Job, Outcome, record_failure, run_one
from .progress import ProgressBar

#: ``--scheduler local:N``: a LocalCluster of N worker processes started for this run.
LOCAL_PREFIX = "local:"
#: How long the scheduler has to answer before a run gives up on it (seconds).
CONNECT_SECONDS = 5.0
#: How long a run waits for a scheduler with no worker to get one (seconds).
WORKERS_SECONDS = 10.0
#: The packages whose versions must be the same on the client and the workers (and, for Dask's
#: own, the scheduler): Dask's wire format, and what computes the results.
CHECKED_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz", "numpy", "zarr", "convcli")
#: Of those, what the scheduler runs too (it runs no convcli code).
SCHEDULER_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")


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


def run_file(job: Job, position: int, context: TaskContext) -> Outcome:
    """One input of a cluster run, on a worker: :func:`run_one` on input ``position`` of ``job``
    (the batch as the client planned it); under ``context.stage`` its outputs are left staged
    (``Outcome.staged``) for the client to publish."""
    from ..images.atomic import staged_commits

    with on_worker(context):
        if not context.stage:
            return run_one(job, position)
        with staged_commits() as staged:
            outcome = run_one(job, position)
        outcome.staged = list(staged)
        return outcome


def _worker_check(cwd: str) -> dict[str, Any]:
    """On each worker before any task: does it see the client's working folder, and which convcli."""
    from .._version import __version__

    return {"cwd": os.path.isdir(cwd), "convcli": __version__}
