"""Connecting a cluster run to its Dask cluster (docs/semantics.md §10, "Before any work"):
:func:`connect` gives a checked ``distributed.Client`` (or starts ``local:N``), or one line and
exit 2: :func:`scheduler_unreachable` asks the address who it is, with a deadline; the cluster's
processes are asked (:func:`_probe`) whether they see this folder and which versions they run
(:func:`version_mismatch`). Dask is imported only inside these functions."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import click

from .options import local_workers

#: How long the scheduler has to answer before a run gives up on it (seconds).
CONNECT_SECONDS = 5.0
#: How long a run waits for a scheduler with no worker to get one (seconds); a run whose cluster has
#: had no worker for this long stops (cli/cluster.py).
WORKERS_SECONDS = 10.0
#: The packages whose versions must be the same on the client and the workers (and, for Dask's
#: own, the scheduler): Dask's wire format, and what computes the results.
CHECKED_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz", "numpy", "zarr", "convcli")
#: Of those, what the scheduler runs too (it runs no convcli code).
SCHEDULER_PACKAGES = ("dask", "distributed", "msgpack", "cloudpickle", "tornado", "toolz")


def _probe() -> Callable[[str, tuple[str, ...]], dict[str, Any]]:
    """The function a run asks each process of the cluster (workers, the scheduler) before any work:
    whether it sees ``cwd``, and the versions of ``packages`` it has (None: not installed) and
    Python's major.minor. It is made here, a closure, so that cloudpickle sends it by value: it runs
    where convcli is not installed, or another convcli is (then it says so). Installed metadata
    only: importing the packages (as older Dask's get_versions does) would run their imports'
    side effects (numcodecs' deprecation notices on standard error)."""

    def probe(cwd: str, packages: tuple[str, ...]) -> dict[str, Any]:
        import os
        import sys
        from importlib.metadata import PackageNotFoundError, version

        found: dict[str, str | None] = {"python": "{}.{}".format(*sys.version_info[:2])}
        for package in packages:
            try:
                found[package] = version(package)
            except PackageNotFoundError:
                found[package] = None
        return {"cwd": os.path.isdir(cwd), "versions": found}

    return probe


def version_mismatch(mine: dict[str, str | None], theirs: dict[str, dict[str, str | None]]) -> str | None:
    """One line naming every package whose version differs between this process (``mine``) and the
    cluster's processes (``theirs``: by process name, e.g. a worker's address), or None.

    Examples
    --------
    >>> version_mismatch({"numpy": "2.4.6", "zarr": "3.1.6"},
    ...                  {"w1": {"numpy": "2.4.6", "zarr": "3.1.6"}, "w2": {"numpy": "2.2.0", "zarr": None}})
    'the cluster runs other versions: numpy 2.4.6 here, 2.2.0 on w2; zarr 3.1.6 here, none on w2'
    """
    differences = []
    for package, here in mine.items():
        where: dict[str, list[str]] = {}
        for process, versions in theirs.items():
            if package in versions and versions[package] != here:
                where.setdefault(versions[package] or "none", []).append(process)
        if where:
            differences.append(f"{package} {here or 'none'} here, " + ", ".join(
                f"{found} on {', '.join(sorted(processes))}" for found, processes in sorted(where.items())))
    return "the cluster runs other versions: " + "; ".join(differences) if differences else None


def scheduler_unreachable(address: str, seconds: float | None = None) -> str | None:
    """None when a Dask scheduler answers at ``address`` within ``seconds``, else why not (one
    line). Dask's own Client waits its whole timeout for a refused connection and hangs on a port
    that accepts but does not speak Dask; this asks the scheduler who it is, with a deadline."""
    import asyncio
    import socket

    from distributed.comm import parse_address, parse_host_port
    from distributed.core import rpc

    seconds = CONNECT_SECONDS if seconds is None else seconds

    async def identity() -> Any:
        async with rpc(address) as scheduler:
            return await asyncio.wait_for(scheduler.identity(), seconds)

    try:
        scheme, location = parse_address(address)
        if scheme == "tcp":  # a refusal is known at once, not after the deadline
            socket.create_connection(parse_host_port(location), timeout=seconds).close()
        who = asyncio.run(asyncio.wait_for(identity(), seconds))
    except (asyncio.TimeoutError, TimeoutError):
        return f"no answer from a Dask scheduler within {seconds:g} s"
    except MemoryError:  # Dask took the bytes of something else for a frame's length
        return "what answers there is not a Dask scheduler"
    except OSError as error:
        return f"cannot connect: {error.strerror or str(error).splitlines()[0] or type(error).__name__}"
    except (ValueError, TypeError) as error:  # the address itself: no port, an unknown scheme...
        return str(error).splitlines()[0] or type(error).__name__
    except Exception as error:  # noqa: BLE001 - any other way the handshake fails: the same one line
        return str(error).splitlines()[0] if str(error) else type(error).__name__
    kind = who.get("type") if isinstance(who, dict) else None
    if kind != "Scheduler":
        return f"that is a Dask {kind or 'process'}, not the scheduler" if kind else "not a Dask scheduler"
    return None


@contextlib.contextmanager
def connect(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of the cluster at ``address`` (``local:N``: a LocalCluster of N
    processes started for this run, closed after it), checked before any work; a usage error
    (exit 2, one line) when it cannot be used."""
    import logging

    def refuse(reason: str) -> click.ClickException:
        """The cluster cannot be used: one line (no usage text: the options were right), exit 2."""
        failure = click.ClickException(f"--scheduler {address}: {reason}")
        failure.exit_code = 2
        return failure

    workers = local_workers(address)
    try:
        import distributed
    except ImportError:
        raise refuse('Dask is not installed; pip install "convcli[cluster]"') from None
    # The client's own log lines (a worker lost, a key rescheduled) would land among convcli's lines;
    # Dask's logging configuration gives some of its loggers levels of their own.
    for name in ["distributed", *logging.root.manager.loggerDict]:
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    cluster = None
    with warnings.catch_warnings():
        # Dask warns about mismatched versions on connecting; convcli says it in one line below.
        warnings.simplefilter("ignore")
        if workers is not None:
            # The scheduler's web server listens even without a dashboard (on 8787, on every
            # interface in older Dask): a port of its own on loopback, so that runs side by side work.
            # Ctrl-C reaches every process of the terminal's group: the cluster's processes are
            # started with it blocked (they inherit that), so that this process alone handles it
            # (it closes the cluster) and no worker prints its own traceback (older Dask does).
            import signal

            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                cluster = distributed.LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                                                   dashboard_address="127.0.0.1:0", silence_logs=logging.CRITICAL,
                                                   host="127.0.0.1")
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            client = distributed.Client(cluster, set_as_default=False)
        else:
            reason = scheduler_unreachable(address)
            if reason is not None:
                raise refuse(reason)
            try:
                client = distributed.Client(address, timeout=f"{CONNECT_SECONDS}s", set_as_default=False)
            except (OSError, ValueError, TypeError) as error:
                raise refuse(str(error).splitlines()[0]) from None
    try:
        _check_cluster(client, refuse)
        yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            if cluster is not None:
                cluster.close()


def _check_cluster(client: Any, refuse: Callable[[str], click.ClickException]) -> None:
    """Before any work: the cluster has a worker, every worker runs the versions this process runs
    and sees this folder (:func:`_probe`: a scheduler without convcli, or a worker with none or
    another, is told in one line too)."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except (TimeoutError, OSError):
        raise refuse(f"the scheduler has no worker (waited {WORKERS_SECONDS:g} s)") from None
    cwd, probe = os.getcwd(), _probe()
    try:
        seen = client.run(probe, cwd, CHECKED_PACKAGES)
        scheduler = client.run_on_scheduler(probe, cwd, SCHEDULER_PACKAGES)
    except Exception as error:  # noqa: BLE001 - whatever fails here, the cluster cannot be used
        reason = str(error).splitlines()[0] if str(error) else ""
        raise refuse(f"cannot ask the cluster ({type(error).__name__}{': ' + reason if reason else ''})") from None
    theirs = {"the scheduler": scheduler["versions"], **{worker: found["versions"] for worker, found in seen.items()}}
    mismatch = version_mismatch(probe(cwd, CHECKED_PACKAGES)["versions"], theirs)
    if mismatch is not None:
        raise refuse(mismatch)
    blind = sorted(worker for worker, found in seen.items() if not found["cwd"])
    if blind:
        raise refuse(f"the worker{'s' if len(blind) > 1 else ''} {', '.join(blind)} cannot see this folder "
                     f"({cwd}); a cluster's workers need the same paths as this machine (shared storage)")
