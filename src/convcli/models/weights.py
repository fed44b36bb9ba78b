"""Weights from files people have (``.npy``, ``.npz:KEY``, ``.safetensors:KEY``) and seeded
initialisers for untrained layers.

Every array is checked before its data is read: its header gives the shape and dtype, and an array
of more than :data:`MAX_WEIGHT_ELEMENTS` elements, or of a dtype NumPy cannot hold (bfloat16, float8,
Python objects), is refused with a one-line :class:`~convcli.errors.ModelFileError` naming the file
and the key. Nothing is unpickled.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from ..errors import ModelFileError, did_you_mean
from ..vocabulary import INITIALIZERS

__all__ = ["MAX_WEIGHT_ELEMENTS", "WEIGHT_SUFFIXES", "check_weight_array", "initial_weights", "keras_fans",
           "listed_keys", "load_array", "split_spec"]

#: Most elements one weight array may hold (256 Mi: 1 GiB of float32), checked from the header.
MAX_WEIGHT_ELEMENTS = 1 << 28
#: The weight files :func:`load_array` reads, and whether a spec names a key inside them.
WEIGHT_SUFFIXES = {".npy": False, ".npz": True, ".safetensors": True}
#: How many available keys a message lists.
LISTED_KEYS = 10
#: safetensors dtypes and the NumPy dtypes that hold them exactly (others, e.g. BF16 or F8_*, are refused).
SAFETENSORS_DTYPES = {"BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16",
                      "U32": "uint32", "I32": "int32", "U64": "uint64", "I64": "int64",
                      "F16": "float16", "F32": "float32", "F64": "float64"}
#: Keras's truncated normal draws from a normal of stddev s / 0.8796…, cut at two of those stddevs, so
#: that what remains has stddev s (keras/src/initializers/random_initializers.py, VarianceScaling).
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def listed_keys(keys: Iterable[str]) -> str:
    """The available keys as a message lists them: quoted, at most :data:`LISTED_KEYS`, then a count.

    Examples
    --------
    >>> listed_keys(["a", "b"])
    "'a', 'b'"
    >>> listed_keys(str(n) for n in range(12))
    "'0', '1', '2', '3', '4', '5', '6', '7', '8', '9' and 2 more"
    """
    keys = list(keys)
    shown = ", ".join(repr(key) for key in keys[:LISTED_KEYS])
    return shown if len(keys) <= LISTED_KEYS else f"{shown} and {len(keys) - LISTED_KEYS} more"


def check_weight_array(shape: Sequence[int], dtype: object, *, path: str, key: str | None,
                       what: str | None = None) -> np.dtype:
    """Refuse (:class:`~convcli.errors.ModelFileError`) an array whose header declares more than
    :data:`MAX_WEIGHT_ELEMENTS` elements or a dtype that is not plain numbers; return the dtype.
    The message names the array by ``key`` (quoted) or, when given, by ``what`` as it is.

    Examples
    --------
    >>> check_weight_array((3, 3, 1, 16), "float32", path="m.npz", key="k")
    dtype('float32')
    >>> check_weight_array((1 << 20, 1 << 20), "float32", path="m.npz", key="k")
    Traceback (most recent call last):
    ...
    convcli.errors.ModelFileError: m.npz: 'k' declares shape (1048576, 1048576) (1099511627776 elements); at most 268435456 are read
    """
    where = f"{what} " if what is not None else "" if key is None else f"{key!r} "
    try:
        dtype = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise ModelFileError(f"{where}has dtype {dtype}, which NumPy cannot hold; save it as float32",
                             path=path) from None
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "biuf":
        raise ModelFileError(f"{where}has dtype {dtype}; weights must be plain numbers (save them as float32)",
                             path=path)
    if any(int(n) < 0 for n in shape):
        raise ModelFileError(f"{where}declares a negative size in shape {tuple(shape)}", path=path)
    elements = math.prod(int(n) for n in shape)
    if elements > MAX_WEIGHT_ELEMENTS:
        raise ModelFileError(f"{where}declares shape {tuple(int(n) for n in shape)} ({elements} elements); "
                             f"at most {MAX_WEIGHT_ELEMENTS} are read", path=path)
    return dtype


def split_spec(spec: str, *, base_dir: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """The file and the key (``None`` without one) a weight spec names.

    The key follows the first ``:`` after a ``.npz`` or ``.safetensors`` name (a file whose whole
    name is the spec is taken as it is). Relative files are relative to ``base_dir`` when given.

    Examples
    --------
    >>> split_spec("model.safetensors:features.0.weight")
    (PosixPath('model.safetensors'), 'features.0.weight')
    >>> split_spec("conv.npy", base_dir="/data")
    (PosixPath('/data/conv.npy'), None)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("`spec` must be a file name: FILE.npy, FILE.npz:KEY or FILE.safetensors:KEY")
    path, key = spec, None
    whole = Path(base_dir, spec) if base_dir is not None else Path(spec)
    if not whole.is_file():
        lowered = spec.lower()
        for suffix in WEIGHT_SUFFIXES:
            at = lowered.find(suffix + ":")
            if at > 0:
                path, key = spec[:at + len(suffix)], spec[at + len(suffix) + 1:]
                break
    file = Path(path) if base_dir is None else Path(base_dir, path)
    return file, key


