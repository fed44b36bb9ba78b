"""What each command imports: the import set of a small job may not grow (issue 16, "a fast start").

Each case runs convcli in a subprocess, as the ``convcli`` script does (``convcli._entry.main`` with the
case's arguments), and writes the sorted top-level names of ``sys.modules`` at exit. The names must be
among the case's allowed names: what the interpreter has at start-up, what the libraries the case
names import by themselves (measured here the same way, so their versions do not matter), and the
modules written out below. Private names (``_json``, ``_socket``) come with their public ones and are
left out. The subprocesses read no terminal: their standard streams are pipes.

A failure names the new modules. Decide for each: cut the import (a function-level import with a
``# lazy: ...`` comment, or the rarely used helper moved to a module of its own), or, when the command
really needs it for every run, add it to that command's set here on purpose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# Writes sys.modules' top-level public names to the file named first, at exit.
_RECORD = textwrap.dedent("""
    import atexit, sys

    output = sys.argv.pop(1)

    @atexit.register
    def _write():
        names = sorted({name.split(".")[0] for name in sys.modules if not name.startswith("_")})
        with open(output, "w", encoding="utf-8") as out:
            out.write("\\n".join(names))
""")
# Then runs convcli as the console script does, with the arguments that follow.
_RUN = _RECORD + 'sys.argv[0] = "convcli"\nfrom convcli._entry import main\nmain()\n'

# What a library imports by itself: the code that imports it, by the name the cases use.
_LIBRARIES = {
    "click": "import click",
    "numpy": "import numpy",
    "PIL": "import PIL.Image, PIL.PngImagePlugin",
    "yaml": "import yaml",
    "numpy.random": "import numpy.random",
    # what `kernels` lays its table out with; older rich versions bring more of the standard library
    "rich": "import rich.console, rich.table",
}

# The modules convcli itself brings in, per command, beyond the libraries named (which bring in their own).
# click reads the arguments' encoding (locale), and for help the terminal's width (shutil) and wraps text.
_CLI = {"click", "convcli", "signal", "locale"}
_HELP = _CLI | {"shutil", "bz2", "lzma", "zlib", "textwrap", "struct", "pathlib", "urllib", "ipaddress", "ntpath",
                "fnmatch", "string", "dataclasses", "copy"}
# OpenCV: its absence from the small filter job is checked on its own (test_a_small_filter_job_does_without_opencv).
_RUNNING = _HELP | {"numpy", "PIL", "heapq", "bisect", "random", "tempfile", "difflib"}
ALLOWED = {
    "--version": _CLI,
    "--help": _HELP,
    "help": _HELP,
    "kernels": _RUNNING | {"rich", "colorsys"},  # the table is laid out by rich, on a terminal or not
    "filter": _RUNNING,
    "filter-yaml-file": _RUNNING | {"yaml"},
    "sobel": _RUNNING | {"cv2"},  # the magnitude is OpenCV's (cv2.magnitude), whose last bits NumPy does not match
    "pool": _RUNNING,
    "upsample": _RUNNING,
    "pipeline": _RUNNING | {"yaml"},
    # initial weights: NumPy's random generator (secrets, hmac...); convcli.models reads .npz (zipfile)
    "conv2d": _RUNNING | {"numpy.random", "zipfile"},
}

CASES = {
    "--version": ["--version"],
    "--help": ["--help"],
    "help": ["help"],
    "kernels": ["kernels"],
    "filter": ["filter", "c64.png", "-k", "sobel-x", "-o", "out.png"],
    "filter-yaml-file": ["filter", "c64.png", "-k", "nested.yaml", "-o", "out.png"],
    "sobel": ["sobel", "c64.png", "-o", "out.png"],
    "pool": ["pool", "c64.png", "--op", "max", "--size", "2", "-o", "out.png"],
    "upsample": ["upsample", "c64.png", "--factor", "2", "-o", "out.png"],
    "pipeline": ["pipeline", "small.yaml", "c64.png", "-o", "out.png"],
    "conv2d": ["conv2d", "c64.png", "--filters", "2", "--kernel-size", "3", "-o", "out.npy"],
}

# Never imported by a small filter job: SciPy, scikit-image and OpenCV (NumPy and Pillow do it as
# fast), rich (standard error is not a terminal), YAML (a built-in kernel), processes (one input).
HEAVY = ("scipy", "skimage", "rich", "yaml", "multiprocessing", "concurrent")


def _names(code: str, *args: str, cwd: Path) -> set[str]:
    out = cwd / f"modules-{os.getpid()}-{len(list(cwd.iterdir()))}.txt"
    env = {key: value for key, value in os.environ.items() if key not in ("CONVCLI_KERNEL_PATH", "NO_COLOR")}
    done = subprocess.run([sys.executable, "-c", code, str(out), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(out.read_text(encoding="utf-8").split())


def _library(code: str, cwd: Path) -> set[str]:
    return _names(_RECORD + code + "\n", cwd=cwd)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("imports")
    ramp = (np.arange(64 * 64).reshape(64, 64) % 251).astype(np.uint8)
    Image.fromarray(ramp).save(folder / "c64.png")
    # Nested flow lists: a YAML file only PyYAML reads (the plain reader takes the library's form).
    (folder / "nested.yaml").write_text("name: nested\nmatrix: [[1, 0, -1], [2, 0, -2], [1, 0, -1]]\n",
                                        encoding="utf-8")
    (folder / "small.yaml").write_text("steps:\n  - gray\n  - filter: {kernel: sobel-x}\n  - pool: {op: max, size: 2}\n",
                                       encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def baselines(folder):
    """The names at start-up, and what each library imports by itself."""
    start = _library("", folder)
    return start, {name: _library(code, folder) for name, code in _LIBRARIES.items()}


@pytest.fixture(scope="module")
def imported(folder):
    """Each case's names, run once."""
    return {case: _names(_RUN, *args, cwd=folder) for case, args in CASES.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_each_command_imports_only_its_allowed_modules(case, imported, baselines):
    start, libraries = baselines
    allowed = start | ALLOWED[case]
    for name in ALLOWED[case] & set(libraries):
        allowed |= libraries[name]
    new = sorted(imported[case] - allowed)
    assert not new, (
        f"`convcli {' '.join(CASES[case])}` now imports {', '.join(new)}. For each: cut the import if this "
        f"command does not need it on every run (a function-level import with a '# lazy: ...' comment), or "
        f"add it to ALLOWED[{case!r}] in {Path(__file__).name} on purpose."
    )


def test_the_version_imports_no_library(imported):
    # answered before Click is imported (convcli._entry)
    assert imported["--version"] & {"click", "numpy", "PIL", "yaml", "rich", "cv2", "scipy", "skimage"} == set()


def test_a_small_filter_job_imports_nothing_heavy(imported):
    assert imported["filter"] & set(HEAVY) == set()


def test_a_small_filter_job_does_without_opencv(imported):
    assert "cv2" not in imported["filter"]


def test_a_yaml_kernel_file_or_pipeline_imports_yaml_only_then(imported):
    assert "yaml" in imported["filter-yaml-file"] and "yaml" in imported["pipeline"]
    assert all("yaml" not in imported[case] for case in ALLOWED if case not in ("filter-yaml-file", "pipeline"))
