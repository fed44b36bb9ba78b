"""``--update`` (cli/update.py): an input whose outputs are at least as new as it and as every file
the run reads is neither read nor written, and reported ``up-to-date``; through CliRunner with real
files (modification times set with os.utime, never waited for), and through a real ``make -j2``.

What is rebuilt is told by the outputs' modification times: after each run every output is stamped
with a known time in the past, so an output whose time is no longer that stamp was written again.
"""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from helpers import png, read_png

BASE = int(time.time()) - 100_000  # seconds; every stamp is in the past, a rebuilt output is "now"


def at(seconds):
    return BASE + seconds


def stamp(paths, seconds):
    """Give ``paths`` the modification time BASE + ``seconds``."""
    for path in paths:
        os.utime(path, (at(seconds), at(seconds)))


def mtimes(paths):
    return {str(path): os.stat(path).st_mtime_ns for path in paths}


def rewritten(paths, seconds):
    """The paths whose modification time is no longer the stamp BASE + ``seconds``."""
    return sorted(str(path) for path in paths if os.stat(path).st_mtime_ns != at(seconds) * 10**9)


def images(folder, names=("a", "b", "c")):
    """Small grey PNGs, different from each other, stamped old."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, f"{name}.png") for name in names]
    for number, path in enumerate(paths):
        png(path, (np.arange(48).reshape(6, 8) * (number + 1) % 256).astype(np.uint8))
    stamp(paths, 0)
    return paths


def kernel_file(path="k.txt"):
    with open(path, "w") as handle:
        handle.write("0 1 0\n1 2 1\n0 1 0\n")
    stamp([path], 0)
    return path


def report_of(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def statuses(report):
    return sorted((entry["input"], entry["output"], entry["status"]) for entry in report["files"])


@pytest.fixture
def folder_run(run, tmp_path):
    """Three inputs in in/, a kernel file, and a first run that wrote out/a.png ... out/c.png,
    stamped at 10; returns (outputs, run the same command again with extra arguments)."""
    images("in")
    kernel_file()
    outputs = [os.path.join("out", f"{name}.png") for name in "abc"]

    def again(*extra):
        return run("filter", "in", "-k", "k.txt", "-O", "out", "--update", *extra)

    first = again("--json")
    assert [entry["status"] for entry in report_of(first)["files"]] == ["ok"] * 3
    stamp(outputs, 10)
    return outputs, again


def test_a_second_identical_run_writes_nothing(folder_run):
    outputs, again = folder_run
    before = {path: Path(path).read_bytes() for path in outputs}
    folder_time = os.stat("out").st_mtime_ns  # not even a probe file was made in it
    report = report_of(again("--json"))
    assert statuses(report) == [(f"in/{n}.png", f"out/{n}.png", "up-to-date") for n in "abc"]
    assert (report["ok"], report["failed"], report["skipped"], report["up_to_date"], report["outputs"]) == (0, 0, 0, 3, 0)
    assert rewritten(outputs, 10) == []
    assert {path: Path(path).read_bytes() for path in outputs} == before
    assert os.stat("out").st_mtime_ns == folder_time
    assert sorted(os.listdir("out")) == ["a.png", "b.png", "c.png"]


def test_the_summary_counts_up_to_date_inputs(folder_run):
    _, again = folder_run
    result = again()
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1].startswith("0 done, 0 failed, 3 up to date in ")


def test_touching_one_input_rebuilds_exactly_that_one(folder_run):
    outputs, again = folder_run
    stamp(["in/b.png"], 20)
    report = report_of(again("--json"))
    assert statuses(report) == [("in/a.png", "out/a.png", "up-to-date"), ("in/b.png", "out/b.png", "ok"),
                                ("in/c.png", "out/c.png", "up-to-date")]
    assert (report["ok"], report["up_to_date"]) == (1, 2)
    assert rewritten(outputs, 10) == ["out/b.png"]


def test_equal_times_are_up_to_date_and_one_nanosecond_newer_is_not(folder_run):
    outputs, again = folder_run
    stamp(["in/a.png", "k.txt"], 10)  # as new as the outputs: make would not rebuild either
    assert report_of(again("--json"))["up_to_date"] == 3
    os.utime("in/a.png", ns=(at(10) * 10**9 + 1, at(10) * 10**9 + 1))
    assert report_of(again("--json"))["up_to_date"] == 2
    assert rewritten(outputs, 10) == ["out/a.png"]


def test_touching_the_kernel_file_rebuilds_all(folder_run):
    outputs, again = folder_run
    stamp(["k.txt"], 20)
    report = report_of(again("--json"))
    assert (report["ok"], report["up_to_date"]) == (3, 0)
    assert rewritten(outputs, 10) == sorted(outputs)


def test_a_missing_output_rebuilds_its_input(folder_run):
    outputs, again = folder_run
    os.remove("out/c.png")
    report = report_of(again("--json"))
    assert [entry["status"] for entry in report["files"]] == ["up-to-date", "up-to-date", "ok"]
    assert os.path.isfile("out/c.png") and rewritten(outputs[:2], 10) == []


def test_an_input_with_two_outputs_reruns_when_one_is_missing_or_old(run):
    images("in", names=("a",))
    kernel_file()
    args = ("filter", "in/a.png", "-k", "box3", "-k", "k.txt", "-O", "out", "--update", "--json")
    outputs = ["out/a-box3.png", "out/a-k.png"]
    report_of(run(*args))
    stamp(outputs, 10)
    assert report_of(run(*args))["up_to_date"] == 1
    stamp(outputs[:1], -5)  # one output older than the input
    report = report_of(run(*args))
    assert [entry["status"] for entry in report["files"]] == ["ok", "ok"]
    assert rewritten(outputs, 10) == outputs


def test_a_kernel_found_through_kernel_dir_is_a_prerequisite(run):
    images("in", names=("a", "b"))
    os.makedirs("mine")
    with open("mine/soft.yaml", "w") as handle:
        handle.write("matrix: [[1, 1], [1, 1]]\nnormalize: true\n")
    stamp(["mine/soft.yaml"], 0)
    args = ("filter", "in", "--kernel-dir", "mine", "-k", "soft", "-O", "out", "--update", "--json")
    outputs = ["out/a.png", "out/b.png"]
    report_of(run(*args))
    stamp(outputs, 10)
    assert report_of(run(*args))["up_to_date"] == 2
    stamp(["mine/soft.yaml"], 20)
    assert report_of(run(*args))["ok"] == 2
    assert rewritten(outputs, 10) == outputs


def _kernel_pipeline():
    kernel_file()
    with open("net.yaml", "w") as handle:
        handle.write("steps:\n  - filter: {kernel: k.txt}\n  - pool: {op: max, size: 2}\n")
    stamp(["net.yaml"], 0)


def _weighted_pipeline():
    np.save("w.npy", np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]], np.float32).reshape(3, 3, 1, 1) / 6)
    np.savez("b.npz", bias=np.array([1.0], np.float32))
    with open("net.yaml", "w") as handle:
        handle.write("steps:\n  - conv2d: {weights: w.npy, bias: 'b.npz:bias', padding: same}\n")
    stamp(["w.npy", "b.npz", "net.yaml"], 0)


@pytest.mark.parametrize("pipeline,touched", [(_kernel_pipeline, "net.yaml"), (_kernel_pipeline, "k.txt"),
                                              (_weighted_pipeline, "w.npy"), (_weighted_pipeline, "b.npz"),
                                              (_weighted_pipeline, "net.yaml")])
def test_touching_the_pipeline_file_or_a_kernel_or_weight_file_it_names_rebuilds_all(run, pipeline, touched):
    images("in", names=("a", "b"))
    pipeline()
    args = ("pipeline", "net.yaml", "in", "-O", "out", "--update", "--json")
    outputs = ["out/a.png", "out/b.png"]
    report_of(run(*args))
    stamp(outputs, 10)
    assert report_of(run(*args))["up_to_date"] == 2
    stamp([touched], 20)
    assert report_of(run(*args))["ok"] == 2
    assert rewritten(outputs, 10) == outputs


def test_a_pipeline_never_writes_over_a_weight_file_it_names(run):
    output = "w.npy"  # (.npz is no output format)
    images("in", names=("a",))
    _weighted_pipeline()
    before = Path(output).read_bytes()
    result = run("pipeline", "net.yaml", "in/a.png", "-o", output)
    assert result.exit_code == 2
    assert "refusing to overwrite a file this run reads" in result.output and output in result.output
    assert Path(output).read_bytes() == before


def test_a_recursive_folder_into_an_output_folder(run):
    images("in", names=("a",))
    images("in/sub", names=("b",))
    args = ("filter", "in", "--recursive", "-k", "box3", "-O", "out", "--update", "--json")
    outputs = ["out/a.png", "out/sub/b.png"]
    report_of(run(*args))
    stamp(outputs, 10)
    assert statuses(report_of(run(*args))) == [("in/a.png", "out/a.png", "up-to-date"),
                                               ("in/sub/b.png", "out/sub/b.png", "up-to-date")]
    stamp(["in/sub/b.png"], 20)
    report_of(run(*args))
    assert rewritten(outputs, 10) == ["out/sub/b.png"]


def test_inputs_that_are_no_files_always_run(run):
    images("in", names=("a",))
    report_of(run("filter", "sample:checkerboard", "in/a.png", "-k", "box3", "-O", "out", "--update", "--json"))
    outputs = ["out/checkerboard.png", "out/a.png"]
    stamp(outputs, 10)
    report = report_of(run("filter", "sample:checkerboard", "in/a.png", "-k", "box3", "-O", "out", "--update", "--json"))
    assert [entry["status"] for entry in report["files"]] == ["ok", "up-to-date"]
    assert rewritten(outputs, 10) == ["out/checkerboard.png"]


def test_a_dry_run_says_what_is_up_to_date_and_writes_nothing(folder_run):
    outputs, again = folder_run
    stamp(["in/a.png"], 20)
    report = report_of(again("--dry-run", "--json"))
    assert [entry["status"] for entry in report["files"]] == ["ok", "up-to-date", "up-to-date"]
    assert report["files"][0]["output_shape"] == [6, 8]  # described from its header
    assert rewritten(outputs, 10) == []


def test_no_clobber_refuses_only_what_would_be_written(folder_run):
    outputs, again = folder_run
    assert report_of(again("--no-clobber", "--json"))["up_to_date"] == 3
    stamp(["in/c.png"], 20)
    result = again("--no-clobber", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [entry["status"] for entry in report["files"]] == ["up-to-date", "up-to-date", "error"]
    assert rewritten(outputs, 10) == []


def test_without_update_everything_is_written_again(folder_run, run):
    outputs, _ = folder_run
    report_of(run("filter", "in", "-k", "k.txt", "-O", "out", "--json"))
    assert rewritten(outputs, 10) == sorted(outputs)


@pytest.mark.parametrize("extra, words", [(("-o", "-"), "-o - writes no file"),
                                          (("-o", "x.png", "--split"), "--split's channel files")])
def test_update_refuses_outputs_it_cannot_compare(run, extra, words):
    images("in", names=("a",))
    result = run("filter", "in/a.png", "-k", "box3", "--update", *extra)
    assert result.exit_code == 2
    assert "--update compares output files" in result.stderr and words in result.stderr


# --- through make -------------------------------------------------------------------------------

MAKEFILE = """\
INPUTS := $(wildcard in/*.png)
OUTPUTS := $(INPUTS:in/%.png=out/%.png)

all: $(OUTPUTS)

out/%.png: in/%.png k.txt
\t@mkdir -p $(@D)
\t$(PY) -m convcli -q filter $< -k k.txt -o $@ $(UPDATE)

# make's behaviour in one call: convcli decides what is out of date
folder:
\t$(PY) -m convcli -q filter in -k k.txt -O out --update

.PHONY: all folder
"""


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("mode", ["make decides", "convcli decides, one call per file", "convcli decides, one call"])
def test_make_rebuilds_exactly_what_changed(tmp_path, monkeypatch, mode):
    """``make -j2``: the first run builds all; then touching one input rebuilds that output, and
    touching the kernel file rebuilds all. Without --update, make compares the times; with it
    (``make -B`` runs every recipe, or one call over the folder), convcli does."""
    monkeypatch.chdir(tmp_path)
    images("in")
    kernel_file()
    with open("Makefile", "w") as handle:
        handle.write(MAKEFILE)
    outputs = [os.path.join("out", f"{name}.png") for name in "abc"]
    command = {"make decides": ["make", "-j2", "all"],
               "convcli decides, one call per file": ["make", "-B", "-j2", "all", "UPDATE=--update"],
               "convcli decides, one call": ["make", "-j2", "folder"]}[mode]
    env = {key: value for key, value in os.environ.items() if key not in ("MAKEFLAGS", "MFLAGS", "CONVCLI_KERNEL_PATH")}

    def make():
        done = subprocess.run([*command, f"PY={sys.executable}"], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr

    make()
    assert [read_png(path).shape for path in outputs] == [(6, 8)] * 3
    stamp(outputs, 10)
    make()
    assert rewritten(outputs, 10) == []
    stamp(["in/b.png"], 20)
    make()
    assert rewritten(outputs, 10) == ["out/b.png"]
    stamp(outputs, 30)
    stamp(["k.txt"], 40)
    make()
    assert rewritten(outputs, 30) == sorted(outputs)
