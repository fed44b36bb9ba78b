"""The reading limits (convcli.images.Limits and their options): side, pixels, frames, file size, working
memory, and --allow-nonfinite. Each is refused from the header before decoding, by convcli.images directly and
through the CLI (exit 1, the file and the option named, nothing written), and each is raised by its
option.
"""

from __future__ import annotations

import io
import os

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import images
from convcli.errors import ImageReadError
from convcli.images import pillow, tiff


COMMANDS = ("filter", "sobel", "pool", "upsample", "pipeline")
LIMIT_OPTIONS = ("--max-pixels", "--max-side", "--max-frames", "--max-file-size", "--max-memory", "--allow-nonfinite")


def png_bytes(shape, dtype=np.uint8) -> bytes:
    return images.encode_image(np.zeros(shape, dtype), format="png")


def npy_bytes(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(array))
    return buf.getvalue()


def npy_header(shape, descr="<f4") -> bytes:
    """Only the header of a .npy (no data): enough for probe, which reads nothing else."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def animation(fmt: str, frames: int, size=(4, 4)) -> bytes:
    """An animated GIF, PNG (APNG) or WebP, or a multi-page TIFF, of distinct frames."""
    if fmt == "tiff":
        buf = io.BytesIO()
        with tifffile.TiffWriter(buf) as tiff:
            for i in range(frames):
                tiff.write(np.full(size, i, np.uint16), photometric="minisblack", metadata=None)
        return buf.getvalue()
    stills = [Image.fromarray(np.full(size + (3,), (i * 37) % 256, np.uint8)) for i in range(frames)]
    buf = io.BytesIO()
    extra = {"lossless": True} if fmt == "WEBP" else {}
    stills[0].save(buf, format=fmt, save_all=True, append_images=stills[1:], **extra)
    return buf.getvalue()


def refusal(source, **kwargs) -> str:
    with pytest.raises(ImageReadError) as caught:
        images.read_image(source, **kwargs)
    text = str(caught.value)
    with pytest.raises(ImageReadError) as probed:  # the header alone says so
        images.probe(source, **kwargs)
    assert str(probed.value) == text
    return text


def _boom(*args, **kwargs):
    raise AssertionError("a decoder was called")


@pytest.fixture
def no_decoding(monkeypatch):
    """Every decoder convcli uses raises: a refusal must come before any of them runs."""
    boom = _boom
    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(Image, "open", boom)
    monkeypatch.setattr(tifffile, "TiffFile", boom)
    monkeypatch.setattr(np.lib.format, "read_array", boom)


# --------------------------------------------------------------------------------------------------
# images.Limits


def test_defaults():
    limits = images.Limits()
    assert limits == images.Limits(
        max_pixels=178_956_970, max_side=65_535, max_frames=1_000, max_file_size=2**30, max_memory=16 * 2**30,
        allow_nonfinite=False,
    )
    assert (images.DEFAULT_MAX_PIXELS, images.DEFAULT_MAX_SIDE, images.DEFAULT_MAX_FRAMES) == (178_956_970, 65_535, 1_000)
    assert (images.DEFAULT_MAX_FILE_SIZE, images.DEFAULT_MAX_MEMORY) == (2**30, 16 * 2**30)


@pytest.mark.parametrize("name", ["max_pixels", "max_side", "max_frames", "max_file_size", "max_memory"])
@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "10"])
def test_limits_are_positive_integers_or_none(name, bad):
    with pytest.raises(ValueError, match=name):
        images.Limits(**{name: bad})
    assert getattr(images.Limits(**{name: None}), name) is None
    assert getattr(images.Limits(**{name: np.int64(7)}), name) == 7


def test_bad_limits_arguments():
    with pytest.raises(ValueError, match="allow_nonfinite"):
        images.Limits(allow_nonfinite=1)
    with pytest.raises(ValueError, match="limits"):
        images.read_image("sample:camera", limits={"max_pixels": 10})
    with pytest.raises(ValueError, match="max_pixels"):
        images.probe("sample:camera", limits=images.Limits(max_pixels=0))


def test_working_memory_formula():
    # H × W × C × 8 bytes (float64) × 3 (the image, its padded copy, the result)
    assert images.MEMORY_FACTOR == 3
    assert images.working_memory((10, 20)) == 10 * 20 * 1 * 8 * 3
    assert images.working_memory((10, 20, 4)) == 10 * 20 * 4 * 8 * 3
    # the defaults agree: an RGBA image at the pixel limit fits in the memory limit
    assert images.working_memory((images.DEFAULT_MAX_PIXELS, 1, 4)) <= images.DEFAULT_MAX_MEMORY
    assert images.working_memory((images.DEFAULT_MAX_PIXELS, 1, 5)) > images.DEFAULT_MAX_MEMORY


# --------------------------------------------------------------------------------------------------
# Each limit through convcli.images: refused from the header, raised by a larger limit, None for none


def test_side_limit(no_decoding):
    data = png_bytes((3, 70_000))
    text = refusal(data)
    assert text == "<stdin>: 70,000 pixels wide is over the side limit of 65,535; raise it with `max_side`"
    assert "5 pixels high is over the side limit of 4" in refusal(png_bytes((5, 2)), limits=images.Limits(max_side=4))
    assert images.probe(data, limits=images.Limits(max_side=70_000)).shape == (3, 70_000)
    assert images.probe(data, limits=images.Limits(max_side=None)).shape == (3, 70_000)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "bmp", "gif", "webp", "tiff", "npy"])
def test_side_limit_every_format(fmt):
    arr = np.zeros((3, 9, 3), np.uint8)
    data = images.encode_image(arr if fmt != "npy" else arr.astype(np.float32), format=fmt)
    assert "9 pixels wide is over the side limit of 8; raise it with `max_side`" in refusal(
        data, limits=images.Limits(max_side=8)
    )
    assert images.read_image(data, limits=images.Limits(max_side=9))[0].shape[:2] == (3, 9)


def test_pixel_limit_from_the_header(no_decoding):
    text = refusal(png_bytes((20_000, 20_000)))
    assert text == (
        "<stdin>: 20000×20000 = 400,000,000 pixels is over the limit of 178,956,970; raise it with `max_pixels`"
    )


@pytest.mark.parametrize(("fmt", "exact"), [("GIF", False), ("PNG", True), ("WEBP", False), ("tiff", False)])
def test_frame_limit(fmt, exact, monkeypatch):
    data = animation(fmt, 6)
    assert images.probe(data).frames == 6
    with monkeypatch.context() as patched:  # counted without decoding (nor, for GIF/WebP/TIFF, opening)
        patched.setattr(cv2, "imdecode", _boom)
        patched.setattr(Image, "open", _boom)
        patched.setattr(tifffile, "TiffFile", _boom)
        text = refusal(data, limits=images.Limits(max_frames=5))
    count = "6 frames" if exact else "more than 5 frames"
    assert text == f"<stdin>: has {count}, over the frame limit of 5; raise it with `max_frames`"
    assert images.read_image(data, limits=images.Limits(max_frames=6))[1].frames == 6
    assert images.read_image(data, limits=images.Limits(max_frames=None))[1].frames == 6


def test_frame_limit_default_is_1000():
    assert "frame limit of 1,000" in refusal(animation("GIF", 1_001, size=(1, 1)))
    assert images.probe(animation("GIF", 1_000, size=(1, 1))).frames == 1_000


def test_frame_count_stops_past_the_limit(monkeypatch):
    """A GIF with many frames: the count stops at the limit + 1 (it never walks them all)."""
    walked = []
    real = pillow._gif_frames
    monkeypatch.setattr(pillow, "_gif_frames", lambda data, stop: walked.append(stop) or real(data, stop))
    data = animation("GIF", 50, size=(1, 1))
    refusal(data, limits=images.Limits(max_frames=3))
    assert set(walked) == {4} and real(data, 4) == 4 and real(data, 100) == 50


def test_tiff_page_count_survives_loops_and_damage():
    data = bytearray(animation("tiff", 3))
    assert tiff._tiff_pages(io.BytesIO(bytes(data)), 100) == 3
    first = int.from_bytes(data[4:8], "little")
    count = int.from_bytes(data[first : first + 2], "little")
    end = first + 2 + 12 * count
    data[end : end + 4] = first.to_bytes(4, "little")  # the first IFD points back at itself
    assert tiff._tiff_pages(io.BytesIO(bytes(data)), 100) == 1
    assert tiff._tiff_pages(io.BytesIO(b"II*\x00\xff\xff\xff\x00"), 100) == 1  # offset past the end


def test_file_size_limit_from_fstat(tmp_path, no_decoding):
    path = tmp_path / "big.png"
    with open(path, "wb") as fh:  # a sparse 1 GiB + 1 byte file: fstat says so, nothing is read
        fh.write(png_bytes((2, 2)))
        fh.truncate(2**30 + 1)
    text = refusal(str(path))
    assert text == (
        f"{path}: is 1 GiB (1,073,741,825 bytes), over the file-size limit of 1 GiB; raise it with `max_file_size`"
    )
    small = tmp_path / "small.png"
    small.write_bytes(png_bytes((2, 2)))
    size = small.stat().st_size
    assert f"is {size} bytes, over the file-size limit of 50 bytes" in refusal(
        str(small), limits=images.Limits(max_file_size=50)
    )


def test_file_size_limit_raised(tmp_path):
    path = tmp_path / "small.png"
    path.write_bytes(png_bytes((2, 2)))
    size = path.stat().st_size
    assert images.read_image(str(path), limits=images.Limits(max_file_size=size))[0].shape == (2, 2)
    assert images.read_image(str(path), limits=images.Limits(max_file_size=None))[0].shape == (2, 2)


def test_file_size_limit_of_bytes():
    data = png_bytes((2, 2))
    text = refusal(data, limits=images.Limits(max_file_size=len(data) - 1))
    assert text.startswith("<stdin>: is larger than the file-size limit of") and "`max_file_size`" in text
    assert images.probe(data, limits=images.Limits(max_file_size=len(data))).shape == (2, 2)


def test_memory_limit(no_decoding):
    # 1000 × 1000 × 300 float32: 300 million values, under the pixel limit, 7.2 GB estimated
    data = npy_header((1000, 1000, 300))
    assert images.probe(data, limits=images.Limits(max_memory=None)).shape == (1000, 1000, 300)
    text = refusal(data, limits=images.Limits(max_memory=4 * 2**30))
    assert text == (
        "<stdin>: 1000×1000×300 needs about 6.7 GiB of working memory (1000·1000·300 values × 8 bytes × 3), "
        "over the memory limit of 4 GiB; raise it with `max_memory`"
    )
    # the default (16 GiB) takes it; 3000 channels are refused
    assert images.probe(data).shape == (1000, 1000, 300)
    assert "over the memory limit of 16 GiB" in refusal(npy_header((1000, 1000, 3000)))


def test_memory_limit_raised():
    data = npy_bytes(np.zeros((10, 10, 5), np.float32))  # 12,000 bytes estimated
    assert "needs about 11.7 KiB" in refusal(data, limits=images.Limits(max_memory=11_999))
    assert images.read_image(data, limits=images.Limits(max_memory=12_000))[0].shape == (10, 10, 5)


def test_memory_estimate_given_by_the_caller(no_decoding):
    # Limits.memory replaces working_memory: the command line's estimate of the whole run, from the plan
    seen = []

    def estimate(info):
        seen.append(info.shape)
        return 5 * 2**30, "a plan's estimate"

    data = png_bytes((3, 4))
    text = refusal(data, limits=images.Limits(max_memory=2**30, memory=estimate))
    assert text == ("<stdin>: 4×3×1 needs about 5 GiB of working memory (a plan's estimate), over the memory "
                    "limit of 1 GiB; raise it with `max_memory`")
    assert seen == [(3, 4), (3, 4)]  # read_image and probe each asked, from the header
    assert images.probe(data, limits=images.Limits(max_memory=6 * 2**30, memory=estimate)).shape == (3, 4)


def test_limits_apply_to_samples():
    assert "side limit of 100" in refusal("sample:camera", limits=images.Limits(max_side=100))
    assert "memory limit" in refusal("sample:astronaut", limits=images.Limits(max_memory=2**20))


def test_webp_size_is_checked_before_pillow_opens_it(no_decoding):
    # the size comes from the VP8L chunk, before Pillow (and libwebp) see the file
    data = images.encode_image(np.zeros((2, 3, 3), np.uint8), format="webp")
    assert pillow._webp_header(data, 10) == (3, 2, 1)
    assert "over the side limit of 2" in refusal(data, limits=images.Limits(max_side=2))


# --------------------------------------------------------------------------------------------------
# NaN and inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_refused_unless_allowed(bad):
    data = npy_bytes(np.array([[0.0, bad], [1.0, 2.0]]))
    with pytest.raises(ImageReadError, match="holds NaN or inf.*`allow_nonfinite`"):
        images.read_image(data)
    arr, _ = images.read_image(data, limits=images.Limits(allow_nonfinite=True))
    np.testing.assert_array_equal(arr, [[0.0, bad], [1.0, 2.0]])
    assert images.probe(data).shape == (2, 2)  # the header is fine: only decoding finds the values


def test_nonfinite_float_tiff():
    buf = io.BytesIO()
    tifffile.imwrite(buf, np.array([[np.nan, 1.0]], np.float32))
    with pytest.raises(ImageReadError, match="NaN or inf"):
        images.read_image(buf.getvalue())
    arr, _ = images.read_image(buf.getvalue(), limits=images.Limits(allow_nonfinite=True))
    assert np.isnan(arr[0, 0]) and arr[0, 1] == 1.0


# --------------------------------------------------------------------------------------------------
# The CLI


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_the_limit_options(run, command):
    text = run(command, "--help").output
    for option in LIMIT_OPTIONS:
        assert option in text, (command, option)


def _write(name: str, data: bytes) -> str:
    with open(name, "wb") as fh:
        fh.write(data)
    return name


# (file name, its bytes, options that refuse it, the option the message names, options that let it through)
CASES = {
    "side": ("a.png", lambda: png_bytes((3, 40)), ["--max-side", "39"], "--max-side", ["--max-side", "40"]),
    "pixels": ("a.png", lambda: png_bytes((10, 10)), ["--max-pixels", "99"], "--max-pixels", ["--max-pixels", "100"]),
    "frames": ("a.gif", lambda: animation("GIF", 4), ["--max-frames", "3"], "--max-frames", ["--max-frames", "4"]),
    "file size": ("a.png", lambda: png_bytes((2, 2)), ["--max-file-size", "10"], "--max-file-size",
                  ["--max-file-size", "1K"]),
    # the plan's estimate: a few KiB of arrays and memory.MEMORY_OVERHEAD (8 MiB)
    "memory": ("a.npy", lambda: npy_bytes(np.zeros((8, 8, 4), np.float32)), ["--max-memory", "8M"],
               "--max-memory", ["--max-memory", "9M"]),
    "nonfinite": ("a.npy", lambda: npy_bytes(np.array([[np.nan, 1.0], [2.0, 3.0]])), [], "--allow-nonfinite",
                  ["--allow-nonfinite"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_cli_refuses_over_a_limit(run, case):
    name, data, refuse, option, _ = CASES[case]
    _write(name, data())
    result = run("filter", name, "-k", "box3", "-o", "out.npy", *refuse)
    assert result.exit_code == 1, result.output
    line = result.stderr.splitlines()[0]
    assert line.startswith(f"convcli: error: {name}: ") and option in line, line
    assert not os.path.exists("out.npy")
    assert [f for f in os.listdir(".") if f != name] == []  # no output, no temporary file


@pytest.mark.parametrize("case", list(CASES))
def test_cli_option_raises_the_limit(run, case):
    name, data, _, _, allow = CASES[case]
    _write(name, data())
    result = run("filter", name, "-k", "1", "-o", "out.npy", *allow)  # 1×1: no padding to hold
    assert result.exit_code == 0, result.output
    assert np.load("out.npy").shape[:2] == images.probe(name, limits=images.Limits(max_pixels=None)).shape[:2]


@pytest.mark.parametrize("case", ["side", "frames", "file size", "memory"])
def test_cli_dry_run_refuses_from_the_header(run, case):
    name, data, refuse, option, _ = CASES[case]
    _write(name, data())
    result = run("filter", name, "-k", "box3", "--dry-run", *refuse)
    assert result.exit_code == 1 and option in result.stderr


@pytest.mark.parametrize("command", [["sobel"], ["pool", "--size", "2"], ["upsample", "--factor", "2"]])
def test_cli_limits_on_other_commands(run, command):
    _write("a.png", png_bytes((4, 40)))
    result = run(command[0], "a.png", *command[1:], "-o", "out.png", "--max-side", "39")
    assert result.exit_code == 1 and "a.png: 40 pixels wide is over the side limit of 39" in result.stderr
    assert not os.path.exists("out.png")


def test_cli_limits_in_worker_processes(run):
    _write("a.png", png_bytes((4, 4)))
    _write("b.png", png_bytes((4, 40)))
    result = run("filter", "a.png", "b.png", "-k", "box3", "-O", "out", "--max-side", "39", "-j", "2")
    assert result.exit_code == 1 and "b.png: 40 pixels wide" in result.stderr
    assert os.listdir("out") == ["a.png"]


def test_cli_stdin_over_the_file_size_limit(run):
    data = png_bytes((30, 30))
    result = run("filter", "-", "-k", "box3", "-o", "out.png", "--max-file-size", "20", input=data)
    assert result.exit_code == 1
    assert "<stdin>: is larger than the file-size limit of 20 bytes; raise it with --max-file-size" in result.stderr
    assert run("filter", "-", "-k", "box3", "-o", "out.png", input=data).exit_code == 0


def test_cli_nonfinite_written_raw_to_npy(run):
    np.save("a.npy", np.array([[np.nan, 1.0, 2.0, 3.0]] * 3))
    result = run("filter", "a.npy", "-k", "1", "-o", "out.npy", "--allow-nonfinite")
    assert result.exit_code == 0, result.output
    out = np.load("out.npy")
    assert np.isnan(out[:, 0]).all() and (out[:, 1:] == [1.0, 2.0, 3.0]).all()
    # a 3×3 box spreads the NaN to every output whose window covers it
    assert run("filter", "a.npy", "-k", "box3", "-o", "box.npy", "--allow-nonfinite").exit_code == 0
    assert np.isnan(np.load("box.npy")[:, :2]).all() and np.isfinite(np.load("box.npy")[:, 2:]).all()


def test_cli_nonfinite_to_an_integer_output_fails(run):
    np.save("a.npy", np.array([[np.nan, 1.0], [2.0, 3.0]]))
    result = run("filter", "a.npy", "-k", "1", "-o", "out.png", "--allow-nonfinite")
    assert result.exit_code == 1 and "NaN or inf" in result.stderr and "out.png" not in os.listdir(".")


def test_cli_overflow_in_the_working_dtype_fails(run):
    # uint8 is computed in float32, where 1e308 is inf: inf·x is inf, inf·0 is NaN, and inf + NaN is NaN
    image = np.random.default_rng(3).integers(0, 3, (20, 30)).astype(np.uint8)
    _write("a.png", images.encode_image(image, format="png"))
    result = run("filter", "a.png", "-k", "1e308 1e308", "-o", "out.npy")
    left = np.pad(image, ((0, 0), (1, 0)))[:, :-1]  # the other tap: the pixel to the left, 0 in the padding
    nan = int(((left == 0) | (image == 0)).sum())
    assert result.exit_code == 1 and not os.path.exists("out.npy")
    assert result.stderr.splitlines()[0] == (
        f"convcli: error: a.png: filter: float32 overflowed: its result holds {image.size - nan:,} inf and "
        f"{nan:,} NaN from finite values; compute in float64 with --dtype float64 (to .npy or .tif), or let "
        "them through with --allow-nonfinite")
    # float64 overflows too (1e308 + 1e308): only --allow-nonfinite is left to suggest
    result = run("filter", "a.png", "-k", "1e308 1e308", "-o", "out.npy", "--dtype", "float64")
    assert result.exit_code == 1 and "float64 overflowed" in result.stderr and "--dtype" not in result.stderr
    result = run("filter", "a.png", "-k", "1e308 1e308", "-o", "out.npy", "--allow-nonfinite")
    assert result.exit_code == 0, result.stderr
    out = np.load("out.npy")
    assert int(np.isnan(out).sum()) == nan and int(np.isinf(out).sum()) == image.size - nan


@pytest.mark.parametrize("command", [("filter", "-k", "1e308 1e308"), ("pool", "--op", "sum", "--size", "2"),
                                     ("pipeline", "p.yaml")])
def test_cli_overflow_is_checked_for_every_command(run, command):
    np.save("a.npy", np.full((4, 4), 2e38, np.float32))  # finite float32; two of them overflow it
    with open("p.yaml", "w") as fh:
        fh.write("steps:\n  - pool: {op: avg, size: 2}\n  - filter: {kernel: '1 1'}\n")
    result = run(*command, "a.npy", "-o", "out.npy")
    label = "p.yaml:3: step 2 (filter)" if command[0] == "pipeline" else command[0]
    assert result.exit_code == 1 and not os.path.exists("out.npy")
    assert result.stderr.startswith(f"convcli: error: a.npy: {label}: float32 overflowed: its result holds ")
    assert "Warning" not in result.stderr


def test_cli_result_beyond_the_output_dtype_fails(run):
    # float64 data is computed in float64; 1e308 fits, but not the default float32 of a .npy output
    values = np.full((4, 5), 1e308)
    np.save("a.npy", values)
    result = run("filter", "a.npy", "-k", "1", "-o", "out.npy")
    assert result.exit_code == 1 and not os.path.exists("out.npy")
    assert result.stderr.splitlines()[0] == (
        "convcli: error: a.npy: the result (up to 1e+308) does not fit float32 (up to 3.4e+38): 20 inf when "
        "written; write --dtype float64, or let them through with --allow-nonfinite")
    assert run("filter", "a.npy", "-k", "1", "-o", "out.npy", "--dtype", "float64").exit_code == 0
    np.testing.assert_array_equal(np.load("out.npy"), values)
    assert run("filter", "a.npy", "-k", "1", "-o", "out.npy", "--allow-nonfinite").exit_code == 0
    out = np.load("out.npy")
    assert out.dtype == np.float32 and np.isposinf(out).all()


@pytest.mark.parametrize(
    ("text", "limit"),
    [("1024", 1024), ("500M", 500 * 2**20), ("2G", 2 * 2**30), ("1.5K", 1536), ("2GB", 2 * 10**9),
     ("3kib", 3072), ("7b", 7)],
)
def test_size_parsing(run, text, limit):
    from convcli.cli.options import SIZE

    assert SIZE.convert(text, None, None) == limit
    _write("a.png", png_bytes((2, 2)))
    size = os.path.getsize("a.png")
    result = run("filter", "a.png", "-k", "box3", "-o", "out.png", "--max-file-size", text)
    assert result.exit_code == (0 if limit >= size else 1)


@pytest.mark.parametrize("option", ["--max-file-size", "--max-memory"])
@pytest.mark.parametrize("bad", ["abc", "0", "-5", "5X", "1e3", "", "2 G B"])
def test_bad_sizes_are_usage_errors(run, option, bad):
    _write("a.png", png_bytes((2, 2)))
    result = run("filter", "a.png", "-k", "box3", "-o", "out.png", option, bad)
    assert result.exit_code == 2 and option in result.stderr
    assert not os.path.exists("out.png")


@pytest.mark.parametrize("option", ["--max-side", "--max-frames", "--max-pixels"])
@pytest.mark.parametrize("bad", ["0", "-1", "x"])
def test_bad_counts_are_usage_errors(run, option, bad):
    _write("a.png", png_bytes((2, 2)))
    assert run("filter", "a.png", "-k", "box3", "-o", "out.png", option, bad).exit_code == 2


def test_cli_stdin_is_read_in_pieces_up_to_the_limit(run):
    data = npy_bytes(np.zeros((512, 768), np.float64))  # 3 MiB and a header: several 1 MiB pieces
    result = run("filter", "-", "-k", "1", "-o", "out.npy", "--max-file-size", "3M", input=data)
    assert result.exit_code == 1 and "<stdin>: is larger than the file-size limit of 3 MiB" in result.stderr
    result = run("filter", "-", "-k", "1", "-o", "out.npy", "--max-file-size", "4M", input=data)
    assert result.exit_code == 0 and np.load("out.npy").shape == (512, 768)
