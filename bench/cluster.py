"""Cluster benchmark (issue 17, point 5): a batch through a Dask cluster against local worker processes.

Run by hand (the test suite only runs it with ``--smoke``, tiny inputs, to see that it runs)::

    python bench/cluster.py                  # 200 PNGs of 256×256, 5×5 Gaussian
    python bench/cluster.py --repeat 3       # best of 3 runs of each variant
    python bench/cluster.py --no-processes   # without the real scheduler and workers

It cuts ``--files`` RGB PNGs of ``--size``×``--size`` out of scikit-image's sample pictures, then
times, in one run, the same ``convcli -q filter in/ -k gaussian5 -O out/`` with:

- ``--jobs 2`` (the reference: local worker processes) and ``--jobs 1``;
- ``--scheduler local:2``: a LocalCluster of 2 processes started and closed by the run itself;
- ``--scheduler tcp://127.0.0.1:PORT``: an already running ``dask scheduler`` with 2 ``dask worker``
  processes on this machine (tests/dask_procs.py starts them as a user would; their start-up is not
  in the row, as with a cluster that is up anyway).

Each variant is timed on the whole batch and on one file; the difference is what one more file costs
(``(T(N) − T(1)) / (N − 1)``), the one-file time what a run costs before its first file. The overhead
per file is ``(T − T(--jobs 2)) / N``. Every run's outputs must be byte-identical to the ``--jobs 2``
run's, or the benchmark stops. The tables are printed and written as markdown to ``--output``
(default bench/cluster-results.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# bench/ is on sys.path when run as `python bench/cluster.py`
from batch import _fresh, _run, find_convcli, has_option

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"

KERNEL = "gaussian5"
#: scikit-image's bundled sample pictures the inputs are cut from (no download needed).
SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


@dataclass
class Timing:
    name: str
    extra: list[str]       # options after the common command
    seconds: float         # best wall time on the whole batch
    one_file: float        # best wall time on one file

    def command(self) -> str:
        return " ".join(["convcli -q filter in/ -k", KERNEL, "-O out/", *self.extra])


def make_images(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """``count`` RGB PNGs of ``size``×``size``: crops of scikit-image's sample pictures at random
    places (wrapping around where a picture is smaller), so they compress like photographs."""
    import skimage.data
    from PIL import Image

    rng = np.random.default_rng(seed)
    pictures = [getattr(skimage.data, name)() for name in SAMPLES]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        picture = pictures[index % len(pictures)]
        top, left = rng.integers(0, picture.shape[0]), rng.integers(0, picture.shape[1])
        rows = np.arange(top, top + size) % picture.shape[0]
        columns = np.arange(left, left + size) % picture.shape[1]
        path = folder / f"img{index:04d}.png"
        Image.fromarray(np.ascontiguousarray(picture[np.ix_(rows, columns)])).save(path)
        paths.append(path)
    return paths


def outputs(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def time_variant(convcli: str, name: str, extra: list[str], inputs: Path, one: Path, out: Path,
                 repeat: int, reference: dict[str, bytes] | None) -> tuple[Timing, dict[str, bytes]]:
    """Best of ``repeat`` runs on the batch and on one file; the outputs checked against ``reference``."""
    common = [convcli, "-q", "filter"]
    best = best_one = float("inf")
    for _ in range(repeat):
        _fresh(out)
        best = min(best, _run([*common, str(inputs), "-k", KERNEL, "-O", str(out), *extra]))
        made = outputs(out)
        _fresh(out)
        best_one = min(best_one, _run([*common, str(one), "-k", KERNEL, "-O", str(out), *extra]))
    expected = sum(1 for _ in inputs.iterdir())
    if len(made) != expected:
        raise SystemExit(f"{name}: {len(made)} outputs, expected {expected}")
    if reference is not None:
        differ = sorted(n for n in reference if made.get(n) != reference[n])
        if differ:
            raise SystemExit(f"{name}: outputs differ from --jobs 2 in {len(differ)} files, e.g. {differ[0]}")
    return Timing(name, extra, best, best_one), made


def bench(args: argparse.Namespace) -> tuple[list[Timing], list[str]]:
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="convcli-bench-cluster-") as temp:
        root = Path(temp)
        inputs = root / "in"
        make_images(inputs, args.files, args.size)
        one = root / "one"
        make_images(one, 1, args.size)
        out = root / "out"

        def run(name: str, extra: list[str], reference: dict[str, bytes] | None):
            return time_variant(args.convcli, name, extra, inputs, one, out, args.repeat, reference)

        reference_timing, reference = run(f"--jobs {args.jobs}", ["--jobs", str(args.jobs)], None)
        timings = [reference_timing, run("--jobs 1", ["--jobs", "1"], reference)[0]]
        if not has_option(args.convcli, "filter", "--scheduler"):
            notes.append("This convcli has no --scheduler option: no cluster rows.")
            return timings, notes
        try:
            import distributed
        except ImportError:
            notes.append('Dask is not installed (pip install "convcli[cluster]"): no cluster rows.')
            return timings, notes
        notes.append(f"dask/distributed {distributed.__version__}.")
        timings.append(run(f"--scheduler local:{args.workers}", ["--scheduler", f"local:{args.workers}"],
                           reference)[0])
        if args.no_processes:
            notes.append("The real scheduler and workers were not started (--no-processes).")
            return timings, notes
        sys.path.insert(0, str(TESTS))
        from dask_procs import DaskProcesses

        started = time.perf_counter()
        with DaskProcesses(args.workers, folder=root / "dask") as cluster:
            up = time.perf_counter() - started
            timing = run(f"--scheduler tcp:// ({args.workers} dask workers)", ["--scheduler", cluster.address],
                         reference)[0]
            timing.extra = ["--scheduler", "tcp://127.0.0.1:PORT"]
            timings.append(timing)
            closing = time.perf_counter()
        notes.append(f"The real `dask scheduler` and {args.workers} `dask worker` processes took {up:.1f} s to "
                     f"start and {time.perf_counter() - closing:.1f} s to stop (outside the timings).")
        return timings, notes


def table(timings: list[Timing], notes: list[str], args: argparse.Namespace, *, convcli_version: str) -> str:
    reference, files = timings[0], args.files
    lines = [
        f"# Cluster benchmark{' (smoke)' if args.smoke else ''}: {files} PNGs of {args.size}×{args.size}, "
        f"5×5 Gaussian ({KERNEL})",
        "",
        f"convcli {convcli_version}, Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; best of {args.repeat}. Overhead per file: (T − T(--jobs {args.jobs})) / {files}. "
        f"One more file: (T({files}) − T(1)) / {files - 1}.",
        "",
        f"| variant | seconds, {files} files | ms per file | × --jobs {args.jobs} | overhead per file (ms) "
        "| seconds, 1 file | one more file (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        marginal = f"{1000 * (t.seconds - t.one_file) / (files - 1):.1f}" if files > 1 else "—"
        lines.append(f"| {t.name} | {t.seconds:.2f} | {1000 * t.seconds / files:.1f} | "
                     f"{t.seconds / reference.seconds:.2f} | {1000 * (t.seconds - reference.seconds) / files:+.1f} | "
                     f"{t.one_file:.2f} | {marginal} |")
    lines += ["", f"Outputs of every variant byte-identical to the --jobs {args.jobs} run's: yes.", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "Commands:", ""]
    lines += [f"- {t.name}: `{t.command()}`" for t in timings]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="number of images (default 200)")
    parser.add_argument("--size", type=int, default=256, help="side of each image (default 256)")
    parser.add_argument("--jobs", type=int, default=2, help="local worker processes of the reference (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="Dask workers of both clusters (default 2)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant, best kept (default 1)")
    parser.add_argument("--no-processes", action="store_true", help="skip the real scheduler and workers")
    parser.add_argument("--smoke", action="store_true", help="tiny: 6 files of 32×32 (for the test suite)")
    parser.add_argument("--convcli", default=None, help="the convcli command (default: beside this Python, or PATH)")
    parser.add_argument("--output", type=Path, default=HERE / "cluster-results.md", help="markdown file to write")
    args = parser.parse_args(argv)
    if args.smoke:
        args.files, args.size, args.repeat = 6, 32, 1
    if args.files < 2 or args.size < 1 or args.jobs < 1 or args.workers < 1 or args.repeat < 1:
        parser.error("--files must be >= 2; --size, --jobs, --workers and --repeat >= 1")
    args.convcli, version = find_convcli(parser, args.convcli)
    timings, notes = bench(args)
    text = table(timings, notes, args, convcli_version=version.split()[-1] if version else "?")
    print(text)
    args.output.write_text(text, encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
