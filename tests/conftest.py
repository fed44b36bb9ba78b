"""Fixtures shared by the test modules, and the Hypothesis profiles.

The property and fuzz tests run under one of two profiles, picked by ``CONVCLI_HYPOTHESIS_PROFILE``:
``ci`` (the default: a bounded, derandomized pass, the same examples every run) or ``long`` (100 times
as many examples, random each run). Each test scales its own budget with ``helpers.budget``.
"""

import os

import pytest
from click.testing import CliRunner
from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, database=None, derandomize=True, print_blob=True)
settings.register_profile("long", max_examples=20_000, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("CONVCLI_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke the `convcli` group in an empty folder, without the user's CONVCLI_KERNEL_PATH."""
    from convcli.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVCLI_KERNEL_PATH", raising=False)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture(scope="session")
def dask_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and 2 ``dask worker`` processes (one thread each) on 127.0.0.1, shared
    by the whole session (tests/dask_procs.py). Do not kill its workers: use ``dask_processes``."""
    from dask_procs import DaskProcesses

    with DaskProcesses(2, folder=tmp_path_factory.mktemp("dask-cluster")) as cluster:
        yield cluster


@pytest.fixture
def dask_processes(tmp_path_factory):
    """Start a cluster of the test's own (``start(workers=2, worker_env=None, scheduler_env=None)`` returns a started
    ``DaskProcesses``), for tests that kill or crash workers; all are torn down after the test."""
    from dask_procs import DaskProcesses

    started = []

    def start(workers=2, *, worker_env=None, scheduler_env=None):
        cluster = DaskProcesses(workers, folder=tmp_path_factory.mktemp("dask"), worker_env=worker_env,
                                scheduler_env=scheduler_env)
        started.append(cluster)
        return cluster.__enter__()

    yield start
    for cluster in reversed(started):
        cluster.close()