def load_array(spec: str, *, base_dir: str | os.PathLike | None = None) -> np.ndarray:
    """One weight array from a file: ``FILE.npy``, ``FILE.npz:KEY`` or ``FILE.safetensors:KEY``.

    A ``.npz`` or ``.safetensors`` file that holds one array may be named without a key. PyTorch
    state_dicts saved with safetensors are read as they are (e.g. ``model.safetensors:features.0.weight``
    gives the (C_out, C_in/groups, kh, kw) kernel: use it with ``layout="oihw"``).

    Parameters
    ----------
    spec : str
        The file, then ``:KEY`` for ``.npz`` and ``.safetensors``.
    base_dir : path, optional
        What relative file names are relative to (e.g. a pipeline file's folder).

    Returns
    -------
    numpy.ndarray
        The array, in the dtype it was saved in (bfloat16 and other dtypes NumPy cannot hold are refused).

    Raises
    ------
    ModelFileError
        A missing or unreadable file, a missing key (the message lists the available ones), a key the
        file kind does not take, or an array that is too large or not plain numbers.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> np.savez(folder / "model.npz", **{"conv1/kernel": np.ones((3, 3, 1, 4), np.float32)})
    >>> load_array("model.npz:conv1/kernel", base_dir=folder).shape
    (3, 3, 1, 4)
    >>> load_array("model.npz:conv2/kernel", base_dir=folder)
    Traceback (most recent call last):
    ...
    convcli.errors.ModelFileError: .../model.npz: has no key 'conv2/kernel'; its keys: 'conv1/kernel' (did you mean 'conv1/kernel'?)
    """
    path, key = split_spec(spec, base_dir=base_dir)
    suffix = path.suffix.lower()
    if suffix not in WEIGHT_SUFFIXES:
        raise ModelFileError(f"is not a weight file convcli reads; use {', '.join(WEIGHT_SUFFIXES)} "
                             "(a key after ':' for .npz and .safetensors)", path=str(path))
    if key is not None and not WEIGHT_SUFFIXES[suffix]:
        raise ModelFileError(f"holds one array; drop the key {key!r}", path=str(path))
    if key == "":
        raise ModelFileError("has an empty key after ':'; name the array (FILE:KEY)", path=str(path))
    if not path.is_file():
        raise ModelFileError("no such file", path=str(path))
    try:
        if suffix == ".npy":
            with open(path, "rb") as file:
                return _read_npy(file, path=str(path), key=None)
        if suffix == ".npz":
            return _read_npz(path, key)
        return _read_safetensors(path, key)
    except OSError as error:
        raise ModelFileError(f"cannot be read: {error.strerror or error}", path=str(path)) from None


def _chosen_key(keys: list[str], key: str | None, path: Path) -> str:
    """The key to read: ``key`` when the file has it, the only key when none is given."""
    if key is None:
        if len(keys) == 1:
            return keys[0]
        if not keys:
            raise ModelFileError("holds no arrays", path=str(path))
        raise ModelFileError(f"holds {len(keys)} arrays; name one as FILE:KEY (keys: {listed_keys(keys)})",
                             path=str(path))
    if key not in keys:
        hint = did_you_mean(key, keys)
        raise ModelFileError(f"has no key {key!r}; its keys: {listed_keys(keys)}" + (f" ({hint})" if hint else ""),
                             path=str(path))
    return key


def _read_npy(file, *, path: str, key: str | None) -> np.ndarray:
    from ..images.npy import read_header

    try:
        shape, dtype = read_header(file)
    except ValueError as error:  # a malformed header or an unsupported version: NumPy's words
        raise ModelFileError(f"{'' if key is None else repr(key) + ' '}is not a readable .npy array: {error}",
                             path=path) from None
    check_weight_array(shape, dtype, path=path, key=key)
    file.seek(0)
    try:
        return np.lib.format.read_array(file, allow_pickle=False)
    except ValueError as error:  # truncated data
        raise ModelFileError(f"{'' if key is None else repr(key) + ' '}cannot be read: {error}", path=path) from None


def _read_npz(path: Path, key: str | None) -> np.ndarray:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelFileError("is not a .npz file (not a zip archive)", path=str(path)) from None
    with archive:
        members = {info.filename[:-4]: info for info in archive.infolist() if info.filename.endswith(".npy")}
        chosen = _chosen_key(list(members), key, path)
        try:
            with archive.open(members[chosen]) as member:
                # Read as a stream: the header is checked before the data, whatever the member declares.
                return _read_npy(member, path=str(path), key=chosen)
        except (zipfile.BadZipFile, EOFError) as error:
            raise ModelFileError(f"{chosen!r} cannot be read: {' '.join(str(error).split())}",
                                 path=str(path)) from None


