"""The activation step: a function applied to every value (Keras's definitions; README, CNN layers)."""

from __future__ import annotations

from typing import Any

from ..vocabulary import ACTIVATIONS
from .base import same_rows, Choice, Number, Option, Planning, RuleError, Running, StepKind, Wording, field_so_far
from .layer import TAKES_ALPHA

OPTIONS = (
    Option("function", Choice(ACTIVATIONS), "relu", help="relu, leaky_relu, sigmoid, ... (Keras's definitions)."),
    Option("alpha", Number(), help="leaky_relu's slope below 0 (default 0.2) or elu's scale (default 1)."),
)


def rules(options: dict[str, Any], say: Wording) -> None:
    if "alpha" in options and options.get("function", "relu") not in TAKES_ALPHA:
        raise RuleError(f"{say('alpha')} is the slope of {say('function', 'leaky_relu')} or the scale of "
                        f"{say('function', 'elu')}; drop it", option="alpha")


def unchanged_window(state: Any, record: dict, *, first: tuple[int, int] = (0, 0)) -> dict:
    """The fields of a step that reads one input pixel per output pixel: receptive field and jump as
    before; output 0 reads input pixel ``first`` (negative: a margin of zeros added before it), so
    the field starts ``first`` jumps further on."""
    from ..report import carry_field

    record.update(carry_field(field_so_far(state), first=first))
    return record


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    record = {"op": "activation", "function": step.options["function"], "in_shape": list(state.shape),
              "out_shape": list(state.shape)}
    if step.options.get("alpha") is not None:
        record["alpha"] = step.options["alpha"]
    state.kind, state.scale = "values", "clip"
    return state.shape, unchanged_window(state, record)


def run(step: Any, array: Any, running: Running) -> Any:
    from ..ops.activations import activation

    return activation(array, function=step.options["function"], alpha=step.options.get("alpha"))


def memory(step: Any, record: dict, sizes: Any) -> int:
    """The input converted, and what the function holds (at least its result)."""
    from .layer import activation_memory

    return sizes.n_in * sizes.real + max(sizes.result, activation_memory(record, sizes))


def headline(record: dict) -> str:
    alpha = f" (alpha {record['alpha']:g})" if "alpha" in record else ""
    return f"activation {record['function']}{alpha}"


KIND = StepKind(name="activation", summary="An activation function on every value (Keras's relu, leaky_relu, "
                "sigmoid, tanh, softplus, elu, gelu, linear).", options=OPTIONS, plan=plan, run=run, memory=memory,
                rules=rules, headline=headline, rows=same_rows)
