"""A huge Zarr input's bands as tasks on a Dask cluster (cli/cluster_bands.py): every chunk file and
the report entry equal the local streamed run's (``--band-rows R --jobs 1``); what the local run
does not stream is not banded; a failing band fails the input and leaves nothing; ``--fail-fast``
leaves the store staged.

The cluster runs go through ``--scheduler`` to the session's real scheduler and worker processes
(``dask_cluster``), in this process (click's CliRunner), so that :func:`run_bands_on_cluster` can be
watched.
"""

import json
import os
import shutil
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from convcli.cli import batch
from convcli.cli.cluster import TaskContext
from convcli.cli.cluster_bands import run_bands_on_cluster, task_rows
from convcli.images.atomic import publish_staged, run_owner
from convcli.images.zarr_io import write_whole

from test_cli_batch import leftovers, untimed


@pytest.fixture(scope="module")
def client(dask_cluster):
    """A Dask client of the session's real scheduler and two worker processes (tests/dask_procs.py)."""
    import distributed

    with warnings.catch_warnings():  # Dask's notices on connecting, not the test's
        warnings.simplefilter("ignore")
        client = distributed.Client(dask_cluster.address, set_as_default=False)
    yield client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()


def ship(client, job):
    """``job`` scattered to the workers as the cluster run sends it: without its inputs and this
    process's callbacks."""
    shipped = replace(job, inputs=[], plan={}, current=frozenset(), on_band=None, first_failure=None, settled=None,
                      settled_prefix=None)
    return client.scatter(shipped, broadcast=True, hash=False)


@pytest.fixture
def on_cluster(dask_cluster, monkeypatch):
    """Runs given ``--scheduler`` go to the session's real cluster through the real client loop
    (cli/cluster.py); :func:`run_bands_on_cluster` is watched: ``calls`` lists, per input, whether it
    was banded on the cluster (or failed trying), and ``progress`` its ``on_band`` calls."""
    from convcli.cli import cluster_bands

    real = cluster_bands.run_bands_on_cluster
    state = {"calls": [], "progress": [], "address": dask_cluster.address}

    def watched(job, position, **kwargs):
        kwargs["on_band"] = lambda done, total: state["progress"].append((done, total))
        try:
            outcome = real(job, position, **kwargs)
        except Exception:
            state["calls"].append(True)
            raise
        state["calls"].append(outcome is not None)
        return outcome

    monkeypatch.setattr(cluster_bands, "run_bands_on_cluster", watched)
    return state


