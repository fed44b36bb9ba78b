"""Make the pictures of the README's "Learning with convcli" section, with convcli itself.

Each picture is one convcli command (``PICTURES``), run in a fresh folder, its output moved to
``docs/pictures/`` (or ``--out DIR``). tests/test_learning_pictures.py runs this script into a temporary
folder and checks that it still makes every picture the README shows, as committed.

Usage::

    python scripts/make_learning_pictures.py            # rewrite docs/pictures/
    python scripts/make_learning_pictures.py --out DIR  # write them elsewhere
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PICTURES_DIR = ROOT / "docs" / "pictures"

#: Picture file name → the convcli commands (argument lists) that make it, run in order in one empty
#: folder (``{out}`` is the picture's path). Each command also appears in the README, by its picture.
PICTURES: dict[str, list[list[str]]] = {
    "kernel-sobel-x.png": [["kernels", "show", "sobel-x", "--png", "{out}"]],
    "sheet.png": [
        ["pool", "sample:camera", "--size", "4", "-o", "camera-128.png", "-q"],
        ["filter", "camera-128.png", "-k", "sobel-x", "-k", "sobel-y", "-k", "laplacian4", "-o", "edges.npy",
         "--sheet", "{out}", "--sheet-scale", "shared", "--sheet-input", "-q"],
    ],
}


def make_pictures(out: Path, names: list[str] | None = None) -> list[Path]:
    """Run the commands of ``PICTURES`` (or of ``names``) and put their pictures in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names or list(PICTURES):
        with tempfile.TemporaryDirectory() as work:
            target = Path(work) / name
            environment = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
            for command in PICTURES[name]:
                arguments = [argument.replace("{out}", str(target)) for argument in command]
                done = subprocess.run([sys.executable, "-m", "convcli", *arguments], cwd=work, env=environment,
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{name}: convcli {' '.join(arguments)} failed ({done.returncode}): "
                                     f"{done.stderr.strip()}")
            if not target.exists():
                raise SystemExit(f"{name}: the commands made no {name}")
            shutil.move(str(target), out / name)
            made.append(out / name)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PICTURES_DIR, help="folder for the pictures")
    arguments = parser.parse_args()
    for path in make_pictures(arguments.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
