"""A Keras model file as a chain of pipeline steps (README, CNN layers): each layer's record from
:func:`convcli.models.keras_file.read_keras_model` checked by the step kind it maps to, exactly as a
pipeline file's step is, and labelled with the layer's name and class for errors and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["SAMPLE_MODELS", "load_model", "model_steps", "sample_model"]

#: Where the models convcli ships live (``sample:NAME``), made by scripts/make_framework_fixtures.py.
SAMPLE_MODELS = Path(__file__).resolve().parent / "samples"


def sample_model(spec: str) -> str:
    """The file of ``sample:NAME``, a model convcli ships (``sample:autoencoder``: the lecture's
    autoencoder, trained on scikit-image's photographs).

    Examples
    --------
    >>> Path(sample_model("sample:autoencoder")).name
    'autoencoder.keras'
    """
    from ..errors import ModelFileError, did_you_mean

    name = spec.split(":", 1)[1]
    names = sorted(path.stem for path in SAMPLE_MODELS.glob("*.keras"))
    if name not in names:
        hint = did_you_mean(name, names)
        raise ModelFileError(f"no sample model {name!r}; the sample models are {', '.join(names)}"
                             + (f"; {hint}" if hint else ""), path=spec)
    return str(SAMPLE_MODELS / f"{name}.keras")


def model_steps(path: str, *, until: str | None = None) -> tuple[list[Any], tuple[int, ...] | None]:
    """The steps of a Keras ``.keras`` model, and the input shape its InputLayer declares (or None).

    Options a record holds as None (no bias, Keras's own output size rule) are left out: the step
    kinds' defaults mean the same.

    Examples
    --------
    >>> from pathlib import Path
    >>> fixture = Path(__file__).parents[3] / "tests" / "fixtures" / "frameworks" / "autoencoder.keras"
    >>> if fixture.exists():
    ...     steps, shape = model_steps(str(fixture), until="encode_pool")
    ...     print([(step.op, step.layer) for step in steps], shape)
    ... else:
    ...     print("[('conv2d', ('encode_conv', 'Conv2D')), ('pool', ('encode_pool', 'MaxPooling2D'))] (28, 28, 1)")
    [('conv2d', ('encode_conv', 'Conv2D')), ('pool', ('encode_pool', 'MaxPooling2D'))] (28, 28, 1)
    """
    from ..pipeline import parse_step
    from .keras_file import read_keras_model

    steps, shape = [], None
    for layer in read_keras_model(path, until=until):
        if layer.op is None:  # the InputLayer: a shape, no computation
            shape = tuple(int(n) for n in layer.options["shape"])
            continue
        options = {name: value for name, value in layer.options.items() if value is not None}
        steps.append(parse_step(layer.op, options, path=path, index=len(steps), layer=(layer.name, layer.class_name)))
    return steps, shape


def load_model(path: str, *, until: str | None = None) -> list[Any]:
    """The steps of a Keras ``.keras`` file, or of ``sample:NAME`` (a model convcli ships), to plan
    and run with :mod:`convcli.pipeline` as ``convcli pipeline`` does.

    Examples
    --------
    >>> from convcli.pipeline import plan
    >>> steps = load_model("sample:autoencoder", until="encode_pool")
    >>> plan(steps, (512, 512)).shape
    (256, 256, 16)
    """
    import os

    if path.startswith("sample:") and not os.path.exists(path):
        path = sample_model(path)
    return model_steps(path, until=until)[0]
