"""The batch_norm step: inference-time batch normalisation (Keras ``BatchNormalization``).

``gamma·(x − moving_mean)/√(moving_variance + epsilon) + beta``, per channel.
"""

from __future__ import annotations

from typing import Any

from .activation import memory, unchanged_window
from .base import same_rows, Number, Option, Planning, RuleError, Running, StepKind, Weights, Wording

PER_CHANNEL = ("gamma", "beta", "moving_mean", "moving_variance")
OPTIONS = (
    Option("gamma", Weights(), help="Scale per channel (ones when not given: Keras's scale=False)."),
    Option("beta", Weights(), help="Offset per channel (zeros when not given: Keras's center=False)."),
    Option("moving_mean", Weights(), help="The mean per channel learnt in training."),
    Option("moving_variance", Weights(), help="The variance per channel learnt in training."),
    Option("epsilon", Number(positive=True, what="a small number"), 1e-3, help="Added to the variance (Keras's 0.001)."),
)


def rules(options: dict[str, Any], say: Wording) -> None:
    missing = [name for name in ("moving_mean", "moving_variance") if name not in options]
    if missing:
        raise RuleError(f"give {' and '.join(say(name, '[...]') for name in missing)}")
    for name in PER_CHANNEL:
        if name in options and options[name].ndim != 1:
            raise RuleError(f"{say(name)} must be one number per channel, got shape {tuple(options[name].shape)}",
                            option=name)
    if "moving_variance" in options and (options["moving_variance"] < 0).any():
        raise RuleError(f"{say('moving_variance')} cannot be negative", option="moving_variance")


def plan(step: Any, state: Any, planning: Planning) -> tuple[tuple[int, ...], dict]:
    channels = int(state.shape[2]) if len(state.shape) > 2 else 1
    for name in PER_CHANNEL:
        given = step.options.get(name)
        if given is not None and given.shape[0] != channels:
            raise ValueError(f"`{name}` holds {given.shape[0]} numbers for {channels} channels")
    # Keras counts each array the layer holds (gamma and beta only with scale and center).
    held = sum(step.options.get(name) is not None for name in PER_CHANNEL)
    record = {"op": "batch_norm", "epsilon": step.options["epsilon"], "params": held * channels,
              "in_shape": list(state.shape), "out_shape": list(state.shape)}
    state.kind, state.scale = "values", "clip"
    return state.shape, unchanged_window(state, record)


def run(step: Any, array: Any, running: Running) -> Any:
    import numpy as np

    from ..ops.activations import batch_norm

    options = step.options
    channels = array.shape[2] if array.ndim > 2 else 1
    gamma = options.get("gamma") if options.get("gamma") is not None else np.ones(channels, np.float32)
    beta = options.get("beta") if options.get("beta") is not None else np.zeros(channels, np.float32)
    return batch_norm(array, gamma=gamma, beta=beta, moving_mean=options["moving_mean"],
                      moving_variance=options["moving_variance"], epsilon=options["epsilon"])


def headline(record: dict) -> str:
    return f"batch_norm (epsilon {record['epsilon']:g}; {record['params']:,} params)"


KIND = StepKind(name="batch_norm", summary="Inference-time batch normalisation per channel (Keras BatchNormalization).",
                options=OPTIONS, plan=plan, run=run, memory=memory, rules=rules, headline=headline, rows=same_rows)
