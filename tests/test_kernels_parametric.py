"""Tests for convcli.kernels.parametric: gaussian, box, log, dog and disk against independent formulas."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from convcli.errors import KernelError
from convcli.kernels import load_kernel
from kernel_helpers import refused

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
