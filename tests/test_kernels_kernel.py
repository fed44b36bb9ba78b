"""Tests for convcli.kernels.kernel: the Kernel type."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from convcli.errors import KernelError
from convcli.kernels import Kernel, load_kernel

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
    with pytest.raises(KernelError, match=r"kernel sobel-x sums to 0; `normalize` needs a kernel with a non-zero sum"):
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
