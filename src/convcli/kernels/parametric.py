"""Parametric kernels: ``gaussian``, ``box``, ``log``, ``dog`` and ``disk`` built from their parameters.

The grammar and the examples every message quotes live in :mod:`convcli.kernels.spec`
(:data:`~convcli.kernels.spec.PARAMETRIC`).
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import KernelError
from .kernel import Kernel
from .matrix import NUMBER_RE, check_size
from .spec import MAX_SIDE, PARAMETRIC

__all__ = ["build_parametric", "param_error"]


def _fmt(value: float) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def param_error(kind: str, message: str) -> KernelError:
    """A KernelError about a ``kind:`` spec, ending with its examples."""
    return KernelError(f"{kind}: {message}; e.g. {PARAMETRIC[kind].hint}")


def _parse_params(kind: str, args: str, *, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, str]:
    allowed = required + optional
    params: dict[str, str] = {}
    for part in args.split(","):
        part = part.strip()
        if not part:
            raise param_error(kind, f"empty parameter in {args!r}")
        key, sep, value = part.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise param_error(kind, f"parameter {part!r} needs a value, written name=value")
        if key not in allowed:
            raise param_error(kind, f"unknown parameter {key!r}; allowed: {', '.join(allowed)}")
        if key in params:
            raise param_error(kind, f"parameter {key!r} is given twice")
        params[key] = value
    for key in required:
        if key not in params:
            raise param_error(kind, f"missing parameter {key!r}")
    return params


def _positive_float(kind: str, key: str, text: str, *, allow_zero: bool = False) -> float:
    value = float(text) if NUMBER_RE.match(text) else math.nan
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        need = "a number >= 0" if allow_zero else "a number > 0"
        raise param_error(kind, f"{key} must be {need}, got {text!r}")
    return value


def _size_param(kind: str, key: str, text: str) -> int:
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise param_error(kind, f"{key} must be a whole number >= 1, got {text!r}")
    size = int(text)
    if size > MAX_SIDE:
        raise param_error(kind, f"{key}={size} is too large; the largest side is {MAX_SIDE}")
    return size


def _default_size(kind: str, sigma: float, spec_hint: str) -> int:
    size = 2 * math.ceil(3 * sigma) + 1
    if size > MAX_SIDE:
        raise param_error(
            kind,
            f"{spec_hint} gives a {size}x{size} kernel; the largest side is {MAX_SIDE} "
            "(use a smaller sigma or give size=N)",
        )
    return size


def _gaussian_1d(sigma: float, size: int) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    with np.errstate(over="ignore", under="ignore"):  # a tiny sigma just gives an impulse
        z = offsets / sigma
        return np.exp(-0.5 * z * z)


def _gaussian_2d(sigma: float, size: int) -> np.ndarray:
    g = _gaussian_1d(sigma, size)
    k = np.outer(g, g)
    return k / k.sum()


def _finite_or_refuse(kind: str, matrix: np.ndarray) -> np.ndarray:
    if not np.isfinite(matrix).all():
        raise param_error(kind, "these parameters give values that overflow; use a larger sigma")
    return matrix


def build_parametric(kind: str, args: str) -> Kernel:
    if kind == "box":
        match = re.fullmatch(r"\s*([0-9]+)(?:\s*x\s*([0-9]+))?\s*", args)
        if match is None:
            raise param_error("box", f"cannot read {args!r}; give the size as N or ROWSxCOLS")
        rows = int(match.group(1))
        cols = int(match.group(2)) if match.group(2) is not None else rows
        if rows < 1 or cols < 1:
            raise param_error("box", f"the size must be at least 1, got {rows}x{cols}")
        check_size(rows, cols, prefix="box: ")
        name = f"box:{rows}" if rows == cols else f"box:{rows}x{cols}"
        matrix = np.full((rows, cols), 1.0 / (rows * cols))
        return Kernel(name=name, matrix=matrix, description=f"{rows}x{cols} mean", source="parametric")

    if kind in ("gaussian", "log"):
        params = _parse_params(kind, args, required=("sigma",), optional=("size",))
        sigma = _positive_float(kind, "sigma", params["sigma"])
        name = f"{kind}:sigma={_fmt(sigma)}"
        if "size" in params:
            size = _size_param(kind, "size", params["size"])
            name += f",size={size}"
        else:
            size = _default_size(kind, sigma, f"sigma={_fmt(sigma)}")
        check_size(size, size, prefix=f"{kind}: ", hint="; use a smaller sigma or size")
        if kind == "gaussian":
            matrix = _gaussian_2d(sigma, size)
            description = f"Gaussian blur, sigma {_fmt(sigma)}, sum 1"
        else:
            offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
            with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
                r2 = (offsets[:, None] ** 2 + offsets[None, :] ** 2) / sigma**2  # r²/σ²
                # (r² − 2σ²)/σ⁴ · exp(−r²/2σ²), written with r²/σ² so that small sigmas stay finite longer
                matrix = (r2 - 2.0) / sigma**2 * np.exp(-0.5 * r2)
            matrix = _finite_or_refuse(kind, matrix)
            matrix = matrix - matrix.mean()
            description = f"Laplacian of Gaussian, sigma {_fmt(sigma)}, negative centre, sum 0"
        return Kernel(name=name, matrix=matrix, description=description, source="parametric")

    if kind == "dog":
        params = _parse_params(kind, args, required=("sigma1", "sigma2"), optional=("size",))
        sigma1 = _positive_float(kind, "sigma1", params["sigma1"])
        sigma2 = _positive_float(kind, "sigma2", params["sigma2"])
        if sigma1 == sigma2:
            raise param_error(kind, "sigma1 and sigma2 must differ (their difference would be all zeros)")
        name = f"dog:sigma1={_fmt(sigma1)},sigma2={_fmt(sigma2)}"
        if "size" in params:
            size = _size_param(kind, "size", params["size"])
            name += f",size={size}"
        else:
            size = _default_size(kind, max(sigma1, sigma2), f"sigma={_fmt(max(sigma1, sigma2))}")
        check_size(size, size, prefix="dog: ", hint="; use smaller sigmas or size")
        matrix = _gaussian_2d(sigma1, size) - _gaussian_2d(sigma2, size)
        matrix = matrix - matrix.mean()
        description = f"difference of Gaussians, sigma {_fmt(sigma1)} minus sigma {_fmt(sigma2)}, sum 0"
        return Kernel(name=name, matrix=matrix, description=description, source="parametric")

    # disk
    params = _parse_params(kind, args, required=("radius",), optional=())
    radius = _positive_float(kind, "radius", params["radius"], allow_zero=True)
    half = math.floor(radius)
    size = 2 * half + 1
    if size > MAX_SIDE:
        raise param_error(kind, f"radius={_fmt(radius)} gives a {size}x{size} kernel; the largest side is {MAX_SIDE}")
    check_size(size, size, prefix="disk: ", hint="; use a smaller radius")
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    mask = (offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2
    matrix = mask / mask.sum()
    return Kernel(
        name=f"disk:radius={_fmt(radius)}",
        matrix=matrix,
        description=f"flat disk of radius {_fmt(radius)}, sum 1",
        source="parametric",
    )
