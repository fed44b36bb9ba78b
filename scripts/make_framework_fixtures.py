#!/usr/bin/env python
"""Build small Keras models and PyTorch modules with fixed seeds and save them, their inputs and the
frameworks' outputs under tests/fixtures/frameworks/ (issue 13, point 7).

Run it in a separate virtual environment, never the project's (convcli's tests must not need the
frameworks)::

    python3 -m venv /work/fw-venv
    /work/fw-venv/bin/pip install torch==2.13.0 && /work/fw-venv/bin/pip install keras h5py numpy safetensors
    KERAS_BACKEND=torch /work/fw-venv/bin/python scripts/make_framework_fixtures.py

It writes, per Keras model NAME, ``NAME.keras`` (``model.save``) and ``NAME.npz`` with ``input``
(H, W, C), ``output/LAYER`` for each layer (the batch axis dropped) and ``weight/LAYER/I`` (the
layer's ``get_weights()`` in order); for the PyTorch modules ``torch_modules.safetensors`` (the
state_dict) and ``torch_modules.npz``; and ``versions.json`` with the versions it ran with.
tests/fixtures/frameworks/README.md describes the layout.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from keras import layers  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "frameworks"
#: The models convcli ships (``sample:NAME`` as a pipeline): made here, trained on scikit-image's samples.
SAMPLES = Path(__file__).resolve().parents[1] / "src" / "convcli" / "models" / "samples"
SEED = 13


def digit_image() -> np.ndarray:
    """A 28×28×1 float32 image in [0, 1]: a hand-drawn "7" with soft edges (MNIST-like, no download)."""
    image = np.zeros((28, 28), np.float32)
    image[6:9, 7:22] = 1.0
    for row in range(9, 23):
        col = 21 - (row - 9) * 8 // 14
        image[row, col - 1:col + 2] = 1.0
    image[1:, :] = np.maximum(image[1:, :], 0.5 * image[:-1, :])  # soft lower edge
    return image[..., None]


def step_image() -> np.ndarray:
    """The lecture's 50×50 step image: 10 on the left half, 0 on the right, plus seeded N(0, 1) noise."""
    rng = np.random.default_rng(SEED)
    image = np.concatenate([np.full((50, 25), 10.0), np.zeros((50, 25))], axis=1) + rng.standard_normal((50, 50))
    return image.astype(np.float32)[..., None]


def layer_outputs(model: keras.Model, image: np.ndarray) -> dict[str, np.ndarray]:
    """Each layer's output on ``image`` (batch axis dropped), computed one layer at a time."""
    outputs, x = {}, image[None]
    for layer in model.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        x = keras.ops.convert_to_numpy(layer(x))
        outputs[f"output/{layer.name}"] = x[0]
    # One layer at a time gives what the whole model gives.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(image[None]))[0], x[0], rtol=1e-6, atol=1e-6)
    return outputs


def save_keras(name: str, model: keras.Model, image: np.ndarray, extra: dict | None = None,
               path: Path | None = None) -> None:
    model.save(path or OUT / f"{name}.keras")
    arrays = {"input": image.astype(np.float32), **layer_outputs(model, image)}
    for layer in model.layers:
        for index, weight in enumerate(layer.get_weights()):
            arrays[f"weight/{layer.name}/{index}"] = weight
        if not isinstance(layer, layers.InputLayer):  # what model.summary() shows: output shape, Param #
            arrays[f"summary/{layer.name}/shape"] = np.array(layer.output.shape[1:], dtype=np.int64)
            arrays[f"summary/{layer.name}/params"] = np.array(layer.count_params(), dtype=np.int64)
    arrays.update(extra or {})
    np.savez_compressed(OUT / f"{name}.npz", **arrays)


