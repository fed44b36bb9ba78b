"""Small helpers shared by the test modules: image files written and read with Pillow (never with
convcli's own reader), the conformance kit's cases, and the Hypothesis example budget."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings
from PIL import Image

#: The conformance kit, a copy of ../shared/conformance kept in the repository so that a plain clone
#: runs every case (tests/conformance/README.md says how to refresh it).
KIT = Path(__file__).resolve().parent / "conformance"
#: The shared kit beside the repository, where there is one: any case it has that the copy lacks (or
#: holds differently) runs too, so a newer kit is never silently ignored.
SHARED_KIT = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"


def png(path, array):
    """Write ``array`` as an image file with Pillow and return it as an array."""
    Image.fromarray(np.asarray(array)).save(path)
    return np.asarray(array)


def read_png(path):
    """An image file read back with Pillow."""
    with Image.open(path) as image:
        return np.asarray(image)


def _read_cases(kit):
    return json.loads((kit / "cases.json").read_text(encoding="utf-8"))


def all_kit_cases():
    """Every conformance case, each with ``"kit"``: the folder its files are relative to. The copy's
    cases first, then those of the shared kit that the copy lacks or holds differently (their ids
    end in ``@shared``)."""
    own = _read_cases(KIT)
    cases = [dict(case, kit=str(KIT)) for case in own]
    if (SHARED_KIT / "cases.json").is_file():
        mine = {case["id"]: case for case in own}
        for case in _read_cases(SHARED_KIT):
            copy = mine.get(case["id"])
            same_files = copy is not None and all(
                (KIT / rel).is_file() and (KIT / rel).read_bytes() == (SHARED_KIT / rel).read_bytes()
                for rel in [*case.get("files", {}).values(), *([case["expect_npy"]] if "expect_npy" in case else [])]
            )
            if copy != case or not same_files:
                cases.append(dict(case, id=case["id"] + "@shared", kit=str(SHARED_KIT)))
    return cases


def kit_cases(prefix):
    """The conformance cases whose id starts with ``prefix``, as pytest params."""
    return [pytest.param(case, id=case["id"]) for case in all_kit_cases() if case["id"].startswith(prefix)]


def kit_file(case, key):
    """A file of a conformance case: ``key`` is ``"expect_npy"`` or a key of its ``files``."""
    rel = case[key] if key == "expect_npy" else case["files"][key]
    return Path(case["kit"]) / rel


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


# ---- image files for the tests of convcli.images (written by Pillow, read by OpenCV) -------------

RNG = np.random.default_rng(12345)

#: A 3-colour palette and the indices of a 3×2 image of it, with the RGB image they make.
COLOURS = [(10, 20, 30), (40, 50, 60), (70, 80, 90)]
INDICES = [0, 1, 2, 2, 1, 0]
EXPECTED_RGB = np.array([[COLOURS[i] for i in INDICES[:3]], [COLOURS[i] for i in INDICES[3:]]], np.uint8)


def rand(shape, dtype="uint8"):
    info = np.iinfo(dtype)
    return RNG.integers(0, int(info.max) + 1, size=shape, dtype=dtype)


def pil_bytes(im: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def npy_bytes(arr, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def cv2_read(path: str) -> np.ndarray:
    """Independent PNG reader: OpenCV, BGR(A) turned into RGB(A)."""
    return opencv_decode(Path(path).read_bytes())


def read_error(source, **kwargs) -> str:
    """The one-line message with which convcli.images.read_image refuses ``source``."""
    from convcli.errors import ImageReadError
    from convcli.images import read_image

    with pytest.raises(ImageReadError) as caught:
        read_image(source, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    assert "Traceback" not in text
    return text


def palette_image(colours, indices, size) -> Image.Image:
    im = Image.new("P", size)
    im.putpalette([v for rgb in colours for v in rgb])
    im.putdata(indices)
    return im


def one_line_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith(("Error:", "convcli: error:"))]
    assert len(lines) == 1, stderr
    return lines[0]


def budget(ci_examples: int) -> int:
    """Hypothesis examples for one test: ``ci_examples`` under the ``ci`` profile (conftest.py), scaled
    up with the loaded profile."""
    return max(1, ci_examples * settings.default.max_examples // settings.get_profile("ci").max_examples)


def assert_pipeline_mistake(text, line, message, path="net.yaml"):
    """A pipeline text is refused with an error naming the file, the line and ``message``."""
    from convcli.pipeline import PipelineError, parse_pipeline

    with pytest.raises(PipelineError) as caught:
        parse_pipeline(text, path=path)
    assert caught.value.path == path and caught.value.line == line, str(caught.value)
    assert message in str(caught.value)
