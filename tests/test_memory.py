"""The working-memory estimate behind --max-memory (convcli.memory.estimate_memory): it covers the
whole run, from the header and the plan, and real jobs stay under it.

The peak of a real job is measured in a fresh interpreter (Linux /proc: the peak resident set,
VmHWM, reset just before the job), above what that interpreter held once it had imported the same
libraries and planned the same job (a --dry-run, which also gives the estimate). Refusals come
from the header before anything is decoded, with exit 1 and nothing written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib

import cv2
import numpy as np
import pytest


KERNELS = ["box3", "box5", "sobel-x", "sobel-y", "laplacian4", "identity", "emboss", "prewitt-x", "prewitt-y",
           "gaussian5"]

# Runs in a fresh interpreter: the estimate from a dry run (which also imports what the job needs),
# then the job, and prints the estimate and how far the peak resident set rose above the start.
PEAK = r"""
import json, os, sys
import cv2, numpy, PIL.Image, scipy.ndimage, tifffile  # noqa: F401 - what the job would import
from click.testing import CliRunner
from convcli.cli import cli

def resident():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024

args = sys.argv[1:]
planned = CliRunner().invoke(cli, [*args, "--dry-run", "--json"])
estimate = json.loads(planned.stdout)["files"][0]["memory"]
start = resident()
with open("/proc/self/clear_refs", "w") as fh:  # VmHWM := the resident set now
    fh.write("5")
done = CliRunner().invoke(cli, ["--quiet", *args])
print(json.dumps({"estimate": estimate, "increase": peak() - start, "exit": done.exit_code,
                  "output": done.output[-500:]}))