def _read_safetensors(path: Path, key: str | None) -> np.ndarray:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as tensors:
            chosen = _chosen_key(list(tensors.keys()), key, path)
            tensor = tensors.get_slice(chosen)
            stored = tensor.get_dtype()
            if stored not in SAFETENSORS_DTYPES:
                raise ModelFileError(f"{chosen!r} has dtype {stored}, which NumPy cannot hold; "
                                     "save it as float32 (tensor.float())", path=str(path))
            check_weight_array(tensor.get_shape(), SAFETENSORS_DTYPES[stored], path=str(path), key=chosen)
            return tensors.get_tensor(chosen)
    except SafetensorError as error:
        raise ModelFileError(f"is not a readable .safetensors file: {' '.join(str(error).split())}",
                             path=str(path)) from None


def keras_fans(shape: Sequence[int]) -> tuple[int, int]:
    """The fan-in and fan-out Keras computes for a weight of ``shape`` (``compute_fans`` in
    keras/src/initializers/random_initializers.py): for a conv kernel (kh, kw, C_in, C_out), the
    receptive field size kh·kw times C_in and times C_out.

    Examples
    --------
    >>> keras_fans((3, 3, 1, 16))
    (9, 144)
    >>> keras_fans((5,))
    (5, 5)
    """
    shape = tuple(int(n) for n in shape)
    if not shape:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def initial_weights(name: str, shape: Sequence[int], *, seed: int, fan_in: int | None = None,
                    fan_out: int | None = None) -> np.ndarray:
    """Weights for an untrained layer, drawn as Keras 3 draws them, reproducibly from ``seed``.

    The distributions are Keras 3's (keras-team/keras, keras/src/initializers/random_initializers.py:
    ``GlorotUniform``, ``HeNormal``, ``VarianceScaling`` and ``compute_fans``); the numbers differ, as
    NumPy's generator is not Keras's:

    - ``glorot_uniform`` (Keras's default kernel initialiser): uniform on [-limit, limit],
      limit = √(6 / (fan_in + fan_out)) (``VarianceScaling(1.0, "fan_avg", "uniform")``).
    - ``he_normal``: ``VarianceScaling(2.0, "fan_in", "truncated_normal")``: a normal of stddev
      √(2 / fan_in) / 0.87962566103423978, values beyond two of those stddevs drawn again, so the
      values kept have stddev √(2 / fan_in).
    - ``zeros``.

    Parameters
    ----------
    name : str
        One of :data:`convcli.vocabulary.INITIALIZERS`.
    shape : sequence of int
        The weight's shape, e.g. (kh, kw, C_in/groups, C_out) for a Keras conv kernel.
    seed : int
        Seed of ``numpy.random.default_rng``: the same seed gives the same weights.
    fan_in, fan_out : int, optional
        Default: as Keras computes them (:func:`keras_fans`).

    Returns
    -------
    numpy.ndarray
        float32, of ``shape``.

    Examples
    --------
    >>> kernel = initial_weights("glorot_uniform", (3, 3, 1, 16), seed=0)
    >>> kernel.shape, str(kernel.dtype), bool(abs(kernel).max() <= (6 / (9 + 144)) ** 0.5)
    ((3, 3, 1, 16), 'float32', True)
    >>> bool((kernel == initial_weights("glorot_uniform", (3, 3, 1, 16), seed=0)).all())
    True
    """
    if name not in INITIALIZERS:
        hint = did_you_mean(name, INITIALIZERS)
        raise ValueError(f"`name` must be one of {', '.join(INITIALIZERS)}, not {name!r}" + (f"; {hint}" if hint else ""))
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise ValueError(f"`shape` must be a sequence of sizes, e.g. (3, 3, 1, 16), not {shape!r}") from None
    if any(n < 1 for n in shape):
        raise ValueError(f"`shape` sizes must be positive, not {shape}")
    if math.prod(shape) > MAX_WEIGHT_ELEMENTS:
        raise ValueError(f"`shape` {shape} has more than {MAX_WEIGHT_ELEMENTS} elements")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative integer, not {seed!r}")
    default_in, default_out = keras_fans(shape)
    fan_in, fan_out = default_in if fan_in is None else fan_in, default_out if fan_out is None else fan_out
    for label, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(fan, bool) or not isinstance(fan, (int, np.integer)) or fan < 1:
            raise ValueError(f"`{label}` must be a positive integer, not {fan!r}")
    if name == "zeros":
        return np.zeros(shape, np.float32)
    rng = np.random.default_rng(seed)
    if name == "glorot_uniform":
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)
    stddev = math.sqrt(2.0 / fan_in) / TRUNCATED_NORMAL_STDDEV
    values = rng.standard_normal(shape)
    outside = np.abs(values) > 2.0
    while outside.any():  # redraw what falls beyond two stddevs, as a truncated normal does
        values[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(values) > 2.0
    return (values * stddev).astype(np.float32)
