"""A Keras model file as a chain of pipeline steps (README, CNN layers): each layer's record from
:func:`convcli.models.keras_file.read_keras_model` checked by the step kind it maps to, exactly as a
pipeline file's step is, and labelled with the layer's name and class for errors and reports."""

from __future__ import annotations

from typing import Any

__all__ = ["model_steps"]


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
