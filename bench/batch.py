"""Batch benchmark: one convcli call over many files, against one call per file and ImageMagick.

Run by hand (not part of the test suite)::

    python bench/batch.py                     # 200 PNGs of 256×256, the loops timed on 20 files
    python bench/batch.py --loop 200          # time the loops on every file (about a minute)
    python bench/batch.py --loop 0 --jobs 4   # only the one-call variants

It makes ``--files`` random RGB PNGs of ``--size``×``--size`` pixels in a temporary folder, then
times a 3×3 box blur of all of them by:

- one ``convcli filter DIR -k box3 -O OUT --jobs J`` call (without ``--jobs`` if this convcli has
  no such option; then also with ``--jobs 1`` when it has, to show what the workers bring);
- a shell loop calling ``convcli filter FILE -k box3 -o OUT/FILE`` once per file, and the same
  with ``xargs -P J`` — on the first ``--loop N`` files only, extrapolated to all of them, since
  every call pays a Python start-up;
- ImageMagick, when installed: one ``mogrify`` call and a shell loop of ``convert`` (or
  ``magick``) per file, with the same normalised 3×3 kernel (``-morphology Convolve Square:1``).

The table (seconds, seconds per file, and how many times slower than the one convcli call) is
printed and written as markdown to ``--output`` (default bench/batch-results.md). ImageMagick's
border handling differs from convcli's zero padding: this compares time, not pixels.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


@dataclass
class Timing:
    name: str
    command: str
    files: int       # how many files were actually processed
    seconds: float   # wall time for those files
    total: int       # files in the whole batch

    @property
    def per_file(self) -> float:
        return self.seconds / self.files

    @property
    def estimate(self) -> float:
        """Seconds for the whole batch (measured, or extrapolated from ``files``)."""
        return self.per_file * self.total


def make_images(folder: Path, count: int, size: int, seed: int = 0) -> list[Path]:
    """``count`` random RGB PNGs of ``size``×``size``, smooth enough to compress like photos."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    base = np.linspace(0, 255, size)
    for index in range(count):
        noise = rng.integers(0, 64, size=(size, size, 3))
        image = (base[None, :, None] * 0.5 + base[:, None, None] * 0.25 + noise) % 256
        path = folder / f"img{index:04d}.png"
        Image.fromarray(image.astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment timed commands run in: this one, less PYTHONDONTWRITEBYTECODE. With it, an
    editable install recompiles every convcli module at each start (about 60 ms measured here),
    which no installed copy does: pip compiles the bytecode when it installs."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra or {})
    return env


def _run(args: list[str], *, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, env=child_env(env), capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(args[:6])} ...\n{result.stderr[-2000:]}")
    return seconds


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _count(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if p.suffix == ".png")


def _check(folder: Path, expected: int, name: str) -> None:
    found = _count(folder)
    if found != expected:
        raise SystemExit(f"{name}: expected {expected} outputs in {folder}, found {found}")


def has_option(convcli: str, command: str, option: str) -> bool:
    result = subprocess.run([convcli, command, "--help"], capture_output=True, text=True, check=False)
    return option in result.stdout


def imagemagick() -> tuple[list[str], list[str]] | None:
    """(mogrify command, convert command) of a real ImageMagick, or None."""
    magick = shutil.which("magick")
    if is_imagemagick(magick):
        return [magick, "mogrify"], [magick]
    mogrify, convert = shutil.which("mogrify"), shutil.which("convert")
    if is_imagemagick(mogrify) and is_imagemagick(convert):
        return [mogrify], [convert]
    return None


def find_convcli(parser: argparse.ArgumentParser, given: str | None) -> tuple[str, str]:
    """The convcli to time (given, beside this Python, or on PATH) and its ``--version`` line."""
    found = given or shutil.which("convcli", path=str(Path(sys.executable).parent)) or shutil.which("convcli")
    if not found:
        parser.error("convcli not found; install it or give --convcli PATH")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return found, version


def _version(program: str) -> str:
    try:
        result = subprocess.run([program, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout + result.stderr if result.returncode == 0 else ""


def is_imagemagick(program: str | None) -> bool:
    """Whether ``program`` is a working ImageMagick (its ``-version`` succeeds and says so). A
    stand-in that only mentions ImageMagick, as some machines put on PATH, is not."""
    return bool(program) and _version(program).startswith("Version: ImageMagick")


LOOP = 'for f in "$@"; do "$CONVCLI" -q filter "$f" -k box3 -o "$OUT/${f##*/}" || exit 1; done'
XARGS = ('printf "%s\\n" "$@" | xargs -P "$JOBS" -I{} sh -c '
         '\'"$CONVCLI" -q filter "$1" -k box3 -o "$OUT/${1##*/}"\' sh {}')
IM_KERNEL = ["-define", "convolve:scale=!", "-morphology", "Convolve", "Square:1"]


def bench(args: argparse.Namespace) -> list[Timing]:
    convcli = args.convcli
    with tempfile.TemporaryDirectory(prefix="convcli-bench-") as temp:
        root = Path(temp)
        inputs = make_images(root / "in", args.files, args.size)
        total = len(inputs)
        loop_inputs = [str(p) for p in inputs[: min(args.loop, total)]]
        timings: list[Timing] = []
        env = {"CONVCLI": convcli, "JOBS": str(args.jobs)}  # added to child_env()

        jobs = has_option(convcli, "filter", "--jobs")
        variants = [(f"convcli, one call, --jobs {args.jobs}", ["--jobs", str(args.jobs)])] if jobs else []
        if jobs and args.jobs != 1:
            variants.append(("convcli, one call, --jobs 1", ["--jobs", "1"]))
        if not jobs:
            variants.append(("convcli, one call (no --jobs option)", []))
        for name, extra in variants:
            out = _fresh(root / "out-batch")
            command = [convcli, "-q", "filter", str(root / "in"), "-k", "box3", "-O", str(out), *extra]
            seconds = min(_run(command) for _ in range(args.repeat))
            _check(out, total, name)
            shown = f"convcli -q filter in/ -k box3 -O out/ {' '.join(extra)}".strip()
            timings.append(Timing(name, shown, total, seconds, total))

        if loop_inputs:
            out = _fresh(root / "out-loop")
            env["OUT"] = str(out)
            seconds = _run(["sh", "-c", LOOP, "sh", *loop_inputs], env=env)
            _check(out, len(loop_inputs), "loop")
            timings.append(Timing("convcli, shell loop, one call per file",
                                  "for f in in/*.png; do convcli -q filter \"$f\" -k box3 -o out/\"${f##*/}\"; done",
                                  len(loop_inputs), seconds, total))
            out = _fresh(root / "out-xargs")
            env["OUT"] = str(out)
            seconds = _run(["sh", "-c", XARGS, "sh", *loop_inputs], env=env)
            _check(out, len(loop_inputs), "xargs")
            timings.append(Timing(f"convcli, xargs -P {args.jobs}, one call per file",
                                  f"printf '%s\\n' in/*.png | xargs -P {args.jobs} -I{{}} "
                                  "sh -c 'convcli -q filter \"$1\" -k box3 -o out/\"${1##*/}\"' sh {}",
                                  len(loop_inputs), seconds, total))

        magick = imagemagick() if not args.no_imagemagick else None
        if magick:
            mogrify, convert = magick
            out = _fresh(root / "out-mogrify")
            seconds = _run([*mogrify, "-path", str(out), *IM_KERNEL, *map(str, inputs)])
            _check(out, total, "mogrify")
            timings.append(Timing("ImageMagick mogrify, one call", "mogrify -path out/ "
                                  "-define convolve:scale=! -morphology Convolve Square:1 in/*.png",
                                  total, seconds, total))
            out = _fresh(root / "out-convert")
            env["OUT"] = str(out)
            script = ('for f in "$@"; do ' + " ".join(f"'{a}'" for a in convert)
                      + ' "$f" ' + " ".join(f"'{a}'" for a in IM_KERNEL) + ' "$OUT/${f##*/}" || exit 1; done')
            seconds = _run(["sh", "-c", script, "sh", *map(str, inputs)], env=env)
            _check(out, total, "convert loop")
            timings.append(Timing(f"ImageMagick {Path(convert[0]).name}, shell loop", "for f in in/*.png; do "
                                  f"{Path(convert[0]).name} \"$f\" -define convolve:scale=! "
                                  "-morphology Convolve Square:1 out/\"${f##*/}\"; done",
                                  total, seconds, total))
        return timings


def table(timings: list[Timing], args: argparse.Namespace, *, convcli_version: str) -> str:
    base = timings[0].estimate
    lines = [
        f"# Batch benchmark: {args.files} PNGs of {args.size}×{args.size}, 3×3 box blur",
        "",
        f"convcli {convcli_version}, Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} CPUs; best of {args.repeat} for one-call convcli runs. "
        "Rows marked * were timed on fewer files and extrapolated.",
        "",
        "| variant | files timed | seconds | seconds for all | ms per file | × one call |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for t in timings:
        mark = "*" if t.files < t.total else ""
        lines.append(f"| {t.name} | {t.files} | {t.seconds:.2f} | {t.estimate:.2f}{mark} | "
                     f"{1000 * t.per_file:.1f} | {t.estimate / base:.1f} |")
    lines += ["", "Commands:", ""]
    lines += [f"- {t.name}: `{t.command}`" for t in timings]
    if not any(t.name.startswith("ImageMagick") for t in timings):
        lines += ["", "ImageMagick was not found (or not timed), so it has no rows."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="number of images (default 200)")
    parser.add_argument("--size", type=int, default=256, help="side of each image (default 256)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes for --jobs and xargs -P (default 2)")
    parser.add_argument("--loop", type=int, default=20, metavar="N",
                        help="time the per-file loops on N files and extrapolate (default 20; 0 skips them)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each one-call variant, best kept (default 1)")
    parser.add_argument("--convcli", default=None, help="the convcli command (default: beside this Python, or PATH)")
    parser.add_argument("--no-imagemagick", action="store_true", help="skip ImageMagick even when installed")
    parser.add_argument("--output", type=Path, default=HERE / "batch-results.md", help="markdown file to write")
    args = parser.parse_args(argv)
    if args.files < 1 or args.size < 1 or args.jobs < 1 or args.loop < 0 or args.repeat < 1:
        parser.error("--files, --size, --jobs and --repeat must be >= 1, --loop >= 0")
    args.convcli, version = find_convcli(parser, args.convcli)
    timings = bench(args)
    text = table(timings, args, convcli_version=version.split()[-1] if version else "?")
    print(text)
    args.output.write_text(text, encoding="utf-8")
    print(f"written to {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
