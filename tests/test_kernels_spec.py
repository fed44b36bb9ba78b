"""Tests for convcli.kernels.spec: the numpy-free spec grammar, and that the rest of convcli follows it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from convcli.errors import KernelError
from convcli.kernels import load_kernel
from convcli.kernels.spec import (
    FILE_EXTENSIONS,
    INLINE_START,
    NAME_RE,
    PARAMETRIC,
    PARAMETRIC_KINDS,
    builtin_kernel_dir,
    valid_name,
)


def test_importing_the_spec_imports_neither_numpy_nor_yaml():
    code = (
        "import sys, convcli.kernels.spec\n"
        "print(' '.join(m for m in ('numpy', 'yaml', 'convcli.yamlfile', 'convcli.kernels.kernel') "
        "if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("name", ["sobel-x", "box3", "3tap", "a.b_c-d", "x"])
def test_valid_names(name):
    assert valid_name(name) and NAME_RE.match(name)


@pytest.mark.parametrize("name", ["Sobel-x", "-x", ".hidden", "_x", "a..b", "a/b", "a b", "", "ä"])
def test_invalid_names(name):
    assert not valid_name(name)


def test_the_grammar_as_documented():
    assert FILE_EXTENSIONS == (".yaml", ".yml", ".npy", ".txt", ".csv")
    assert INLINE_START == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "-", "+", ".", "[")
    assert PARAMETRIC_KINDS == ("gaussian", "box", "log", "dog", "disk")
    assert (builtin_kernel_dir() / "sobel-x.yaml").is_file()


@pytest.mark.parametrize("kind", PARAMETRIC_KINDS)
def test_every_parametric_example_is_a_kernel_of_its_kind(kind):
    form = PARAMETRIC[kind]
    for example in [*form.examples, *([form.sized] if form.sized else [])]:
        assert example.startswith(f"{kind}:")
        assert load_kernel(example).name == example  # written as the kernel's own name says it
    assert form.examples[0].startswith(form.prefix) and form.prefix.endswith((":", "="))


HINTS = {
    "gaussian": "gaussian:sigma=1.5 or gaussian:sigma=1.5,size=7",
    "box": "box:5 or box:3x5",
    "log": "log:sigma=1.4 or log:sigma=1.4,size=9",
    "dog": "dog:sigma1=1,sigma2=2",
    "disk": "disk:radius=3",
}


@pytest.mark.parametrize("kind", PARAMETRIC_KINDS)
def test_messages_quote_the_examples(kind):
    with pytest.raises(KernelError) as info:
        load_kernel(f"{kind}: ")
    assert str(info.value) == f"{kind}: parameters are missing; e.g. {HINTS[kind]}"
    with pytest.raises(KernelError) as info:
        load_kernel(kind)
    assert str(info.value).endswith(f"; {kind} needs parameters, e.g. {HINTS[kind].split(' or ')[0]}")
    with pytest.raises(KernelError) as info:
        load_kernel("blur:3")
    assert str(info.value) == ("unknown parametric kernel 'blur'; use one of gaussian:sigma=1.5, box:5, box:3x5, "
                               "log:sigma=1.4, dog:sigma1=1,sigma2=2, disk:radius=3")


def test_help_completion_and_option_help_show_the_same_forms():
    from convcli.cli.help import TOPICS
    from convcli.cli.options import kernel_option
    from convcli.cli.types import parametric_prefixes

    text = TOPICS["kernels"][1]
    assert (
        "  3. a parametric kernel:\n"
        "       gaussian:sigma=1.5[,size=7]   size 2·⌈3σ⌉ + 1 unless given; exp(−(i−c)²/2σ²), outer\n"
        "                                     product normalised to sum 1\n"
        "       box:5  or  box:3x5            ones / (rows·cols)\n"
        "       log:sigma=1.4[,size=N]        Laplacian of Gaussian, normalised to sum 0\n"
        "       dog:sigma1=1,sigma2=2[,size=N]  difference of Gaussians, sum 0\n"
        "       disk:radius=3                 ones where i² + j² ≤ r², normalised to sum 1\n"
        "  4. a NAME ([a-z0-9][a-z0-9._-]*), looked up as NAME.yaml"
    ) in text
    assert [prefix for prefix, _ in parametric_prefixes()] == [
        "gaussian:sigma=", "box:", "log:sigma=", "dog:sigma1=", "disk:radius="]

    @kernel_option
    def command(kernels):  # pragma: no cover - only its option is looked at
        pass

    assert ("or gaussian:sigma=1.5, box:5, log:sigma=1.4, dog:sigma1=1,sigma2=2, disk:radius=3. Repeat"
            in command.__click_params__[0].help)
