"""Streaming benchmark (issue 15, point 4): convcli against libvips on big inputs, side by side in one run.

Run by hand (the test suite only runs it with ``--smoke``, tiny inputs, to see that it runs)::

    python bench/streaming.py                # every case at full size (the 10 GB Zarr too: long)
    python bench/streaming.py --skip-huge    # without the 100000² Zarr
    python bench/streaming.py --quick        # reduced sizes, a few minutes
    python bench/streaming.py --workdir /big/tmp --keep   # keep the inputs there and reuse them next time

Cases (wall time: medians of ``--repeat`` runs, ``--huge-repeat`` for the full-size TIFF and Zarr
cases; peak memory: the largest maximum resident set size ``/usr/bin/time`` reports over those runs):

- Sobel-x of a 4096² grey PNG and a 5×5 Gaussian of a 2048² RGB PNG (made as bench/run.py makes
  them), PNG out at zlib level 1 and 6: time ≤ 1× vips, peak memory ≤ 2× vips';
- a 5×5 Gaussian of a 40000² uint8 BigTIFF (tiled 256², deflate) to tiled BigTIFF: peak memory
  under 512 MiB, time ≤ 1.5× vips; the same for a 3-step pipeline, conv → 2×2 max pool → conv
  (libvips: conv, ``rank`` 2×2 + ``subsample`` 2, conv);
- a 5×5 Gaussian of a 100000² uint8 Zarr v3 array (10 GB, chunks 1024²) to Zarr, convcli only
  (libvips has no Zarr): throughput in MB/s (array bytes / wall seconds), peak memory.

``--quick`` shrinks them to 1024² / 512² PNGs, an 8000² TIFF and a 20000² Zarr (``--smoke``: 64² / 32²
PNGs, a 512² TIFF, a 1024² Zarr). The inputs are made
in ``--workdir`` (default: a temporary folder under /tmp, removed at the end), from deterministic
smooth content with some noise, written tile by tile (TIFF, with tifffile) and chunk row by chunk
row (Zarr), never whole. libvips is the ``vips`` program when one is on PATH, else pyvips (e.g. the
``pyvips-binary`` wheel) in a child Python (bench/_vips_job.py), whose start-up is measured once and
reported so it can be subtracted. Output shapes are checked against each other, and the interior
pixels of the PNG cases compared (borders differ: convcli pads with zeros, libvips copies the edge).
The table is printed and written as markdown to ``--output`` (default bench/streaming-results.md).
A case convcli fails (a limit, memory) is a row that says why; the run goes on.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Callable

import numpy as np

# bench/ is on sys.path when run as `python bench/streaming.py`
from _vips_job import MAX_POOL_TEXT, TIFF_DEFLATE_LEVEL, mask_file_text
from batch import find_convcli
from run import TABLE_HEAD, Row, _size, cmd_stats, machine, row_line, smooth_image, versions

HERE = Path(__file__).resolve().parent

#: convcli's default input limits (its --help), which the big inputs pass: raised only when needed.
DEFAULT_MAX_PIXELS = 178_956_970
DEFAULT_MAX_SIDE = 65_535
DEFAULT_MAX_FILE_SIZE = 2**30

#: Rows and columns each side that --max-pixels leaves for the padding of the cases' kernels.
PIXEL_MARGIN = 16

#: The issue's memory bound for the big cases (MiB).
BIG_MEMORY_MIB = 512

#: Full and --quick sizes: grey PNG side (the RGB one is half), TIFF side, Zarr side.
SIZES = {"full": (4096, 40_000, 100_000), "quick": (1024, 8000, 20_000), "smoke": (64, 512, 1024)}

#: What the other rows of a case convcli failed say (the time row says why).
SEE_TIME_ROW = "see the time row"

TIFF_TILE = 256
ZARR_CHUNK = 1024

PIPELINE_YAML = """\
# bench/streaming.py: conv → 2×2 max pool → conv
steps:
  - filter: {kernels: [gaussian5]}
  - pool: {op: max, size: 2}
  - filter: {kernels: [gaussian5]}
