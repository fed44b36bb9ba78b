"""Run a command as a chain of pipeline steps: the single commands and ``pipeline`` share one engine.

A command turns its options into :class:`convcli.pipeline.Step` objects (``--gray`` adds a gray
step before its own); this module plans and runs them for each input through the batch loop, so
every command reports shapes, padding, receptive field and jump the same way a pipeline does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from .batch import run_batch
from .targets import SHEET_PRODUCT
from .inputs import InputFile, collect_inputs
from .one_input import Product
from .options import OutputOptions


def make_step(op: str, options: dict[str, Any]) -> Any:
    """A checked step from command-line options (None values dropped); a bad one is a usage error."""
    from ..errors import ConvcliError
    from ..pipeline import parse_step
    from .wording import FLAGS, command_flags, error_text

    try:
        return parse_step(op, {name: value for name, value in options.items() if value is not None}, wording=FLAGS)
    except ConvcliError as error:  # worded with FLAGS, or naming options the core's way: as flags here
        raise click.UsageError(error_text(error, command_flags())) from None


def run_chains(
    *,
    command: str,
    inputs: Sequence[str],
    options: OutputOptions,
    chains: Sequence[Sequence[Any]],
    names: Sequence[str],
    gray: bool = False,
    stackable: Sequence[bool] | None = None,
    show: Callable[[InputFile, list[Product]], None] | None = None,
    extra: Callable[[Any], dict] | None = None,
    sheet_chain: Sequence[Any] | None = None,
    reads: Sequence[tuple[str, str]] = (),
) -> None:
    """Plan (dry run) or run each chain of steps on every input; one product per chain, named by
    ``names``, then one per step that has ``save:`` (its file named by the save template).

    ``gray`` puts a gray step in front of every chain. ``extra(result)`` adds report fields
    computed from a result (global pooling's values). ``--sheet`` (``options.sheet``) names one
    more file: the result as a labelled contact sheet, one tile per channel (8-bit RGB); a chain
    with conv layers shows their maps instead, a block per layer (see
    :func:`convcli.sheet.pipeline_sheet`), their results kept for it as the chain runs. With
    several chains (one per kernel of a bank), the sheet shows them all, channel c·K + k being
    chain k's channel c, labelled as the one step ``sheet_chain`` that computes the whole bank
    would label them. ``options.sheet_scale`` and ``options.sheet_input`` say how the sheet is
    drawn (its scale; the input as the first tiles). ``reads`` lists
    files the run reads besides its inputs and kernel files, as ``(role, path)`` (the pipeline
    file): no output may overwrite one of them.
    """
    from ..images import DEFAULT_MAX_PIXELS
    from ..pipeline import layer_positions, plan, run

    limit = options.max_pixels or DEFAULT_MAX_PIXELS  # results, not only inputs, must stay holdable
    prefix = [make_step("gray", {})] if gray else []
    full = [prefix + list(chain) for chain in chains]
    # A step with `save:` adds a product of its own, named by its save template.
    saving = [(number, position) for number, steps in enumerate(full)
              for position, step in enumerate(steps) if step.save]
    names = list(names) + [f"step{position + 1}" for _, position in saving]
    templates = {len(full) + order: full[number][position].save for order, (number, position) in enumerate(saving)}
    sheet = options.sheet
    if sheet is not None:
        templates[len(names)] = sheet
        names.append(SHEET_PRODUCT)
    # What the sheet shows: the one chain's conv layers' maps or its result, or all chains' results
    # stacked as one bank.
    labelled = full[0] if len(full) == 1 else prefix + list(sheet_chain or ())
    layers = layer_positions(full[0]) if sheet is not None and len(full) == 1 else []

    def sheet_of(planned: Any, array: Any, maps: dict[int, Any], source: Any) -> Product:
        from ..sheet import pipeline_sheet

        scale = {"scale": options.sheet_scale} if options.sheet_scale is not None else {}
        image = pipeline_sheet(array, labelled, planned, maps=maps, input_image=source, **scale)
        return Product(image, planned.steps, False, shape=image.shape, dtype="uint8", whole=True)

    def stacked(results: list[Any], has_alpha: bool) -> Any:
        """The chains' results as the one bank would give them: channel c·K + k is chain k's c."""
        import numpy as np

        if len(results) == 1:
            return results[0]
        colour = [r[..., :-1] if has_alpha else r for r in results]
        colour = [c if c.ndim == 3 else c[..., None] for c in colour]
        bank = np.stack(colour, axis=-1).reshape(colour[0].shape[:2] + (-1,))
        if bank.shape[2] == 1:
            bank = bank[..., 0]
        return np.concatenate([bank, results[0][..., -1:]], axis=-1) if has_alpha else bank

    def product(planned: Any, array: Any = None, extra_fields: dict | None = None) -> Product:
        return Product(array, planned.steps, planned.has_alpha, shape=planned.shape, kind=planned.kind,
                       scale=planned.scale, extra=extra_fields or {}, planned_dtype=planned.dtype)

    def start_dtype(dtype: str) -> str:
        from ..dtypes import start_dtype as rule

        return rule(dtype, output_dtype=options.dtype)

    def compute(image: Any, info: Any) -> list[Product]:
        products, saves, maps = [], [], {}
        image = image.astype(start_dtype(str(image.dtype)), copy=False)
        for number, steps in enumerate(full):
            keep = layers if number == 0 else []
            result, planned, kept = run(steps, image, has_alpha=info.has_alpha, max_pixels=limit,
                                        engine=options.engine, allow_nonfinite=options.allow_nonfinite, keep=keep)
            products.append(product(planned, result, extra(result) if extra else None))
            # `run` gives the saved steps' and the kept layers' results, in the chain's order.
            positions = [position for position, step in enumerate(steps) if step.save or position in keep]
            for position, (step, array) in zip(positions, kept):
                if step.save:
                    saves.append(array)
                if position in keep:
                    maps[position] = array
        for (number, position), array in zip(saving, saves):
            products.append(product(plan(full[number][: position + 1], image.shape, has_alpha=info.has_alpha), array))
        if sheet is not None:
            results = [p.array for p in products[: len(full)]]
            products.append(sheet_of(plan(labelled, image.shape, has_alpha=info.has_alpha),
                                     stacked(results, info.has_alpha), maps, image if options.sheet_input else None))
        return products

    def describe(info: Any) -> list[Product]:
        dtype = start_dtype(info.dtype)
        products = [product(plan(steps, info.shape, has_alpha=info.has_alpha, max_pixels=limit, dtype=dtype))
                    for steps in full]
        for number, position in saving:
            products.append(product(plan(full[number][: position + 1], info.shape, has_alpha=info.has_alpha,
                                         dtype=dtype)))
        if sheet is not None:  # the layout from an empty result of the planned shape
            import numpy as np

            planned = plan(labelled, info.shape, has_alpha=info.has_alpha)
            maps = {position: np.zeros(planned.stages[position].out_shape, dtype=np.float32) for position in layers}
            source = np.zeros(info.shape, dtype=np.float32) if options.sheet_input else None
            laid_out = sheet_of(planned, np.zeros(planned.shape, dtype=np.float32), maps, source)
            products.append(Product(None, planned.steps, False, shape=laid_out.shape, dtype="uint8"))
        return products

    def memory(info: Any, outputs: list[tuple[int, str, str]]) -> Any:
        from ..memory import estimate_memory

        if sheet is not None:  # the contact sheet is 8-bit, whatever --dtype says
            outputs = [(index, "uint8" if index == len(names) - 1 else dtype, fmt) for index, dtype, fmt in outputs]
        return estimate_memory(full, info.shape, info.dtype, has_alpha=info.has_alpha,
                               start_dtype=start_dtype(info.dtype), outputs=outputs, sheet=sheet is not None,
                               engine=options.engine, max_pixels=limit)

    # Kernel files (-k FILE, a pipeline's `kernel:` entries) are read by this run too: never overwritten.
    kernels = [kernel for steps in full for step in steps
               for kernel in [*step.options.get("kernels", ()), step.options.get("kernel")] if kernel is not None]
    kernel_files = [("kernel file", kernel.file) for kernel in kernels if kernel.file is not None]
    run_batch(command=command, inputs=collect_inputs(inputs), products=names, options=options,
              compute=compute, describe=describe, stackable=stackable, show=show, templates=templates,
              memory=memory, reads=[*reads, *kernel_files])
