"""examples/: the pipelines load and plan, the commands their comments give run from the
repository's folder, every pipeline writes its result with ``-O DIR`` and the default name on every
sample image, the Keras lecture gives the lecture's numbers, and the Makefile builds the gallery in
parallel, then finds nothing to rebuild."""

import math
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from convcli.images import sample_names
from convcli.pipeline import load_pipeline, plan

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
BIN = Path(sys.executable).parent
CONVCLI = shutil.which("convcli", path=str(BIN)) or "convcli"


def _env():
    """The environment of a user who installed convcli: the venv's bin first on PATH, no outer make."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEFILES")}
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_example_pipelines_load_and_plan(path):
    steps = load_pipeline(str(path))
    planned = plan(steps, (64, 64, 3))
    assert planned.steps and all(step["out_shape"] for step in planned.steps)


PIPELINES = sorted(EXAMPLES.glob("*.yaml"))

#: The one sample image with an alpha channel (RGBA), and the examples that refuse alpha, with why.
ALPHA_SAMPLES = {"logo"}
REFUSE_ALPHA = {"cnn-block": "max-unpool cannot carry an alpha channel",
                "ridges": "method transpose cannot carry an alpha channel",
                "layers": "alpha is not one"}

#: Output rows (cols alike) from input rows, worked out by hand from each pipeline's steps.
OUT_SIDE = {
    "edges": lambda n: n,                     # same-mode Sobel
    "cnn-block": lambda n: n,                 # same-mode bank; the unpool restores the pool's input size
    "ridges": lambda n: 2 * math.ceil(n / 2),  # 3×3, stride 2, padding 1: ⌈n/2⌉; transpose 2×2 at 2: ×2
    "layers": lambda n: 2 * math.ceil(n / 2),  # same conv: n; same 2×2 pool: ⌈n/2⌉; valid 2×2 transpose at 2: ×2
}


def _documented_commands(path):
    """The commands a pipeline's leading comments give (``#   convcli ...``, ``#   python ...``), in order."""
    commands = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line[1:].strip()
        if text.startswith(("convcli ", "python ")):
            commands.append(text)
    return commands


def _checkout(folder):
    """A folder laid out as the repository's: the pipelines' comments name examples/... from there."""
    shutil.copytree(EXAMPLES, folder / "examples", ignore=shutil.ignore_patterns("gallery"))


def _sh(command, cwd):
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(), capture_output=True, text=True, check=False)


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_documented_commands_run_from_the_repository_folder(path, tmp_path):
    _checkout(tmp_path)
    commands = _documented_commands(path)
    assert any(c.startswith(f"convcli pipeline examples/{path.name} ") for c in commands), commands
    for command in commands:
        done = _sh(command, tmp_path)
        assert done.returncode == 0, f"$ {command}\n{done.stderr}"
        args = shlex.split(command)
        if "-o" in args:
            assert (tmp_path / args[args.index("-o") + 1]).is_file(), command
        if "-O" in args:
            assert any((tmp_path / args[args.index("-O") + 1]).iterdir()), command


