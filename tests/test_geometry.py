"""Shape arithmetic against hand-computed numbers and the PyTorch / TensorFlow formulas."""

import math

import numpy as np
import pytest

from convcli.errors import GeometryError
from convcli.geometry import (
    ReceptiveField,
    as_padding,
    as_pair,
    chain_receptive_field,
    conv_axis,
    conv_geometry,
    transposed_window,
)


def torch_out(size, kernel, stride, padding, dilation):
    # torch.nn.Conv2d documentation: floor((H + 2p − d(k − 1) − 1)/s + 1)
    return math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1)


@pytest.mark.parametrize("size", [1, 5, 8, 13])
@pytest.mark.parametrize("kernel", [1, 2, 3, 4])
@pytest.mark.parametrize("stride", [1, 2, 3])
@pytest.mark.parametrize("dilation", [1, 2])
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_explicit_padding_matches_torch_formula(size, kernel, stride, dilation, pad):
    expected = torch_out(size, kernel, stride, pad, dilation)
    if expected < 1:
        with pytest.raises(GeometryError):
            conv_axis(size, kernel=kernel, stride=stride, dilation=dilation, padding=(pad, pad))
    else:
        assert conv_axis(size, kernel=kernel, stride=stride, dilation=dilation, padding=(pad, pad)).out == expected


