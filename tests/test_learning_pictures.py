"""scripts/make_learning_pictures.py still makes the README's pictures, as committed in docs/pictures/."""

import importlib.util
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _script():
    spec = importlib.util.spec_from_file_location("make_learning_pictures", ROOT / "scripts" / "make_learning_pictures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCRIPT = _script()


def _frames(path):
    from PIL import Image, ImageSequence

    with Image.open(path) as picture:
        return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(picture)]


def test_every_picture_is_in_the_readme_with_its_command_and_nothing_else_is():
    shown = set(re.findall(r"docs/pictures/([\w.-]+)", README))
    assert shown == set(SCRIPT.PICTURES)
    assert {path.name for path in (ROOT / "docs" / "pictures").iterdir()} == set(SCRIPT.PICTURES)
    for name, commands in SCRIPT.PICTURES.items():
        # The README shows the commands that make each picture, writing the committed file.
        for arguments in commands:
            command = shlex.join(["convcli", *(a.replace("{out}", f"docs/pictures/{name}") for a in arguments)])
            assert command in README, f"the README does not show `{command}`"


@pytest.mark.parametrize("name", sorted(SCRIPT.PICTURES))
def test_the_script_still_makes_the_committed_picture(tmp_path, name):
    [made] = SCRIPT.make_pictures(tmp_path, [name])
    new, old = _frames(made), _frames(ROOT / "docs" / "pictures" / name)
    assert len(new) == len(old)
    for new_frame, old_frame in zip(new, old):
        assert new_frame.shape == old_frame.shape
        # Text is drawn by the installed FreeType and Pillow: allow its anti-aliasing to differ, not the
        # picture (under 2 % of the pixels).
        differs = (np.abs(new_frame.astype(int) - old_frame.astype(int)) > 8).any(axis=2)
        assert differs.mean() < 0.02, f"{name}: {differs.mean():.1%} of the pixels changed"
