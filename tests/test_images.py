"""The package convcli.images: its import stays light, its public names are documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from convcli import images

# ----------------------------------------------------------------------------------------------
# Module rules
# ----------------------------------------------------------------------------------------------


def test_import_is_light_and_core_only():
    src = str(Path(images.__file__).resolve().parents[1])
    code = (
        "import sys, convcli; before = set(sys.modules); import convcli.images; "
        "new = set(sys.modules) - before; "
        "print(','.join(m for m in ('cv2','PIL','tifffile','skimage','scipy','imageio','click','rich') "
        "if m in new))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = src
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""


def test_public_names():
    assert images.FORMATS == ("png", "jpeg", "tiff", "bmp", "gif", "webp", "npy", "zarr", "csv", "txt")
    assert images.SCALES == ("clip", "abs", "normalize", "offset")
    assert images.DEFAULT_MAX_PIXELS == 178_956_970
    for name in images.__all__:
        assert getattr(images, name).__doc__ or name.isupper()