def randomise_batch_norm(model: keras.Model, rng: np.random.Generator) -> None:
    """Give BatchNormalization layers non-trivial statistics (fresh ones are 0 and 1, which test little)."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.3, mean.shape), rng.uniform(0.5, 2.0, variance.shape)])


def autoencoders() -> None:
    """The lecture's MNIST autoencoder (functional, as in the notes) and its Conv2DTranspose variant."""
    for name, decoder in (("autoencoder", layers.Conv2D), ("autoencoder_transpose", layers.Conv2DTranspose)):
        keras.utils.set_random_seed(SEED)
        input_img = keras.Input(shape=(28, 28, 1), name="input")
        x = layers.Conv2D(16, (3, 3), activation="relu", padding="same", name="encode_conv")(input_img)
        x = layers.MaxPooling2D((2, 2), padding="same", name="encode_pool")(x)
        x = decoder(4, (3, 3), activation="relu", padding="same", name="decode_conv")(x)
        x = layers.UpSampling2D((2, 2), name="decode_upsample")(x)
        save_keras(name, keras.Model(input_img, x, name=name), digit_image())


def training_crops(count: int = 6000) -> np.ndarray:
    """28×28 crops of scikit-image's bundled grey photographs, values 0..255, at seeded places."""
    from skimage import data

    photos = [data.camera(), data.coins(), data.moon(), data.page(), data.text()]
    rng = np.random.default_rng(SEED)
    crops = []
    for index in range(count):
        photo = photos[index % len(photos)]
        row, col = rng.integers(0, photo.shape[0] - 28), rng.integers(0, photo.shape[1] - 28)
        crops.append(photo[row:row + 28, col:col + 28])
    return np.stack(crops)[..., None].astype(np.float32)


def trained_autoencoder() -> None:
    """The lecture's autoencoder with a layer that gives the picture back, trained (mean squared error,
    Adam, 10 epochs) on crops of scikit-image's photographs: the model convcli ships as
    ``sample:autoencoder``. It takes and gives pixel values 0..255 (Rescaling at both ends), and,
    having only convolutions, pooling and upsampling, runs on a photograph of any even size."""
    from skimage import data

    keras.utils.set_random_seed(SEED)
    input_img = keras.Input(shape=(28, 28, 1), name="input")
    x = layers.Rescaling(1 / 255, name="to_unit")(input_img)
    x = layers.Conv2D(16, (3, 3), activation="relu", padding="same", name="encode_conv")(x)
    x = layers.MaxPooling2D((2, 2), padding="same", name="encode_pool")(x)
    x = layers.Conv2D(4, (3, 3), activation="relu", padding="same", name="decode_conv")(x)
    x = layers.UpSampling2D((2, 2), name="decode_upsample")(x)
    x = layers.Conv2D(1, (3, 3), activation="sigmoid", padding="same", name="decode_output")(x)
    x = layers.Rescaling(255, name="to_pixels")(x)
    model = keras.Model(input_img, x, name="autoencoder")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    crops = training_crops()
    history = model.fit(crops, crops, epochs=10, batch_size=64, shuffle=True, verbose=0)
    print("trained autoencoder: loss", [round(v, 1) for v in history.history["loss"]])
    SAMPLES.mkdir(parents=True, exist_ok=True)
    image = data.camera()[240:268, 200:228, None].astype(np.float32)
    save_keras("trained_autoencoder", model, image, path=SAMPLES / "autoencoder.keras")


def lecture_conv() -> None:
    """Lecture 001: ``Conv2D(2, (2, 2))`` with the mean and edge kernels, bias 0, on the step image;
    then each output channel fed back through the same layer (``again/0``, ``again/1``: 48×48×2)."""
    keras.utils.set_random_seed(SEED)
    conv = layers.Conv2D(2, (2, 2), name="conv")
    model = keras.Sequential([keras.Input(shape=(50, 50, 1), name="input"), conv], name="lecture_conv")
    mean = np.full((2, 2), 0.25)
    edge = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    conv.set_weights([np.stack([mean, edge], axis=-1)[:, :, None, :], np.zeros(2)])
    image = step_image()
    first = keras.ops.convert_to_numpy(model(image[None]))[0]
    again = {f"again/{channel}": keras.ops.convert_to_numpy(model(first[None, :, :, channel:channel + 1]))[0]
             for channel in range(2)}
    save_keras("lecture_conv", model, image, again)


