"""Small helpers shared by the test modules: image files written and read with Pillow (never with
convcli's own reader), and the conformance kit's cases."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

KIT = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def png(path, array):
    """Write ``array`` as an image file with Pillow and return it as an array."""
    Image.fromarray(np.asarray(array)).save(path)
    return np.asarray(array)


def read_png(path):
    """An image file read back with Pillow."""
    with Image.open(path) as image:
        return np.asarray(image)


def kit_cases(prefix):
    """The conformance cases whose id starts with ``prefix``, as pytest params (skipped without the kit)."""
    if not (KIT / "cases.json").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance kit not found at {KIT}"))]
    cases = [c for c in json.loads((KIT / "cases.json").read_text()) if c["id"].startswith(prefix)]
    return [pytest.param(c, id=c["id"]) for c in cases]


def case_options(args):
    """The ``--name value`` pairs of a case's command line (``-o`` and positionals skipped)."""
    options, i = {}, 1
    while i < len(args):
        if args[i].startswith("-") and args[i] != "-o" and i + 1 < len(args):
            options[args[i]] = args[i + 1]
            i += 2
        else:
            i += 1
    return options


def opencv_decode(data: bytes) -> np.ndarray:
    """Independent image decoder: OpenCV, BGR(A) turned into RGB(A)."""
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert arr is not None
    if arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[..., [2, 1, 0, 3]]
    return arr
