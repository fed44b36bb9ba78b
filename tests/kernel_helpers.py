"""Helpers shared by the tests of convcli.kernels (tests/test_kernels_*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from convcli.errors import KernelError
from convcli.kernels import load_kernel


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
