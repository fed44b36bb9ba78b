"""``convcli help TOPIC``: the semantics behind the options, and the generated CLI reference.

The topics are plain text (the README's rules and docs/semantics.md in the words of the command
line); ``convcli help`` lists them. :func:`render_reference` renders ``--help`` of every command at
a fixed width as Markdown: ``convcli help reference`` prints it, so an installed convcli carries its
full reference with no file to ship, and ``scripts/gen_cli_reference.py`` writes the same text to ``docs/cli.md`` (a test
fails when that file is out of date).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator

import click

from ..kernels.spec import NAME_PATTERN, PARAMETRIC
from ..vocabulary import ACTIVATIONS, INITIALIZERS, gray_formula
from .faults import echo_data

#: Width the reference is rendered at, whatever the terminal: the same text on every machine.
REFERENCE_WIDTH = 80
REFERENCE_COMMAND = "python scripts/gen_cli_reference.py"

_BOUNDARIES = """\
Boundaries: what the padding holds (--boundary NAME, default zero)

Used by filter, sobel and pipeline filter/sobel steps wherever the geometry pads the image
(--mode same or full, or --padding). Names are numpy.pad's; the other libraries call the same
extensions:

  convcli            extension of a b c d  numpy.pad   scipy.ndimage   scipy.signal     OpenCV       torch
  zero (default)     0 0 [a b c d] 0 0     constant 0  constant        fill             CONSTANT     zeros
  constant --cval V  V V [a b c d] V V     constant    constant, cval  fill, fillvalue  CONSTANT     -
  reflect            c b [a b c d] c b     reflect     mirror          -                REFLECT_101  reflect
  symmetric          b a [a b c d] d c     symmetric   reflect         symm             REFLECT      -
  edge               a a [a b c d] d d     edge        nearest         -                REPLICATE    replicate
  wrap               c d [a b c d] a b     wrap        wrap            wrap             WRAP         circular

Aliases that mean exactly one row: replicate and nearest (edge), circular (wrap), symm
(symmetric), fill (constant). mirror is refused (exit 2; --help and completion do not offer it):
scipy.ndimage's "mirror" is reflect here, but other tools use the word for symmetric, so say which
one you mean. A mistyped name is answered with the closest ones ("did you mean 'reflect'?").

--cval V sets the value of --boundary constant (default 0, the same as zero); with any other
boundary it is a usage error.

Pooling has no boundary: padded cells never take part (convcli help pooling). An alpha channel is
always padded with edge (convcli help scale).
"""

_PADDING = """\
Padding: --mode same|valid|full and --padding (filter, sobel, pipeline filter steps)

Kernel (kh, kw), dilation (dy, dx), stride (sy, sx). The extent of the dilated kernel is
e = d·(k − 1) + 1. Per axis, rows shown (columns likewise), input height H:

  valid       no padding              out = ⌊(H − e)/s⌋ + 1
              (below 1 is an error that says so, never an empty image)
  full        e − 1 on both sides     out = ⌊(H + 2·(e − 1) − e)/s⌋ + 1
  same        (the default)           out = ⌈H/s⌉
              total P = max((out − 1)·s + e − H, 0), split before/after as below
  --padding   the amounts given       out = ⌊(H + before + after − e)/s⌋ + 1

--padding takes P (all sides), PH,PW (rows, cols) or TOP,BOTTOM,LEFT,RIGHT. It replaces --mode:
giving both, with a mode other than valid, is a usage error. What the padding holds is the
--boundary (convcli help boundaries).

Convolve or correlate, and where an odd P goes in same mode:

  --correlate (the CNN convention)
      out[i, j] = Σa Σb k[a, b] · xp[i·sy + a·dy, j·sx + b·dx]   (xp: the padded input)
      equals torch.nn.functional.conv2d and Keras Conv2D; at stride 1 scipy.signal.correlate2d.
      same: before = ⌊P/2⌋, the extra pixel goes after (TensorFlow/Keras, torch padding='same').
  default, true convolution
      the same sum with the kernel rotated 180° (k[::-1, ::-1]); at stride 1 it equals
      scipy.signal.convolve2d in every mode.
      same: before = ⌈P/2⌉, the extra pixel goes before, so that stride-1 same equals
      scipy.signal.convolve2d(mode='same'), even kernels included.