"""

needs_proc = pytest.mark.skipif(
    not os.path.exists("/proc/self/clear_refs") or not os.access("/proc/self/clear_refs", os.W_OK),
    reason="measuring the peak needs Linux's /proc/self/clear_refs",
)


def _write(name: str, data: bytes) -> str:
    with open(name, "wb") as fh:
        fh.write(data)
    return name


def _image(name: str, shape: tuple[int, ...], *, alpha: bool = False) -> str:
    """A noisy image (noise: nothing compresses away, the engines do all their work)."""
    array = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    if name.endswith(".npy"):
        np.save(name, array)
    else:
        cv2.imwrite(name, array[..., ::-1] if array.ndim == 3 else array)  # OpenCV writes BGR(A)
    return name


def _tiled(name: str, shape: tuple[int, ...]) -> str:
    """A noisy tiled deflate TIFF."""
    import tifffile

    tifffile.imwrite(name, np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8), tile=(256, 256),
                     compression="zlib")
    return name


def _two_steps(name: str) -> str:
    with open(name, "w") as fh:
        fh.write("steps: [{filter: {kernel: box5, boundary: reflect}}, {pool: {op: avg, size: 2}}]\n")
    return name


def _float64(name: str, shape: tuple[int, ...]) -> str:
    """A .npy of float64 noise in [0, 1)."""
    np.save(name, np.random.default_rng(1).random(shape))
    return name


def _pipeline(name: str, banks: int) -> str:
    listing = ", ".join(KERNELS)
    with open(name, "w") as fh:
        fh.write("steps:\n" + "".join(f"  - filter: {{kernels: [{listing}]}}\n" for _ in range(banks)))
    return name


def _layers(name: str) -> str:
    with open(name, "w") as fh:
        fh.write("steps:\n  - depthwise_conv2d: {kernel_size: 5, depth_multiplier: 2, padding: same}\n"
                 "  - conv2d_transpose: {filters: 4, kernel_size: 3, strides: 2, padding: same, groups: 2, "
                 "activation: sigmoid}\n"
                 "  - rescale: {scale: 0.5, offset: 1}\n"
                 "  - batch_norm: {moving_mean: [0, 1, 2, 3], moving_variance: [1, 2, 3, 4], gamma: [1, 1, 2, 2]}\n"
                 "  - activation: {function: gelu}\n")
    return name


@needs_proc
@pytest.mark.parametrize("job", [
    pytest.param(lambda: ["upsample", _image("a.png", (500, 500, 3)), "--method", "bilinear", "--factor", "4",
                          "-o", "out.png"], id="upsample-bilinear-4"),
    pytest.param(lambda: ["filter", _image("a.png", (600, 600, 3)), *[a for k in KERNELS * 2 for a in ("-k", k)],
                          "-o", "out.npy"], id="bank-of-20"),
    pytest.param(lambda: ["pipeline", _pipeline("p.yaml", 2), _image("a.png", (400, 400)), "-o", "out.npy"],
                 id="two-10-kernel-banks"),
    pytest.param(lambda: ["filter", _image("a.png", (1000, 1000, 4)), "-k", "box3", "-o", "out.png"],
                 id="rgba-filter"),
    # a bank of kernels of different shapes: the 25×25 Gaussian's padded copy, not the first kernel's window
    pytest.param(lambda: ["filter", _image("a.png", (1000, 1000, 3)), "-k", "box3", "-k", "gaussian:sigma=4",
                          "--stride", "2", "-o", "out.npy"], id="bank-of-mixed-shapes-strided"),
    pytest.param(lambda: ["filter", _image("a.png", (1500, 1500, 3)), "-k", "sobel-x", "-o", "out.png"],
                 id="plain-filter"),
    pytest.param(lambda: ["sobel", _image("a.png", (800, 800, 3)), "--component", "direction", "-o", "out.png"],
                 id="sobel-direction"),
    # float64 works in place of the float32 above; strided, the |x| copy is four results' size
    pytest.param(lambda: ["sobel", _float64("f.npy", (800, 800, 3)), "--component", "direction", "-o", "out.npy"],
                 id="sobel-direction-float64"),
    pytest.param(lambda: ["sobel", _float64("f.npy", (800, 800, 3)), "--component", "direction", "--stride", "2",
                          "-o", "out.npy"], id="sobel-direction-float64-strided"),
    pytest.param(lambda: ["pool", _image("a.png", (600, 600, 3)), "--op", "median", "--size", "3", "--stride", "1",
                          "-o", "out.tif"], id="median-pool"),
    pytest.param(lambda: ["conv2d", _image("a.png", (600, 600, 3)), "--filters", "16", "--kernel-size", "3",
                          "--padding", "same", "--activation", "relu", "-o", "out.npy"], id="conv2d-16"),
    pytest.param(lambda: ["pipeline", _layers("p.yaml"), _image("a.png", (500, 500, 3)), "-o", "out.npy"],
                 id="depthwise-and-transposed-layers"),
    # streamed (docs/semantics.md, Streaming): the band plan's estimate
    pytest.param(lambda: ["filter", _tiled("a.tif", (3000, 2000, 3)), "-k", "gaussian5", "--band-rows", "64",
                          "-o", "out.zarr"], id="streamed-tiff-to-zarr"),
    pytest.param(lambda: ["pipeline", _two_steps("p.yaml"), _image("a.npy", (2500, 2500)), "-o", "out.tif"],
                 id="streamed-npy-to-tiff"),
])
def test_real_peaks_stay_under_the_estimate(tmp_path, monkeypatch, job):
    monkeypatch.chdir(tmp_path)
    args = job()
    done = subprocess.run([sys.executable, "-c", PEAK, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, CONVCLI_ENGINE="auto"))
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout)
    assert measured["exit"] == 0, measured["output"]
    assert 0 < measured["increase"] <= measured["estimate"], measured
    # honest, not wildly pessimistic: arrays of tens of MiB, estimated within a factor of three
    assert measured["estimate"] < 3 * measured["increase"] + (8 << 20), measured


def _png_header_only_zeros(width: int, height: int, channels: int) -> bytes:
    """A valid 8-bit PNG of zeros (RGBA for 4 channels) of any size, compressed as it is made."""
    color = {1: 0, 3: 2, 4: 6}[channels]
    squeeze = zlib.compressobj(9)
    row = bytes(1 + width * channels)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, color, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.fixture
def no_decoding(monkeypatch):
    """The decoders raise: a refusal must come from the header and the plan."""
    from PIL import Image

    def boom(*args, **kwargs):
        raise AssertionError("a decoder was called")

    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(Image, "open", boom)


def _refused(result, name: str, option_value: str, where: str) -> None:
    assert result.exit_code == 1, result.output
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"convcli: error: {name}: ") and "of working memory (estimated from its header and " \
        f"the plan, most at {where}), over the memory limit of {option_value}; raise it with --max-memory" in line
    assert sorted(os.listdir(".")) == sorted(f for f in (name, "p.yaml") if os.path.exists(f))


def test_upsample_over_the_limit_is_refused_before_decoding(run, no_decoding):
    # --scale normalize needs the whole result (it is not streamed: docs/semantics.md, Streaming)
    _write("a.png", _png_header_only_zeros(3000, 3000, 1))
    result = run("upsample", "a.png", "--method", "bilinear", "--factor", "4", "-o", "out.png", "--max-memory", "1G",
                 "--scale", "normalize")
    _refused(result, "a.png", "1 GiB", "step 1 (upsample)")


def test_a_bank_over_the_limit_is_refused(run, no_decoding):
    _write("a.png", _png_header_only_zeros(3000, 3000, 3))
    kernels = [a for k in KERNELS * 2 for a in ("-k", k)]
    result = run("filter", "a.png", *kernels, "-o", "out.npy", "--max-memory", "1G")
    _refused(result, "a.png", "1 GiB", "writing")


def test_a_small_file_with_a_huge_plan_is_refused(run, no_decoding):
    # 64×48 grey through four banks of 10: 64×48×10,000 float32 results, 123 MB each
    _write("a.png", _png_header_only_zeros(48, 64, 1))
    _pipeline("p.yaml", 4)
    result = run("pipeline", "p.yaml", "a.png", "-o", "out.npy", "--max-memory", "100M")
    _refused(result, "a.png", "100 MiB", "writing")
    planned = json.loads(run("pipeline", "p.yaml", "a.png", "--dry-run", "--json", "--max-memory", "1G").stdout)
    # at least the last step's result, float32, and its input
    assert planned["files"][0]["memory"] >= 64 * 48 * (10_000 + 1_000) * 4


def test_a_large_rgba_png_is_refused_by_default(run, no_decoding):
    # 13000² RGBA, a file of a few hundred KB: its float32 result is 2.7 GB, and mapping it (with
    # alpha) to 8 bits takes float64 copies; by default (16 GiB) it is refused from the header
    # when it must run whole (normalize; streamed, it would hold the decoded input and bands)
    _write("a.png", _png_header_only_zeros(13000, 13000, 4))
    assert os.path.getsize("a.png") < 2_000_000
    result = run("filter", "a.png", "-k", "box3", "-o", "out.png", "--scale", "normalize")
    _refused(result, "a.png", "16 GiB", "writing")


def test_the_estimate_is_in_the_dry_run_report(run):
    from convcli.memory import estimate_memory
    from convcli.pipeline import parse_step

    _image("a.png", (100, 120, 3))
    report = json.loads(run("filter", "a.png", "-k", "box3", "-o", "out.png", "--dry-run", "--json").stdout)
    estimate = estimate_memory([[parse_step("filter", {"kernel": "box3"})]], (100, 120, 3), "uint8",
                               outputs=[(0, "uint8", "png")])
    assert report["files"][0]["memory"] == estimate.bytes


def test_the_estimate_grows_with_each_steps_result():
    from convcli.memory import estimate_memory
    from convcli.pipeline import parse_pipeline

    # independent arithmetic: a bank of 10 on 64×48 grey gives 10 float32 channels; four banks 10⁴
    small = estimate_memory([parse_pipeline("steps: [gray]", path="g.yaml")], (64, 48), "uint8")
    assert small.bytes < 9 << 20
    for banks in (1, 2, 3, 4):
        text = "steps:\n" + f"  - filter: {{kernels: [{', '.join(KERNELS)}]}}\n" * banks
        estimate = estimate_memory([parse_pipeline(text, path="p.yaml")], (64, 48), "uint8",
                                   outputs=[(0, "float32", "npy")])
        last = 64 * 48 * 10**banks * 4
        assert estimate.bytes >= 2 * last  # the result and its copy in the output dtype
        assert estimate.bytes <= 4 * last + (9 << 20)


def test_a_sheet_of_conv_layers_holds_their_maps_and_the_sheet():
    from convcli.memory import estimate_memory
    from convcli.pipeline import parse_pipeline

    steps = parse_pipeline("steps:\n  - conv2d: {filters: 32, kernel_size: 3}\n  - pool: {op: max, size: 2}\n"
                           "  - conv2d: {filters: 8, kernel_size: 3}\n", path="layers.yaml")
    without = estimate_memory([steps], (600, 800), "uint8", sheet=False).bytes
    with_sheet = estimate_memory([steps], (600, 800), "uint8", sheet=True)
    first, second = 598 * 798 * 32 * 4, 297 * 397 * 8 * 4  # float32 maps, held until the sheet is made
    sheet = (598 * 798 * 32 + 297 * 397 * 8) * 3  # at least the tiles' pixels, RGB
    assert with_sheet.bytes >= without + first + second + sheet
    assert with_sheet.where == "the contact sheet"
