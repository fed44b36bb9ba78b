"""Tests for convcli.kernels.library: the built-in library, names and the search path."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from convcli import kernels as kernels_module
from convcli.errors import KernelError, UnknownKernelError
from convcli.kernels import (
    builtin_kernel_dir,
    kernel_search_path,
    list_kernels,
    load_kernel,
    search_path_problems,
    survey_kernels,
)
from kernel_helpers import refused, write

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