Example: H = 512, kernel 4, stride 2, valid: ⌊(512 − 4)/2⌋ + 1 = 255. Every run prints this
arithmetic on standard error; --dry-run prints only that (a shape calculator).
"""

_STRIDE_DILATION = """\
Stride and dilation: --stride S|SY,SX and --dilation D|DY,DX

Stride is the step between outputs: output pixel i reads the window starting at padded position
i·s, so the output shrinks by about s (same: ⌈H/s⌉; valid: ⌊(H − e)/s⌋ + 1). Strided outputs are
computed directly, never at stride 1 and then thrown away.

Dilation is the step between kernel taps: tap a reads the padded input at i·s + a·d. The kernel
keeps its kh×kw weights but covers an extent e = d·(kh − 1) + 1, and every size formula uses e
(convcli help padding). Example: a 3×3 kernel at dilation 2 covers 5×5; in valid mode on 512 rows
it gives 512 − 5 + 1 = 508.

Both take one value (rows and columns) or two, rows first: --stride 2,1 halves the rows only.
Defaults: stride 1 and dilation 1 for filter and sobel; for pool the stride defaults to the
window (--size); pooling has no dilation.

Receptive field and jump: the report gives, for every step, the receptive field of one output
pixel (r = r_prev + (e − 1)·j_prev), its jump, the cumulative stride (j = j_prev·s), and where
output (0, 0)'s field starts in the input (u = u_prev − p·j_prev, p the padding before; negative
reaches into the padding; receptive_field_start in reports, "from (ROW, COL)" in summaries), as in
Araujo et al., "Computing Receptive Fields of Convolutional Neural Networks" (Distill, 2019).
"""

_POOLING = """\
Pooling: convcli pool --op max|avg|min|sum|median --size K [--stride S] [--mode valid|same]
         [--ceil] [--padding P] [--count-include-pad]   or   --op OP --global

Window (ky, kx) from --size K or KY,KX; the stride defaults to the window. Padded cells never
take part: max and min ignore them, avg and median use only the real pixels of each window
(torch count_include_pad=False), sum adds only real pixels.

  valid (default)  out = ⌊(H − ky)/sy⌋ + 1            torch max_pool2d / avg_pool2d
  --ceil           out = ⌈(H + before + after − ky)/sy⌉ + 1, minus one if the last window would
                   start in the trailing padding (torch ceil_mode=True: the last window must start
                   inside the input or its leading padding; a window wider than the input
                   still gives one output)
  same             out = ⌈H/sy⌉; P = max((out − 1)·sy + ky − H, 0); before = ⌊P/2⌋
                   (Keras padding='same'); --ceil does not apply
  --padding P      torch semantics with count_include_pad=False; at most half the window
                   (torch's rule: a window must hold a real pixel); replaces --mode
  --count-include-pad
                   avg only: divide by the window's cells inside the padded input (torch's
                   default count_include_pad=True): per axis min(start + k, H + after) − start,
                   so a --ceil window past the padding counts only up to its end

max and min of integer images stay in their dtype exactly; avg, sum and median are floating
point, rounded only when written (convcli help scale). An alpha channel is averaged over each
window.

--global gives one value per channel (Keras GlobalAveragePooling2D / GlobalMaxPooling2D), printed
on standard output as input<TAB>channel<TAB>value rows and, with -o, written as a 1×1×C array
(1×1 for a grey image).
"""

_UPSAMPLING = """\
Upsampling: convcli upsample --factor F --method nearest|zeros|bilinear|transpose

--factor takes F or FY,FX. Output H·F rows unless stated.

  nearest    every pixel repeated into an F×F block (Keras UpSampling2D); keeps the dtype
  zeros      "bed of nails": the pixel at the block's top-left corner, zeros elsewhere; keeps
             the dtype
  bilinear   equals torch.nn.functional.interpolate(mode='bilinear', align_corners=False);
             floating point
  transpose  -k KERNEL: a transposed convolution; each input pixel stamps value·k at stride F
             (the kernel is not flipped), equal to torch.nn.functional.conv_transpose2d with
             stride F, padding and output_padding:
               out = (H − 1)·F − before − after + eh + output_padding
             --padding (1, 2 or 4 values) is cropped from the result; --output-padding Q adds
             rows/cols at the end and must be smaller than the factor. eh = kernel rows.

