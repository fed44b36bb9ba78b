"""Start-up benchmark (issue 16, point 2): what a small job costs, against bare Python and libvips, in one run.

Run by hand (the test suite only runs it with ``--smoke``, to see that it runs)::

    python bench/startup.py                  # 200 files for the make rows, 15 rounds of the others
    python bench/startup.py --repeat 30      # steadier medians
    python bench/startup.py --no-helper      # without the rows that use CONVCLI_HELPER=1

Rows (wall time: medians of ``--repeat`` rounds, the contenders of a row run in turns so that a burst
of load from elsewhere hits all alike; CPU time: the median user + system time of the same runs):

- ``convcli --version`` against ``python -c pass``: target ≤ 4×;
- ``convcli filter`` (Sobel-x, PNG to PNG) on a 64×64 and a 256×256 grey PNG against
  ``python -c "import numpy"``: target ≤ 1.5×; beside them, the floor of such a run, bare Python
  importing what it cannot do without (NumPy, Click, Pillow's PNG plugin);
- ``make -j2`` over ``--files`` 256×256 grey PNGs, one convcli call per file, against the same
  Makefile calling ``vips conv`` (the ``vips`` program; without it the row says so): target ≤ 2×;
  then the same with ``CONVCLI_HELPER=1`` (README, "Speed": the helper process), warmed up first.

It also breaks one small job down by phase: ``python -X importtime`` of the 256×256 filter run, its
import time summed by top-level package, and what is left of the wall time for starting Python,
reading, computing and writing. Timed commands run without PYTHONDONTWRITEBYTECODE (with it, an
editable install recompiles every module at each start, which no installed copy does). The tables are
printed and written as markdown to ``--output`` (default bench/startup-results.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

# bench/ is on sys.path when run as `python bench/startup.py`
from batch import child_env, find_convcli
from run import TABLE_HEAD, Row, machine, row_line

HERE = Path(__file__).resolve().parent

#: libvips' matrix file of the Sobel-x kernel (width height scale offset, then the rows): the same
#: kernel convcli's ``sobel-x`` names (libvips convolves, as convcli's default mode does).
VIPS_SOBEL_X = "3 3 1 0\n1 0 -1\n2 0 -2\n1 0 -1\n"

MAKEFILE = """\
# bench/startup.py: one call per file, as a pattern rule does it
IN := $(wildcard in/*.png)
OUT := $(IN:in/%.png=out/%.png)
all: $(OUT)
out/%.png: in/%.png
\t@{command}
"""
CONVCLI_RULE = "$(CONVCLI) -q filter $< -k sobel-x -o $@"
VIPS_RULE = "vips conv $< $@ sobelx.mat"

#: The floor of an in-process small filter job: the libraries it cannot do without (Click parses the
#: command line, NumPy computes, Pillow decodes a small PNG), imported by bare Python.
FLOOR_IMPORTS = "import numpy, click, PIL.Image, PIL.PngImagePlugin"
FLOOR = "python -c 'import numpy, click, PIL'"

#: Packages whose import time the phase table shows on a line of their own; the rest is "other".
NAMED_PACKAGES = ("numpy", "cv2", "PIL", "scipy", "skimage", "click", "rich", "yaml", "convcli")


def timed(args: list[str], *, env: dict[str, str], cwd: Path | None = None) -> tuple[float, float]:
    """(wall ms, user + system CPU ms) of one run of ``args``; a failure stops the benchmark."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            text = errors.read().decode(errors="replace")[-2000:]
            raise SystemExit(f"failed ({process.returncode}): {' '.join(map(str, args[:8]))} ...\n{text}")
    return 1000 * wall, 1000 * (usage.ru_utime + usage.ru_stime)


def rounds(contenders: dict[str, tuple[list[str], dict[str, str]]], repeat: int,
           *, before: dict[str, object] | None = None) -> dict[str, tuple[float, float]]:
    """Median (wall ms, CPU ms) of each contender over ``repeat`` rounds, one warm-up each first.
    ``before`` maps a contender to a callable run before each of its runs (outside the timing)."""
    before = before or {}
    for name, (args, env) in contenders.items():
        if name in before:
            before[name]()
        timed(args, env=env)
    walls: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, list[float]] = defaultdict(list)
    for _ in range(repeat):
        for name, (args, env) in contenders.items():
            if name in before:
                before[name]()
            wall, cpu = timed(args, env=env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in contenders}


def grey_png(path: Path, size: int, seed: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(size), np.arange(size)) * (255 / max(2 * size - 2, 1))
    pixels = np.clip(ramp + rng.normal(0, 12, (size, size)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def helper_env(env: dict[str, str], runtime: Path) -> dict[str, str]:
    """The environment of the helper rows: the helper on, its socket in this run's own folder."""
    return {**env, "CONVCLI_HELPER": "1", "XDG_RUNTIME_DIR": str(runtime)}


def warm_helper(convcli: str, small: Path, out: Path, env: dict[str, str]) -> None:
    """Start the helper (the first call runs in-process and starts it) and give it time to be ready."""
    for _ in range(5):
        timed([convcli, "-q", "filter", str(small), "-k", "sobel-x", "-o", str(out)], env=env)
        time.sleep(0.5)


def command_rows(args: argparse.Namespace, root: Path, env: dict[str, str]) -> tuple[list[Row], dict[str, float]]:
    convcli, python = args.convcli, sys.executable
    images = {}
    for size in (64, 256):
        images[size] = root / f"small{size}.png"
        grey_png(images[size], size, seed=size)
    contenders = {
        "python -c pass": ([python, "-c", "pass"], env),
        "python -c 'import numpy'": ([python, "-c", "import numpy"], env),
        "convcli --version": ([convcli, "--version"], env),
        FLOOR: ([python, "-c", FLOOR_IMPORTS], env),
    }
    for size, path in images.items():
        contenders[f"filter {size}"] = ([convcli, "-q", "filter", str(path), "-k", "sobel-x",
                                        "-o", str(root / f"out{size}.png")], env)
    if args.helper:
        runtime = root / "runtime"
        runtime.mkdir(mode=0o700)
        on = helper_env(env, runtime)
        warm_helper(convcli, images[64], root / "warm.png", on)
        for size, path in images.items():
            contenders[f"filter {size} helper"] = ([convcli, "-q", "filter", str(path), "-k", "sobel-x",
                                                   "-o", str(root / f"out{size}h.png")], on)
    print(f"  commands, {args.repeat} rounds ...", file=sys.stderr, flush=True)
    medians = rounds(contenders, args.repeat)
    wall = {name: value[0] for name, value in medians.items()}
    cpu = {name: value[1] for name, value in medians.items()}
    bare, numpy_ = "python -c pass", "python -c 'import numpy'"
    rows = [Row("start-up", "convcli --version", wall["convcli --version"], {bare: wall[bare]},
                reference=bare, target=4.0, target_text="≤ 4× python -c pass")]
    rows.append(Row("start-up", FLOOR, wall[FLOOR], {numpy_: wall[numpy_]}, reference=numpy_,
                    target_text="(what no in-process run can go below)"))
    for size in images:
        rows.append(Row("start-up", f"convcli filter {size}×{size} PNG -k sobel-x", wall[f"filter {size}"],
                        {numpy_: wall[numpy_]}, reference=numpy_, target=1.5,
                        target_text="≤ 1.5× python -c 'import numpy'"))
        if args.helper:
            rows.append(Row("start-up", "… the same with CONVCLI_HELPER=1 (warm)", wall[f"filter {size} helper"],
                            {numpy_: wall[numpy_]}, reference=numpy_, target=1.5,
                            target_text="≤ 1.5× python -c 'import numpy'"))
    return rows, cpu


def make_rows(args: argparse.Namespace, root: Path, env: dict[str, str]) -> list[Row]:
    if not shutil.which("make"):
        print("  make not found: no make rows", file=sys.stderr, flush=True)
        return []
    work = root / "make"
    (work / "in").mkdir(parents=True)
    for index in range(args.files):
        grey_png(work / "in" / f"{index:04d}.png", 256, seed=index)
    (work / "sobelx.mat").write_text(VIPS_SOBEL_X)
    (work / "convcli.mk").write_text(MAKEFILE.format(command=CONVCLI_RULE))
    (work / "vips.mk").write_text(MAKEFILE.format(command=VIPS_RULE))
    out = work / "out"

    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    make = ["make", "-s", "-j2", "-C", str(work)]
    convcli_env = {**env, "CONVCLI": args.convcli}
    contenders = {"convcli": ([*make, "-f", "convcli.mk"], convcli_env)}
    vips = shutil.which("vips")
    if vips:
        contenders["vips conv"] = ([*make, "-f", "vips.mk"], env)
    if args.helper:
        runtime = root / "runtime-make"
        runtime.mkdir(mode=0o700)
        on = helper_env(convcli_env, runtime)
        warm_helper(args.convcli, work / "in" / "0000.png", root / "warm.png", on)
        contenders["convcli, helper"] = ([*make, "-f", "convcli.mk"], on)
    print(f"  make -j2 over {args.files} files, {args.make_repeat} rounds ...", file=sys.stderr, flush=True)
    medians = rounds(contenders, args.make_repeat, before={name: fresh for name in contenders})
    others = {"vips conv": medians["vips conv"][0]} if vips else {}
    case = f"make -j2, {args.files} × 256² PNG, one call per file"
    text = "≤ 2× vips conv" if vips else "≤ 2× vips conv (vips not found: not timed)"
    rows = [Row("make", case, medians["convcli"][0], dict(others), reference="vips conv", target=2.0,
                target_text=text)]
    if args.helper:
        rows.append(Row("make", "… the same with CONVCLI_HELPER=1", medians["convcli, helper"][0], dict(others),
                        reference="vips conv", target=2.0, target_text=text))
    return rows


#: The filter run of the phase table. convcli points file descriptor 2 at /dev/null while libpng or
#: libtiff decode (their own messages would garble its one-line errors); -X importtime writes there
#: too, so for this run that silencing is off, or what is imported while decoding would be missed.
PHASE_RUN = """\
import contextlib
import convcli._libraries
convcli._libraries._c_stderr_silenced = contextlib.nullcontext
from convcli._entry import main
main()
"""


def phases(args: argparse.Namespace, root: Path, env: dict[str, str]) -> list[tuple[str, float]]:
    """Import time by top-level package (self times summed, ms) of one 256² filter run under
    ``-X importtime``, then the rest of its wall time."""
    image = root / "phase256.png"
    grey_png(image, 256, seed=7)
    command = [sys.executable, "-X", "importtime", "-c", PHASE_RUN,
               "-q", "filter", str(image), "-k", "sobel-x", "-o", str(root / "phase-out.png")]
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the file cache
    walls, imports = [], []
    for _ in range(max(3, min(args.repeat, 7))):
        start = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        walls.append(1000 * (time.perf_counter() - start))
        by_package: dict[str, float] = defaultdict(float)
        for line in result.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
            top = name.split(".")[0]
            by_package[top if top in NAMED_PACKAGES else "other (the standard library, …)"] += int(self_us) / 1000
        imports.append(by_package)
    wall = statistics.median(walls)
    names = sorted({name for found in imports for name in found}, key=lambda n: -statistics.median(
        [found.get(n, 0.0) for found in imports]))
    table = [(f"import {name}", statistics.median([found.get(name, 0.0) for found in imports])) for name in names]
    table.append(("start Python, read, compute, write, exit", wall - sum(value for _, value in table)))
    table.append(("whole run (under -X importtime)", wall))
    return table


def markdown(rows: list[Row], cpu: dict[str, float], phase_table: list[tuple[str, float]],
             args: argparse.Namespace, version: str) -> str:
    today = datetime.date.today().isoformat()
    lines = [f"# Start-up benchmark{' (smoke)' if args.smoke else ''}", "",
             f"{version}; {machine()}; {today}. Wall times in ms (make rows: the whole make run), medians of "
             f"{args.repeat} rounds ({args.make_repeat} for make), contenders in turns.", "", *TABLE_HEAD]
    lines += [row_line(row) for row in rows]
    if cpu:
        lines += ["", "CPU time (user + system, ms, medians of the same runs): "
                  + "; ".join(f"{name} {value:.0f}" for name, value in cpu.items()) + "."]
    lines += ["", "## Where a 256×256 filter run's time goes", "", "| phase | ms |", "|---|---:|"]
    lines += [f"| {name} | {value:.1f} |" for name, value in phase_table]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--convcli", help="the convcli program to time (default: beside this Python, or on PATH)")
    parser.add_argument("--repeat", type=int, default=15, help="rounds of the command rows (default 15)")
    parser.add_argument("--make-repeat", type=int, default=3, help="rounds of the make rows (default 3)")
    parser.add_argument("--files", type=int, default=200, help="PNGs for make -j2 (default 200)")
    parser.add_argument("--no-helper", dest="helper", action="store_false", help="skip the CONVCLI_HELPER=1 rows")
    parser.add_argument("--smoke", action="store_true", help="tiny: 4 files, 1 round (for the test suite)")
    parser.add_argument("--output", type=Path, default=HERE / "startup-results.md")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeat, args.make_repeat, args.files = 1, 1, 4
    args.convcli, version = find_convcli(parser, args.convcli)
    env = child_env()
    with tempfile.TemporaryDirectory(prefix="convcli-startup-") as temp:
        root = Path(temp)
        rows, cpu = command_rows(args, root, env)
        rows += make_rows(args, root, env)
        phase_table = phases(args, root, env)
    text = markdown(rows, cpu, phase_table, args, version)
    print(text)
    args.output.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
