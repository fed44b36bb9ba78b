"""`--band-rows` and CONVCLI_BAND_ROWS through CliRunner: the banded run writes the very bytes of the whole run."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import png

CHAINS = {
    "filters, pool, upsample": "steps: [gray, {filter: {kernel: box5, boundary: reflect}}, "
                               "{pool: {op: avg, size: 3, stride: 2, ceil: true}}, {upsample: {factor: 2}}]",
    "wrap and stride": "steps: [{filter: {kernel: sobel-x, boundary: wrap, stride: 2}}, {zero_pad: {padding: 1}}]",
    "runs whole": "steps: [{pool: {op: max, size: 2}}, {upsample: {method: max-unpool}}]",
}


@pytest.mark.parametrize("chain", CHAINS, ids=list(CHAINS))
@pytest.mark.parametrize("rows", ["1", "7"])
def test_pipeline_in_bands_writes_the_same_bytes(run, tmp_path, monkeypatch, chain, rows):
    image = np.random.default_rng(0).uniform(0, 255, (37, 23, 3)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    (tmp_path / "p.yaml").write_text(CHAINS[chain] + "\n")
    assert run("pipeline", "p.yaml", "in.npy", "-o", "whole.npy").exit_code == 0
    assert run("pipeline", "p.yaml", "in.npy", "-o", "flag.npy", "--band-rows", rows).exit_code == 0
    monkeypatch.setenv("CONVCLI_BAND_ROWS", rows)
    assert run("pipeline", "p.yaml", "in.npy", "-o", "env.npy").exit_code == 0
    whole = (tmp_path / "whole.npy").read_bytes()
    assert (tmp_path / "flag.npy").read_bytes() == whole
    assert (tmp_path / "env.npy").read_bytes() == whole


def test_filter_command_in_bands_writes_the_same_png(run, tmp_path):
    png(tmp_path / "in.png", np.random.default_rng(1).integers(0, 256, (19, 13, 3), dtype=np.uint8))
    assert run("filter", "in.png", "-k", "gaussian:sigma=1.5", "--stride", "2", "-o", "whole.png").exit_code == 0
    assert run("filter", "in.png", "-k", "gaussian:sigma=1.5", "--stride", "2", "-o", "bands.png",
               "--band-rows", "3").exit_code == 0
    assert (tmp_path / "bands.png").read_bytes() == (tmp_path / "whole.png").read_bytes()


def test_band_rows_must_be_at_least_one(run):
    result = CliRunnerResult = run("filter", "in.png", "-k", "box3", "-o", "x.png", "--band-rows", "0")
    assert CliRunnerResult.exit_code == 2 and "--band-rows" in result.output
