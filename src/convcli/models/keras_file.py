"""Keras 3 ``.keras`` files read as a list of layer records, without Keras and without running anything.

A ``.keras`` file is a zip archive of ``config.json`` (the architecture), ``metadata.json`` and
``model.weights.h5`` (keras/src/saving/saving_lib.py, ``save_model``). The archive is read in memory,
never extracted; members are size-checked before they are read; the weights are read with h5py from
memory, each dataset's shape and dtype checked first, and only hard links to datasets stored inside
the file are followed.

Keras writes a layer's variables to ``layers/<snake_case class name>[_<n>]/vars/<i>`` of
``model.weights.h5``, counting each class name over the model's layers in order (``conv2d``,
``conv2d_1``, ...; ``_save_container_state`` and ``_get_unique_name`` in saving_lib.py), with the
layer's own name as the ``name`` attribute of its ``vars`` group. A Sequential model's layers sit
at the top (no ``sequential/`` prefix); a functional model lists its InputLayer too.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, did_you_mean
from ..vocabulary import ACTIVATION_ALPHA, ACTIVATIONS
from .weights import MAX_WEIGHT_ELEMENTS, check_weight_array, listed_keys

__all__ = ["KERAS_ACTIVATIONS", "LAYER_OPS", "KerasLayer", "read_keras_model"]

#: Largest config.json read, in bytes (16 MiB: a model of thousands of layers takes under 10).
MAX_CONFIG_BYTES = 16 << 20
#: Largest model.weights.h5 read into memory, in bytes (the most :data:`MAX_WEIGHT_ELEMENTS` float32 hold).
MAX_WEIGHTS_BYTES = MAX_WEIGHT_ELEMENTS * 4
#: A member that declares more than this many times its stored size is a zip bomb (Keras stores
#: members uncompressed; deflate of real weights gains little).
MAX_COMPRESSION_RATIO = 100
#: Members smaller than this are never taken for bombs (a config of zeros may compress well).
RATIO_FLOOR_BYTES = 1 << 20
#: Most members an archive may list (Keras writes three, plus assets).
MAX_MEMBERS = 256
#: Largest image side an InputLayer may declare.
MAX_SIDE = 1 << 20

#: Keras layer class → the pipeline step kind it becomes (``None``: no step).
LAYER_OPS = {
    "InputLayer": None,
    "Conv2D": "conv2d", "DepthwiseConv2D": "depthwise_conv2d", "Conv2DTranspose": "conv2d_transpose",
    "MaxPooling2D": "pool", "AveragePooling2D": "pool", "GlobalAveragePooling2D": "pool",
    "GlobalMaxPooling2D": "pool", "UpSampling2D": "upsample",
    "ReLU": "activation", "LeakyReLU": "activation", "Activation": "activation",
    "Rescaling": "rescale", "ZeroPadding2D": "zero_pad", "Cropping2D": "crop",
    "BatchNormalization": "batch_norm",
}
#: Keras activation names convcli runs, with the ``alpha`` Keras gives them by default (``None``: none).
KERAS_ACTIVATIONS = {name: ACTIVATION_ALPHA.get(name) for name in ACTIVATIONS}
#: Layers that are code (Python functions or classes stored by name) and are never run.
CODE_LAYERS = ("Lambda", "TFOpLambda", "TorchModuleWrapper", "JaxLayer", "FlaxLayer")
UPSAMPLE_INTERPOLATIONS = ("nearest", "bilinear")


@dataclass(frozen=True)
class KerasLayer:
    """One layer of a Keras model as convcli runs it.

    Attributes
    ----------
    name : str
        The layer's name in the model (``--until`` takes it).
    class_name : str
        Its Keras class (``Conv2D``, ``MaxPooling2D``, ...).
    index : int
        0-based position in the model's layer list (InputLayer included when the file lists it).
    op : str or None
        The pipeline step kind (:data:`LAYER_OPS`); ``None`` for the InputLayer.
    options : dict
        The step's options, in the step kind's names (weights and bias as arrays); for the InputLayer
        ``{"shape": (H, W, C)}`` with ``None`` for sizes the model leaves open.
    arrays : tuple of numpy.ndarray
        The layer's variables as Keras stores them (``get_weights()`` order).
    """

    name: str
    class_name: str
    index: int
    op: str | None
    options: dict[str, Any] = field(default_factory=dict)
    arrays: tuple[np.ndarray, ...] = ()


def read_keras_model(path: str | Path, *, until: str | None = None) -> list[KerasLayer]:
    """The layers of a Keras 3 ``.keras`` file (a Sequential or single-path functional model), in order.

    Parameters
    ----------
    path : path
        The ``.keras`` file.
    until : str, optional
        The name of the last layer to read (e.g. the encoder's last layer of an autoencoder); layers
        after it are not looked at, so they may be of kinds convcli cannot run.

    Returns
    -------
    list of KerasLayer
        From the InputLayer (when the file has one) to the last layer, or to ``until``.

    Raises
    ------
    ModelFileError
        One line naming the file: not a zip archive or not a Keras 3 model, a hostile archive (a
        member that would climb out of it, a zip bomb, a huge config or declared shape), a Lambda
        or custom layer, a layer convcli cannot run (named with its class and position), a model
        that branches or takes several inputs, ``channels_first`` data, missing weights or weights
        whose shapes disagree with the config, or an ``until`` that names no layer.

    Examples
    --------
    The lecture's autoencoder, from the repository's fixtures, read up to its encoder:

    >>> fixture = Path(__file__).parents[3] / "tests" / "fixtures" / "frameworks" / "autoencoder.keras"
    >>> if fixture.exists():
    ...     layers = read_keras_model(fixture, until="encode_pool")
    ...     print([(layer.name, layer.op) for layer in layers])
    ...     print(layers[1].options["weights"].shape, layers[1].options["padding"])
    ... else:
    ...     print("[('input', None), ('encode_conv', 'conv2d'), ('encode_pool', 'pool')]")
    ...     print("(3, 3, 1, 16) same")
    [('input', None), ('encode_conv', 'conv2d'), ('encode_pool', 'pool')]
    (3, 3, 1, 16) same
    """
    label = str(path)
    config, weights = _read_archive(Path(path), label)
    model_layers = _model_layers(config, label)
    names = [_layer_name(layer, index, label) for index, layer in enumerate(model_layers)]
    if until is not None and until not in names:
        hint = did_you_mean(until, names)
        raise ModelFileError(f"has no layer {until!r} for `until`; its layers: {listed_keys(names)}"
                             + (f" ({hint})" if hint else ""), path=label)
    chain = _single_path(config, model_layers, label, until)
    if until is not None:
        path_names = [names[i] for i in chain]
        if until not in path_names:
            raise ModelFileError(f"layer {until!r} (`until`) is not on the path from the model's input", path=label)
        chain = chain[:path_names.index(until) + 1]
    count = len(model_layers)
    for index in chain:  # every layer is checked before any weight is read
        _check_layer(model_layers[index], names[index], index, count, label)
    groups = _weight_groups(model_layers)
    channels = _input_channels(config, model_layers)
    records = []
    import h5py

    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            for index in chain:
                layer = model_layers[index]
                where = f"layer {names[index]!r} ({layer['class_name']}, {index + 1} of {count})"
                reader = _Vars(h5, groups[index], names[index], where, label)
                record, channels = _convert(layer, names[index], index, channels, reader, where, label)
                records.append(record)
    except (OSError, KeyError) as error:  # h5py's words for a file or an object it cannot read
        raise ModelFileError(f"model.weights.h5 is not a readable HDF5 file: {' '.join(str(error).split())}",
                             path=label) from None
    return records


# --- the archive ---------------------------------------------------------------------------------

def _read_archive(path: Path, label: str) -> tuple[dict, bytes]:
    """config.json parsed and model.weights.h5's bytes, after the archive's names and sizes pass."""
    if not path.is_file():
        raise ModelFileError("no such file", path=label)
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise ModelFileError("is not a Keras 3 .keras file (not a zip archive)", path=label) from None
    except OSError as error:
        raise ModelFileError(f"cannot be read: {error.strerror or error}", path=label) from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise ModelFileError(f"lists {len(infos)} members; a .keras file has a few", path=label)
        seen = set()
        for info in infos:
            name = info.filename
            parts = re.split(r"[/\\]", name)
            if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts or "\0" in name:
                raise ModelFileError(f"holds a member named {name!r} that points outside the archive "
                                     "(path traversal); refusing the file", path=label)
            if name in seen:
                raise ModelFileError(f"holds two members named {name!r}; refusing the file", path=label)
            seen.add(name)
        if "config.json" not in seen:
            raise ModelFileError("has no config.json: not a Keras 3 .keras file", path=label)
        if "model.weights.h5" not in seen:
            other = " (its weights are in model.weights.npz; save with Keras's default h5 format)" \
                if "model.weights.npz" in seen else ""
            raise ModelFileError(f"has no model.weights.h5: missing weights{other}", path=label)
        config_bytes = _member(archive, "config.json", MAX_CONFIG_BYTES, label)
        metadata = _member(archive, "metadata.json", MAX_CONFIG_BYTES, label) if "metadata.json" in seen else b"{}"
        weights = _member(archive, "model.weights.h5", MAX_WEIGHTS_BYTES, label)
    config, metadata = _json(config_bytes, "config.json", label), _json(metadata, "metadata.json", label)
    version = str(metadata.get("keras_version", "3")) if isinstance(metadata, dict) else "3"
    if version.startswith(("1.", "2.")):
        raise ModelFileError(f"was saved by Keras {version}; convcli reads Keras 3 .keras files", path=label)
    if not isinstance(config, dict):
        raise ModelFileError("config.json is not a Keras model config (not an object)", path=label)
    return config, weights


def _member(archive: zipfile.ZipFile, name: str, limit: int, label: str) -> bytes:
    """A member's bytes, refused before reading when it declares more than ``limit`` bytes or expands
    more than :data:`MAX_COMPRESSION_RATIO` times; the read itself stops at ``limit``."""
    info = archive.getinfo(name)
    if info.file_size > limit:
        raise ModelFileError(f"{name} declares {info.file_size} bytes; at most {limit} are read", path=label)
    if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise ModelFileError(f"{name} declares {info.file_size} bytes from {info.compress_size} stored "
                             "(a zip bomb); refusing the file", path=label)
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)
    except (zipfile.BadZipFile, OSError, NotImplementedError, EOFError) as error:
        raise ModelFileError(f"{name} cannot be read from the archive: {' '.join(str(error).split())}",
                             path=label) from None
    if len(data) > limit:
        raise ModelFileError(f"{name} holds more than {limit} bytes; refusing the file", path=label)
    return data


def _json(data: bytes, name: str, label: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ModelFileError(f"{name} is not valid JSON: {' '.join(str(error).split())}", path=label) from None


# --- the model's structure -----------------------------------------------------------------------

def _model_layers(config: dict, label: str) -> list[dict]:
    kind = config.get("class_name")
    if kind in CODE_LAYERS or (kind not in ("Sequential", "Functional", "Model") and kind is not None):
        raise ModelFileError(f"holds a {kind!s} model; convcli reads Sequential and functional models "
                             "(subclassed models are code)", path=label)
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not all(isinstance(layer, dict) and isinstance(layer.get("config"), dict)
                                               for layer in layers):
        raise ModelFileError("config.json lists no layers: not a Keras model config", path=label)
    if not layers:
        raise ModelFileError("config.json holds a model with no layers", path=label)
    return layers


def _layer_name(layer: dict, index: int, label: str) -> str:
    name = layer["config"].get("name", layer.get("name"))
    if not isinstance(name, str) or not name:
        raise ModelFileError(f"config.json: layer {index + 1} has no name", path=label)
    return name


def _tensors(node: Any) -> list[list]:
    """The keras_history ([layer, node, tensor]) of every tensor a call node takes, in args and kwargs."""
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            history = node.get("config", {}).get("keras_history")
            return [history] if isinstance(history, list) else [[None]]
        return [found for value in node.values() for found in _tensors(value)]
    if isinstance(node, list):
        return [found for value in node for found in _tensors(value)]
    return []


def _single_path(config: dict, layers: list[dict], label: str, until: str | None) -> list[int]:
    """The layers' indices from input to output; a functional model must be one chain (up to ``until``)."""
    if config.get("class_name") == "Sequential":
        return list(range(len(layers)))
    names = [_layer_name(layer, index, label) for index, layer in enumerate(layers)]
    body = config["config"]
    inputs = body.get("input_layers")
    if isinstance(inputs, list) and inputs and isinstance(inputs[0], list):
        if len(inputs) != 1:
            raise ModelFileError(f"takes {len(inputs)} inputs; convcli runs single-input models", path=label)
        inputs = inputs[0]
    consumers: dict[str, list[int]] = {name: [] for name in names}
    start = None
    for index, layer in enumerate(layers):
        nodes = layer.get("inbound_nodes") or []
        if not nodes:
            if start is not None:
                raise ModelFileError(f"takes several inputs ({names[start]!r}, {names[index]!r}); "
                                     "convcli runs single-input models", path=label)
            start = index
            continue
        if len(nodes) != 1:
            raise ModelFileError(f"uses layer {names[index]!r} {len(nodes)} times (a shared layer); "
                                 "convcli runs single-path models", path=label)
        sources = _tensors(nodes[0])
        if len(sources) != 1:
            raise ModelFileError(f"layer {names[index]!r} takes {len(sources)} inputs (a branching model); "
                                 "convcli runs single-path models", path=label)
        source = sources[0][0] if sources[0] else None
        if source not in consumers:
            raise ModelFileError(f"config.json: layer {names[index]!r} takes its input from unknown layer "
                                 f"{source!r}", path=label)
        consumers[source].append(index)
    if start is None or (isinstance(inputs, list) and inputs and inputs[0] != names[start]):
        raise ModelFileError("config.json has no single input layer", path=label)
    chain = [start]
    while names[chain[-1]] != until and consumers[names[chain[-1]]]:
        following = consumers[names[chain[-1]]]
        if len(following) > 1:
            raise ModelFileError(f"branches after layer {names[chain[-1]]!r} (into "
                                 f"{', '.join(repr(names[i]) for i in following)}); convcli runs single-path "
                                 "models (stop before the branch with `until`)", path=label)
        chain.append(following[0])
    outputs = body.get("output_layers")
    if isinstance(outputs, list) and outputs and isinstance(outputs[0], list):
        if len(outputs) != 1:
            raise ModelFileError(f"gives {len(outputs)} outputs; convcli runs single-output models", path=label)
        outputs = outputs[0]
    ends_at_output = not isinstance(outputs, list) or not outputs or outputs[0] == names[chain[-1]]
    if until is None and (len(chain) != len(layers) or not ends_at_output):
        raise ModelFileError("has layers off its single path; convcli runs single-path models", path=label)
    return chain


def _check_layer(layer: dict, name: str, index: int, count: int, label: str) -> None:
    """Refuse code, custom classes, unsupported kinds and channels_first data before anything is read."""
    kind = layer.get("class_name")
    where = f"layer {name!r} ({kind}, {index + 1} of {count})"
    if kind in CODE_LAYERS:
        raise ModelFileError(f"{where} is code, which convcli never runs; rebuild the model without it",
                             path=label)
    module = str(layer.get("module") or "keras")
    if layer.get("registered_name") not in (None, kind) or not module.startswith("keras"):
        raise ModelFileError(f"{where} is a custom layer (code), which convcli never runs", path=label)
    if kind not in LAYER_OPS:
        raise ModelFileError(f"{where} cannot be run by convcli (it runs {', '.join(LAYER_OPS)}); "
                             "stop before it with `until`", path=label)
    if layer["config"].get("data_format", "channels_last") != "channels_last":
        raise ModelFileError(f"{where} has data_format={layer['config']['data_format']!r}; convcli reads "
                             "channels_last models (Keras's default)", path=label)


def _weight_groups(layers: list[dict]) -> list[str]:
    """Where each layer's variables sit in model.weights.h5, named as Keras names them."""
    used: dict[str, int] = {}
    groups = []
    for layer in layers:
        snake = str(layer.get("class_name", ""))
        snake = re.sub(r"\W+", "", snake)
        snake = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", snake)
        snake = re.sub("([a-z])([A-Z])", r"\1_\2", snake).lower()
        if snake in used:
            used[snake] += 1
            groups.append(f"layers/{snake}_{used[snake]}/vars")
        else:
            used[snake] = 0
            groups.append(f"layers/{snake}/vars")
    return groups


def _input_channels(config: dict, layers: list[dict]) -> int | None:
    shape = config["config"].get("build_input_shape")
    if not shape and layers[0].get("class_name") != "InputLayer":
        shape = (layers[0].get("build_config") or {}).get("input_shape")
    return shape[-1] if isinstance(shape, list) and shape and isinstance(shape[-1], int) else None


# --- weights -------------------------------------------------------------------------------------

class _Vars:
    """A layer's variables in model.weights.h5: only hard links to datasets inside the file are read."""

    def __init__(self, h5: Any, group: str, name: str, where: str, label: str) -> None:
        import h5py

        self.where, self.label = where, label
        node: Any = h5
        for part in group.split("/"):
            link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
            if link is None:
                node = None
                break
            if not isinstance(link, h5py.HardLink):
                raise ModelFileError(f"model.weights.h5 links {group!r} elsewhere; refusing the file", path=label)
            node = node[part]
        self.group = node if isinstance(node, h5py.Group) else None
        stored = None if self.group is None else self.group.attrs.get("name")
        if isinstance(stored, bytes):
            stored = stored.decode("utf-8", "replace")
        if stored is not None and stored != name:
            raise ModelFileError(f"model.weights.h5 does not match config.json: {where} finds the weights of "
                                 f"{stored!r} at {group}", path=label)
        self.keys = [] if self.group is None else sorted(self.group.keys(), key=lambda k: (len(k), k))

    def read(self, expected: list[tuple[str, tuple[int, ...]]]) -> list[np.ndarray]:
        """The variables, which must be exactly ``expected`` (name, shape) in order; shapes are checked
        from the headers before anything is read."""
        import h5py

        if len(self.keys) != len(expected) or self.keys != [str(i) for i in range(len(expected))]:
            names = ", ".join(name for name, _ in expected)
            raise ModelFileError(f"{self.where}: model.weights.h5 holds {len(self.keys)} weights where config.json "
                                 f"needs {len(expected)} ({names or 'none'})"
                                 + ("; missing weights" if len(self.keys) < len(expected) else ""), path=self.label)
        arrays = []
        for key, (what, shape) in zip(self.keys, expected):
            link = self.group.get(key, getlink=True)
            dataset = self.group[key] if isinstance(link, h5py.HardLink) else None
            if not isinstance(dataset, h5py.Dataset) or dataset.external or dataset.is_virtual:
                raise ModelFileError(f"{self.where}: weight {key} is not a dataset stored in model.weights.h5; "
                                     "refusing the file", path=self.label)
            check_weight_array(dataset.shape, dataset.dtype, path=self.label, key=None,
                               what=f"{self.where}: {what}")
            if tuple(dataset.shape) != shape:
                raise ModelFileError(f"{self.where}: {what} has shape {tuple(dataset.shape)} in model.weights.h5 "
                                     f"but config.json needs {shape}", path=self.label)
            arrays.append(np.asarray(dataset[()]))
        return arrays


# --- layers --------------------------------------------------------------------------------------

def _pair(value: Any, what: str, where: str, label: str, *, low: int = 1) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= MAX_SIDE for v in value)):
        raise ModelFileError(f"{where}: {what} must be two integers from {low} to {MAX_SIDE}, not {value!r}",
                             path=label)
    return int(value[0]), int(value[1])


