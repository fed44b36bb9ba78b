"""Tests for convcli.kernels: the Kernel type, the built-in library, every spec form and every refusal."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, signal

from convcli import kernels as kernels_module
from convcli.errors import KernelError, UnknownKernelError
from convcli.kernels import (
    Kernel,
    builtin_kernel_dir,
    kernel_search_path,
    search_path_problems,
    list_kernels,
    survey_kernels,
    load_kernel,
    parse_kernel_yaml,
)

BUILTINS = {
    "identity", "box3", "box5", "gaussian3", "gaussian5", "sharpen", "emboss", "laplacian4", "laplacian8",
    "sobel-x", "sobel-y", "scharr-x", "scharr-y", "prewitt-x", "prewitt-y", "mean2", "edge2",
}

# Independent test images: a left-to-right rise, a top-to-bottom rise, a tilted plane, a random image.
ROWS, COLS = np.mgrid[0:9, 0:10].astype(float)
RAMP_X = 3.0 * COLS          # rises to the right
RAMP_Y = 2.0 * ROWS          # rises downwards
PLANE = 2.0 * ROWS - 5.0 * COLS + 7.0
RANDOM = np.random.default_rng(0).normal(size=(12, 11))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(spec, *, kind=KernelError, **kwargs) -> KernelError:
    with pytest.raises(kind) as info:
        load_kernel(spec, **kwargs)
    assert "\n" not in str(info.value)
    return info.value


def refused_yaml(tmp_path: Path, text: str, name: str = "k.yaml") -> KernelError:
    path = write(tmp_path, name, text)
    error = refused(path)
    assert error.path == str(path)
    return error


# --------------------------------------------------------------------------------------------------
# The built-in library


REPO_KERNELS = Path(__file__).resolve().parents[1] / "kernels"


def test_builtin_dir_is_the_packaged_or_the_checkout_folder():
    folder = builtin_kernel_dir()
    assert folder.is_dir()
    package = Path(kernels_module.__file__).resolve().parents[1]  # src/convcli, or convcli in a wheel
    if (package / "_kernels").is_dir():  # an installed wheel
        assert folder == package / "_kernels"
    else:  # a source checkout or an editable install
        assert folder == package.parents[1] / "kernels"
    # Either way it holds exactly the repository's library, byte for byte.
    files = {p.name: p.read_bytes() for p in folder.glob("*.yaml")}
    assert files == {p.name: p.read_bytes() for p in REPO_KERNELS.glob("*.yaml")}


def test_builtin_library_holds_exactly_the_documented_kernels():
    assert {p.stem for p in builtin_kernel_dir().glob("*.yaml")} == BUILTINS
    assert [k.name for k in list_kernels()] == sorted(BUILTINS)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_is_described_and_named_after_its_file(name):
    kernel = load_kernel(name)
    assert kernel.name == name
    assert kernel.source == "built-in"
    assert kernel.description.strip() and "\n" not in kernel.description
    assert kernel.tags and all(isinstance(t, str) for t in kernel.tags)
    text = (builtin_kernel_dir() / f"{name}.yaml").read_text(encoding="utf-8")
    assert f"name: {name}\n" in text


def test_identity_leaves_an_image_unchanged():
    k = load_kernel("identity").matrix
    assert k.shape == (3, 3)
    np.testing.assert_array_equal(signal.convolve2d(RANDOM, k, mode="same"), RANDOM)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("box3", np.ones((3, 3)) / 9),
        ("box5", np.ones((5, 5)) / 25),
        ("gaussian3", np.outer([1, 2, 1], [1, 2, 1]) / 16),
        ("gaussian5", np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256),
        ("mean2", np.full((2, 2), 0.25)),
    ],
)
def test_smoothing_kernels_sum_to_one_and_match_their_definition(name, expected):
    kernel = load_kernel(name)
    np.testing.assert_allclose(kernel.matrix, expected, rtol=0, atol=1e-15)
    assert kernel.total == pytest.approx(1.0, abs=1e-12)
    assert (kernel.matrix > 0).all()
    # A smoothing kernel keeps a flat image flat.
    flat = np.full((6, 6), 5.0)
    np.testing.assert_allclose(signal.convolve2d(flat, kernel.matrix, mode="valid"), 5.0)


def test_gaussian_kernels_are_separable():
    assert load_kernel("gaussian3").separable and load_kernel("gaussian5").separable


@pytest.mark.parametrize("name", ["sharpen", "emboss"])
def test_sharpen_and_emboss_sum_to_one(name):
    assert load_kernel(name).total == pytest.approx(1.0)


def test_sharpen_and_emboss_matrices():
    np.testing.assert_array_equal(load_kernel("sharpen").matrix, [[0, -1, 0], [-1, 5, -1], [0, -1, 0]])
    np.testing.assert_array_equal(load_kernel("emboss").matrix, [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]])


def test_sharpen_is_the_pixel_minus_the_laplacian():
    sharpened = signal.convolve2d(RANDOM, load_kernel("sharpen").matrix, mode="valid")
    laplace = signal.convolve2d(RANDOM, load_kernel("laplacian4").matrix, mode="valid")
    np.testing.assert_allclose(sharpened, RANDOM[1:-1, 1:-1] - laplace)


@pytest.mark.parametrize("name", ["laplacian4", "laplacian8"])
def test_laplacians_sum_to_zero_and_vanish_on_a_linear_ramp(name):
    kernel = load_kernel(name)
    assert kernel.total == 0.0
    assert kernel.matrix[1, 1] < 0
    np.testing.assert_allclose(signal.convolve2d(PLANE, kernel.matrix, mode="valid"), 0.0, atol=1e-12)
    # ... and respond to curvature: x² has second derivative 2 along x.
    bowl = COLS**2
    assert (signal.convolve2d(bowl, kernel.matrix, mode="valid") > 0).all()


@pytest.mark.parametrize(("x", "y", "weights"), [
    ("sobel-x", "sobel-y", [1, 2, 1]),
    ("scharr-x", "scharr-y", [3, 10, 3]),
    ("prewitt-x", "prewitt-y", [1, 1, 1]),
])
def test_gradient_kernels_follow_the_documented_sign_convention(x, y, weights):
    kx, ky = load_kernel(x).matrix, load_kernel(y).matrix
    np.testing.assert_array_equal(kx, np.outer(weights, [1, 0, -1]))
    np.testing.assert_array_equal(ky, kx.T)
    for kernel in (kx, ky):
        assert kernel.sum() == 0
    # True convolution (scipy flips the kernel): a left-to-right rise gives a positive x-response ...
    gx = signal.convolve2d(RAMP_X, kx, mode="valid")
    assert (gx > 0).all()
    np.testing.assert_allclose(gx, 3.0 * 2 * sum(weights))  # slope 3, central difference over 2 pixels
    np.testing.assert_allclose(signal.convolve2d(RAMP_X, ky, mode="valid"), 0.0)
    # ... and a top-to-bottom rise a positive y-response.
    gy = signal.convolve2d(RAMP_Y, ky, mode="valid")
    assert (gy > 0).all()
    np.testing.assert_allclose(signal.convolve2d(RAMP_Y, kx, mode="valid"), 0.0)
    # Both see a vertical / horizontal step edge.
    step = (COLS >= 5).astype(float)
    assert signal.convolve2d(step, kx, mode="valid").max() > 0
    np.testing.assert_allclose(signal.convolve2d(step, ky, mode="valid"), 0.0)
    assert load_kernel(x).separable and load_kernel(y).separable


def test_edge2_with_correlation_sees_vertical_edges_only():
    k = load_kernel("edge2").matrix
    np.testing.assert_array_equal(k, [[-1, 1], [-1, 1]])
    vertical_edge = (COLS >= 5).astype(float)      # dark left, bright right
    horizontal_edge = (ROWS >= 4).astype(float)    # dark top, bright bottom
    response = signal.correlate2d(vertical_edge, k, mode="valid")
    assert response.max() == 2.0 and response.min() == 0.0
    assert (response[:, 4] == 2.0).all()           # windows straddling the edge
    np.testing.assert_array_equal(signal.correlate2d(horizontal_edge, k, mode="valid"), 0.0)
    # Under true convolution the sign flips.
    assert signal.convolve2d(vertical_edge, k, mode="valid").min() == -2.0


def test_mean2_is_the_keras_lecture_average():
    image = np.arange(16.0).reshape(4, 4)
    out = signal.correlate2d(image, load_kernel("mean2").matrix, mode="valid")
    np.testing.assert_allclose(out, (image[:-1, :-1] + image[1:, :-1] + image[:-1, 1:] + image[1:, 1:]) / 4)


# --------------------------------------------------------------------------------------------------
# The Kernel type


def test_kernel_matrix_is_a_read_only_float64_copy():
    source = np.array([[1, 2], [3, 4]], dtype=np.int32)
    kernel = Kernel("k", source)
    assert kernel.matrix.dtype == np.float64
    assert not kernel.matrix.flags.writeable
    source[0, 0] = 99
    assert kernel.matrix[0, 0] == 1.0
    with pytest.raises(ValueError):
        kernel.matrix[0, 0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        kernel.name = "other"  # type: ignore[misc]


def test_kernel_properties():
    kernel = Kernel("k", [[1, 2, 3], [4, 5, 6]], description="d", tags=["a", "b"], source="inline")
    assert kernel.shape == (2, 3)
    assert kernel.total == 21.0 and isinstance(kernel.total, float)
    assert kernel.tags == ("a", "b")
    assert not kernel.separable
    assert Kernel("k", np.outer([1, 2, 3], [4, 5])).separable
    assert Kernel("k", np.outer([1, 2, 3], [4, 5]) + np.eye(3, 2) * 1e-12).separable  # within 1e-10
    assert not Kernel("k", np.outer([1, 2, 3], [4, 5]) + np.eye(3, 2) * 1e-6).separable
    assert Kernel("k", [[1, 2, 3]]).separable
    assert Kernel("k", np.zeros((2, 2))).separable


def test_kernel_equality_and_hash():
    a = Kernel("k", [[1, 2]])
    b = Kernel("k", np.array([[1.0, 2.0]]))
    assert a == b and hash(a) == hash(b)
    assert a != Kernel("k", [[1, 3]])
    assert a != Kernel("j", [[1, 2]])
    assert len({a, b}) == 1


def test_normalized():
    kernel = Kernel("k", [[1, 3]], description="d")
    normalized = kernel.normalized()
    np.testing.assert_array_equal(normalized.matrix, [[0.25, 0.75]])
    assert normalized.name == "k" and normalized.description == "d"
    assert not normalized.matrix.flags.writeable
    np.testing.assert_array_equal(Kernel("k", [[-2, 4]]).normalized().matrix, [[-1, 2]])


def test_normalized_refuses_a_zero_sum():
    with pytest.raises(KernelError, match=r"kernel sobel-x sums to 0; --normalize needs a kernel with a non-zero sum"):
        load_kernel("sobel-x").normalized()


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("sobel-x", "sobel-x"),
        ("gaussian:sigma=1.5", "gaussian-sigma=1.5"),
        ("dog:sigma1=1,sigma2=2", "dog-sigma1=1-sigma2=2"),
        ("box:3x5", "box-3x5"),
        ("My Kernel!", "my-kernel"),
        ("../../etc/passwd", "etc-passwd"),
        (":::", "kernel"),
    ],
)
def test_slug(name, slug):
    assert Kernel(name, [[1.0]]).slug() == slug


def test_kernel_constructor_checks():
    with pytest.raises(KernelError, match=r"kernel 'k': .*row 2 has 1 values, row 1 has 2"):
        Kernel("k", [[1, 2], [3]])
    with pytest.raises(KernelError, match="not finite"):
        Kernel("k", np.array([[1.0, np.nan]]))
    with pytest.raises(KernelError, match="3 dimension"):
        Kernel("k", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="name must be a non-empty str"):
        Kernel("", [[1]])
    with pytest.raises(ValueError, match="tags must be a sequence of str"):
        Kernel("k", [[1]], tags="edge")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Inline and array specs


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("1 0 -1; 2 0 -2; 1 0 -1", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("1,0,-1;2,0,-2", [[1, 0, -1], [2, 0, -2]]),
        ("1, 0, -1\n2, 0, -2\n", [[1, 0, -1], [2, 0, -2]]),
        ("[[1,0,-1],[2,0,-2],[1,0,-1]]", [[1, 0, -1], [2, 0, -2], [1, 0, -1]]),
        ("[ [1, 2] , [3, 4] ]", [[1, 2], [3, 4]]),
        ("[1, 2, 3]", [[1, 2, 3]]),
        ("1 2 3", [[1, 2, 3]]),
        (".5 -1e-3 +2", [[0.5, -0.001, 2.0]]),
        ("  7  ", [[7]]),
        ("-1", [[-1]]),
    ],
)
def test_inline_forms(spec, expected):
    kernel = load_kernel(spec)
    assert kernel.name == "inline" and kernel.source == "inline"
    np.testing.assert_array_equal(kernel.matrix, expected)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("1 2 3; 4 5", "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("[[1, 2, 3], [4, 5]]", "row 2 has 2 values, row 1 has 3"),
        ("1 x 3", "value 'x' in row 1, column 2 is not a number"),
        ("[[1, a]]", "value 'a' in row 1, column 2 is not a number"),
        ("1 nan", "value nan in row 1, column 2 is not finite"),
        ("[[1, inf]]", "is not finite"),
        ("1 2 -.inf", "is not finite"),
        ("[]", "the matrix is empty"),
        ("[[]]", "row 1 is empty"),
        ("[[[1, 2]]]", "more than 2 dimensions"),
        ("[[1, 2]", "cannot read"),
        ("[[1, 2]]]", "cannot read"),
        ("[1 2]", "cannot read"),
        ("1,,2", "empty value"),
        ("1 2,", "empty value"),
        ("0 " * 1026, "1025 per side"),
    ],
)
def test_inline_refusals(spec, words):
    error = refused(spec)
    assert error.path is None
    assert words in str(error)
    assert str(error).startswith("inline kernel: ")


def test_array_specs():
    kernel = load_kernel([[1, 2], [3, 4]])
    assert kernel.name == "array" and kernel.source == "array"
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(load_kernel(np.eye(2, dtype=np.uint8)).matrix, np.eye(2))
    np.testing.assert_array_equal(load_kernel(((1.5,),)).matrix, [[1.5]])
    np.testing.assert_array_equal(load_kernel([np.array([1, 2]), np.array([3, 4])]).matrix, [[1, 2], [3, 4]])
    same = Kernel("mine", [[1]])
    assert load_kernel(same) is same


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ([1, 2, 3], "must be a list of rows"),
        ([[1, 2], [3]], "row 2 has 1 values, row 1 has 2"),
        ([[1, True]], "value true in row 1, column 2 is not a number"),
        ([[1, "2"]], "value '2' in row 1, column 2 is not a number"),
        ([[1, None]], "not a number"),
        ([[1, 10**400]], "not finite"),
        ([np.zeros((2, 2))], "more than 2 dimensions"),
        ([], "the matrix is empty"),
        (np.zeros((0, 3)), "zero-sized"),
        (np.zeros(3), "1 dimension"),
        (np.zeros((2, 2, 2)), "3 dimension"),
        (np.ones((2, 2), dtype=bool), "dtype bool"),
        (np.ones((2, 2), dtype=complex), "dtype complex128"),
        (np.array([[1.0, np.inf]]), "value inf in row 1, column 2 is not finite"),
        (np.zeros((1, 1026)), "1025 per side"),
        (np.zeros((1000, 1001)), "1000000 values"),
    ],
)
def test_array_refusals(spec, words):
    assert words in str(refused(spec))


def test_bad_spec_types():
    with pytest.raises(TypeError, match="spec must be"):
        load_kernel(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="search_path must be a sequence of folders"):
        load_kernel("sobel-x", search_path="kernels")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Parametric kernels


def gaussian_reference(sigma: float, size: int) -> np.ndarray:
    c = (size - 1) / 2
    i, j = np.mgrid[0:size, 0:size]
    g = np.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma**2))
    return g / g.sum()


@pytest.mark.parametrize(("sigma", "size"), [(0.5, 5), (1, 7), (1.5, 11), (2, 13), (0.1, 3), (0.34, 5)])
def test_gaussian_default_size_and_values(sigma, size):
    kernel = load_kernel(f"gaussian:sigma={sigma}")
    assert kernel.shape == (size, size)  # 2·⌈3σ⌉+1
    np.testing.assert_allclose(kernel.matrix, gaussian_reference(sigma, size), rtol=1e-12)
    assert kernel.total == pytest.approx(1.0, abs=1e-12)
    assert kernel.separable
    assert kernel.source == "parametric"


def test_gaussian_names_and_explicit_size():
    assert load_kernel("gaussian:sigma=1.5").name == "gaussian:sigma=1.5"
    assert load_kernel("gaussian:sigma=2.0").name == "gaussian:sigma=2"
    assert load_kernel("gaussian: sigma = 1.5 , size = 7").name == "gaussian:sigma=1.5,size=7"
    assert load_kernel("gaussian:size=7,sigma=1.5").name == "gaussian:sigma=1.5,size=7"
    even = load_kernel("gaussian:sigma=1,size=4")
    assert even.shape == (4, 4)
    np.testing.assert_allclose(even.matrix, gaussian_reference(1, 4), rtol=1e-12)
    np.testing.assert_allclose(even.matrix, even.matrix[::-1, ::-1])  # centred at 1.5
    np.testing.assert_array_equal(load_kernel("gaussian:sigma=1,size=1").matrix, [[1.0]])


def test_gaussian_with_a_tiny_sigma_is_an_impulse():
    kernel = load_kernel("gaussian:sigma=1e-300")
    np.testing.assert_array_equal(kernel.matrix, [[0, 0, 0], [0, 1, 0], [0, 0, 0]])


def test_box():
    np.testing.assert_array_equal(load_kernel("box:3x5").matrix, np.ones((3, 5)) / 15)
    assert load_kernel("box:3x5").name == "box:3x5"
    np.testing.assert_array_equal(load_kernel("box:5").matrix, np.ones((5, 5)) / 25)
    assert load_kernel("box:5x5").name == "box:5"
    assert load_kernel("box:1").matrix.tolist() == [[1.0]]


def test_disk():
    mask = np.array(
        [
            [0, 0, 1, 0, 0],
            [0, 1, 1, 1, 0],
            [1, 1, 1, 1, 1],
            [0, 1, 1, 1, 0],
            [0, 0, 1, 0, 0],
        ],
        dtype=float,
    )
    kernel = load_kernel("disk:radius=2")
    assert kernel.name == "disk:radius=2"
    np.testing.assert_array_equal(kernel.matrix, mask / 13)
    np.testing.assert_array_equal(load_kernel("disk:radius=1").matrix, [[0, 0.2, 0], [0.2, 0.2, 0.2], [0, 0.2, 0]])
    np.testing.assert_array_equal(load_kernel("disk:radius=1.5").matrix, np.ones((3, 3)) / 9)  # 1+1 <= 2.25
    np.testing.assert_array_equal(load_kernel("disk:radius=0").matrix, [[1.0]])
    assert load_kernel("disk:radius=3.7").shape == (7, 7)


def test_log_formula_sum_and_sign():
    sigma, size = 1.4, 11
    kernel = load_kernel("log:sigma=1.4")
    assert kernel.shape == (size, size) and kernel.name == "log:sigma=1.4"
    r2 = (np.arange(size) - 5.0)[:, None] ** 2 + (np.arange(size) - 5.0)[None, :] ** 2
    raw = (r2 - 2 * sigma**2) / sigma**4 * np.exp(-r2 / (2 * sigma**2))
    np.testing.assert_allclose(kernel.matrix, raw - raw.mean(), atol=1e-14)
    assert abs(kernel.total) < 1e-12
    assert kernel.matrix[5, 5] < 0 and kernel.matrix[5, 5] == kernel.matrix.min()
    # Same shape and sign as SciPy's gaussian_laplace of an impulse.
    impulse = np.zeros((size, size))
    impulse[5, 5] = 1.0
    reference = ndimage.gaussian_laplace(impulse, sigma, mode="constant")
    assert np.corrcoef(kernel.matrix.ravel(), reference.ravel())[0, 1] > 0.999
    assert np.sign(reference[5, 5]) == np.sign(kernel.matrix[5, 5])
    assert load_kernel("log:sigma=1,size=5").shape == (5, 5)


def test_dog_formula_and_sum():
    kernel = load_kernel("dog:sigma1=1,sigma2=2")
    assert kernel.name == "dog:sigma1=1,sigma2=2"
    assert kernel.shape == (13, 13)  # from max(sigma1, sigma2) = 2
    difference = gaussian_reference(1, 13) - gaussian_reference(2, 13)
    np.testing.assert_allclose(kernel.matrix, difference - difference.mean(), atol=1e-15)
    assert abs(kernel.total) < 1e-12
    assert kernel.matrix[6, 6] > 0
    assert load_kernel("dog:sigma1=2,sigma2=1,size=9").shape == (9, 9)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("gaussian:sigma=0", "sigma must be a number > 0, got '0'"),
        ("gaussian:sigma=-1", "sigma must be a number > 0"),
        ("gaussian:sigma=abc", "sigma must be a number > 0, got 'abc'"),
        ("gaussian:sigma=nan", "sigma must be a number > 0"),
        ("gaussian:sigma=inf", "sigma must be a number > 0"),
        ("gaussian:size=5", "missing parameter 'sigma'"),
        ("gaussian:sigma=1,width=5", "unknown parameter 'width'; allowed: sigma, size"),
        ("gaussian:sigma=1,sigma=2", "given twice"),
        ("gaussian:sigma", "needs a value"),
        ("gaussian:sigma=1,", "empty parameter"),
        ("gaussian:", "parameters are missing"),
        ("gaussian:sigma=1,size=0", "size must be a whole number >= 1, got '0'"),
        ("gaussian:sigma=1,size=1.5", "size must be a whole number"),
        ("gaussian:sigma=1,size=2000", "size=2000 is too large; the largest side is 1025"),
        ("gaussian:sigma=200", "gives a 1201x1201 kernel; the largest side is 1025"),
        ("gaussian:sigma=170", "1000000 values"),
        ("log:sigma=0", "sigma must be a number > 0"),
        ("log:sigma=1e-200", "overflow"),
        ("dog:sigma1=1", "missing parameter 'sigma2'"),
        ("dog:sigma1=1,sigma2=1", "sigma1 and sigma2 must differ"),
        ("dog:sigma1=0,sigma2=1", "sigma1 must be a number > 0"),
        ("disk:radius=-1", "radius must be a number >= 0"),
        ("disk:r=1", "unknown parameter 'r'; allowed: radius"),
        ("disk:radius=600", "the largest side is 1025"),
        ("box:0", "at least 1"),
        ("box:abc", "give the size as N or ROWSxCOLS"),
        ("box:3x", "give the size as N or ROWSxCOLS"),
        ("box:2000", "1025 per side"),
        ("box:1000x1001", "1000000 values"),
        ("blur:3", "unknown parametric kernel 'blur'"),
    ],
)
def test_parametric_refusals(spec, words):
    error = refused(spec)
    assert type(error) is KernelError
    assert words in str(error)


# --------------------------------------------------------------------------------------------------
# Kernel YAML files


def test_yaml_file_kernel(tmp_path):
    path = write(
        tmp_path,
        "mine.yaml",
        "name: mine\ndescription: my kernel\nmatrix:\n  - [1, 2]\n  - [3, 4e-1]\ntags: [a, b]\n",
    )
    kernel = load_kernel(str(path))
    assert kernel.name == "mine" and kernel.description == "my kernel" and kernel.tags == ("a", "b")
    assert kernel.source == str(path)
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 0.4]])
    assert load_kernel(path) == kernel  # os.PathLike works too


def test_yaml_name_defaults_to_stem_and_yml_works(tmp_path):
    path = write(tmp_path, "other.yml", "matrix: [[1]]\n")
    assert load_kernel(str(path)).name == "other"


def test_yaml_scale_and_normalize(tmp_path):
    scaled = write(tmp_path, "s.yaml", "matrix: [[1, 2]]\nscale: 0.5\n")
    np.testing.assert_array_equal(load_kernel(scaled).matrix, [[0.5, 1.0]])
    normalized = write(tmp_path, "n.yaml", "matrix: [[1, 3]]\nnormalize: true\n")
    np.testing.assert_array_equal(load_kernel(normalized).matrix, [[0.25, 0.75]])
    both = write(tmp_path, "b.yaml", "matrix: [[1, 3]]\nnormalize: true\nscale: 2\n")
    np.testing.assert_array_equal(load_kernel(both).matrix, [[0.5, 1.5]])  # normalized first, then scaled
    off = write(tmp_path, "o.yaml", "matrix: [[1, 3]]\nnormalize: false\n")
    np.testing.assert_array_equal(load_kernel(off).matrix, [[1, 3]])


def test_parse_kernel_yaml_directly():
    kernel = parse_kernel_yaml("matrix: [[2, 2]]\nnormalize: true\n", path="/x/half.yaml")
    assert kernel.name == "half" and kernel.source == "/x/half.yaml"
    np.testing.assert_array_equal(kernel.matrix, [[0.5, 0.5]])
    assert parse_kernel_yaml("name: anything\nmatrix: [[1]]\n", path="<pipeline>").name == "anything"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("matrix:\n  - [1, 2, 3]\n  - [4, 5]\n", 3,
         "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("matrix: []\n", 1, "the matrix is empty"),
        ("matrix: [[]]\n", 1, "row 1 is empty"),
        ("name: k\nmatrix:\n", 2, "the matrix must be a list of rows"),
        ("matrix: 5\n", 1, "the matrix must be a list of rows"),
        ("matrix: [1, 2, 3]\n", 1, "write a single row as [[a, b, c]]"),
        ("matrix:\n  - [1, 2]\n  - 3\n", 3, "row 2 is 3, not a list of values"),
        ("matrix:\n  - [1, 2]\n  - [3, a]\n", 3, "value 'a' in row 2, column 2 is not a number"),
        ("matrix:\n  - [1, \"2\"]\n", 2, "value '2' in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, true]\n", 2, "value true in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, ~]\n", 2, "value empty (null) in row 1, column 2 is not a number"),
        ("matrix:\n  - [1, {a: 1}]\n", 2, "is not a number"),
        ("matrix:\n  - [1, 2]\n  -\n    - 3\n    - .nan\n", 5, "value nan in row 2, column 2 is not finite"),
        ("matrix:\n  - [1, .inf]\n", 2, "value inf in row 1, column 2 is not finite"),
        ("matrix:\n  - [[1], [2]]\n", 2, "more than 2 dimensions"),
        ("matrix: [[1]]\ncolour: red\n", 2,
         "unknown key 'colour'; allowed keys: description, matrix, name, normalize, scale, tags"),
        ("name: k\ndescription: x\n", 1, "missing key 'matrix'"),
        ("name: other\nmatrix: [[1]]\n", 1, "name 'other' does not match the file name 'k.yaml'"),
        ("name: 5\nmatrix: [[1]]\n", 1, "name must be text"),
        ("matrix: [[1]]\ndescription: [a]\n", 2, "description must be text"),
        ("matrix: [[1]]\ntags: edge\n", 2, "tags must be a list of words"),
        ("matrix: [[1]]\ntags: [edge, 3]\n", 2, "tags must be a list of words"),
        ("matrix: [[1]]\nnormalize: yes\n", 2, "normalize must be true or false, got 'yes'"),
        ("matrix: [[1]]\nscale: big\n", 2, "scale must be a finite number"),
        ("matrix: [[1]]\nscale: true\n", 2, "scale must be a finite number"),
        ("matrix: [[1]]\nscale: .inf\n", 2, "scale must be a finite number"),
        ("matrix: [[1e308]]\nscale: 10\n", 2, "scale makes some weights overflow"),
        ("matrix: [[1, -1]]\nnormalize: true\n", 2, "kernel k sums to 0; normalize: true needs a kernel with a non-zero sum"),
        ("- [1, 2]\n", 1, "a kernel file must be a YAML mapping"),
        ("matrix: [[1, 2]\n", 2, "invalid YAML"),
        ("matrix: [[1]]\nmatrix: [[2]]\n", 2, "duplicate key 'matrix'"),
        ("matrix: !!python/object/apply:os.system [ls]\n", 1, "tag !!python/object/apply:os.system is not allowed"),
        ("base: &b [[1]]\nmatrix: *b\n", 1, "anchor &b is not allowed"),
        ("matrix:\n  - [" + ", ".join(["0"] * 1026) + "]\n", 2, "1025 per side"),
    ],
)
def test_yaml_refusals_name_the_file_and_line(tmp_path, text, line, words):
    error = refused_yaml(tmp_path, text)
    assert type(error) is KernelError
    assert error.line == line
    assert words in str(error)
    assert str(error).startswith(f"{tmp_path / 'k.yaml'}:{line}: ")


def test_yaml_file_too_large(tmp_path):
    error = refused_yaml(tmp_path, "matrix: [[1]]\n" + "#" * (70 * 1024) + "\n")
    assert "larger than 64 KiB" in str(error)


def test_yaml_file_not_utf8(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_bytes(b"matrix: [[1]]\ndescription: caf\xe9\n")
    error = refused(path)
    assert "not UTF-8" in str(error) and error.line == 2


def test_missing_and_odd_files(tmp_path):
    error = refused("nothere.yaml")
    assert error.path == "nothere.yaml" and "no such kernel file" in str(error) and "nothere" in str(error)
    assert "no such kernel file" in str(refused(str(tmp_path / "sobel-x.npy")))
    (tmp_path / "dir.yaml").mkdir()
    assert "not a file" in str(refused(str(tmp_path / "dir.yaml")))
    other = write(tmp_path, "k.dat", "1 2\n")
    assert "unsupported kernel file extension '.dat'" in str(refused(other))


# --------------------------------------------------------------------------------------------------
# Text and .npy files


def test_txt_and_csv_files(tmp_path):
    txt = write(tmp_path, "edge.txt", "# a comment\n\n1 0 -1   # trailing comment\n2 0 -2\n1 0 -1\n")
    kernel = load_kernel(str(txt))
    assert kernel.name == "edge" and kernel.source == str(txt)
    np.testing.assert_array_equal(kernel.matrix, [[1, 0, -1], [2, 0, -2], [1, 0, -1]])
    csv = write(tmp_path, "k.csv", "0.25, 0.25\n0.25,0.25\n")
    np.testing.assert_array_equal(load_kernel(str(csv)).matrix, np.full((2, 2), 0.25))
    mixed = write(tmp_path, "m.txt", "1e-3 , .5\t+2\n")
    np.testing.assert_array_equal(load_kernel(str(mixed)).matrix, [[0.001, 0.5, 2.0]])


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("# header\n1 2 3\n\n4 5\n", 4, "row 2 has 2 values, row 1 has 3; every row needs the same number of values"),
        ("1 2\n3 four\n", 2, "value 'four' in row 2, column 2 is not a number"),
        ("1 2\n3 NaN\n", 2, "value nan in row 2, column 2 is not finite"),
        ("1 2\n-inf 3\n", 2, "not finite"),
        ("1 1e999\n", 1, "not finite"),
        ("1,,2\n", 1, "empty value"),
        ("# nothing\n\n", None, "kernel file has no values"),
    ],
)
def test_txt_refusals(tmp_path, text, line, words):
    path = write(tmp_path, "k.txt", text)
    error = refused(path)
    assert error.path == str(path) and error.line == line
    assert words in str(error)


def test_npy_files(tmp_path):
    path = tmp_path / "k.npy"
    np.save(path, np.array([[1, 2], [3, 4]], dtype=np.int16))
    kernel = load_kernel(str(path))
    assert kernel.name == "k" and kernel.source == str(path) and kernel.matrix.dtype == np.float64
    np.testing.assert_array_equal(kernel.matrix, [[1, 2], [3, 4]])
    np.save(path, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(load_kernel(path).matrix, np.arange(6.0).reshape(2, 3))


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros(3), "1 dimension(s)"),
        (np.zeros((2, 2, 2)), "3 dimension(s)"),
        (np.ones((2, 2), dtype=bool), "dtype bool"),
        (np.ones((2, 2), dtype=complex), "dtype complex128"),
        (np.array([["a", "b"]]), "dtype <U1"),
        (np.array([[1, None]], dtype=object), "dtype object"),
        (np.zeros((0, 2)), "zero-sized"),
        (np.array([[1.0, np.nan]]), "value nan in row 1, column 2 is not finite"),
        (np.zeros((1, 1026)), "1025 per side"),
    ],
)
def test_npy_refusals(tmp_path, array, words):
    path = tmp_path / "k.npy"
    np.save(path, array, allow_pickle=True)
    error = refused(path)
    assert error.path == str(path) and words in str(error)


def test_npy_size_is_checked_from_the_header(tmp_path):
    # A header announcing a huge array, with no data behind it: refused before any loading.
    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle, {"descr": "<f8", "fortran_order": False, "shape": (100_000, 100_000)}
        )
    assert "1025 per side" in str(refused(path))


def test_corrupt_npy(tmp_path):
    path = tmp_path / "bad.npy"
    path.write_bytes(b"not an npy file at all")
    assert "not a valid .npy file" in str(refused(path))
    truncated = tmp_path / "short.npy"
    np.save(truncated, np.ones((4, 4)))
    truncated.write_bytes(truncated.read_bytes()[:-8])
    assert "not a valid .npy file" in str(refused(truncated))


# --------------------------------------------------------------------------------------------------
# Names and the search path


@pytest.fixture
def folders(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for folder in (a, b, c):
        folder.mkdir()
    write(a, "sobel-x.yaml", "name: sobel-x\ndescription: mine\nmatrix: [[9]]\n")
    write(a, "both.yaml", "matrix: [[1]]\n")
    write(b, "both.yaml", "matrix: [[2]]\n")
    write(b, "only-b.yaml", "matrix: [[3]]\n")
    return a, b, c


def test_kernel_search_path_order(folders):
    a, b, c = folders
    env = os.pathsep.join(["", str(b), "", str(c)])
    path = kernel_search_path(kernel_dirs=[a], env_path=env)
    assert path == [a, b, c, builtin_kernel_dir()]
    assert kernel_search_path() == [builtin_kernel_dir()]
    assert kernel_search_path(kernel_dirs=[str(a), a]) == [a, builtin_kernel_dir()]  # duplicates removed
    # Folders from the environment that do not exist are kept, and skipped when searching, as with PATH.
    assert kernel_search_path(env_path=str(c / "missing")) == [c / "missing", builtin_kernel_dir()]


def test_search_path_problems_name_each_entry_that_is_no_folder(folders, tmp_path):
    a, b, _ = folders
    (tmp_path / "k.yaml").write_text("matrix: [[1]]\n")
    missing = tmp_path / "missing"
    env = os.pathsep.join(["", str(a), str(missing), "", str(tmp_path / "k.yaml"), str(b), str(missing), ""])
    assert search_path_problems(env) == [
        f"{str(missing)!r} does not exist; ignored",  # once, though given twice
        f"{str(tmp_path / 'k.yaml')!r} is not a folder (a file); ignored",
    ]
    assert search_path_problems(os.pathsep.join([str(a), "", str(b)])) == []  # empty entries are fine
    assert search_path_problems(None) == search_path_problems("") == []
    assert "(~ is not expanded here" in search_path_problems("~/no-such-kernel-folder")[0]
    # The search skips those entries: a file where a folder belongs hides nothing and breaks nothing.
    path = kernel_search_path(env_path=env)
    assert load_kernel("only-b", search_path=path).matrix.tolist() == [[3.0]]
    with pytest.raises(TypeError, match="env_path must be a str"):
        search_path_problems([str(a)])  # type: ignore[arg-type]


def test_kernel_search_path_checks(folders, tmp_path):
    with pytest.raises(KernelError, match="kernel folder .*missing.* does not exist"):
        kernel_search_path(kernel_dirs=[tmp_path / "missing"])
    with pytest.raises(TypeError, match="kernel_dirs must be a sequence of folders"):
        kernel_search_path(kernel_dirs=str(tmp_path))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="env_path must be a str"):
        kernel_search_path(env_path=[str(tmp_path)])  # type: ignore[arg-type]


def test_names_resolve_along_the_path(folders):
    a, b, c = folders
    path = kernel_search_path(kernel_dirs=[a], env_path=str(b))
    shadow = load_kernel("sobel-x", search_path=path)
    assert shadow.description == "mine" and shadow.source == str(a / "sobel-x.yaml")
    assert load_kernel("both", search_path=path).matrix.tolist() == [[1.0]]  # kernel_dirs before env_path
    assert load_kernel("only-b", search_path=path).matrix.tolist() == [[3.0]]
    assert load_kernel("sobel-y", search_path=path).source == "built-in"  # built-in searched last
    assert load_kernel("sobel-y", search_path=[a]).source == "built-in"  # ... even when not listed
    assert load_kernel("both", search_path=[b, a]).matrix.tolist() == [[2.0]]
    assert load_kernel("both", search_path=[c / "missing", b]).matrix.tolist() == [[2.0]]


def test_list_kernels_first_occurrence_wins(folders):
    a, b, c = folders
    write(c, "README.yaml", "not: a kernel\n")  # not a valid name: ignored
    write(c, ".hidden.yaml", "not: a kernel\n")
    kernels = list_kernels(search_path=[a, b, c])
    names = [k.name for k in kernels]
    assert names == sorted(BUILTINS | {"both", "only-b"})
    by_name = {k.name: k for k in kernels}
    assert by_name["sobel-x"].description == "mine"
    assert by_name["both"].matrix.tolist() == [[1.0]]
    assert by_name["sobel-y"].source == "built-in"


def test_list_kernels_reports_a_bad_file(folders):
    a, _, _ = folders
    write(a, "broken.yaml", "matrix: [[1, 2], [3]]\n")
    with pytest.raises(KernelError) as info:
        list_kernels(search_path=[a])
    assert info.value.path == str(a / "broken.yaml") and info.value.line == 1


def test_survey_kernels_lists_the_rest_and_reports_each_bad_file(folders):
    a, b, _ = folders
    write(a, "broken.yaml", "matrix: [[1, 2], [3]]\n")
    write(b, "broken.yaml", "matrix: [[7]]\n")  # shadowed by a's broken file, as -k broken would be
    write(a, "sobel-x.yaml", "matrix: [[1, 2], [3]]\n")  # shadows the built-in: neither is listed
    kernels, problems = survey_kernels(search_path=[a, b])
    names = [k.name for k in kernels]
    assert names == sorted((BUILTINS - {"sobel-x"}) | {"both", "only-b"})
    assert [(p.path, p.line) for p in problems] == [(str(a / "broken.yaml"), 1), (str(a / "sobel-x.yaml"), 1)]
    assert all(str(p).endswith("; not listed") for p in problems)


def test_unknown_name():
    error = refused("no-such-kernel", kind=UnknownKernelError)
    assert str(error).startswith(
        "unknown kernel 'no-such-kernel'; try `convcli kernels list`, a file path, an inline matrix like "
        "'1 0 -1; 2 0 -2; 1 0 -1', or gaussian:sigma=1.5"
    )
    assert "did you mean 'sobel-x' or 'sobel-y'?" in str(refused("sobelx", kind=UnknownKernelError))
    assert "gaussian needs parameters, e.g. gaussian:sigma=1.5" in str(refused("gaussian", kind=UnknownKernelError))


def test_user_names_are_suggested_too(folders):
    a, _, _ = folders
    assert "did you mean 'only-b'" in str(refused("only-c", kind=UnknownKernelError, search_path=[folders[1]]))
    assert "did you mean 'both'" in str(refused("bothh", kind=UnknownKernelError, search_path=[a]))


@pytest.mark.parametrize("spec", ["../x", "../../etc/passwd", "/etc/passwd", "a/b", "..\\x", "kernels/sobel-x"])
def test_names_cannot_reach_outside_a_folder(folders, spec):
    a, _, _ = folders
    error = refused(spec, search_path=[a])
    assert type(error) is KernelError
    assert "cannot contain '/'" in str(error)


def test_dot_names_are_never_looked_up(folders):
    a, _, _ = folders
    write(a, ".hidden.yaml", "matrix: [[1]]\n")
    write(a, "a..b.yaml", "matrix: [[1]]\n")
    assert "not a number" in str(refused(".hidden", search_path=[a]))  # read as an inline matrix, refused
    assert type(refused("a..b", search_path=[a])) is KernelError


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlink_leaving_its_folder_is_refused(folders, tmp_path):
    a, b, _ = folders
    outside = write(tmp_path, "secret.yaml", "matrix: [[1]]\n")
    (a / "evil.yaml").symlink_to(outside)
    error = refused("evil", search_path=[a])
    assert "outside its folder" in str(error) and error.path == str(a / "evil.yaml")
    with pytest.raises(KernelError, match="outside its folder"):
        list_kernels(search_path=[a])
    # A link to another file of the same folder is fine (an alias, named after the link).
    (b / "alias.yaml").symlink_to(b / "only-b.yaml")
    alias = load_kernel("alias", search_path=[b])
    assert alias.name == "alias" and alias.matrix.tolist() == [[3.0]]


def test_other_spec_refusals():
    assert "kernel names are lower-case: try 'sobel-x'" in str(refused("Sobel-X"))
    assert "is not a kernel; give a kernel name" in str(refused("sobel x!"))
    assert "the kernel spec is empty" in str(refused("   "))
    # several names where one kernel goes: said as such, only when each part is a kernel
    assert "'box3,sobel-x' names 2 kernels in one spec; give each as a spec of its own: box3, sobel-x" in str(
        refused("box3,sobel-x"))
    assert "is not a kernel; give a kernel name" in str(refused("box3,nonesuch"))


def test_spec_order_file_before_everything(tmp_path, monkeypatch):
    # A file path wins, even when its text would also read as a name.
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "sobel-x.yaml", "name: sobel-x\nmatrix: [[5]]\n")
    assert load_kernel("sobel-x.yaml").matrix.tolist() == [[5.0]]
    assert load_kernel("sobel-x").source == "built-in"  # the name still means the built-in




def test_a_name_that_starts_with_a_digit_is_looked_up(tmp_path):
    (tmp_path / "3tap.yaml").write_text("matrix: [[1, 2, 1]]\n")
    assert load_kernel("3tap", search_path=[tmp_path]).matrix.tolist() == [[1.0, 2.0, 1.0]]
    assert load_kernel("3", search_path=[tmp_path]).matrix.tolist() == [[3.0]]  # a number stays a matrix
    with pytest.raises(KernelError):
        load_kernel("3tapx", search_path=[tmp_path])


def test_a_search_folder_the_file_system_cannot_look_up_is_a_kernel_error(tmp_path):
    """A kernel folder whose name is longer than the file system allows fails as a KernelError
    naming it, not as an OSError."""
    from convcli.errors import KernelError

    too_long = tmp_path / ("d" * 300)
    with pytest.raises(KernelError, match="cannot use kernel .*File name too long"):
        load_kernel("my-kernel", search_path=[too_long])
    (tmp_path / "ok").mkdir()
    with pytest.raises(KernelError, match="unknown kernel|no kernel named|not found"):
        load_kernel("my-kernel", search_path=[tmp_path / "ok", tmp_path / "missing"])


def test_a_path_with_a_nul_is_no_such_file():
    """Found by the fuzzer: os.stat refuses a NUL with ValueError; it is a missing file."""
    from convcli.errors import KernelError

    with pytest.raises(KernelError, match="no such kernel file"):
        load_kernel("\x00.YML")


@pytest.mark.parametrize("spec,meant", [("1 0 -1, 2 0 -2", "1 0 -1; 2 0 -2"), ("1 2, 3 4; 5 6", "1 2; 3 4")])
def test_inline_comma_between_groups_of_values_is_refused(spec, meant):
    # A comma where ';' was meant must not silently make one long row (issue 11).
    with pytest.raises(KernelError, match=f"did you mean '{meant}'"):
        load_kernel(spec)


@pytest.mark.parametrize("spec,row", [("1, 2, 3", [1, 2, 3]), ("1,0,-1; 2,0,-2", [1, 0, -1]), ("1 0 -1", [1, 0, -1])])
def test_inline_commas_or_spaces_alone_still_separate_values(spec, row):
    assert load_kernel(spec).matrix[0].tolist() == row