@pytest.mark.parametrize("size", [1, 4, 7, 10])
@pytest.mark.parametrize("kernel", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2, 3])
def test_same_matches_tensorflow_rule(size, kernel, stride):
    # TensorFlow: out = ceil(n/s); pad_total = max((out − 1)s + k − n, 0); pad_top = pad_total // 2.
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    corr = conv_axis(size, kernel=kernel, stride=stride, mode="same", correlate=True)
    conv = conv_axis(size, kernel=kernel, stride=stride, mode="same", correlate=False)
    assert (corr.out, corr.before, corr.after) == (out, total // 2, total - total // 2)
    # true convolution mirrors the split so the extra pixel goes before
    assert (conv.out, conv.before, conv.after) == (out, total - total // 2, total // 2)


def test_valid_and_full_by_hand():
    assert conv_axis(512, kernel=4, stride=2, mode="valid").out == 255
    full = conv_axis(7, kernel=3, mode="full")
    assert (full.before, full.after, full.out) == (2, 2, 9)
    dilated = conv_axis(10, kernel=3, dilation=2, mode="valid")
    assert (dilated.extent, dilated.out) == (5, 6)


def test_valid_too_small_is_an_error_that_says_why():
    with pytest.raises(GeometryError, match=r"extent 5 is larger than the 3 rows.*valid"):
        conv_axis(3, kernel=5, mode="valid")


def test_unknown_mode_names_the_parameter():
    with pytest.raises(ValueError, match="`mode`"):
        conv_axis(3, kernel=3, mode="half")


def test_conv_geometry_checks_kernel_and_image_shapes():
    with pytest.raises(ValueError, match="`kernel`"):
        conv_geometry((4, 4), (0, 3))
    with pytest.raises(ValueError, match="`image`"):
        conv_geometry((4,), (3, 3))


def test_formula_strings_show_the_arithmetic():
    assert conv_axis(512, kernel=4, stride=2, mode="valid").formula() == "512 → ⌊(512 − 4)/2⌋ + 1 = 255"
    assert conv_axis(10, kernel=3, padding=(1, 2), stride=3).formula() == "10 → ⌊(10 + 1 + 2 − 3)/3⌋ + 1 = 4"
    assert conv_axis(10, kernel=3, dilation=2, mode="valid").extent_formula() == "e = 2·(3 − 1) + 1 = 5"
    assert conv_axis(10, kernel=3, mode="valid").extent_formula() is None


def test_as_pair_and_as_padding():
    assert as_pair(3, name="stride") == (3, 3)
    assert as_pair((2, 1), name="stride") == (2, 1)
    with pytest.raises(ValueError, match="`stride` must be >= 1"):
        as_pair(0, name="stride")
    with pytest.raises(ValueError, match="one value or two"):
        as_pair((1, 2, 3), name="dilation")
    with pytest.raises(ValueError, match="whole numbers"):
        as_pair(1.5, name="stride")
    assert as_padding((1, 2, 3, 4)) == ((1, 2), (3, 4))
    with pytest.raises(ValueError, match="1 value .* 2 .* or 4"):
        as_padding((1, 2, 3))
    with pytest.raises(ValueError, match=">= 0"):
        as_padding(-1)


def test_receptive_field_matches_distill_example():
    # box3 → max pool 2 → box3: r = 1 + 2·1 + 1·1 + 2·2 = 8, jump 2 (conformance case rf.yaml)
    assert chain_receptive_field([(3, 1), (2, 2), (3, 1)]) == (8, 2)
    assert chain_receptive_field([(3, 2), (3, 2)]) == (7, 4)


def test_receptive_field_start_moves_by_the_padding_times_the_jump():
    # box3 padded 1 → max pool 2 → box3 padded 1 (Distill's u_{l−1} = s_l·u_l − p_l, read forward):
    # output 0 of the last conv reads pool outputs −1…1, pool output −1 reads conv outputs −2, −1,
    # conv output −2 reads inputs −3…−1: the field starts at −3 and is 8 wide.
    field = ReceptiveField()
    for extent, stride, before in [(3, 1, 1), (2, 2, 0), (3, 1, 1)]:
        field = field.through(taps=extent, stride=stride, first=-before)
    assert (field.size, field.jump, field.start) == (8, 2, -3)


def test_receptive_field_start_is_distills_closed_form():
    # Araujo et al. (2019), eq. for the start: u_0 = −Σ_l p_l·Π_{i<l} s_i; dilation only widens.
    rng = np.random.default_rng(14)
    for _ in range(200):
        layers = [(int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(0, 4)))
                  for _ in range(int(rng.integers(1, 6)))]
        field = ReceptiveField()
        for kernel, stride, dilation, before in layers:
            field = field.through(taps=dilation * (kernel - 1) + 1, stride=stride, first=-before)
        start = -sum(before * math.prod(s for _, s, _, _ in layers[:index])
                     for index, (_, _, _, before) in enumerate(layers))
        assert field.start == start


def test_receptive_field_after_upsampling_is_a_fraction_of_an_input_pixel():
    # nearest ×2 then a 3-tap window padded 1: one pixel of padding is half an input pixel.
    field = ReceptiveField().through(taps=1, factor=2).through(taps=3, first=-1)
    assert (field.size, field.jump, field.start) == (2, 0.5, -0.5)


def test_transposed_window_holds_every_input_an_output_gathers():
    # out[i·s + a·d − before] += x[i]·k[a] (docs/semantics.md, transpose); inputs may be negative.
    for kernel in range(1, 6):
        for stride in range(1, 5):
            for dilation in (1, 2, 3):
                for before in range(0, dilation * (kernel - 1) + 1):
                    extent = dilation * (kernel - 1) + 1
                    taps, first = transposed_window(extent, stride, before)
                    for multiple in range(3):  # outputs m·s: the window is exact there
                        output = multiple * stride
                        inputs = {i for i in range(-extent - 2, extent + 4) for a in range(kernel)
                                  if i * stride + a * dilation - before == output}
                        assert all(first + multiple <= i <= first + multiple + taps - 1 for i in inputs)
                        if dilation == 1:  # every stamp covers a run of outputs: the first is a real input
                            assert min(inputs) == first + multiple
                        # (dilated, an output may fall between every stamp's taps and gather nothing)


def test_as_pair_refuses_bool_and_none():
    for bad in (True, None):
        with pytest.raises(ValueError, match="`factor` must be a whole number"):
            as_pair(bad, name="factor")


def test_pool_axis_torch_ceil_rule_and_keras_same():
    from convcli.geometry import pool_axis

    # torch: 5 rows, k=2, s=2, ceil → 3; the last window starts at row 4 (inside) and holds one row
    g = pool_axis(5, kernel=2, stride=2, ceil=True)
    assert (g.out, g.after) == (3, 1)
    # torch's rule: a window that would start in the trailing padding is dropped
    # (H=6, k=3, s=3, p=1: ⌈(6 + 2 − 3)/3⌉ + 1 = 3, but (3 − 1)·3 = 6 >= 6 + 1? no → kept)
    g = pool_axis(6, kernel=3, stride=3, padding=(1, 1), ceil=True)
    assert g.out == 3
    g = pool_axis(4, kernel=2, stride=2, padding=(1, 1), ceil=True)  # ⌈4/2⌉ + 1 = 3; start 4 < 5 → kept
    assert g.out == 3
    g = pool_axis(3, kernel=2, stride=2, padding=(0, 0), ceil=True)  # ⌈1/2⌉ + 1 = 2; start 2 < 3 → kept
    assert g.out == 2
    g = pool_axis(5, kernel=2, stride=3, padding=(1, 1), ceil=True)  # ⌈5/3⌉ + 1 = 3; start 6 >= 6 → 2
    assert g.out == 2
    same = pool_axis(5, kernel=3, stride=2, mode="same")
    assert (same.out, same.before, same.after) == (3, 1, 1)
    with pytest.raises(ValueError, match="more than half the window"):
        pool_axis(5, kernel=2, padding=(2, 2))
    with pytest.raises(ValueError, match="`ceil`"):
        pool_axis(5, kernel=2, mode="same", ceil=True)
    with pytest.raises(GeometryError, match="pooling window 6 is larger"):
        pool_axis(5, kernel=6)
    # torch's ceil_mode: a window wider than the input still gives one output when it starts inside it
    assert pool_axis(1, kernel=4, stride=4, ceil=True).out == 1
    assert pool_axis(1, kernel=4, stride=3, padding=(2, 2), ceil=True).out == 1  # ⌈1/3⌉ + 1 = 2, then − 1
    with pytest.raises(GeometryError, match="pooling window 6 is larger"):
        pool_axis(1, kernel=6, stride=4, ceil=True)  # ⌈−5/4⌉ + 1 = 0


def test_transpose_axis_formula_and_checks():
    from convcli.geometry import transpose_axis

    t = transpose_axis(4, kernel=3, stride=2, padding=(1, 1), output_padding=1)
    assert t.out == (4 - 1) * 2 - 2 + 3 + 1 == 8
    with pytest.raises(ValueError, match="smaller than the factor 2"):
        transpose_axis(4, kernel=3, stride=2, output_padding=2)
    with pytest.raises(GeometryError, match="removes every output"):
        transpose_axis(1, kernel=1, stride=2, padding=(1, 1))


def test_ceil_formula_states_the_dropped_window():
    from convcli.geometry import pool_axis

    assert pool_axis(6, kernel=3, stride=2, ceil=True).formula() == "6 → ⌈(6 − 3)/2⌉ + 1 = 3"
    text = pool_axis(5, kernel=2, stride=2, padding=(1, 1), ceil=True).formula()
    assert text == "5 → ⌈(5 + 1 + 1 − 2)/2⌉ + 1 − 1 (a window starting in the trailing padding is dropped) = 3"


def test_boundary_names_aliases_and_refusals():
    from convcli.geometry import AMBIGUOUS_BOUNDARIES, BOUNDARIES, BOUNDARY_ALIASES, resolve_boundary

    # The six rows of the README's Boundaries table with the numpy.pad mode of each, and the aliases of other libraries.
    assert BOUNDARIES == {"zero": "constant", "constant": "constant", "reflect": "reflect",
                          "symmetric": "symmetric", "edge": "edge", "wrap": "wrap"}
    assert {alias: resolve_boundary(alias.upper()) for alias in BOUNDARY_ALIASES} == {
        "replicate": "edge", "nearest": "edge", "circular": "wrap", "symm": "symmetric", "fill": "constant"}
    assert list(AMBIGUOUS_BOUNDARIES) == ["mirror"]
    with pytest.raises(ValueError, match=r"^`mirror` is ambiguous: use `reflect` \(c b \[a b c d\] c b"):
        resolve_boundary("Mirror")
    with pytest.raises(ValueError, match=r"got 'reflct'; did you mean 'reflect' or 'replicate'\?$"):
        resolve_boundary("reflct")
    with pytest.raises(ValueError, match=r"\(or replicate, nearest, circular, symm, fill\), got 'xyz'$"):
        resolve_boundary("xyz")
