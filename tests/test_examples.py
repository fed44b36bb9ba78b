"""examples/: the pipelines load and plan, the Keras lecture gives the lecture's numbers, and the
Makefile builds the gallery in parallel, then finds nothing to rebuild."""

import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def test_step_image_script(tmp_path):
    namespace = runpy.run_path(str(EXAMPLES / "step_image.py"))
    namespace["main"]([str(tmp_path / "step.npy")])
    image = np.load(tmp_path / "step.npy")
    assert image.shape == (50, 50) and image.dtype == np.float32
    assert (image[:, :25] == 0).all() and (image[:, 25:] == 1).all()


def _lecture_by_hand(image, bank):
    """Conv2D layers without padding, as Keras computes them: cross-correlation, channel c·K + k."""
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
