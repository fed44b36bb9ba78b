"""bench/run.py runs on this machine (a smoke test: it times nothing that is asserted).

The speed issue asks that `python bench/run.py` run on a fresh machine, skipping the tools that are
absent; this runs it on tiny inputs and checks that every section made its rows and its table.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_smoke(tmp_path: Path, script: str, *args: str) -> str:
    """Run ``bench/SCRIPT --smoke ARGS``, which must succeed; the markdown it wrote."""
    output = tmp_path / f"{Path(script).stem}.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), "--smoke", *args, "--output", str(output)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return output.read_text(encoding="utf-8")


def test_bench_runs_and_writes_its_table(tmp_path):
    output = tmp_path / "results.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--size", "64", "--repeat", "1",
         "--output", str(output)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = output.read_text(encoding="utf-8")
    assert table.startswith("# Speed benchmark, 64² inputs (quick)")
    for case in ("filter 3×3 (box3)", "5×5 Gaussian, stride 2", "2×2 avg pool, uint8", "Sobel magnitude",
                 "Sobel-x, 64² grey, PNG level 1", "convcli --version"):
        assert f"| {case} |" in table, case
    assert "ImageMagick: " in table and "vips: " in table  # each tool either timed or said absent


def test_a_stand_in_that_mentions_imagemagick_is_not_timed(tmp_path):
    # Some machines put a `convert` on PATH that only names ImageMagick and exits 1: not a tool to time.
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from batch import is_imagemagick
    finally:
        sys.path.remove(str(ROOT / "bench"))
    stand_in = tmp_path / "convert"
    stand_in.write_text("#!/bin/sh\necho 'convert: ImageMagick is not installed here' >&2\nexit 1\n")
    stand_in.chmod(0o755)
    real = tmp_path / "magick"
    real.write_text("#!/bin/sh\necho 'Version: ImageMagick 7.1.1-0 Q16 x86_64'\n")
    real.chmod(0o755)
    assert not is_imagemagick(str(stand_in))
    assert is_imagemagick(str(real))
    assert not is_imagemagick(None)


def test_bench_layers_runs_and_prints_its_table():
    # Run by hand against torch when it is installed; here on tiny images, torch or not.
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_layers.py"), "--scale", "0.02", "--repeat", "1"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| 3→16, 3×3, 20² |" in result.stdout and "| 64→64, 3×3, 8² |" in result.stdout
    assert "target: convcli at most 2× torch (NCHW)" in result.stdout


def test_streaming_bench_runs_and_writes_its_table(tmp_path):
    """bench/streaming.py on tiny inputs: every case makes its row (vips timed, or said absent)."""
    table = run_smoke(tmp_path, "streaming.py", "--repeat", "1", "--workdir", str(tmp_path / "work"))
    assert table.startswith("# Streaming benchmark (quick)")
    for case in ("Sobel-x, 64² grey PNG, level 1", "5×5 Gaussian, 512² uint8 BigTIFF → tiled BigTIFF",
                 "5×5 Gaussian, 1024² uint8 Zarr → Zarr"):
        assert f"| {case} |" in table, case
    assert "failed" not in table.split("\n- ")[0]  # no convcli row failed


def test_startup_bench_runs_and_writes_its_tables(tmp_path):
    """bench/startup.py --smoke: the start-up rows, the make rows (where make exists) and the phases."""
    text = run_smoke(tmp_path, "startup.py")
    assert text.startswith("# Start-up benchmark (smoke)")
    for case in ("convcli --version", "convcli filter 64×64 PNG -k sobel-x", "convcli filter 256×256 PNG -k sobel-x"):
        assert f"| start-up | {case} |" in text, case
    if shutil.which("make"):
        assert "| make | make -j2, 4 × 256² PNG, one call per file |" in text
    assert "| import numpy |" in text and "| whole run (under -X importtime) |" in text


def test_cluster_bench_runs_and_writes_its_table(tmp_path):
    """bench/cluster.py --smoke: --jobs 2, --jobs 1, --scheduler local:2 and a real scheduler with 2
    workers each make their row, with outputs byte-identical to the --jobs 2 run's (it stops if not)."""
    text = run_smoke(tmp_path, "cluster.py")
    assert text.startswith("# Cluster benchmark (smoke): 6 PNGs of 32×32")
    for variant in ("--jobs 2", "--jobs 1", "--scheduler local:2", "--scheduler tcp:// (2 dask workers)"):
        assert f"| {variant} |" in text, variant
    assert "byte-identical to the --jobs 2 run's: yes" in text