def store_files(folder):
    """Every file of a Zarr store, by its path inside the store: its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in Path(folder).rglob("*") if path.is_file()}


def both(run, on_cluster, tmp_path, *args, out="zarr", code=0):
    """The run of ``args`` locally (``--jobs 1``) and with the cluster patched in: for each, the
    output's files (a store's by their paths inside it; None when there is no output), the report's
    entries (untimed, the output's name taken out) and standard error; both must exit with ``code``."""
    results = []
    for where in ("local", "cluster"):
        output, report = f"{where}.{out}", tmp_path / f"{where}.json"
        if where == "local":
            done = run(*args, "-o", output, "--jobs", "1", "--report", report)
        else:
            on_cluster["calls"].clear()
            done = run(*args, "-o", output, "--scheduler", on_cluster["address"], "--report", report)
        assert done.exit_code == code, done.output
        path = tmp_path / output
        files = store_files(path) if path.is_dir() else (path.read_bytes() if path.exists() else None)
        entries = untimed(json.loads(report.read_text().replace(output, "OUT")))["files"]
        results.append((files, entries, done.stderr.replace(output, "OUT")))
    return results


def zarr_input(tmp_path, array, name="in.zarr", chunks=None):
    from convcli.images.zarr_io import create

    if chunks is None:
        write_whole(str(tmp_path / name), array)
    else:
        os.mkdir(tmp_path / name)
        create(str(tmp_path / name), shape=array.shape, dtype=array.dtype.name, chunks=chunks)[...] = array
    return name


def ramp(shape, dtype):
    """A deterministic image with edges and values past uint8's range after sharpening."""
    rng = np.random.default_rng(17)
    values = rng.integers(0, 256, size=shape)
    values[: shape[0] // 3] = 255  # a flat bright third: a sharpening clips above it
    return values.astype(dtype)


PIPELINE = """steps:
  - filter: {kernel: box3, boundary: reflect}
  - filter: {kernel: gaussian5, boundary: wrap}
  - pool: {op: max, size: 2}
"""


@pytest.mark.parametrize("dtype, shape, args", [
    ("uint8", (1100, 300), ("filter", "-k", "gaussian5", "--band-rows", "100")),
    ("uint8", (1100, 300), ("filter", "-k", "sharpen", "--band-rows", "256", "--dtype", "uint8")),
    ("float32", (1100, 300), ("filter", "-k", "box3", "--boundary", "reflect", "--stride", "2", "--band-rows", "128")),
    ("float32", (1100, 300, 3), ("filter", "-k", "gaussian5", "--boundary", "wrap", "--band-rows", "384")),
    ("uint8", (1100, 300, 3), ("pool", "--op", "max", "--size", "2", "--band-rows", "96")),
    ("uint8", (1100, 300), ("filter", "-k", "sobel-x", "--band-rows", "160", "--scale", "abs", "--dtype", "uint8")),
    ("float32", (1100, 300), ("pipeline", "net.yaml", "--band-rows", "64")),
], ids=["gaussian5-100", "sharpen-clipped", "stride-reflect-float", "wrap-rgb-384", "pool-rgb", "sobel-abs",
        "pipeline"])
def test_a_banded_zarr_input_on_the_cluster_is_the_local_streamed_run(run, on_cluster, tmp_path, dtype, shape, args):
    (tmp_path / "net.yaml").write_text(PIPELINE)
    name = zarr_input(tmp_path, ramp(shape, dtype))
    command, *rest = args
    command_args = [command, *(rest[:1] if command == "pipeline" else []), name,
                    *(rest[1:] if command == "pipeline" else rest)]
    (local, local_entries, local_err), (spread, spread_entries, spread_err) = both(run, on_cluster, tmp_path,
                                                                                   *command_args)
    assert on_cluster["calls"] == [True]
    assert "bands" in local_entries[0]  # the local run streamed it
    assert spread_entries == local_entries
    assert spread_err == local_err
    assert sorted(spread) == sorted(local) and len(local) > 2
    for chunk, data in local.items():
        assert spread[chunk] == data, chunk
    assert leftovers(tmp_path) == []
    # Progress in rows of the result, as tasks finish, to the whole height.
    height = local_entries[0]["output_shape"][0]
    done = [rows for rows, total in on_cluster["progress"] if total == height]
    assert done == sorted(done) and done[-1] == height


def test_clipped_counts_are_the_local_runs_and_nonzero(run, on_cluster, tmp_path):
    name = zarr_input(tmp_path, ramp((700, 200), "uint8"), chunks=(100, 64))  # chunks smaller than the bands
    (_, local, _), (_, spread, _) = both(run, on_cluster, tmp_path, "filter", name, "-k", "sharpen",
                                         "--band-rows", "200", "--dtype", "uint8")
    assert local[0]["clipped"] > 0 and local[0]["bands"] == {"rows": 200, "count": 4}
    assert spread == local


def test_max_memory_picks_the_bands_and_refuses_as_locally(run, on_cluster, tmp_path):
    name = zarr_input(tmp_path, ramp((1100, 300), "float32"))
    # No --band-rows: the whole run's estimate (about 40 MB) is over the limit, bands fit.
    local, spread = both(run, on_cluster, tmp_path, "filter", name, "-k", "gaussian5", "--max-memory", "39000000")
    assert on_cluster["calls"] == [True]
    assert local[1][0]["bands"]["rows"] < 1100 and local[1][0]["memory"] <= 39000000
    assert spread == local
    # Not even a band fits: refused as locally, nothing written.
    for where in ("local", "cluster"):
        shutil.rmtree(tmp_path / f"{where}.zarr")
    local, spread = both(run, on_cluster, tmp_path, "filter", name, "-k", "gaussian5", "--max-memory", "2000000",
                         code=1)
    assert on_cluster["calls"] == [True]
    assert spread == local and "over the memory limit" in local[2] and local[0] is None


@pytest.mark.parametrize("args, out", [
    (("filter", "in.zarr", "-k", "box3"), "zarr"),                                   # small: run whole
    (("filter", "in.zarr", "-k", "box3", "--band-rows", "64"), "npy"),               # not a Zarr output
    (("filter", "in.zarr", "-k", "box3", "--band-rows", "64", "--scale", "normalize", "--dtype", "uint8"), "zarr"),
    (("pool", "in.zarr", "--op", "avg", "--global", "--band-rows", "64"), "zarr"),   # a chain that runs whole
    (("filter", "in.npy", "-k", "box3", "--band-rows", "64"), "zarr"),               # not a Zarr input
], ids=["small", "npy-output", "normalize", "whole-chain", "npy-input"])
def test_what_is_not_a_banded_zarr_job_is_left_to_the_file_task(run, on_cluster, tmp_path, args, out):
    image = ramp((300, 100), "uint8")
    zarr_input(tmp_path, image)
    np.save(tmp_path / "in.npy", image)
    local, spread = both(run, on_cluster, tmp_path, *args, out=out)
    assert on_cluster["calls"] == [False]
    assert spread == local


def test_a_dry_run_is_not_banded(run, on_cluster, tmp_path):
    zarr_input(tmp_path, ramp((300, 100), "uint8"))
    done = run("filter", "in.zarr", "-k", "box3", "--band-rows", "64", "-o", "out.zarr", "--dry-run",
               "--scheduler", on_cluster["address"])
    assert done.exit_code == 0 and on_cluster["calls"] == []  # headers are read here: no task at all
    assert not (tmp_path / "out.zarr").exists()


def test_a_bad_chunk_fails_the_input_as_locally_and_leaves_the_old_output(run, on_cluster, tmp_path):
    name = zarr_input(tmp_path, ramp((1100, 300), "uint8"))
    chunk = tmp_path / name / "c" / "3" / "1"
    chunk.write_bytes(b"not a compressed chunk at all")
    for where in ("local", "cluster"):  # an old output, kept
        zarr_input(tmp_path, np.ones((2, 2), np.uint8), name=f"{where}.zarr")
    old = store_files(tmp_path / "local.zarr")
    (local, local_entries, local_err), (spread, spread_entries, spread_err) = both(
        run, on_cluster, tmp_path, "filter", name, "-k", "box3", "--band-rows", "128", code=1)
    assert on_cluster["calls"] == [True]
    assert spread_err == local_err and "in.zarr" in local_err
    assert spread_entries == local_entries and local_entries[0]["status"] == "error"
    assert spread == local == old
    assert leftovers(tmp_path) == []


def test_no_clobber_refuses_an_existing_store_as_locally(run, on_cluster, tmp_path):
    zarr_input(tmp_path, ramp((300, 100), "uint8"))
    for where in ("local", "cluster"):
        zarr_input(tmp_path, np.ones((2, 2), np.uint8), name=f"{where}.zarr")
    local, spread = both(run, on_cluster, tmp_path, "filter", "in.zarr", "-k", "box3", "--band-rows", "64",
                         "--no-clobber", code=1)
    assert on_cluster["calls"] == [True]
    assert spread == local and "exists" in local[2]


def job_of(run, monkeypatch, *args):
    """The Job of a run of ``args`` (nothing run)."""
    jobs = []

    def keep(job, position, **kwargs):
        jobs.append(job)
        from convcli.cli.one_input import Outcome

        return Outcome(position, skipped=True)

    monkeypatch.setattr(batch, "run_one", keep)
    run(*args, "--jobs", "1")
    monkeypatch.undo()
    return jobs[0]


def context(stage=False):
    return TaskContext(cwd=os.getcwd(), owner=run_owner(), stage=stage)


def test_under_fail_fast_the_store_is_left_staged_for_the_client(run, client, tmp_path, monkeypatch):
    zarr_input(tmp_path, ramp((600, 200), "uint8"))
    assert run("filter", "in.zarr", "-k", "gaussian5", "--band-rows", "64", "-o", "local.zarr").exit_code == 0
    job = job_of(run, monkeypatch, "filter", "in.zarr", "-k", "gaussian5", "--band-rows", "64", "-o", "out.zarr")
    monkeypatch.chdir(tmp_path)
    outcome = run_bands_on_cluster(job, 0, client=client, job_future=ship(client, job),
                                   context=context(stage=True))
    assert not (tmp_path / "out.zarr").exists()
    [staged] = outcome.staged
    assert (staged.path, staged.no_clobber, staged.folder) == ("out.zarr", False, True)
    assert os.path.isdir(staged.temp_path) and run_owner() in staged.temp_path
    publish_staged(staged)
    assert store_files(tmp_path / "out.zarr") == store_files(tmp_path / "local.zarr")
    assert outcome.entries[0]["bands"] == {"rows": 64, "count": 10}


def test_an_interrupted_run_removes_its_store(run, client, tmp_path, monkeypatch):
    zarr_input(tmp_path, ramp((1100, 300), "uint8"))
    job = job_of(run, monkeypatch, "filter", "in.zarr", "-k", "gaussian5", "--band-rows", "64", "-o", "out.zarr")
    monkeypatch.chdir(tmp_path)

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_bands_on_cluster(job, 0, client=client, job_future=ship(client, job),
                             context=context(), on_band=interrupt)
    deadline = time.monotonic() + 10  # a task still running when the grace ran out may end after
    while os.listdir(tmp_path) != ["in.zarr"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert os.listdir(tmp_path) == ["in.zarr"]


def test_chunks_a_killed_worker_left_half_written_are_not_kept(run, client, tmp_path, monkeypatch):
    # A worker killed while zarr writes a chunk leaves "<chunk>.<uuid hex>.partial"; the task runs
    # again elsewhere and writes the chunk, and the half-written file goes before the commit.
    from convcli.images import zarr_io

    zarr_input(tmp_path, ramp((600, 200), "uint8"))
    assert run("filter", "in.zarr", "-k", "box3", "--band-rows", "64", "-o", "local.zarr").exit_code == 0
    job = job_of(run, monkeypatch, "filter", "in.zarr", "-k", "box3", "--band-rows", "64", "-o", "out.zarr")
    monkeypatch.chdir(tmp_path)
    real = zarr_io.create

    def killed_midway(folder, **kwargs):
        array = real(folder, **kwargs)
        os.makedirs(os.path.join(folder, "c", "1"))
        Path(folder, "c", "1", "0." + "0123456789abcdef" * 2 + ".partial").write_bytes(b"half a chunk")
        Path(folder, "c", "1", "keep.partial").write_bytes(b"not zarr's")
        return array

    monkeypatch.setattr(zarr_io, "create", killed_midway)
    run_bands_on_cluster(job, 0, client=client, job_future=ship(client, job),
                         context=context())
    assert store_files(tmp_path / "out.zarr") == {**store_files(tmp_path / "local.zarr"),
                                                  "c/1/keep.partial": b"not zarr's"}


def test_a_band_task_sends_its_failure_back_as_data_never_raising(run, tmp_path, monkeypatch):
    # A task's exception would cross with its traceback, which Dask may fail to rebuild.
    from convcli.cli import cluster_bands
    from convcli.errors import ImageReadError

    zarr_input(tmp_path, ramp((300, 100), "uint8"))
    job = job_of(run, monkeypatch, "filter", "in.zarr", "-k", "box3", "--band-rows", "64", "-o", "out.zarr")
    task = cluster_bands.BandTask(job.inputs[0], "out.zarr", 0, 256, 64, "float32", {"scale": "clip"},
                                  str(tmp_path / "gone"))
    shutil.rmtree(tmp_path / "in.zarr")
    failed = cluster_bands.run_band_task(job, task, context())
    assert isinstance(failed.error, ImageReadError) and "in.zarr" in str(failed.error)
    assert failed.error.__traceback__ is None

    class Unpicklable(Exception):  # a local class: pickle cannot name it
        pass

    monkeypatch.setattr(cluster_bands, "_band_rows", lambda *args: (_ for _ in ()).throw(Unpicklable("odd")))
    failed = cluster_bands.run_band_task(job, task, context())
    assert type(failed.error) is RuntimeError and str(failed.error) == "Unpicklable: odd"


@pytest.mark.parametrize("band_rows, chunk_rows, rows", [
    (256, 256, 256), (512, 256, 512), (128, 256, 256), (384, 256, 768), (100, 256, 256), (700, 256, 768),
    (16, 100, 100), (300, 100, 300), (1, 1, 1),
])
def test_task_rows_are_whole_chunk_rows_near_a_band(band_rows, chunk_rows, rows):
    assert task_rows(band_rows, chunk_rows) == rows
    assert rows % chunk_rows == 0


@pytest.mark.parametrize("band_rows, chunk_rows, name", [(0, 256, "band_rows"), (64, True, "chunk_rows"),
                                                         (2.5, 256, "band_rows")])
def test_task_rows_refuse_what_is_not_a_row_count(band_rows, chunk_rows, name):
    with pytest.raises(ValueError, match=f"`{name}` must be a whole number"):
        task_rows(band_rows, chunk_rows)
