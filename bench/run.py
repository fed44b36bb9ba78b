"""Speed benchmark: convcli (API and CLI) against SciPy, OpenCV, ImageMagick and vips, in one run.

Run by hand (not part of the test suite)::

    python bench/run.py                 # 4096² inputs, median of 3 (a few minutes)
    python bench/run.py --quick         # reduced set at 1024², under about a minute
    python bench/run.py --size 2048 --repeat 5
    python bench/run.py --batch         # also run bench/batch.py and append its table

On one random-but-smooth image it times, with the medians of ``--repeat`` runs (compute rows: of at
least 7, convcli and its references taken in turns after a warm-up):

- compute (Python API, float32 ``--size``² image, correlation, zero boundary): 3×3 box, 5×5 Gaussian,
  random non-separable 15×15 and 31×31 (and box:15, box:31), stride 2 and dilation 2 — against
  ``cv2.filter2D`` / ``cv2.sepFilter2D``, ``scipy.ndimage.correlate`` and
  ``scipy.signal.fftconvolve`` with two FFT workers;
- 2×2 max and average pooling of a uint8 image, against numpy reshape and ``cv2.resize(INTER_AREA)``;
- Sobel magnitude, against ``cv2.Sobel`` twice + ``cv2.magnitude``;
- end to end (CLI, PNG→PNG, zlib level 1 and 6): Sobel-x of a grey ``--size``² PNG and a 5×5 Gaussian
  of an RGB (``--size``/2)² PNG, against ImageMagick (``convert ... -morphology Convolve``) and
  ``vips conv`` when installed, with the output file sizes, and each job's peak resident memory (the
  maximum resident set size ``/usr/bin/time`` reports);
- start-up: ``convcli --version``, ``convcli --help`` and ``convcli filter`` of a 64×64 PNG.

The 200-file batch lives in bench/batch.py (``--batch`` runs it). Ratios are convcli / the reference
(the fastest other tool unless the target names one); below 1 means convcli is faster. The targets
come from the speed issue and are stated for 4096²: the 10 ms pooling budget is scaled by area at
other sizes. ImageMagick's and vips' borders and value mappings differ from convcli's: this compares
time, not pixels. The table is printed and written as markdown to ``--output`` (default
bench/results.md) with the date and machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from batch import _version, child_env, find_convcli, is_imagemagick  # bench/ is on sys.path when run as `python bench/run.py`

HERE = Path(__file__).resolve().parent


@dataclass
class Row:
    section: str
    case: str
    convcli: float                                   # ms
    others: dict[str, float] = field(default_factory=dict)   # tool -> ms
    reference: str | None = None                     # key of others (or "min") the ratio is taken against
    target: float | None = None                      # ratio (or, with absolute, ms) not to exceed
    absolute: bool = False                           # target is a time in ms, not a ratio
    target_text: str = ""
    sizes: dict[str, int] = field(default_factory=dict)  # tool -> output bytes
    also: dict[str, float] = field(default_factory=dict)  # further tool -> ratio not to exceed, when present
    unit: str = "ms"
    failed: str = ""                                 # why convcli did not finish (the row then shows it)

    @property
    def ref_ms(self) -> float | None:
        if not self.others:
            return None
        if self.reference in self.others:
            return self.others[self.reference]
        return min(self.others.values())

    @property
    def ratio(self) -> float | None:
        ref = self.ref_ms
        return self.convcli / ref if ref else None

    @property
    def met(self) -> str:
        if self.target is None:
            return "**no**" if self.failed else ""
        if self.failed:
            return "**no**"
        value = self.convcli if self.absolute else self.ratio
        if value is None:
            return "?"
        ok = value <= self.target and all(
            self.convcli <= limit * self.others[tool] for tool, limit in self.also.items() if tool in self.others)
        return "yes" if ok else "**no**"


def median_ms(func: Callable[[], object], repeat: int, warmup: bool = True) -> float:
    if warmup:
        func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _run(args: list[str]) -> None:
    result = subprocess.run(args, env=child_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(map(str, args[:8]))} ...\n{result.stderr[-2000:]}")


def interleaved_ms(contenders: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median ms of each contender, run in turns (one warm-up each, then ``repeat`` rounds of one
    run each), so a burst of load from elsewhere on a shared machine hits all of them alike."""
    for func in contenders.values():
        func()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, func in contenders.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def cmd_ms(args: list[str], repeat: int) -> float:
    return median_ms(lambda: _run(args), repeat, warmup=False)