def every_layer() -> None:
    """One model holding every layer kind convcli reads, on a small RGB input with values 0..255."""
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input(shape=(21, 23, 3), name="input"),
        layers.Rescaling(1 / 127.5, offset=-1.0, name="rescale"),
        layers.ZeroPadding2D(((1, 2), (0, 1)), name="zero_pad"),
        layers.Conv2D(8, 3, strides=2, padding="valid", activation="relu", name="conv_stride"),
        layers.Conv2D(8, (3, 2), dilation_rate=2, padding="same", groups=2, activation="tanh", name="conv_groups"),
        layers.BatchNormalization(epsilon=1e-3, name="batch_norm"),
        layers.LeakyReLU(negative_slope=0.2, name="leaky"),
        layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", activation="sigmoid", name="depthwise"),
        layers.Cropping2D(((1, 0), (0, 1)), name="crop"),
        layers.Conv2D(6, 1, use_bias=False, activation="softplus", name="conv_1x1"),
        layers.AveragePooling2D(2, padding="same", name="avg_pool"),
        layers.Conv2DTranspose(5, 3, strides=2, padding="same", activation="elu", name="conv_transpose"),
        layers.Conv2DTranspose(4, 3, strides=2, padding="valid", output_padding=1, name="conv_transpose_op"),
        layers.UpSampling2D((2, 1), interpolation="bilinear", name="upsample_bilinear"),
        layers.MaxPooling2D(3, strides=2, padding="valid", name="max_pool"),
        layers.ReLU(name="relu"),
        layers.Activation("gelu", name="gelu"),
        layers.Activation("linear", name="linear"),
        layers.GlobalAveragePooling2D(name="global_avg"),
    ], name="every_layer")
    randomise_batch_norm(model, np.random.default_rng(SEED))
    image = np.random.default_rng(SEED).integers(0, 256, (21, 23, 3)).astype(np.float32)
    save_keras("every_layer", model, image)


def global_max_then_dense() -> None:
    """A Conv2D, GlobalMaxPooling2D and a Dense head: convcli reads it up to ``global_max``."""
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input(shape=(9, 8, 2), name="input"),
        layers.Conv2D(3, 3, padding="same", name="conv"),
        layers.GlobalMaxPooling2D(name="global_max"),
        layers.Dense(2, name="dense"),
    ], name="global_max_dense")
    image = np.random.default_rng(SEED).random((9, 8, 2), dtype=np.float32)
    save_keras("global_max_dense", model, image)


def torch_modules() -> None:
    """Conv2d (groups, dilation, stride, padding amounts and 'same') and ConvTranspose2d (output_padding,
    groups); the state_dict goes to a .safetensors file as people save it."""
    torch.manual_seed(SEED)
    modules = torch.nn.ModuleDict({
        "conv_groups": torch.nn.Conv2d(4, 6, 3, stride=(1, 2), padding=(1, 2), dilation=2, groups=2),
        "conv_same": torch.nn.Conv2d(4, 3, (3, 4), padding="same", bias=False),
        "conv_transpose": torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2),
        "conv_transpose_dilated": torch.nn.ConvTranspose2d(4, 2, 2, stride=3, padding=(0, 1), dilation=2),
    })
    image = torch.rand(1, 4, 11, 10)
    arrays = {"input": image[0].permute(1, 2, 0).numpy()}
    with torch.no_grad():
        for name, module in modules.items():
            arrays[f"output/{name}"] = module(image)[0].permute(1, 2, 0).numpy()
    state = {key: value.contiguous() for key, value in modules.state_dict().items()}
    save_file(state, str(OUT / "torch_modules.safetensors"))
    arrays.update({f"weight/{key}": value.numpy() for key, value in state.items()})
    np.savez_compressed(OUT / "torch_modules.npz", **arrays)
    configs = {name: {key: getattr(module, key) for key in
                      ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups")
                      + (("output_padding",) if isinstance(module, torch.nn.ConvTranspose2d) else ())}
               for name, module in modules.items()}
    (OUT / "torch_modules.json").write_text(json.dumps(configs, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    autoencoders()
    trained_autoencoder()
    lecture_conv()
    every_layer()
    global_max_then_dense()
    torch_modules()
    import h5py
    import safetensors

    versions = {"python": platform.python_version(), "keras": keras.__version__,
                "keras_backend": keras.backend.backend(), "torch": torch.__version__, "numpy": np.__version__,
                "h5py": h5py.__version__, "safetensors": safetensors.__version__,
                "seed": SEED, "script": "scripts/make_framework_fixtures.py"}
    (OUT / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
