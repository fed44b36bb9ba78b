"""Step kinds: one module each, registered here (the order is the one messages list them in).

See :mod:`convcli.steps.base` for what a kind declares, and docs/architecture.md for the recipe
for adding one.
"""

from __future__ import annotations

from . import filter, gray, pool, sobel, upsample
from .base import KEYS, StepKind, Wording

#: Every step kind, by name.
KINDS: dict[str, StepKind] = {kind.name: kind for kind in (gray.KIND, filter.KIND, sobel.KIND, pool.KIND,
                                                            upsample.KIND)}

__all__ = ["KEYS", "KINDS", "StepKind", "Wording"]