"""


# ---------------------------------------------------------------- inputs

def smooth_band(r0: int, r1: int, width: int, seed: int = 0) -> np.ndarray:
    """Rows ``r0:r1`` of a deterministic uint8 image as wide as ``width``: slow waves (continuous
    across bands, built from outer products, so cheap) in 27..213, plus 0..23 of noise, so deflate
    has work."""
    y = np.arange(r0, r1, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    band = np.cos(y / 797) * (50 * np.sin(x / 611))
    band += np.sin(y / 2311) * (30 * np.cos(x / 2311))  # with the next line, 30·sin((x + y)/2311)·√2 at most
    band += np.cos(y / 2311) * (30 * np.sin(x / 2311))
    band += 120
    noise = np.random.default_rng([seed, r0]).integers(0, 24, band.shape, dtype=np.uint8)
    return band.astype(np.uint8) + noise


def remove(path: Path) -> None:
    """Remove a file or a folder store, if there."""
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _publish(make: Callable[[Path], object], target: Path) -> Path:
    """Make ``target`` under a temporary name beside it, then rename it: a half-made input left by an
    interrupted run is never taken for a finished one."""
    if target.exists():
        return target
    partial = target.with_name(target.name + ".partial")
    remove(partial)
    make(partial)
    partial.rename(target)
    return target


def make_pngs(root: Path, side: int) -> tuple[Path, Path]:
    from PIL import Image

    def png(image: np.ndarray) -> Callable[[Path], None]:
        return lambda path: Image.fromarray(image.astype(np.uint8)).save(path, format="PNG", compress_level=1)

    rgb_side = side // 2
    grey = _publish(png(smooth_image(side)), root / f"grey{side}.png")
    rgb = _publish(png(smooth_image(rgb_side, 3, seed=2)), root / f"rgb{rgb_side}.png")
    return grey, rgb


def make_tiff(root: Path, side: int) -> Path:
    """A side² uint8 BigTIFF, tiled, deflate, written tile by tile from one row of tiles at a time."""
    import tifffile

    def tiles():
        for top in range(0, side, TIFF_TILE):
            rows = smooth_band(top, min(top + TIFF_TILE, side), side, seed=3)
            for left in range(0, side, TIFF_TILE):
                tile = np.zeros((TIFF_TILE, TIFF_TILE), np.uint8)  # edge tiles padded, as TIFF stores them
                part = rows[:, left:left + TIFF_TILE]
                tile[:part.shape[0], :part.shape[1]] = part
                yield tile

    def make(path: Path) -> None:
        with tifffile.TiffWriter(path, bigtiff=True) as tif:
            tif.write(tiles(), shape=(side, side), dtype=np.uint8, tile=(TIFF_TILE, TIFF_TILE),
                      compression="zlib", photometric="minisblack", metadata=None)

    print(f"  making {side}² BigTIFF ...", file=sys.stderr, flush=True)
    return _publish(make, root / f"big{side}.tif")


def make_zarr(root: Path, side: int) -> Path:
    """A side² uint8 Zarr v3 array (chunks 1024²), written a row of chunks at a time."""
    import zarr

    def make(path: Path) -> None:
        array = zarr.create_array(store=str(path), shape=(side, side), chunks=(ZARR_CHUNK, ZARR_CHUNK),
                                  dtype="uint8", zarr_format=3)
        for top in range(0, side, ZARR_CHUNK):
            array[top:top + ZARR_CHUNK] = smooth_band(top, min(top + ZARR_CHUNK, side), side, seed=4)

    print(f"  making {side}² Zarr ...", file=sys.stderr, flush=True)
    return _publish(make, root / f"huge{side}.zarr")


def disk_bytes(path: Path) -> int:
    """Bytes of a file, or of every file in a folder store."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def out_shape(path: Path) -> tuple[int, ...]:
    """The shape of an output, from its header (PNG, TIFF) or metadata (Zarr)."""
    if path.suffix == ".zarr":
        import zarr

        return tuple(zarr.open_array(str(path), mode="r").shape)
    if path.suffix == ".tif":
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return tuple(tif.pages[0].shape)
    from PIL import Image

    with Image.open(path) as image:
        return (image.height, image.width, *((len(image.getbands()),) if len(image.getbands()) > 1 else ()))


