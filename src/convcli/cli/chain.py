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
from .targets import EXPLAIN_PRODUCT, SHEET_PRODUCT
from .inputs import InputFile, collect_inputs
from .one_input import Product
from .options import ExplainRequest, OutputOptions


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
    explain: ExplainRequest | None = None,
    explained: Any = None,
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

    ``explain`` (``--explain``) writes out one output value of one step of the first chain, from
    that step's input (kept as the chain runs, never run twice) with :func:`convcli.explain.explain_step`
    (``explained``: the step to explain it with, when the command's chain splits it, as a bank of
    kernels into one chain per kernel): the report entry's ``explain`` field, and a table on
    standard output unless that carries the report or the image (then standard error).
    """
    from ..images import DEFAULT_MAX_PIXELS
    from ..pipeline import layer_positions, plan

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

    explaining = _explaining(explain, full, len(prefix), explained, inputs, options) if explain else None
    if explaining is not None and explaining.request.picture is not None:
        templates[len(names)] = explaining.request.picture
        names.append(EXPLAIN_PRODUCT)

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
            # The sheet's layers, and the result before the explained step (its input).
            before = explaining.index - 1 if explaining and number == 0 and explaining.index > 0 else None
            keep = sorted({*layers, *([before] if before is not None else [])}) if number == 0 else []
            result, planned, kept = _run(steps, image, has_alpha=info.has_alpha, max_pixels=limit, options=options,
                                         keep=keep)
            products.append(product(planned, result, extra(result) if extra else None))
            # `run` gives the saved steps' and the kept layers' results, in the chain's order.
            positions = [position for position, step in enumerate(steps) if step.save or position in keep]
            step_input = image
            for position, (step, array) in zip(positions, kept):
                if step.save:
                    saves.append(array)
                if position in layers and number == 0:
                    maps[position] = array
                if position == before:
                    step_input = array
            if explaining and number == 0:
                has_alpha = plan(steps[: explaining.index], image.shape, has_alpha=info.has_alpha).has_alpha
                explanations = explaining.explanations(step_input, has_alpha)
                products[0].extra["explain"] = explaining.data(explanations)
        for (number, position), array in zip(saving, saves):
            products.append(product(plan(full[number][: position + 1], image.shape, has_alpha=info.has_alpha), array))
        if sheet is not None:
            results = [p.array for p in products[: len(full)]]
            products.append(sheet_of(plan(labelled, image.shape, has_alpha=info.has_alpha),
                                     stacked(results, info.has_alpha), maps, image if options.sheet_input else None))
        if explaining and explaining.request.picture is not None:
            picture = explaining.picture(explanations)
            products.append(Product(picture, products[0].steps, False, shape=picture.shape, dtype="uint8", whole=True))
        if explaining and options.output is None and options.output_dir is None:
            # Without -o or -O the result has no file, so no report entry: the files `save:` writes carry it.
            for made in products[1:]:
                made.extra["explain"] = products[0].extra["explain"]
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
            sheet_index = names.index(SHEET_PRODUCT)
            outputs = [(index, "uint8" if index == sheet_index else dtype, fmt) for index, dtype, fmt in outputs]
        if EXPLAIN_PRODUCT in names:  # a picture of one window: kilobytes, next to the images
            outputs = [output for output in outputs if output[0] != names.index(EXPLAIN_PRODUCT)]
        return estimate_memory(full, info.shape, info.dtype, has_alpha=info.has_alpha,
                               start_dtype=start_dtype(info.dtype), outputs=outputs, sheet=sheet is not None,
                               engine=options.engine, max_pixels=limit)

    def stream(info: Any) -> Any:
        """The one chain, when an input of this header may be streamed (cli/streamed.py); else None."""
        from ..bands import whole_reason
        from .streamed import Streamable, stream_pixel_limit

        if len(full) != 1 or saving or sheet is not None or explaining is not None or extra is not None:
            return None
        dtype = start_dtype(info.dtype)
        results = stream_pixel_limit(limit, info.shape)
        try:
            planned = plan(full[0], info.shape, has_alpha=info.has_alpha, dtype=dtype, max_pixels=results)
        except ValueError:
            return None  # the whole-image path says what is wrong
        if whole_reason(full[0], planned) is not None:
            return None
        return Streamable(list(full[0]), planned, dtype, results)

    # Kernel files (-k FILE, a pipeline's `kernel:` entries) and weight files (a step's `files`) are
    # read by this run too: never overwritten, and --update compares their times.
    kernels = [kernel for steps in full for step in steps
               for kernel in [*step.options.get("kernels", ()), step.options.get("kernel")] if kernel is not None]
    kernel_files = [("kernel file", kernel.file) for kernel in kernels if kernel.file is not None]
    step_files = [pair for steps in full for step in steps for pair in step.files]
    if explaining is not None:
        show = explaining.show(show)
    run_batch(command=command, inputs=collect_inputs(inputs), products=names, options=options,
              compute=compute, describe=describe, stackable=stackable, show=show, templates=templates,
              memory=memory, reads=[*reads, *kernel_files, *step_files], stream=stream)


def _run(steps: Sequence[Any], image: Any, *, has_alpha: bool, max_pixels: int, options: OutputOptions,
         keep: Sequence[int]) -> tuple[Any, Any, list[tuple[Any, Any]]]:
    """:func:`convcli.pipeline.run`, or with ``--band-rows`` the same result computed in bands
    (:func:`convcli.bands.run_banded`; the input is read whole for now, the bands computed from it).
    A run that keeps intermediates (``save:``, a sheet's layers, ``--explain``) or takes NaN and inf
    in (``--allow-nonfinite``; a band could pick another engine) runs whole."""
    import numpy as np

    from ..pipeline import nonfinite, plan, run

    whole = (options.band_rows is None or keep or any(step.save for step in steps)
             or (options.allow_nonfinite and nonfinite(image) is not None))
    if whole:
        return run(steps, image, has_alpha=has_alpha, max_pixels=max_pixels, engine=options.engine,
                   allow_nonfinite=options.allow_nonfinite, keep=keep)
    from ..bands import run_banded

    bands = run_banded(steps, lambda first, stop: image[first:stop], image.shape, band_rows=options.band_rows,
                       has_alpha=has_alpha, engine=options.engine, allow_nonfinite=options.allow_nonfinite,
                       max_pixels=max_pixels)
    result = np.concatenate([band for _, band in bands])
    return result, plan(steps, image.shape, has_alpha=has_alpha, max_pixels=max_pixels), []


class _Explaining:
    """An ``--explain`` request resolved against the chain: the step's place and the channels."""

    def __init__(self, request: ExplainRequest, index: int, step: Any, label: str, channels: list[int],
                 channeled: bool, stdout: bool | None) -> None:
        # stdout: True: the table on standard output; False: on standard error; None: none (the report has it)
        self.request, self.index, self.step, self.label = request, index, step, label
        self.channels, self.channeled, self.stdout = channels, channeled, stdout

    def explanations(self, step_input: Any, has_alpha: bool) -> list[Any]:
        """Each channel's explanation, from the step's input."""
        from ..explain import explain_step

        return [explain_step(self.step, step_input, position=self.request.position, channel=channel,
                             has_alpha=has_alpha) for channel in self.channels]

    def data(self, explanations: list[Any]) -> dict:
        """The report's ``explain`` field: the step, the position and each channel's explanation."""
        return {"step": self.index + 1, "op": self.step.op, "label": self.label, "position": list(self.request.position),
                "channeled": self.channeled,
                "channels": [{"channel": channel, **explanation.to_dict()}
                             for channel, explanation in zip(self.channels, explanations)]}

    def picture(self, explanations: list[Any]) -> Any:
        """``--explain-png``: the explanations drawn, each channel's under its heading when there are several."""
        from ..explain.picture import explanation_picture

        titles = [f"{self.label}, channel {channel}" for channel in self.channels] if self.channeled else None
        return explanation_picture(explanations, titles=titles)

    def show(self, then: Callable[[InputFile, list[Product]], None] | None) -> Callable | None:
        """``show`` that also draws the explanation (on standard error when standard output carries
        the image; not at all when it carries the report, which holds it)."""
        if self.stdout is None:
            return then

        def show(input_file: InputFile, results: list[Product]) -> None:
            from .explain_table import render
            from .faults import echo_data, say

            if then is not None:
                then(input_file, results)
            data = results[0].extra.get("explain")
            if data is None:
                return
            color = bool((click.get_current_context().find_root().obj or {}).get("color"))
            text = render(data, color=color and self.stdout)
            if self.stdout:
                echo_data(text)
            else:
                say(text)

        return show


def _explaining(request: ExplainRequest, full: list[list[Any]], offset: int, explained: Any, inputs: Sequence[str],
                options: OutputOptions) -> _Explaining:
    """Check ``--explain`` before any work (one input; the step; the position and channel against
    the plan of the input's header), each problem a usage error."""
    from .. import images
    from ..explain.base import check_position
    from ..explain.steps import EXPLAINERS, unexplained
    from ..pipeline import plan

    if options.dry_run:
        raise click.UsageError("--explain computes the value it writes out; a dry run computes nothing")
    found = collect_inputs(inputs)
    if len(found) != 1:
        raise click.UsageError(f"--explain writes out a value of one input; got {len(found)} inputs")
    chain = full[0]
    if request.step is None:
        index = len(chain) - 1
    else:
        index = _step_index(request.step, chain[offset:]) + offset
    step = explained if explained is not None and request.step is None else chain[index]
    if step.op not in EXPLAINERS:
        raise click.UsageError(f"--explain: step {index + 1 - offset} is a {step.op} step, which moves values without "
                               f"computing them; explain a step of one of these kinds: {', '.join(EXPLAINERS)}")
    reason = unexplained(step)
    if reason is not None:
        raise click.UsageError(f"--explain: step {index + 1 - offset} ({step.op}): {reason}")
    label = (f"step {index + 1 - offset} ({step.op})" if request.step is not None else step.op)
    if request.picture is not None:
        from ..explain.picture import PICTURED_STEPS

        if step.op not in PICTURED_STEPS:
            raise click.UsageError(f"--explain-png draws {', '.join(PICTURED_STEPS)} steps; {label} is written out "
                                   "by the table (or --json) only")
    channels: list[int] = [request.channel] if request.channel is not None else [0]
    channeled = request.channel is not None
    try:
        info = images.probe(found[0].source, limits=options.limits())
        planned = plan(chain[: index] + [step], info.shape, has_alpha=info.has_alpha)
    except Exception:  # noqa: BLE001 - the input's own error is said where it is read
        planned = None
    if planned is not None:
        out = planned.stages[-1].out_shape
        try:
            check_position(request.position, out[:2], name="--explain")
        except ValueError as error:
            raise click.UsageError(str(error)) from None
        count = (out[2] if len(out) > 2 else 1) - planned.has_alpha
        if request.channel is None:
            channels, channeled = list(range(count)), count > 1
        elif request.channel >= count:
            raise click.UsageError(f"--explain-channel {request.channel}: the output of {label} has {count} "
                                   f"channel{'s' if count > 1 else ''} (0..{count - 1})")
    # The table goes where the data does not: standard output, unless it carries the image or the report.
    stdout = None if options.report_path == "-" else options.output != "-"
    return _Explaining(request, index, step, label, channels, channeled, stdout)


def _step_index(wanted: int | str, steps: Sequence[Any]) -> int:
    """The position of the step ``--explain STEP:`` names: its number (from 1), a model layer's name,
    or a kind that one step has."""
    if isinstance(wanted, int):
        if not 1 <= wanted <= len(steps):
            raise click.UsageError(f"--explain {wanted}:…: the pipeline has steps 1 to {len(steps)}")
        return wanted - 1
    named = [n for n, step in enumerate(steps) if step.layer is not None and step.layer[0] == wanted]
    kinds = [n for n, step in enumerate(steps) if step.op == wanted]
    if named or len(kinds) == 1:
        return (named or kinds)[0]
    if kinds:
        raise click.UsageError(f"--explain {wanted}:…: steps {', '.join(str(n + 1) for n in kinds)} are {wanted} "
                               "steps; give the step's number")
    from ..errors import did_you_mean

    names = [step.layer[0] for step in steps if step.layer is not None] + [step.op for step in steps]
    hint = did_you_mean(wanted, names, n=1)
    raise click.UsageError(f"--explain {wanted}:…: no step is {wanted!r}; {hint + ' ' if hint else ''}"
                           f"give a step number (1 to {len(steps)}), a layer name or a step kind")
