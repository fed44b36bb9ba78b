"""The streaming promise, measured: a 2-step pipeline on an image larger than a small --max-memory
runs in a real process within that memory (its peak resident memory over a tiny run's), and its
result is what the whole-image path gives on cut-outs of the image."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("resource")

PIPE = "steps: [{filter: {kernel: gaussian5, boundary: reflect}}, {pool: {op: max, size: 2}}]\n"
LIMIT = 48 << 20
HEIGHT, WIDTH = 12000, 6000  # 72 MB of uint8, more than LIMIT


def _peak_run(tmp_path, *args):
    """Run convcli in a child process; its peak resident memory in bytes (Linux: ru_maxrss in KiB)."""
    code = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, done.returncode)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "convcli", *args], cwd=tmp_path,
                         capture_output=True, text=True, check=True)
    peak, returncode = out.stdout.split()
    assert returncode == "0", out.stderr
    return int(peak) * 1024


def _report(tmp_path, name):
    return json.loads((tmp_path / name).read_text())["files"][0]


def test_pipeline_on_an_image_larger_than_max_memory_streams_within_it(tmp_path):
    big = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.uint8, shape=(HEIGHT, WIDTH))
    rng = np.random.default_rng(0)
    for first in range(0, HEIGHT, 1000):
        big[first:first + 1000] = rng.integers(0, 256, (1000, WIDTH), dtype=np.uint8)
    big.flush()
    assert big.nbytes > LIMIT
    np.save(tmp_path / "cut0.npy", big[:1000])
    np.save(tmp_path / "cut1.npy", big[5000:6000])
    np.save(tmp_path / "tiny.npy", big[:64, :64])
    del big
    (tmp_path / "p.yaml").write_text(PIPE)

    baseline = _peak_run(tmp_path, "pipeline", "p.yaml", "tiny.npy", "-o", "tiny-out.npy")
    peak = _peak_run(tmp_path, "pipeline", "p.yaml", "big.npy", "-o", "out.npy", "--max-memory", str(LIMIT),
                     "--report", "big.json")
    entry = _report(tmp_path, "big.json")
    assert entry["status"] == "ok" and entry["bands"]["count"] > 1
    assert entry["memory"] <= LIMIT  # the estimate the run was held to
    assert peak - baseline < LIMIT, f"peak {peak >> 20} MiB over a tiny run's {baseline >> 20} MiB"

    out = np.load(tmp_path / "out.npy", mmap_mode="r")
    assert out.shape == (HEIGHT // 2, WIDTH // 2)
    for cut in ("cut0", "cut1"):
        subprocess.run([sys.executable, "-m", "convcli", "pipeline", "p.yaml", f"{cut}.npy", "-o", f"{cut}-out.npy",
                        "--report", f"{cut}.json"], cwd=tmp_path, check=True, capture_output=True)
        assert "bands" not in _report(tmp_path, f"{cut}.json")  # a small image: the whole-image path
    cut0, cut1 = np.load(tmp_path / "cut0-out.npy"), np.load(tmp_path / "cut1-out.npy")
    # A cut-out's own edge rows see its edge (reflected) where the big image goes on: rows of
    # the pooled result whose 5×5 windows stay inside the cut-out are the big result's.
    np.testing.assert_array_equal(out[:498], cut0[:498])
    np.testing.assert_array_equal(out[2501:2998], cut1[1:498])