@pytest.mark.parametrize("path", PIPELINES, ids=lambda p: p.name)
def test_every_pipeline_writes_with_O_and_the_default_name(path, tmp_path):
    """-O DIR with the default name {stem}{ext}, as the README shows -O: a pipeline documented on a
    sample image runs on every sample image; one documented on a file of its own (the lecture's
    step.npy), on that file. (Loading and planning alone, as the first test here does, never meets
    what only writing does: cnn-block's two data channels, which no PNG takes.)"""
    from PIL import Image
    from skimage import data

    _checkout(tmp_path)
    commands = _documented_commands(path)
    (first, *_) = [shlex.split(c) for c in commands if c.startswith(f"convcli pipeline examples/{path.name} ")]
    documented_input = first[3]
    if documented_input.startswith("sample:"):
        names = sample_names()
        inputs = [f"sample:{name}" for name in names]
    else:
        for command in commands:
            if command.startswith("python "):
                assert _sh(command, tmp_path).returncode == 0, command
        names, inputs = [Path(documented_input).stem], [documented_input]
    run = subprocess.run([CONVCLI, "-q", "pipeline", f"examples/{path.name}", *inputs, "-O", "out"], cwd=tmp_path,
                         env=_env(), capture_output=True, text=True, check=False)
    refused = ALPHA_SAMPLES & set(names) if path.stem in REFUSE_ALPHA else set()
    assert run.returncode == (1 if refused else 0), run.stderr
    errors = run.stderr.splitlines()
    assert len(errors) == len(refused)
    assert all(f"sample:{name}" in line and REFUSE_ALPHA[path.stem] in line for name, line in zip(sorted(refused), errors))

    # {stem}{ext}: a sample image's extension is its format's (.png here), a file's its own.
    written = sorted((tmp_path / "out").iterdir())
    results = {p.stem: p for p in written if not p.stem.endswith("-pooled")}
    assert sorted(results) == sorted(set(names) - refused)
    if path.stem == "cnn-block":  # the pool step's save: goes into -O DIR too
        assert [p.name for p in written if p not in results.values()] == sorted(f"{n}-pooled.npy" for n in results)
    else:
        assert len(written) == len(results)
    if documented_input.endswith(".npy"):
        assert {p.suffix for p in written} == {".npy"}
    for name, result in results.items():
        if result.suffix == ".npy":
            continue
        with Image.open(result) as image:
            width, height = image.size
        if path.stem in OUT_SIDE:
            rows, cols = getattr(data, name)().shape[:2]
            assert (height, width) == (OUT_SIDE[path.stem](rows), OUT_SIDE[path.stem](cols)), name
    if path.stem == "cnn-block":
        rows, cols = data.camera().shape
        assert np.load(tmp_path / "out" / "camera-pooled.npy").shape == (rows // 2, cols // 2, 3)
    if path.stem == "keras-lecture":
        assert np.load(results["step"]).shape == (48, 48, 4)


def test_step_image_script(tmp_path):
    namespace = runpy.run_path(str(EXAMPLES / "step_image.py"))
    namespace["main"]([str(tmp_path / "step.npy")])
    image = np.load(tmp_path / "step.npy")
    assert image.shape == (50, 50) and image.dtype == np.float32
    assert (image[:, :25] == 0).all() and (image[:, 25:] == 1).all()


def _lecture_by_hand(image, bank):
    """The lecture's Conv2D layer (cross-correlation, no padding, bias 0) applied to every channel on
    its own, as the lecture fed each result channel back: a depthwise convolution, channel c·K + k."""
    from scipy.signal import correlate2d

    layer = image[:, :, np.newaxis]
    for _ in range(2):
        layer = np.stack([correlate2d(layer[:, :, c], kernel, mode="valid")
                          for c in range(layer.shape[2]) for kernel in bank], axis=-1)
    return layer


def test_keras_lecture(tmp_path):
    subprocess.run([sys.executable, str(EXAMPLES / "step_image.py"), "step.npy"], cwd=tmp_path, check=True)
    run = subprocess.run([CONVCLI, "pipeline", str(EXAMPLES / "keras-lecture.yaml"), "step.npy", "-o", "out.npy"],
                         cwd=tmp_path, env=_env(), capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "step.npy"]
    out = np.load(tmp_path / "out.npy")
    assert out.shape == (48, 48, 4)

    mean2 = np.full((2, 2), 0.25)
    edge2 = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    step = np.load(tmp_path / "step.npy").astype(np.float64)
    expected = _lecture_by_hand(step, [mean2, edge2])
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    # The lecture's numbers, row 0 around the step (columns 22..25): every row is the same.
    assert (out == out[:1]).all()
    assert out[0, 22:26].T.tolist() == [[0, 0.25, 0.75, 1],   # mean2·mean2: a softer step
                                        [0, 1, 1, 0],         # mean2·edge2: the edge, 2 wide
                                        [0, 1, 1, 0],         # edge2·mean2: the same
                                        [0, 4, -4, 0]]        # edge2·edge2: the edge's own edges


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_gallery_builds_in_parallel_then_is_up_to_date(tmp_path):
    out = tmp_path / "gallery"
    make = ["make", "--no-print-directory", "-C", str(EXAMPLES), f"OUT={out}", f"PYTHON={sys.executable}"]
    build = subprocess.run([*make, "-j2", "all", "lecture"], env=_env(), capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr

    names = [f"{sample}-{kind}.png" for sample in ("camera", "coins", "astronaut")
             for kind in ("sobel", "blur", "maxpool")]
    for name in names:
        assert (out / name).is_file(), name
    from PIL import Image

    with Image.open(out / "camera-maxpool.png") as image:
        assert image.size == (128, 128)
    assert np.load(out / "lecture" / "step-lecture.npy").shape == (48, 48, 4)

    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    question = subprocess.run([*make, "-q", "all", "lecture"], env=_env(), capture_output=True, text=True, check=False)
    assert question.returncode == 0, "make -q: something would be rebuilt\n" + question.stdout + question.stderr
    again = subprocess.run([*make, "-j2", "all", "lecture"], env=_env(), capture_output=True, text=True, check=False)
    assert again.returncode == 0 and "convcli" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == stamps

    # A changed source rebuilds only what depends on it.
    os.utime(out / "src" / "coins.png")
    dry = subprocess.run([*make, "-n", "all"], env=_env(), capture_output=True, text=True, check=False)
    assert dry.returncode == 0
    commands = [line for line in dry.stdout.splitlines() if line.startswith("convcli")]
    assert len(commands) == 3 and all("coins" in line for line in commands)

    clean = subprocess.run([*make, "clean"], env=_env(), capture_output=True, text=True, check=False)
    assert clean.returncode == 0 and not out.exists()
