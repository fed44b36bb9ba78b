"""convcli.ops.engines: the exactness rule behind ``engine="auto"``'s NumPy engine, and that engine's
numbers against OpenCV's bit for bit (and a slow loop of the correlation formula)."""

import itertools

import numpy as np
import pytest

from convcli.kernels import load_kernel
from convcli.ops import engines
from convcli.ops.engines import NUMPY_MAX_TAP_PIXELS, NUMPY_MAX_WORK_BYTES, auto_engine, exact_in_any_order
from convcli.ops.filter import filter2d

RNG = np.random.default_rng(16)

SOBEL_X = np.array([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]])
LAPLACIAN = np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]])
BINOMIAL5 = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256.0
BINOMIAL3 = np.outer([1, 2, 1], [1, 2, 1]) / 16.0


# --- the rule, on hand-picked kernels ---------------------------------------------------------------


@pytest.mark.parametrize("kernel, dtype, exact", [
    (SOBEL_X, "uint8", True),        # Σ|w| = 8: 8 · 255
    (SOBEL_X, "uint16", True),       # 8 · 65535 < 2^24
    (SOBEL_X, "int16", True),        # 8 · 32768
    (SOBEL_X, "bool", True),
    (SOBEL_X, "int32", True),        # float64: 8 · 2^31 < 2^53
    (SOBEL_X, "float32", False),     # float inputs never
    (SOBEL_X, "float16", False),
    (SOBEL_X, "float64", False),
    (LAPLACIAN, "uint8", True),
    (np.ones((5, 5)), "uint16", True),  # a box sum: 25 · 65535
    (BINOMIAL3, "uint8", True),      # /16: 16 · 255
    (BINOMIAL5, "uint16", True),     # /256: 256 · 65535 = 2^24 − 256, just below
    (np.full((3, 3), 1 / 9), "uint8", False),  # 1/9 is no binary fraction
    (np.ones((3, 3)) * 2.0**-30, "uint8", True),   # s = 30, but Σ|w|·2^s = 9: 9 · 255
    (np.array([[1.0, 2.0**-20]]), "uint8", False),  # (2^20 + 1) · 255 ≥ 2^24: too fine beside 1 for float32
    (np.array([[1.0, 2.0**-20]]), "int32", True),   # float64: (2^20 + 1) · 2^31 < 2^53
    (np.array([[np.inf, 1.0]]), "uint8", False),
])
def test_exactness_rule_on_hand_picked_kernels(kernel, dtype, exact):
    assert exact_in_any_order(kernel, np.dtype(dtype)) is exact


def test_a_sampled_gaussian_is_not_exact():
    assert not exact_in_any_order(np.asarray(load_kernel("gaussian:sigma=1.3").matrix), np.uint8)
    assert exact_in_any_order(np.asarray(load_kernel("gaussian5").matrix), np.uint8)  # the binomial one


def test_uint16_limit_near_2_to_the_24():
    """Σ|w|·2^s · 65535 against 2^24 = 16,777,216: 256 · 65535 = 16,776,960 is below, 257 · 65535 above."""
    below = BINOMIAL5.copy()
    above = BINOMIAL5.copy()
    above[2, 2] += 1 / 256  # Σ|w|·256 = 257
    assert exact_in_any_order(below, np.uint16) and exact_in_any_order(above, np.uint8)
    assert not exact_in_any_order(above, np.uint16)


@pytest.mark.parametrize("fill, exact", [(0.0, True), (-7.0, True), (1e6, True), (3e6, False), (0.5, False),
                                         (float("nan"), False)])
def test_constant_boundary_values(fill, exact):
    """The fill must be an integer, and counts as an input value when larger than the dtype's: 8·|fill| < 2^24."""
    assert exact_in_any_order(SOBEL_X, np.uint8, fill=fill) is exact


def test_a_separable_kernel_is_judged_by_its_factors_too():
    """OpenCV filters a rank-1 kernel of 5×5 or more in two passes (column, then row): its column
    factor here is 6·ones(5), its row [1, 1.5, 1.5, 1.5, 1.5], so the passes' bound is
    30 · (2 + 3·4) · 65535 ≥ 2^24 although the 2-D one, 210 · 65535, is below."""
    kernel = np.outer(np.ones(5), [6.0, 9, 9, 9, 9])
    assert not exact_in_any_order(kernel, np.uint16)
    assert exact_in_any_order(kernel[:4, :4], np.uint16)  # under 5×5: one 2-D pass