def tiff_layout(path: Path) -> str:
    """How a TIFF is stored: BigTIFF or classic, tiled or in strips, and its compression."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        kind = "BigTIFF" if tif.is_bigtiff else "classic TIFF"
        layout = (f"tiles {page.tilelength}×{page.tilewidth}" if page.is_tiled
                  else f"strips of {page.rowsperstrip} rows")
        return f"{kind}, {layout}, {page.compression.name.lower()}"


def limit_options(shape: tuple[int, int], source: Path) -> list[str]:
    """The convcli input limits this input needs raised (none for the PNGs)."""
    height, width = shape
    options = []
    if max(height, width) > DEFAULT_MAX_SIDE:
        options += ["--max-side", str(max(height, width))]
    padded = (height + 2 * PIXEL_MARGIN) * (width + 2 * PIXEL_MARGIN)  # convcli counts the padded input
    if padded > DEFAULT_MAX_PIXELS:
        options += ["--max-pixels", str(padded)]
    size = disk_bytes(source)
    if size > DEFAULT_MAX_FILE_SIZE:
        options += ["--max-file-size", f"{-(-size // 2**30)}G"]
    return options


# ---------------------------------------------------------------- libvips

class Vips:
    """How libvips runs here: the ``vips`` program, or pyvips in a child Python (``kind``)."""

    def __init__(self, root: Path) -> None:
        self.program = shutil.which("vips")
        self.pyvips = importlib.util.find_spec("pyvips") is not None
        self.root = root
        self.kind = "vips program" if self.program else "pyvips" if self.pyvips else ""
        self.version = self._version()

    def _version(self) -> str:
        if self.program:
            result = subprocess.run([self.program, "--version"], capture_output=True, text=True, check=False)
            return result.stdout.strip()
        if self.pyvips:
            code = "import pyvips; print(pyvips.__version__, '.'.join(str(pyvips.version(i)) for i in range(3)))"
            result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
            if result.returncode == 0:
                binding, lib = result.stdout.split()
                return f"libvips {lib} (pyvips {binding})"
            self.pyvips, self.kind = False, ""
        return ""

    def command(self, job: str, source: Path, out: Path, level: int = 6) -> list[str]:
        """The command that runs ``job`` (a MASKS name or "pipeline") from ``source`` to ``out``."""
        if not self.program:
            return [sys.executable, str(HERE / "_vips_job.py"), job, str(source), str(out), "--level", str(level)]
        tiff_options = f"tile,tile-width=256,tile-height=256,bigtiff,compression=deflate,level={TIFF_DEFLATE_LEVEL}"
        target = f"{out}[{tiff_options}]" if out.suffix == ".tif" else f"{out}[compression={level}]"
        src = f"{source}[access=sequential]"
        if job != "pipeline":
            return [self.program, "conv", src, target, self._mask(job), "--precision", "integer"]
        # The program runs one operation per call: the steps pass through libvips' own format.
        steps = [self.root / f"vips-step{i}.v" for i in range(3)]
        gauss = self._mask("gaussian5")
        script = " && ".join([
            f'"$0" conv "{src}" "{steps[0]}" "{gauss}" --precision integer',
            f'"$0" rank "{steps[0]}" "{steps[1]}" 2 2 3',
            f'"$0" subsample "{steps[1]}" "{steps[2]}" 2 2',
            f'"$0" conv "{steps[2]}" "{target}" "{gauss}" --precision integer',
            'rm -f ' + " ".join(f'"{s}"' for s in steps)])
        return ["sh", "-c", script, self.program]

    def _mask(self, name: str) -> str:
        path = self.root / f"{name}.mat"
        if not path.exists():
            path.write_text(mask_file_text(name))
        return str(path)


# ---------------------------------------------------------------- running

def stats(command: list[str], repeat: int) -> tuple[float, float | None, str]:
    """cmd_stats' median ms and peak MiB, and, when the command failed, its last line of error
    (then the times are NaN)."""
    try:
        ms, peak = cmd_stats(command, repeat)
    except SystemExit as failure:
        lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
        why = lines[-1] if len(lines) > 1 else (lines[0] if lines else "failed")
        if "error: " in why:  # "convcli: error: PATH: [command: ]reason" → the reason
            parts = why.split("error: ", 1)[1].split(": ")
            while len(parts) > 1 and ("/" in parts[0] or parts[0] in ("filter", "pipeline")):
                parts.pop(0)
            why = ": ".join(parts)
        return float("nan"), None, why.replace("|", "/")[:200]
    return ms, peak, ""


def interior_diff(a: Path, b: Path, margin: int) -> int:
    """The largest difference between two 8-bit PNGs away from their borders."""
    from PIL import Image

    with Image.open(a) as ia, Image.open(b) as ib:
        x = np.asarray(ia, dtype=np.int16)[margin:-margin, margin:-margin]
        y = np.asarray(ib, dtype=np.int16)[margin:-margin, margin:-margin]
    return int(np.abs(x - y).max())


class Bench:
    def __init__(self, args: argparse.Namespace, root: Path, vips: Vips) -> None:
        self.args, self.root, self.vips = args, root, vips
        self.rows: list[Row] = []
        self.memory: list[Row] = []
        self.checks: list[str] = []
        self.limits: list[str] = []
        self.inputs: list[str] = []  # what each input is, for the notes
        self.out = root / "out"
        self.out.mkdir(exist_ok=True)

    def case(self, name: str, source: Path, convcli_args: list[str], vips_job: str | None, suffix: str, *,
             repeat: int, time_target: float | None, memory_target: tuple[float, bool], level: int = 6,
             margin: int = 0, shape: tuple[int, int] | None = None, unit: str = "ms") -> Row:
        """Time convcli (and libvips, for ``vips_job``) from ``source`` to a ``suffix`` output, and
        check the outputs; ``memory_target`` is (limit, absolute MiB or else × vips)."""
        print(f"  {name} ...", file=sys.stderr, flush=True)
        scale = 1000 if unit == "s" else 1
        mine = self.out / f"convcli{suffix}"
        limits = limit_options(shape, source) if shape else []
        if limits:
            self.limits.append(f"{name}: `{' '.join(limits)}`")
        ms, peak, failed = stats([self.args.convcli, "-q", *convcli_args, "-o", str(mine), *limits], repeat)
        row = Row("time", name, ms / scale, unit=unit, failed=failed)
        limit, absolute = memory_target
        mem = Row("peak memory", name, peak if peak is not None else float("nan"), unit="MiB",
                  failed=failed and SEE_TIME_ROW,
                  target=limit, absolute=absolute,
                  target_text=f"< {limit:g} MiB" if absolute else f"≤ {limit:g}× vips")
        if not failed and mine.exists():
            row.sizes["convcli"] = disk_bytes(mine)
        theirs = self.out / f"vips{suffix}"
        if vips_job and self.vips.kind:
            vms, vpeak, vfailed = stats(self.vips.command(vips_job, source, theirs, level), repeat)
            if vfailed:
                self.checks.append(f"{name}: vips failed: {vfailed}")
            else:
                row.others["vips"] = vms / scale
                if vpeak is not None:
                    mem.others["vips"] = vpeak
                row.sizes["vips"] = disk_bytes(theirs)
        if time_target is not None:
            row.reference, row.target = "vips", time_target
            row.target_text = f"≤ {time_target:g}× vips" if row.others else f"≤ {time_target:g}× vips (no vips)"
        if not absolute and not mem.others:
            mem.target_text += " (no vips)"
        self._check(name, mine, theirs, margin)
        for path in (mine, theirs):
            remove(path)
        self.rows.append(row)
        self.memory.append(mem)
        return row

    def _check(self, name: str, mine: Path, theirs: Path, margin: int) -> None:
        if not (mine.exists() and theirs.exists()):
            return
        a, b = out_shape(mine), out_shape(theirs)
        text = f"{name}: shapes convcli {'×'.join(map(str, a))}, vips {'×'.join(map(str, b))}"
        text += " (same)" if a == b else " **(differ)**"
        if mine.suffix == ".tif":
            text += f"; convcli's TIFF: {tiff_layout(mine)}"
        if margin and a == b:
            text += f"; interior (border {margin} left out) max |difference| {interior_diff(mine, theirs, margin)}"
        self.checks.append(text)


def run_cases(args: argparse.Namespace, root: Path, vips: Vips) -> Bench:
    if args.smoke:
        args.quick = True  # timed and labelled as the quick run, at the smoke test's sizes
    png_side, tiff_side, zarr_side = SIZES["smoke" if args.smoke else "quick" if args.quick else "full"]
    bench = Bench(args, root, vips)
    inputs = root / "inputs"
    inputs.mkdir(exist_ok=True)
    if "png" not in args.skip:
        grey, rgb = make_pngs(inputs, png_side)
        bench.inputs.append(f"{png_side}² grey and {png_side // 2}² RGB PNGs as bench/run.py makes them "
                            f"({_size(disk_bytes(grey))} and {_size(disk_bytes(rgb))})")
        for level in (1, 6):
            for label, source, kernel, job in ((f"Sobel-x, {png_side}² grey PNG", grey, "sobel-x", "sobel-x"),
                                               (f"5×5 Gaussian, {png_side // 2}² RGB PNG", rgb, "gaussian5",
                                                "gaussian5")):
                bench.case(f"{label}, level {level}", source,
                           ["filter", str(source), "-k", kernel, "--png-compression", str(level)], job, ".png",
                           repeat=args.repeat, time_target=1.0, memory_target=(2.0, False), level=level,
                           margin=2 if kernel == "sobel-x" else 3)
    big_repeat = args.repeat if args.quick else args.huge_repeat
    unit = "ms" if args.quick else "s"
    if "tiff" not in args.skip:
        tiff = make_tiff(inputs, tiff_side)
        bench.inputs.append(f"{tiff_side}² uint8 BigTIFF, tiles {TIFF_TILE}², deflate ({_size(disk_bytes(tiff))}), "
                            "smooth waves plus noise")
        shape = (tiff_side, tiff_side)
        bench.case(f"5×5 Gaussian, {tiff_side}² uint8 BigTIFF → tiled BigTIFF", tiff,
                   ["filter", str(tiff), "-k", "gaussian5"], "gaussian5", ".tif", repeat=big_repeat,
                   time_target=1.5, memory_target=(BIG_MEMORY_MIB, True), shape=shape, unit=unit)
        pipe = root / "conv-pool-conv.yaml"
        pipe.write_text(PIPELINE_YAML)
        bench.case(f"conv → max pool 2 → conv, {tiff_side}² BigTIFF → tiled BigTIFF", tiff,
                   ["pipeline", str(pipe), str(tiff)], "pipeline", ".tif", repeat=big_repeat,
                   time_target=1.5, memory_target=(BIG_MEMORY_MIB, True), shape=shape, unit=unit)
    if "zarr" not in args.skip and not args.skip_huge:
        store = make_zarr(inputs, zarr_side)
        bench.inputs.append(f"{zarr_side}² uint8 Zarr v3 array, chunks {ZARR_CHUNK}², zarr's default codecs "
                            f"({_size(disk_bytes(store))} on disk), the same content; its case passes "
                            "`--dtype uint8` (a Zarr output is float32 by default, as .npy is), so it writes "
                            "what it reads")
        row = bench.case(f"5×5 Gaussian, {zarr_side}² uint8 Zarr → Zarr", store,
                         ["filter", str(store), "-k", "gaussian5", "--dtype", "uint8"], None, ".zarr",
                         repeat=big_repeat, time_target=None, memory_target=(BIG_MEMORY_MIB, True),
                         shape=(zarr_side, zarr_side), unit=unit)
        row.target_text = "(convcli only: vips has no Zarr)"
        seconds = row.convcli / (1 if unit == "s" else 1000)
        mb = zarr_side * zarr_side / 1e6  # uint8: one byte a pixel
        bench.rows.append(Row("throughput", f"{zarr_side}² Zarr, {mb:,.0f} MB of pixels", mb / seconds,
                              unit="MB/s", failed=row.failed and SEE_TIME_ROW,
                              target_text="(array bytes / wall seconds)"))
    return bench


# ---------------------------------------------------------------- output

def library_versions(vips: Vips) -> str:
    import tifffile
    import zarr

    return f"{versions()}, tifffile {tifffile.__version__}, zarr {zarr.__version__}, {vips.version or 'no libvips'}"


def report(bench: Bench, args: argparse.Namespace, vips: Vips, *, convcli_version: str,
           startup: tuple[float, float | None] | None) -> str:
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# Streaming benchmark{' (quick)' if args.quick else ''}",
        "",
        f"{date}; convcli {convcli_version}; {machine()}; {library_versions(vips)}. Times: medians of "
        f"{args.repeat} runs ({args.repeat if args.quick else args.huge_repeat} for the "
        f"{'big' if args.quick else 'full-size'} TIFF and Zarr cases); peak memory: the largest maximum "
        "resident set size `/usr/bin/time` reported over those runs. Ratio = convcli / vips; below 1 "
        "means convcli is faster or smaller.",
        "",
        *TABLE_HEAD,
        *map(row_line, bench.rows + bench.memory),
        "",
    ]
    notes = []
    if vips.kind == "pyvips":
        start = (f"`python -c \"import pyvips\"` took {startup[0]:.0f} ms and {startup[1]:.0f} MiB here"
                 if startup and startup[1] is not None else "")
        notes.append(f"vips: {vips.version}, through pyvips in a child Python (bench/_vips_job.py; no `vips` "
                     f"program on PATH). Its times and memory include the Python start-up and `import pyvips`"
                     f"{': ' + start + ', to subtract' if start else ''}.")
    elif vips.kind:
        notes.append(f"vips: the `vips` program ({vips.version}); the pipeline runs one `vips` call per "
                     "step through .v files.")
    else:
        notes.append("vips: neither a `vips` program nor pyvips found: no vips rows.")
    notes.append("libvips jobs: `conv` at integer precision with convcli's kernels as applied (libvips "
                 "correlates), sequential access; the pipeline's 2×2 max pool is " + MAX_POOL_TEXT
                 + " (its windows sit one pixel up and left of convcli's); BigTIFF out: tiled 256², deflate at zlib "
                 f"level {TIFF_DEFLATE_LEVEL}, the level tifffile (convcli's TIFF writer) uses.")
    notes.append("Inputs: " + "; ".join(bench.inputs) + ".")
    if bench.limits:
        notes.append("convcli limits raised for the big inputs: " + "; ".join(bench.limits) + ".")
    notes += bench.checks
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        notes.append("PYTHONDONTWRITEBYTECODE was set in this shell; the timed commands ran without it.")
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="reduced sizes: 1024² and 512² PNGs, an 8000² TIFF, a 20000² Zarr")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny inputs (64² PNGs, 512² TIFF, 1024² Zarr): the test suite's check that the script runs")
    parser.add_argument("--skip-huge", action="store_true", help="leave out the Zarr case (10 GB at full size)")
    parser.add_argument("--skip", action="append", default=[], choices=["png", "tiff", "zarr"],
                        help="leave a group of cases out (repeatable)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, median kept (default 3)")
    parser.add_argument("--huge-repeat", type=int, default=1,
                        help="runs of the full-size TIFF and Zarr cases (default 1)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="folder for inputs and outputs (default: a temporary one under /tmp)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the inputs in --workdir, and reuse those already there")
    parser.add_argument("--convcli", default=None, help="the convcli command (default: beside this Python, or PATH)")
    parser.add_argument("--output", type=Path, default=HERE / "streaming-results.md", help="markdown file to write")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.huge_repeat < 1:
        parser.error("--repeat and --huge-repeat must be >= 1")
    if args.keep and args.workdir is None:
        parser.error("--keep needs --workdir")
    args.convcli, version = find_convcli(parser, args.convcli)

    with ExitStack() as stack:
        if args.workdir is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="convcli-streaming-")))
        else:
            root = args.workdir
            root.mkdir(parents=True, exist_ok=True)
            if not args.keep:
                stack.callback(shutil.rmtree, root / "inputs", True)
        vips = Vips(root)
        startup = cmd_stats([sys.executable, "-c", "import pyvips"], args.repeat) if vips.kind == "pyvips" else None
        bench = run_cases(args, root, vips)
        shutil.rmtree(root / "out", ignore_errors=True)

    text = report(bench, args, vips, convcli_version=version.split()[-1] if version else "?", startup=startup)
    print(text)
    args.output.write_text(text, encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