#: GNU time: the peak memory of a child started straight from this (large) Python process would
#: include the pages it inherited at fork, so the memory is measured the way the issue states it.
GNU_TIME = "/usr/bin/time"


def cmd_stats(args: list[str], repeat: int) -> tuple[float, float | None]:
    """Median wall time (ms) of ``repeat`` runs of a command, and the largest peak resident memory
    (MiB) as ``/usr/bin/time`` reports it (its maximum resident set size), or None without it."""
    times, peaks = [], []
    timer = os.path.exists(GNU_TIME)
    for _ in range(repeat):
        with tempfile.NamedTemporaryFile(suffix=".time") as report:
            wrapped = [GNU_TIME, "-f", "%M", "-o", report.name, *args] if timer else args
            times.append(median_ms(lambda: _run(wrapped), 1, warmup=False))
            if timer:
                peaks.append(int(Path(report.name).read_text().split()[-1]) / 1024)  # KiB → MiB
    return statistics.median(times), (max(peaks) if peaks else None)


def smooth_image(size: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Random but smooth float32 image in 0..255: upsampled coarse noise, a ramp, a little fine noise."""
    import cv2

    rng = np.random.default_rng(seed)
    shape = (size, size) if channels == 1 else (size, size, channels)
    coarse = rng.random((max(size // 32, 2), max(size // 32, 2), channels), dtype=np.float32)
    image = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC).reshape(shape)
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    image *= 180
    image += 40 * (ramp[None, :] if channels == 1 else ramp[None, :, None])
    image += rng.random(shape, dtype=np.float32) * 30
    np.clip(image, 0, 255, out=image)
    return image


def imagemagick() -> list[str] | None:
    """A real ImageMagick convert command (not a stand-in on PATH), or None."""
    for candidate in (shutil.which("magick"), "/usr/bin/convert", shutil.which("convert")):
        if candidate and Path(candidate).exists() and is_imagemagick(candidate):
            return [candidate]
    return None


def versions() -> str:
    import cv2
    import scipy

    parts = [f"Python {platform.python_version()}", f"numpy {np.__version__}", f"scipy {scipy.__version__}",
             f"opencv {cv2.__version__} ({cv2.getNumThreads()} threads)"]
    return ", ".join(parts)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} logical CPUs"


# ---------------------------------------------------------------- compute (API)

#: Least number of runs of a compute row (the fast ones; see compute_rows).
COMPUTE_REPEAT = 7


def compute_rows(args: argparse.Namespace) -> list[Row]:
    import cv2
    import scipy.fft
    import scipy.ndimage as ndi
    import scipy.signal

    import convcli

    # Fast rows are noisy on a shared machine: medians of at least 7; the slow SciPy and FFT
    # references (seconds each) of --repeat.
    n, r, slow = args.size, max(args.repeat, COMPUTE_REPEAT), args.repeat
    image = smooth_image(n)
    rng = np.random.default_rng(1)
    const = cv2.BORDER_CONSTANT
    rows: list[Row] = []

    def fft(img: np.ndarray, k: np.ndarray) -> np.ndarray:
        with scipy.fft.set_workers(2):
            return scipy.signal.fftconvolve(img, k[::-1, ::-1], mode="same")

    def case(name: str, kernel: np.ndarray, *, fft_too: bool, target: float, ref: str, separable=None) -> None:
        k32 = kernel.astype(np.float32)
        print(f"  {name} ...", file=sys.stderr, flush=True)
        contenders: dict[str, Callable[[], object]] = {
            "convcli": lambda: convcli.filter2d(image, kernel, correlate=True)}
        if separable is not None:
            ky, kx = (v.astype(np.float32) for v in separable)
            contenders["cv2.sepFilter2D"] = lambda: cv2.sepFilter2D(image, -1, kx, ky, borderType=const)
        contenders["cv2.filter2D"] = lambda: cv2.filter2D(image, -1, k32, borderType=const)
        times = interleaved_ms(contenders, r)
        row = Row("compute", name, times.pop("convcli"), times)
        if kernel.shape[0] <= 5 or (kernel.shape[0] <= 15 and not args.quick):
            row.others["scipy.ndimage"] = median_ms(lambda: ndi.correlate(image, k32, mode="constant"), slow)
        if fft_too:
            row.others["fftconvolve(workers=2)"] = median_ms(lambda: fft(image, k32), slow)
        row.reference = ref
        row.target = target
        row.target_text = f"≤ {target}× {ref if ref != 'min' else 'faster of cv2 / fft'}"
        rows.append(row)

    def compared(name: str, contenders: dict[str, Callable[[], object]], **fields) -> None:
        """A row whose convcli and reference times are taken in turns (see interleaved_ms)."""
        times = interleaved_ms(contenders, r)
        rows.append(Row("compute", name, times.pop("convcli"), times, **fields))

    box3 = convcli.load_kernel("box3").matrix
    g1 = np.array([1, 4, 6, 4, 1], dtype=np.float64) / 16
    gauss5 = convcli.load_kernel("gaussian5").matrix
    case("filter 3×3 (box3)", box3, fft_too=False, target=1.3, ref="cv2.filter2D")
    case("filter 5×5 Gaussian", gauss5, fft_too=False, target=1.3, ref="cv2.sepFilter2D", separable=(g1, g1))
    for side in (15, 31):
        random = rng.standard_normal((side, side))
        case(f"filter {side}×{side} random", random, fft_too=True, target=1.3, ref="min")
        if not args.quick:
            box = convcli.load_kernel(f"box:{side}").matrix
            one = np.full(side, 1 / side)
            case(f"filter {side}×{side} box", box, fft_too=True, target=1.3, ref="min", separable=(one, one))

    print("  stride / dilation ...", file=sys.stderr, flush=True)
    g32 = gauss5.astype(np.float32)
    compared("5×5 Gaussian, stride 2", {
        "convcli": lambda: convcli.filter2d(image, gauss5, correlate=True, stride=2),
        "convcli stride 1": lambda: convcli.filter2d(image, gauss5, correlate=True),
        "cv2.filter2D then [::2, ::2]": lambda: cv2.filter2D(image, -1, g32, borderType=const)[::2, ::2].copy()},
        reference="convcli stride 1", target=0.35, target_text="≤ 0.35× convcli stride 1")
    dilated = np.zeros((9, 9), np.float32)
    dilated[::2, ::2] = gauss5
    compared("5×5 Gaussian, dilation 2", {
        "convcli": lambda: convcli.filter2d(image, gauss5, correlate=True, dilation=2),
        "cv2.filter2D 9×9 dilated": lambda: cv2.filter2D(image, -1, dilated, borderType=const),
        "convcli dilation 1": lambda: convcli.filter2d(image, gauss5, correlate=True)},
        reference="cv2.filter2D 9×9 dilated", target=1.3, target_text="≤ 1.3× cv2 (no issue target)")

    print("  pooling / sobel ...", file=sys.stderr, flush=True)
    u8 = image.astype(np.uint8)
    h, w = (n // 2) * 2, (n // 2) * 2
    budget = 10.0 * (n / 4096) ** 2
    budget_text = "< 10 ms" if n == 4096 else f"< {budget:.2f} ms (10 ms × area)"
    compared("2×2 max pool, uint8", {
        "convcli": lambda: convcli.pool2d(u8, op="max", size=2),
        "numpy reshape max": lambda: u8[:h, :w].reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))},
        target=budget, absolute=True, target_text=budget_text)
    compared("2×2 avg pool, uint8", {
        "convcli": lambda: convcli.pool2d(u8, op="avg", size=2),
        "cv2.resize INTER_AREA": lambda: cv2.resize(u8, (w // 2, h // 2), interpolation=cv2.INTER_AREA),
        "numpy reshape mean": lambda: u8[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))},
        target=budget, absolute=True, target_text=budget_text)

    def cv_sobel() -> np.ndarray:
        gx = cv2.Sobel(image, cv2.CV_32F, 1, 0, ksize=3, borderType=const)
        gy = cv2.Sobel(image, cv2.CV_32F, 0, 1, ksize=3, borderType=const)
        return cv2.magnitude(gx, gy)

    compared("Sobel magnitude", {
        "convcli": lambda: convcli.sobel(image, component="magnitude"),
        "cv2.Sobel ×2 + magnitude": cv_sobel},
        reference="cv2.Sobel ×2 + magnitude", target=1.3, target_text="≤ 1.3× OpenCV")
    return rows


# ---------------------------------------------------------------- end to end (CLI)

SOBEL_X = "3x3: 1,0,-1 2,0,-2 1,0,-1"
GAUSS5 = "5x5: " + " ".join(",".join(str(a * b) for b in (1, 4, 6, 4, 1)) for a in (1, 4, 6, 4, 1))


def e2e_rows(args: argparse.Namespace, root: Path) -> list[Row]:
    from PIL import Image

    convcli, r = args.convcli, args.repeat
    magick = None if args.no_imagemagick else imagemagick()
    vips = shutil.which("vips")
    grey = root / f"grey{args.size}.png"
    rgb_side = max(args.size // 2, 16)
    rgb = root / f"rgb{rgb_side}.png"
    Image.fromarray(smooth_image(args.size).astype(np.uint8)).save(grey, compress_level=1)
    Image.fromarray(smooth_image(rgb_side, 3, seed=2).astype(np.uint8)).save(rgb, compress_level=1)
    (root / "sobel.mat").write_text("3 3 1 0\n1 0 -1\n2 0 -2\n1 0 -1\n")  # scale 1, offset 0: vips 8.14 needs them
    (root / "gauss5.mat").write_text("5 5 256 0\n" + "\n".join(
        " ".join(str(a * b) for b in (1, 4, 6, 4, 1)) for a in (1, 4, 6, 4, 1)) + "\n")
    levels = (1,) if args.quick else (1, 6)
    jobs = [(f"Sobel-x, {args.size}² grey", grey, ["sobel", "--component", "x"], SOBEL_X, "sobel.mat"),
            (f"5×5 Gaussian, {rgb_side}² RGB", rgb, ["filter", "-k", "gaussian5"], GAUSS5, "gauss5.mat")]
    rows, memory = [], []
    for name, source, convcli_args, im_kernel, mat in jobs:
        for level in levels:
            print(f"  {name}, PNG level {level} ...", file=sys.stderr, flush=True)
            out = root / "out-convcli.png"
            ms, peak = cmd_stats([convcli, "-q", *convcli_args, str(source), "-o", str(out),
                                  "--png-compression", str(level)], r)
            row = Row("end to end", f"{name}, PNG level {level}", ms, reference="ImageMagick", target=0.2,
                      also={"vips": 1.0}, target_text="≤ 0.2× ImageMagick (5× faster) and ≤ 1× vips")
            mem = Row("peak memory", f"{name}, PNG level {level}", peak, unit="MiB", target=160, absolute=True,
                      target_text="< 160 MiB")
            row.sizes["convcli"] = out.stat().st_size
            if magick:
                out = root / "out-im.png"
                row.others["ImageMagick"], mem.others["ImageMagick"] = cmd_stats(
                    [*magick, str(source), "-define", "convolve:scale=!", "-morphology", "Convolve", im_kernel,
                     "-define", f"png:compression-level={level}", str(out)], r)
                row.sizes["ImageMagick"] = out.stat().st_size
            if vips:
                out = root / "out-vips.png"
                row.others["vips"], mem.others["vips"] = cmd_stats(
                    [vips, "conv", str(source), f"{out}[compression={level}]", str(root / mat),
                     "--precision", "integer"], r)
                row.sizes["vips"] = out.stat().st_size
            if not row.others:
                row.target_text = "(no other tool installed)"
            rows.append(row)
            if mem.convcli is not None:
                mem.others = {tool: peak for tool, peak in mem.others.items() if peak is not None}
                memory.append(mem)
    return rows + memory


def startup_rows(args: argparse.Namespace, root: Path) -> list[Row]:
    from PIL import Image

    convcli, r = args.convcli, max(args.repeat, 5)
    small = root / "small64.png"
    Image.fromarray(smooth_image(64).astype(np.uint8)).save(small)
    print("  start-up ...", file=sys.stderr, flush=True)
    floor = {"python -c pass": cmd_ms([sys.executable, "-c", "pass"], r)}
    rows = [Row("start-up", "convcli --version", cmd_ms([convcli, "--version"], r), dict(floor),
                target_text="(ratio vs bare Python)"),
            Row("start-up", "convcli --help", cmd_ms([convcli, "--help"], r), dict(floor),
                target_text="(ratio vs bare Python)")]
    row = Row("start-up", "convcli filter 64×64 PNG -k box3",
              cmd_ms([convcli, "-q", "filter", str(small), "-k", "box3", "-o", str(root / "s.png")], r),
              target_text="(ratio vs ImageMagick)")
    magick = None if args.no_imagemagick else imagemagick()
    if magick:
        row.others["ImageMagick"] = cmd_ms([*magick, str(small), "-define", "convolve:scale=!", "-morphology",
                                            "Convolve", "Square:1", str(root / "s-im.png")], r)
    rows.append(row)
    return rows


# ---------------------------------------------------------------- output

def _ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _size(value: int) -> str:
    return f"{value / 1e6:.2f} MB" if value >= 1e6 else f"{value / 1e3:.1f} kB"


TABLE_HEAD = ("| section | case | convcli | other tools | ratio | target | met? | output sizes |",
              "|---|---|---:|---|---:|---|:-:|---|")


def row_line(row: Row) -> str:
    """One row of the markdown table under :data:`TABLE_HEAD`."""
    others = "; ".join(f"{k} {_ms(v)} {row.unit}" for k, v in row.others.items()) or "—"
    ratio = f"{row.ratio:.2f}" if row.ratio is not None and not row.failed else "—"
    sizes = "; ".join(f"{k} {_size(v)}" for k, v in row.sizes.items())
    mine = f"failed: {row.failed}" if row.failed else f"{_ms(row.convcli)} {row.unit}"
    return (f"| {row.section} | {row.case} | {mine} | {others} | {ratio} | "
            f"{row.target_text} | {row.met} | {sizes} |")


def table(rows: list[Row], args: argparse.Namespace, *, convcli_version: str, notes: list[str]) -> str:
    date = datetime.date.today().isoformat()
    lines = [
        f"# Speed benchmark, {args.size}² inputs{' (quick)' if args.quick else ''}",
        "",
        f"{date}; convcli {convcli_version}; {machine()}; {versions()}. "
        f"Medians of {args.repeat} runs (compute rows: of {max(args.repeat, COMPUTE_REPEAT)}, convcli and the "
        f"fast references taken in turns after one warm-up run each; SciPy and FFT references: of "
        f"{args.repeat}; start-up: of {max(args.repeat, 5)}). Ratio = convcli / reference (the other tool "
        "named in the target, else the fastest); below 1 means convcli is faster.",
        "",
        *TABLE_HEAD,
    ]
    lines += [row_line(row) for row in rows]
    lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="side of the square inputs (default 4096; 1024 with --quick)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case, median kept (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="reduced set at 1024² (unless --size): no box:15/31 rows, slow SciPy rows or level-6 PNGs")
    parser.add_argument("--skip", action="append", default=[], choices=["compute", "e2e", "startup"],
                        help="leave a section out (repeatable)")
    parser.add_argument("--batch", action="store_true", help="also run bench/batch.py and append its table")
    parser.add_argument("--convcli", default=None, help="the convcli command (default: beside this Python, or PATH)")
    parser.add_argument("--no-imagemagick", action="store_true", help="skip ImageMagick even when installed")
    parser.add_argument("--output", type=Path, default=HERE / "results.md", help="markdown file to write")
    args = parser.parse_args(argv)
    args.size = args.size or (1024 if args.quick else 4096)
    if args.size < 16 or args.repeat < 1:
        parser.error("--size must be >= 16 and --repeat >= 1")
    args.convcli, version = find_convcli(parser, args.convcli)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="convcli-run-") as temp:
        root = Path(temp)
        if "compute" not in args.skip:
            rows += compute_rows(args)
        if "e2e" not in args.skip:
            rows += e2e_rows(args, root)
        if "startup" not in args.skip:
            rows += startup_rows(args, root)

    notes = []
    magick = None if args.no_imagemagick else imagemagick()
    notes.append(f"ImageMagick: {_version(magick[0]).splitlines()[0]}" if magick
                 else "ImageMagick: not found (or skipped), no rows.")
    notes.append("vips: " + ("`vips conv` rows included." if shutil.which("vips") else "not installed, no rows."))
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        notes.append("PYTHONDONTWRITEBYTECODE was set in this shell; the timed commands ran without it, as "
                     "an installed convcli (whose bytecode pip compiles) does.")
    notes.append("ImageMagick's and vips' borders and value mappings differ from convcli's (zero padding; "
                 "Sobel-x offset so 128 = no gradient): the end-to-end rows compare time and file size, not pixels.")
    batch_text = ""
    if args.batch:
        batch_out = args.output.with_name("batch-results.md")
        subprocess.run([sys.executable, str(HERE / "batch.py"), "--convcli", args.convcli,
                        "--output", str(batch_out)], check=True, capture_output=True)
        batch_text = "\n" + batch_out.read_text(encoding="utf-8").replace("# Batch", "## Batch", 1)
    else:
        notes.append("200-file batch: `python bench/batch.py` (or `python bench/run.py --batch`), "
                     "results in bench/batch-results.md.")
    text = table(rows, args, convcli_version=version.split()[-1] if version else "?", notes=notes) + batch_text
    print(text)
    args.output.write_text(text, encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