def test_auto_engine_picks_numpy_only_when_exact_small_and_opencv_not_imported(monkeypatch):
    monkeypatch.setattr(engines, "opencv_imported", lambda: False)
    small = {"padded": 258 * 258, "outputs": 256 * 256}
    assert auto_engine(SOBEL_X, np.uint8, **small) == "numpy"
    assert auto_engine(SOBEL_X, np.float32, **small) == "opencv"
    assert auto_engine(np.full((3, 3), 1 / 9), np.uint8, **small) == "opencv"
    assert auto_engine(SOBEL_X, np.uint8, fill=0.5, **small) == "opencv"
    box = np.ones((64, 64))  # 4096 taps, a box sum: exact for uint8
    assert auto_engine(box, np.uint8, padded=0, outputs=NUMPY_MAX_TAP_PIXELS // box.size) == "numpy"
    assert auto_engine(box, np.uint8, padded=0, outputs=NUMPY_MAX_TAP_PIXELS // box.size + 1) == "opencv"
    # working arrays: the converted and padded images and a scratch result, float32 for uint8
    most = NUMPY_MAX_WORK_BYTES // 4 - 2 * 1000
    assert auto_engine(SOBEL_X, np.uint8, padded=1000, outputs=most) == "numpy"
    assert auto_engine(SOBEL_X, np.uint8, padded=1001, outputs=most) == "opencv"
    monkeypatch.setattr(engines, "opencv_imported", lambda: True)
    assert auto_engine(SOBEL_X, np.uint8, **small) == "opencv"


# --- the NumPy engine against OpenCV, bit for bit ------------------------------------------------------

QUALIFYING = {"sobel-x": SOBEL_X, "laplacian": LAPLACIAN, "binomial3": BINOMIAL3, "binomial5": BINOMIAL5,
              "box-sum4x3": np.ones((4, 3)), "integers": RNG.integers(-3, 4, (4, 5)).astype(float),
              "eighths": RNG.integers(-8, 9, (3, 5)) / 8.0, "negative": -np.ones((3, 3))}
GEOMETRIES = [{}, {"mode": "valid"}, {"mode": "full"}, {"stride": 2}, {"stride": (3, 2)}, {"dilation": 2},
              {"dilation": (2, 3)}, {"stride": 2, "dilation": 2}, {"padding": (0, 1, 2, 0)}, {"padding": 3},
              {"correlate": True}]
BOUNDARIES = ["zero", "constant", "reflect", "symmetric", "edge", "wrap"]


def random_integer_image(dtype, rng):
    shape = (int(rng.integers(7, 24)), int(rng.integers(7, 24)))
    shape += () if rng.random() < 0.5 else (int(rng.integers(1, 5)),)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    info = np.iinfo(dtype)
    image = rng.integers(info.min, int(info.max) + 1, shape, dtype=dtype)
    image[rng.random(shape) < 0.3] = 0  # zeros, so that signed zeros would show
    image[rng.random(shape) < 0.1] = info.max
    image[rng.random(shape) < 0.1] = info.min
    return image


@pytest.mark.parametrize("name", list(QUALIFYING))
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int8", "bool", "int32"])
def test_numpy_engine_gives_opencvs_bits(monkeypatch, name, dtype):
    kernel = QUALIFYING[name]
    rng = np.random.default_rng(abs(hash((name, dtype))) % 2**32)
    chosen = []
    original = engines.auto_engine

    def spy(*args, **kwargs):
        chosen.append(original(*args, **kwargs))
        return chosen[-1]

    monkeypatch.setattr("convcli.ops.filter.auto_engine", spy)
    monkeypatch.setattr(engines, "opencv_imported", lambda: False)
    for geometry, boundary in itertools.product(GEOMETRIES, BOUNDARIES):
        image = random_integer_image(dtype, rng)
        cval = float(rng.integers(-300, 300)) if boundary == "constant" else 0.0
        settings = dict(geometry, boundary=boundary, cval=cval)
        by_numpy = filter2d(image, kernel, engine="auto", **settings)
        assert chosen[-1] == "numpy", settings
        by_opencv = filter2d(image, kernel, engine="opencv", **settings)
        assert by_numpy.dtype == by_opencv.dtype and by_numpy.shape == by_opencv.shape
        assert by_numpy.tobytes() == by_opencv.tobytes(), settings  # the same bits, signed zeros included


@pytest.mark.parametrize("side", [7, 8, 9])
def test_a_large_non_separable_kernel_stays_with_opencv_whose_fft_is_not_exact(monkeypatch, side):
    # From 50 taps OpenCV may filter a non-separable kernel by FFT (measured: an 8×8 integer disk on
    # uint8 differs from the exact sums by 0.0015): auto must then not give the image to NumPy.
    rng = np.random.default_rng(side)
    kernel = rng.integers(-2, 3, (side, side)).astype(float)
    assert engines._separable(kernel) is None
    assert exact_in_any_order(kernel, np.uint8) is (side * side < 50)
    monkeypatch.setattr(engines, "opencv_imported", lambda: False)
    image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    assert filter2d(image, kernel, engine="auto").tobytes() == filter2d(image, kernel, engine="opencv").tobytes()


def test_numpy_engine_matches_a_slow_loop(monkeypatch):
    """Independent of both engines: Σ k[a, b] · xp[i·sy + a·dy, j·sx + b·dx] over numpy.pad's padding."""
    monkeypatch.setattr(engines, "opencv_imported", lambda: False)
    image = RNG.integers(0, 256, (9, 11), dtype=np.uint8)
    kernel = np.array([[1.0, -2, 0.5], [0, 3, -1]])
    got = filter2d(image, kernel, padding=(1, 2, 0, 3), stride=(2, 1), dilation=(1, 2), boundary="reflect",
                   correlate=True)
    xp = np.pad(image.astype(np.float64), ((1, 2), (0, 3)), mode="reflect")
    rows, cols = (xp.shape[0] - 2) // 2 + 1, xp.shape[1] - 4
    expected = np.zeros((rows, cols))
    for i, j, a, b in itertools.product(range(rows), range(cols), range(2), range(3)):
        expected[i, j] += kernel[a, b] * xp[i * 2 + a, j + b * 2]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_banded_runs_give_the_whole_images_bytes_whichever_engine_a_band_gets(monkeypatch):
    """A band is computed on the engine resolved for the whole image (OpenCV), the whole image on NumPy:
    the exact sums make them the same bytes."""
    from convcli.bands import run_banded
    from convcli.pipeline import parse_pipeline, run

    monkeypatch.setattr(engines, "opencv_imported", lambda: False)
    image = RNG.integers(0, 65536, (40, 23), dtype=np.uint16)
    text = "steps: [{filter: {kernel: gaussian5, boundary: reflect}}, {filter: {kernel: sobel-x, stride: 2}}]"
    steps = parse_pipeline(text, path="p.yaml")
    whole = run(steps, image)[0]
    bands = list(run_banded(steps, lambda r0, r1: image[r0:r1], image.shape, band_rows=3))
    assert np.concatenate([band for _, band in bands]).tobytes() == whole.tobytes()


def test_a_fresh_process_reads_and_filters_a_small_png_without_opencv_and_gets_its_bits(tmp_path):
    """In a process that has not imported OpenCV, a small 8-bit PNG is decoded by Pillow and
    Sobel-filtered by NumPy; the result is OpenCV's decoding and filtering, bit for bit."""
    import subprocess
    import sys

    from PIL import Image

    from helpers import opencv_decode

    pixels = RNG.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.png")
    script = (
        "import sys, numpy as np\n"
        "from convcli.images import read_image\n"
        "from convcli.ops.filter import filter2d\n"
        "image, _ = read_image(sys.argv[1])\n"
        "np.save(sys.argv[2], filter2d(image, 'sobel-x', boundary='reflect'))\n"
        "print(sorted(name for name in ('cv2', 'PIL', 'scipy') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "in.png"), str(tmp_path / "out.npy")],
                          capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "['PIL']"
    by_opencv = filter2d(opencv_decode((tmp_path / "in.png").read_bytes()), SOBEL_X, boundary="reflect",
                         engine="opencv")
    assert np.load(tmp_path / "out.npy").tobytes() == by_opencv.tobytes()
