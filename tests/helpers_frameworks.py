"""The framework fixtures (tests/fixtures/frameworks/, made by scripts/make_framework_fixtures.py with
Keras and PyTorch; the tests read them without either): each model's file, input, per-layer outputs and
weights by name. tests/fixtures/frameworks/README.md describes the layout."""

import json
from pathlib import Path

import numpy as np

FRAMEWORKS = Path(__file__).resolve().parent / "fixtures" / "frameworks"
#: The Keras models (NAME.keras beside NAME.npz).
KERAS_MODELS = ("autoencoder", "autoencoder_transpose", "lecture_conv", "every_layer", "trained_autoencoder",
                "global_max_dense")  # the last one convcli reads only up to its Dense layer
#: The PyTorch modules in torch_modules.safetensors / .npz / .json.
TORCH_MODULES = ("conv_groups", "conv_same", "conv_transpose", "conv_transpose_dilated")
#: Tolerance of float32 comparisons with the frameworks (issue 13).
RTOL = 1e-4


def model_file(name):
    """The path of a fixture's model file: NAME.keras, or torch_modules.safetensors for "torch_modules"
    (trained_autoencoder's is the model convcli ships as sample:autoencoder)."""
    if name == "trained_autoencoder":
        from convcli.models.steps import sample_model

        return Path(sample_model("sample:autoencoder"))
    return FRAMEWORKS / (f"{name}.safetensors" if name == "torch_modules" else f"{name}.keras")


def fixture_arrays(name):
    """Every array of a fixture's .npz, as a dict (keys ``input``, ``output/LAYER``, ``weight/LAYER/I``,
    for torch ``weight/MODULE.weight`` and ``weight/MODULE.bias``; lecture_conv also ``again/0``, ``again/1``)."""
    with np.load(FRAMEWORKS / f"{name}.npz", allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def fixture_input(name):
    """The (H, W, C) float32 input the framework ran on (torch_modules: one input for every module)."""
    return fixture_arrays(name)["input"]


def fixture_output(name, layer):
    """What the framework gave after ``layer`` (a Keras layer name or a torch module name), batch axis
    dropped: (H, W, C), or (C,) after a Keras global pooling layer."""
    return fixture_arrays(name)[f"output/{layer}"]


def fixture_weights(name, layer):
    """A Keras layer's ``get_weights()`` (list, in order), or a torch module's {"weight", "bias"?}."""
    arrays = fixture_arrays(name)
    if name == "torch_modules":
        return {key.rsplit(".", 1)[1]: value for key, value in arrays.items() if key.startswith(f"weight/{layer}.")}
    count = sum(1 for key in arrays if key.startswith(f"weight/{layer}/"))
    return [arrays[f"weight/{layer}/{index}"] for index in range(count)]


def torch_config(module):
    """A torch module's constructor arguments (in_channels, out_channels, kernel_size, stride, padding,
    dilation, groups, output_padding for ConvTranspose2d) as the script recorded them."""
    return json.loads((FRAMEWORKS / "torch_modules.json").read_text(encoding="utf-8"))[module]


def versions():
    """The versions the fixtures were made with."""
    return json.loads((FRAMEWORKS / "versions.json").read_text(encoding="utf-8"))