Alpha is upsampled like the colours; transpose refuses an image with alpha.
In a pipeline, max-unpool puts each value back where the matching max pool found it (torch
MaxUnpool2d).
"""

_REPORTS = """\
Reports and exit codes

--report PATH writes one JSON object ('-' = standard output); --json is --report -. With image
bytes on standard output (-o -) --json is a usage error: write the report to a file.

  {"convcli": VERSION, "command": "filter",
   "files": [{"input": "a.png", "output": "out/a.png", "status": "ok",
              "input_shape": [512, 512, 3], "input_dtype": "uint8",
              "output_shape": [512, 512, 3], "output_dtype": "uint8",
              "steps": [{"op": "filter", "kernel": "sobel-x", "kernel_shape": [3, 3],
                         "mode": "same", "boundary": "zero", "stride": [1, 1],
                         "dilation": [1, 1], "padding": [[1, 1], [1, 1]],
                         "in_shape": [512, 512, 3], "out_shape": [512, 512, 3],
                         "receptive_field": [3, 3], "jump": [1, 1],
                         "receptive_field_start": [-1, -1]}],
              "seconds": 0.012}],
   "ok": 1, "failed": 0}

One entry per output file. padding is [[top, bottom], [left, right]]; receptive_field and jump
are those of one output pixel after the step (convcli help stride-dilation). The entry also says
which --scale mapping was applied. A failed file has "status": "error" and a one-line "error".

Without --report/--json a short human summary (with the size arithmetic) goes to standard error;
-q silences it (errors and warnings are still shown), -v adds detail. Standard output carries only data.

Exit codes:
  0    everything done
  1    some input failed (the others were still done, unless --fail-fast)
  2    usage error: bad option, unknown kernel, bad kernel file, malformed pipeline, an output
       that is one of the inputs
  130  interrupted (Ctrl-C); 143: terminated (SIGTERM). Temporary files are removed, finished
       outputs kept.
Never a Python traceback for a user's mistake or a bad file.

Outputs are written atomically (a temporary file in the target folder, then a rename). An existing
output is replaced unless --no-clobber. Same input and options give byte-identical output.
"""

def _parametric_forms() -> str:
    """The parametric kernels of ``help kernels``: each form, its description aligned at column 37."""
    lines = []
    for form in PARAMETRIC.values():
        description = form.help.replace("\n", "\n" + " " * 37)
        lines.append(f"       {form.synopsis:<28}  {description}\n")
    return "".join(lines)


_KERNELS = """\
Kernels: what -k KERNEL (and kernels show KERNEL) accepts, tried in this order

  1. a file:           k.yaml / k.yml, k.npy, k.txt / k.csv (a matrix, rows on lines)
  2. an inline matrix: '1 0 -1; 2 0 -2; 1 0 -1'  or  '[[1,0,-1],[2,0,-2],[1,0,-1]]'
  3. a parametric kernel:
""" + _parametric_forms() + "  4. a NAME (" + NAME_PATTERN + """), looked up as NAME.yaml in each --kernel-dir, then each
     folder of CONVCLI_KERNEL_PATH (separated by the path separator, like PATH), then the
     built-in library. convcli kernels list shows them all; convcli kernels show NAME one.

A CONVCLI_KERNEL_PATH entry that does not exist or is not a folder is skipped with one warning
on standard error per run (-q does not hide it; the exit status does not change); empty entries
(a::b, a trailing separator) are ignored silently and do not mean the current folder.

Built-in: identity, box3, box5, gaussian3, gaussian5, sharpen, emboss, laplacian4, laplacian8,
sobel-x, sobel-y, scharr-x, scharr-y, prewitt-x, prewitt-y, mean2 and edge2 (the 2×2 kernels of
the classic Keras lecture).

A kernel file (YAML, read strictly):

  name: sobel-x            # optional; if given, equals the file's stem
  description: x-gradient; a left-to-right rise gives a positive response
  matrix:
    - [1, 0, -1]
    - [2, 0, -2]
    - [1, 0, -1]
  scale: 1                 # optional factor; `normalize: true` divides by the sum instead
  tags: [edge, gradient]   # optional

