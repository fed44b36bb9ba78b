"""convcli.images.npy: reading .npy arrays (dtypes, byte order, Fortran order, refusals)."""

from __future__ import annotations


import numpy as np
import pytest

from convcli import images
from convcli.errors import ImageReadError
from helpers import RNG, npy_bytes, read_error


# ----------------------------------------------------------------------------------------------
# .npy inputs
# ----------------------------------------------------------------------------------------------


def test_npy_from_bytes_source():
    arr = RNG.standard_normal((3, 4, 2)).astype(np.float32)
    back, info = images.read_image(npy_bytes(arr))
    assert info == images.ImageInfo(shape=(3, 4, 2), dtype="float32", format="npy", has_alpha=False)
    np.testing.assert_array_equal(back, arr)


def test_npy_four_channels_never_alpha():
    assert not images.probe(npy_bytes(np.zeros((2, 2, 4), np.float32))).has_alpha


def test_npy_bool_becomes_uint8_0_1():
    arr, info = images.read_image(npy_bytes(np.array([[True, False]])))
    assert info.dtype == "uint8"
    assert arr.tolist() == [[1, 0]]


def test_npy_float16_and_big_endian():
    arr, info = images.read_image(npy_bytes(np.array([[1.5, 2.0]], np.float16)))
    assert info.dtype == "float32" and arr.dtype == np.float32
    arr, info = images.read_image(npy_bytes(np.array([[1.5, 2.0]], ">f8")))
    assert info.dtype == "float64" and arr.dtype.isnative and arr.tolist() == [[1.5, 2.0]]


def test_npy_fortran_order():
    arr = np.asfortranarray(RNG.standard_normal((3, 5)))
    back, _ = images.read_image(npy_bytes(arr))
    np.testing.assert_array_equal(back, arr)


def test_npy_object_dtype_refused():
    data = npy_bytes(np.array([[1, "a"]], dtype=object), allow_pickle=True)
    text = read_error(data)
    assert "pickle" in text
    with pytest.raises(ImageReadError, match="pickle"):
        images.probe(data)


def test_npy_four_d_refused():
    assert "(H, W) or (H, W, C)" in read_error(npy_bytes(np.zeros((1, 2, 3, 4), np.float32)))
    assert "(H, W) or (H, W, C)" in read_error(npy_bytes(np.zeros(5, np.float32)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_npy_non_finite_refused(bad):
    assert "holds NaN or inf" in read_error(npy_bytes(np.array([[0.0, bad]])))


def test_npy_complex_structured_empty_refused():
    assert "complex" in read_error(npy_bytes(np.zeros((2, 2), np.complex64)))
    assert "structured" in read_error(npy_bytes(np.zeros((2, 2), [("a", "f4"), ("b", "i4")])))
    assert "empty" in read_error(npy_bytes(np.zeros((0, 3), np.float32)))
    assert "numeric" in read_error(npy_bytes(np.array([["a", "b"]])))


def test_npy_truncated_refused():
    data = npy_bytes(np.zeros((20, 20), np.float64))
    assert "cannot read .npy" in read_error(data[: len(data) // 2])
