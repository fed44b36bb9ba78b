"""Tests for convcli.kernels.resolve: the order in which load_kernel tries the spec forms, and what it
refuses."""

from __future__ import annotations

import pytest

from convcli.errors import KernelError
from convcli.kernels import load_kernel
from kernel_helpers import refused, write

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
