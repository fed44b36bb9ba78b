"""The rescale step: ``x·scale + offset`` (Keras ``Rescaling``; README, CNN layers)."""

from __future__ import annotations

from typing import Any

from .activation import memory, unchanged_window
from .base import same_rows, Number, Option, Planning, Running, StepKind

OPTIONS = (
    Option("scale", Number(), 1.0, help="Multiply every value by this (1/255 maps 0..255 onto 0..1)."),
    Option("offset", Number(), 0.0, help="Then add this."),
)


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    record = {"op": "rescale", "scale": step.options["scale"], "offset": step.options["offset"],
              "in_shape": list(state.shape), "out_shape": list(state.shape)}
    state.kind, state.scale = "values", "clip"
    return state.shape, unchanged_window(state, record)


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.activations import rescale

    return rescale(array, scale=step.options["scale"], offset=step.options["offset"])


def headline(record: dict) -> str:
    return f"rescale ×{record['scale']:g} + {record['offset']:g}"


KIND = StepKind(name="rescale", summary="x·scale + offset on every value (Keras Rescaling).", options=OPTIONS,
                plan=plan, run=run, memory=memory, headline=headline, rows=same_rows)
