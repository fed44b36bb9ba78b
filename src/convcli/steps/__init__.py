"""Step kinds: one module each, registered here (the order is the one messages list them in).

See :mod:`convcli.steps.base` for what a kind declares, and docs/architecture.md for the recipe
for adding one.
"""

from __future__ import annotations

from . import activation, batch_norm, conv2d, conv2d_transpose, crop, depthwise_conv2d, filter, gray, pool, rescale, sobel, upsample, zero_pad
from .base import KEYS, StepKind, Wording

#: Every step kind, by name.
KINDS: dict[str, StepKind] = {kind.name: kind for kind in (
    gray.KIND, filter.KIND, sobel.KIND, pool.KIND, upsample.KIND,
    conv2d.KIND, depthwise_conv2d.KIND, conv2d_transpose.KIND, activation.KIND, rescale.KIND, zero_pad.KIND, crop.KIND, batch_norm.KIND,
)}



def kind_of_record(record: dict) -> StepKind:
    """The kind of step a report record is of (its ``op``: ``global_pool`` is a pool)."""
    op = record.get("op")
    return next(kind for kind in KINDS.values() if op == kind.name or op in kind.record_ops)


__all__ = ["KEYS", "KINDS", "StepKind", "Wording", "kind_of_record"]