def _sides(value: Any, what: str, where: str, label: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """ZeroPadding2D's and Cropping2D's amounts as ((top, bottom), (left, right))."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = [[value, value], [value, value]]
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, int) for v in value):
        value = [[value[0], value[0]], [value[1], value[1]]]
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ModelFileError(f"{where}: {what} must be ((top, bottom), (left, right)), not {value!r}", path=label)
    rows, cols = (_pair(v, what, where, label, low=0) for v in value)
    return rows, cols


def _choice(value: Any, choices: tuple[str, ...], what: str, where: str, label: str) -> str:
    if value not in choices:
        raise ModelFileError(f"{where}: {what} {value!r} is not supported (convcli runs {', '.join(choices)})",
                             path=label)
    return value


def _number(value: Any, what: str, where: str, label: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelFileError(f"{where}: {what} must be a finite number, not {value!r}", path=label)
    return float(value)


def _positive(value: Any, what: str, where: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WEIGHT_ELEMENTS:
        raise ModelFileError(f"{where}: {what} must be a positive integer, not {value!r}", path=label)
    return value


def _activation(value: Any, where: str, label: str) -> dict[str, Any]:
    """A Keras activation (a name, or a built-in serialised as a dict) as {"function", "alpha"?}."""
    if isinstance(value, dict):  # built-ins may come serialised; custom functions are code
        if not str(value.get("module", "")).startswith("keras") or not isinstance(value.get("config"), str):
            raise ModelFileError(f"{where}: its activation is a custom function (code), which convcli never runs",
                                 path=label)
        value = value["config"]
    if value is None:
        value = "linear"
    function = _choice(value, tuple(KERAS_ACTIVATIONS), "activation", where, label)
    alpha = KERAS_ACTIVATIONS[function]
    return {"function": function} if alpha is None else {"function": function, "alpha": alpha}


def _convert(layer: dict, name: str, index: int, channels: int | None, reader: _Vars, where: str,
             label: str) -> tuple[KerasLayer, int | None]:
    """The record of one layer and the channel count after it."""
    kind, config = layer["class_name"], layer["config"]
    options: dict[str, Any] = {}
    arrays: list[np.ndarray] = []

    def weights(expected: list[tuple[str, tuple[int, ...]]]) -> list[np.ndarray]:
        for what, shape in expected:  # a huge declared shape is refused before the file is read
            check_weight_array(shape, "float32", path=label, key=None, what=f"{where}: {what}")
        arrays.extend(reader.read(expected))
        return arrays

    if kind == "InputLayer":
        shape = config.get("batch_shape", config.get("batch_input_shape"))
        if (not isinstance(shape, list) or len(shape) != 4
                or not all(s is None or (isinstance(s, int) and 1 <= s <= MAX_SIDE) for s in shape[1:])):
            raise ModelFileError(f"{where}: its input shape {shape!r} is not (batch, height, width, channels)",
                                 path=label)
        options["shape"] = tuple(shape[1:])
        reader.read([])
        return KerasLayer(name, kind, index, None, options, ()), shape[3]
    if kind in ("Conv2D", "DepthwiseConv2D", "Conv2DTranspose"):
        kh, kw = _pair(config.get("kernel_size"), "kernel_size", where, label)
        strides = _pair(config.get("strides", 1), "strides", where, label)
        dilation = _pair(config.get("dilation_rate", 1), "dilation_rate", where, label)
        padding = _choice(config.get("padding", "valid"), ("valid", "same"), "padding", where, label)
        activation = _activation(config.get("activation"), where, label)
        use_bias = bool(config.get("use_bias", True))
        if kind == "DepthwiseConv2D":
            multiplier = _positive(config.get("depth_multiplier", 1), "depth_multiplier", where, label)
            c_in = channels if channels is not None else _stored_dim(reader, 2, where, label)
            out = c_in * multiplier
            kernel = ("kernel", (kh, kw, c_in, multiplier))
        else:
            out = _positive(config.get("filters"), "filters", where, label)
            groups = _positive(config.get("groups", 1), "groups", where, label) if kind == "Conv2D" else 1
            c_in = channels if channels is not None else _stored_dim(reader, 2 if kind == "Conv2D" else 3,
                                                                     where, label) * groups
            if c_in % groups or out % groups:
                raise ModelFileError(f"{where}: groups={groups} must divide its {c_in} input channels and "
                                     f"{out} filters", path=label)
            kernel = ("kernel", (kh, kw, c_in // groups, out) if kind == "Conv2D" else (kh, kw, out, c_in))
        stored = weights([kernel] + ([("bias", (out,))] if use_bias else []))
        options.update(weights=stored[0])
        if kind == "Conv2D":
            options["layout"] = "hwio"
        elif kind == "Conv2DTranspose":
            options["layout"] = "hwoi"
        options.update(bias=stored[1] if use_bias else None, strides=strides, dilation=dilation, padding=padding)
        if kind == "Conv2D":
            options["groups"] = groups
        if kind == "Conv2DTranspose":
            extra = config.get("output_padding")
            options["output_padding"] = None if extra is None else _pair(extra, "output_padding", where, label, low=0)
        options["activation"] = activation["function"]
        if "alpha" in activation:
            options["alpha"] = activation["alpha"]
        channels = out
    elif kind in ("MaxPooling2D", "AveragePooling2D"):
        size = _pair(config.get("pool_size", 2), "pool_size", where, label)
        stride = size if config.get("strides") is None else _pair(config["strides"], "strides", where, label)
        options.update(op="max" if kind == "MaxPooling2D" else "avg", size=size, stride=stride,
                       mode=_choice(config.get("padding", "valid"), ("valid", "same"), "padding", where, label))
    elif kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        options.update({"op": "avg" if kind == "GlobalAveragePooling2D" else "max", "global": True})
    elif kind == "UpSampling2D":
        options.update(method=_choice(config.get("interpolation", "nearest"), UPSAMPLE_INTERPOLATIONS,
                                      "interpolation", where, label),
                       factor=_pair(config.get("size", 2), "size", where, label))
    elif kind == "Activation":
        options.update(_activation(config.get("activation"), where, label))
    elif kind == "LeakyReLU":
        slope = config.get("negative_slope", config.get("alpha", 0.3))
        options.update(function="leaky_relu", alpha=_number(slope, "negative_slope", where, label))
    elif kind == "ReLU":
        slope = _number(config.get("negative_slope", 0.0), "negative_slope", where, label)
        if config.get("max_value") is not None or _number(config.get("threshold", 0.0), "threshold", where, label):
            raise ModelFileError(f"{where}: max_value and threshold are not supported (convcli runs ReLU "
                                 "and leaky ReLU)", path=label)
        options.update({"function": "relu"} if slope == 0 else {"function": "leaky_relu", "alpha": slope})
    elif kind == "Rescaling":
        options.update(scale=_number(config.get("scale"), "scale", where, label),
                       offset=_number(config.get("offset", 0.0), "offset", where, label))
    elif kind == "ZeroPadding2D":
        options["padding"] = _sides(config.get("padding", 1), "padding", where, label)
    elif kind == "Cropping2D":
        options["cropping"] = _sides(config.get("cropping", 0), "cropping", where, label)
    elif kind == "BatchNormalization":
        if config.get("axis", -1) not in (-1, 3, [-1], [3]):
            raise ModelFileError(f"{where}: axis={config.get('axis')!r} is not supported (convcli normalises "
                                 "the channels, axis -1)", path=label)
        c = channels if channels is not None else _stored_dim(reader, 0, where, label)
        names = [n for n, keep in (("gamma", config.get("scale", True)), ("beta", config.get("center", True)),
                                   ("moving_mean", True), ("moving_variance", True)) if keep]
        stored = dict(zip(names, weights([(n, (c,)) for n in names])))
        options.update(gamma=stored.get("gamma", np.ones(c, np.float32)),
                       beta=stored.get("beta", np.zeros(c, np.float32)),
                       moving_mean=stored["moving_mean"], moving_variance=stored["moving_variance"],
                       epsilon=_number(config.get("epsilon", 1e-3), "epsilon", where, label))
    if kind not in ("Conv2D", "DepthwiseConv2D", "Conv2DTranspose", "BatchNormalization"):
        reader.read([])
    return KerasLayer(name, kind, index, LAYER_OPS[kind], options, tuple(arrays)), channels


def _stored_dim(reader: _Vars, axis: int, where: str, label: str) -> int:
    """A kernel's size along ``axis`` from the file, when the model does not say its input channels."""
    import h5py

    link = reader.group.get("0", getlink=True) if reader.group is not None else None
    shape = reader.group["0"].shape if isinstance(link, h5py.HardLink) else None
    if not shape or len(shape) <= axis:
        raise ModelFileError(f"{where}: missing weights (model.weights.h5 has no kernel for it)", path=label)
    return int(shape[axis])