Bad kernels (ragged rows, empty, non-numeric, NaN/inf, zero-sized, unknown keys) are refused with
the file, the line and what is wrong (exit 2). Kernels are applied as true convolution unless
--correlate (convcli help padding).
"""

_SCALE = """\
Values, dtypes and --scale clip|abs|normalize|offset

An image is an array (H, W) or (H, W, C), channels last. Integer pixels keep their values (uint8
stays 0..255, nothing is rescaled to 0..1); computation is floating point. Colour images are
filtered channel by channel with the same kernel; --gray first turns RGB into luminance
GRAY_FORMULA (skimage.color.rgb2gray's weights), in the input's units.

Writing:
  .npy (and float TIFF)  the raw result, never clipped or rounded (float32, or float64 with
                         --dtype float64; a .npy of max/min pooling or nearest/zeros
                         upsampling keeps the image's uint8/uint16 values and dtype)
  integer formats        values mapped with --scale:
    clip (default)       round (to nearest, ties to even), then clip into the dtype's range
    abs                  absolute value, then clip
    normalize            stretch min..max onto the full range (a constant image gives 0)
    offset               add half the range (128, or 32768 for uint16), then clip: signed
                         responses around mid-grey
The report states which mapping was applied.

Alpha (2- and 4-channel image files) is never filtered by the kernel and never dropped: it follows
the same geometry: each output takes the alpha of the pixel at the centre of its window (boundary
edge where that is padding; for an even extent the earlier of the two middle pixels with
--correlate, the later with convolution, as `same` splits its padding), and it comes back as the
last channel. --scale never touches it. Arrays from .npy files have no alpha: every
channel is data.
"""

_GRADIENTS = """\
Gradients: convcli sobel [--operator sobel|scharr|prewitt] [--component magnitude|x|y|direction]

gx = filter with OPERATOR-x, gy = filter with OPERATOR-y, under the same geometry options as
filter (convcli help padding). sobel-x = [[1, 0, −1], [2, 0, −2], [1, 0, −1]] under true
convolution, so a left-to-right rise in intensity gives a positive gx; sobel-y is its transpose.
Scharr uses [3, 10, 3] and Prewitt [1, 1, 1] in place of [1, 2, 1].

  magnitude  √(gx² + gy²)
  x, y       gx, gy
  direction  atan2(gy, gx), radians in float outputs; a component that is zero up to the
             working precision (at most n·ε·Σ|w|·|x| over its window) counts as 0, so a flat
             image has direction 0, not a rounding residue's ±π/2

--blur SIGMA smooths first with gaussian:sigma=SIGMA (same size, same boundary). --threshold T
gives a binary map: white where the component (|gx|, |gy| for x, y) exceeds T.

Into 8/16-bit images the mapping is fixed, so the same edge gives the same grey in every file of a
batch: magnitude is clipped; x and y are offset (128 means no gradient); direction maps −π..π
onto 0..255 ((θ + π)/2π·255); a threshold map is 0/255. Float outputs (.npy, TIFF) hold the raw
values: radians for direction, 0/1 for a threshold map. --scale overrides the mapping of
magnitude, x and y.
"""

_LAYERS = """\
CNN layers: convcli conv2d, and the pipeline steps conv2d, depthwise_conv2d, conv2d_transpose,
activation, rescale, zero_pad, crop, batch_norm; a Keras 3 .keras model runs as such steps
(convcli pipeline MODEL.keras IMAGE --until LAYER; sample:autoencoder is one convcli ships).

conv2d: out[i, j, o] = bias[o] + Σ over the taps (a, b) and the input channels c of o's group of
x[i·s + a·d − top, j·s + b·d − left, c] · w[a, b, c, o]: cross-correlation (no flip), as Keras's
Conv2D and torch.nn.functional.conv2d compute it; then --activation.
  weights      (kh, kw, C_in/groups, C_out) with --layout hwio (Keras), (C_out, C_in/groups, kh, kw)
               with oihw (PyTorch); from w.npy, model.npz:KEY, model.safetensors:KEY, [[...]], or
               an initialiser: INITIALIZERS (seeded by --seed; glorot_uniform
               when none)
  --padding    valid: no padding; same: ⌈n/s⌉ outputs, P = max((out − 1)·s + e − n, 0), ⌊P/2⌋
               before and the odd pixel after (Keras); or amounts P, PH,PW, T,B,L,R (PyTorch)
  --groups     PyTorch's; groups = C_in is depthwise: output channel c·M + m is filter m on c
  Keras names: --strides, --dilation-rate, --use-bias (a zero bias, counted in the parameters)
depthwise_conv2d: Keras DepthwiseConv2D, weights (kh, kw, C_in, M), output channel c·M + m.
conv2d_transpose: every input pixel stamps its kernels at stride s; Keras Conv2DTranspose
  (kh, kw, C_out, C_in) with layout hwoi, valid: n·s + max(e − s, 0), same: n·s; or PyTorch
  ConvTranspose2d (C_in, C_out/groups, kh, kw) with iohw and crop amounts:
  out = (n − 1)·s − before − after + e + output_padding.
Activations (Keras's): ACTIVATIONS;
  alpha: leaky_relu's slope (0.2), elu's scale (1).
rescale: x·scale + offset (Keras Rescaling). zero_pad, crop: P, PH,PW, T,B,L,R or [[T, B], [L, R]].
batch_norm: gamma·(x − moving_mean)/√(moving_variance + epsilon) + beta per channel (epsilon 0.001).

Every channel of the input is a feature map (an image with alpha is refused); uint8 values enter as
0..255. --summary prints the layers as Keras's model.summary() (output shapes, Param #) with the
receptive field and jump of each; the report's steps hold params and macs (multiply-adds).
"""

_LEARNING = """\
Seeing inside a convolution (README, "Learning with convcli"):

  numbers in, numbers out  'matrix:1 2 3; 4 5 6' or a .txt/.csv file as INPUT; -o out.txt|csv, or
                           -o - --format txt; a one-row input with a one-row kernel is
                           numpy.convolve (--mode full|same|valid)
  kernels show K           the kernel as stored and as applied (rotated 180° under convolution),
                           exact fractions; --png draws it
  --explain ROW,COL        how one output value is made: the window (padding marked), the kernel
                           as applied, the products, the sum; pooling's winner or count; a layer's
                           channel sums, bias and activation; pipeline --explain STEP:ROW,COL;
                           --json as data, --explain-png as a picture
  show INPUT               a small array as a grid of cells with their values (-o grid.png), a
                           large image as a half-block preview on a terminal; --preview on every
                           command shows what it wrote
  animate OP INPUT         conv, pool, transpose or unpool frame by frame, one output cell a frame,
                           from shape:HxW or a small matrix: -o anim.gif, --frames DIR
  --sheet PATH             every channel as a labelled tile with its value range;
                           --sheet-scale shared puts them on one scale, --sheet-input adds the input
  --dry-run                every step's shapes, padding, receptive field, jump and where the
                           receptive field of output (0, 0) starts
"""

#: name -> (one-line summary, text).
TOPICS: dict[str, tuple[str, str]] = {
    "boundaries": ("what the padding holds: zero, constant, reflect, symmetric, edge, wrap", _BOUNDARIES),
    "padding": ("--mode same|valid|full, --padding, output sizes; convolve vs correlate", _PADDING),
    "stride-dilation": ("--stride and --dilation, receptive field and jump", _STRIDE_DILATION),
    "pooling": ("pool: windows, padding that never takes part, --ceil, --global", _POOLING),
    "upsampling": ("upsample: nearest, zeros, bilinear, transpose", _UPSAMPLING),
    "gradients": ("sobel: operators, components, sign convention", _GRADIENTS),
    "layers": ("CNN layers: conv2d, activations, Keras models, weights and their layouts",
               _LAYERS.replace("INITIALIZERS", ", ".join(INITIALIZERS)).replace("ACTIVATIONS", ", ".join(ACTIVATIONS))),
    "learning": ("seeing inside: text matrices, --explain, show, animate, sheets, kernels show", _LEARNING),
    "kernels": ("kernel specs, search path, the YAML kernel file", _KERNELS),
    "scale": ("values, dtypes, --scale, --gray and alpha", _SCALE.replace("GRAY_FORMULA", gray_formula())),
    "reports": ("the JSON report, exit codes, atomic outputs", _REPORTS),
}

#: The topic that prints the CLI reference (:func:`render_reference`), generated when asked for.
REFERENCE_TOPIC = "reference"
_REFERENCE_SUMMARY = "every command's --help on one page (Markdown, as docs/cli.md in the source)"


def _topics() -> dict[str, tuple[str, Callable[[], str]]]:
    """Every name ``convcli help`` takes: the semantics topics, then the reference."""
    topics: dict[str, tuple[str, Callable[[], str]]] = {
        name: (summary, lambda text=text: text) for name, (summary, text) in TOPICS.items()}
    topics[REFERENCE_TOPIC] = (_REFERENCE_SUMMARY, render_reference)
    return topics


def topic_list() -> str:
    """What ``convcli help`` prints: every topic with its summary."""
    topics = _topics()
    width = max(len(name) for name in topics)
    lines = ["Topics (convcli help TOPIC):", ""]
    lines += [f"  {name.ljust(width)}  {summary}" for name, (summary, _) in topics.items()]
    lines += ["", f"Options of a command: convcli COMMAND --help; of every command: convcli help {REFERENCE_TOPIC}."]
    return "\n".join(lines)


def _complete_topic(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [name for name in _topics() if name.startswith(incomplete)]


@click.command(
    "help", short_help="The semantics behind the options, by topic; the full reference.",
    help="Explain a TOPIC of convcli's semantics; without TOPIC, list the topics.\n\n"
         f"Topics: {', '.join(TOPICS)}. '{REFERENCE_TOPIC}' prints the --help of every command on "
         "one page (Markdown: the CLI reference).",
)
@click.argument("topic", required=False, shell_complete=_complete_topic)
@click.pass_context
def help_command(ctx: click.Context, topic: str | None) -> None:
    """``convcli help [TOPIC]``; its --help is built from :data:`TOPICS` above, so it lists them all."""
    if topic is None:
        echo_data(topic_list())
        return
    topics = _topics()
    key = topic.strip().lower().replace("_", "-")
    if key not in topics:
        raise click.UsageError(f"unknown topic {topic!r}; topics: {', '.join(topics)}", ctx)
    title, _, body = topics[key][1]().partition("\n")
    color = (ctx.obj or {}).get("color")
    echo_data(click.style(title, bold=True) if color else title, color=color)
    echo_data(body.rstrip("\n"))


# --------------------------------------------------------------------------------------------------
# The CLI reference (docs/cli.md)


def _walk(command: click.Command, name: str, parent: click.Context | None) -> Iterator[tuple[str, str]]:
    """(command path, help text) for ``command`` and every subcommand, depth first, by name."""
    ctx = command.make_context(name, [], parent=parent, resilient_parsing=True,
                               terminal_width=REFERENCE_WIDTH, max_content_width=REFERENCE_WIDTH)
    with ctx:
        yield ctx.command_path, command.get_help(ctx)
        if isinstance(command, click.Group):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is not None and not sub.hidden:
                    yield from _walk(sub, sub_name, ctx)


def render_reference(cli: click.Command | None = None) -> str:
    """Markdown of ``--help`` of the group and every command, rendered at :data:`REFERENCE_WIDTH`."""
    if cli is None:
        from . import cli as convcli_group

        cli = convcli_group
    parts = [
        "# convcli command reference",
        "",
        f"<!-- Generated by `{REFERENCE_COMMAND}` from the --help of every command; do not edit. -->",
        "",
        textwrap.fill(
            f"Any installed convcli prints this page: `convcli help {REFERENCE_TOPIC}`. The semantics behind "
            "the options: `convcli help TOPIC` (topics: " + ", ".join(f"`{name}`" for name in TOPICS) + "). "
            "Shell completion: [completion.md](completion.md).",
            width=REFERENCE_WIDTH, break_long_words=False, break_on_hyphens=False),
    ]
    for path, text in _walk(cli, "convcli", None):
        parts += ["", f"## {path}", "", "```text", text.rstrip(), "```"]
    return "\n".join(parts) + "\n"
