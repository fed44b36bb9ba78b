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
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PICTURES_DIR = ROOT / "docs" / "pictures"

#: Picture file name → the convcli commands (argument lists) that make it, run in order in one empty
#: folder (``{out}`` is the picture's path). Each command also appears in the README, by its picture.
#: When the last command names no ``{out}``, the picture is what it prints on a true-colour terminal:
#: its half-block characters drawn as the terminal draws them (:func:`terminal_picture`).
PICTURES: dict[str, list[list[str]]] = {
    "kernel-sobel-x.png": [["kernels", "show", "sobel-x", "--png", "{out}"]],
    "animate-conv.gif": [["animate", "conv", "matrix:3 3 2 1 0; 0 0 1 3 1; 3 1 2 2 3; 2 0 0 2 2; 2 0 0 0 1", "-k", "0 1 2; 2 2 0; 0 1 2", "--correlate", "--padding", "1", "--stride", "2", "--cell", "24", "-o", "{out}"]],
    "animate-transpose.gif": [["animate", "transpose", "shape:2x2", "--kernel-size", "3", "--factor", "2", "--cell", "20", "-o", "{out}"]],
    "animate-pool.gif": [["animate", "pool", "matrix:1 5 2 0; 4 3 9 1; 7 8 2 2; 0 1 3 6", "--op", "max", "--size", "2", "--cell", "24", "-o", "{out}"]],
    "explain-sobel.png": [["filter", "matrix:1 2 3; 4 5 6; 7 8 9", "-k", "sobel-x", "--explain", "0,1", "--explain-png",
                           "{out}", "-q"]],
    "show.png": [
        ["pool", "sample:camera", "--op", "avg", "--size", "18", "-o", "camera28.png", "-q"],
        ["show", "camera28.png", "-o", "{out}"],
    ],
    "show-signed.png": [
        ["filter", "matrix:0 0 9 9; 0 0 9 9; 0 0 9 9", "-k", "sobel-x", "-o", "edge.txt", "-q"],
        ["show", "edge.txt", "-o", "{out}"],
    ],
    "preview.png": [["--color", "always", "show", "sample:astronaut", "--width", "64"]],
    "sheet.png": [
        ["pool", "sample:camera", "--size", "4", "-o", "camera-128.png", "-q"],
        ["filter", "camera-128.png", "-k", "sobel-x", "-k", "sobel-y", "-k", "laplacian4", "-o", "edges.npy",
         "--sheet", "{out}", "--sheet-scale", "shared", "--sheet-input", "-q"],
    ],
}


#: The pixels of one character cell of a terminal picture (wide, high): a half block is half its height.
TERMINAL_CELL = (8, 16)
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def terminal_picture(text: str) -> np.ndarray:
    """Draw a true-colour terminal's output of half blocks (``▀``: the upper half in the foreground
    colour, the lower in the background) as an RGB array, a cell of :data:`TERMINAL_CELL` per character."""
    width, height = TERMINAL_CELL
    lines = [line for line in text.splitlines() if line]
    rows = []
    for line in lines:
        cells, fg, bg = [], (0, 0, 0), (0, 0, 0)
        position = 0
        for match in _SGR.finditer(line + "\x1b[m"):
            for character in line[position:match.start()]:
                if character not in "▀ ":
                    raise SystemExit(f"terminal_picture draws half blocks only, got {character!r}")
                top = fg if character == "▀" else bg
                cell = np.empty((height, width, 3), np.uint8)
                cell[: height // 2], cell[height // 2:] = top, bg
                cells.append(cell)
            codes = [int(code) for code in match.group(1).split(";") if code] or [0]
            while codes:
                code = codes.pop(0)
                if code in (38, 48) and codes[:1] == [2]:
                    colour = tuple(codes[1:4])
                    codes = codes[4:]
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                elif code == 0:
                    fg, bg = (0, 0, 0), (0, 0, 0)
            position = match.end()
        rows.append(np.concatenate(cells, axis=1))
    columns = max(row.shape[1] for row in rows)
    return np.concatenate([np.pad(row, ((0, 0), (0, columns - row.shape[1]), (0, 0))) for row in rows])


def make_pictures(out: Path, names: list[str] | None = None) -> list[Path]:
    """Run the commands of ``PICTURES`` (or of ``names``) and put their pictures in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names or list(PICTURES):
        with tempfile.TemporaryDirectory() as work:
            target = Path(work) / name
            environment = {**os.environ, "COLUMNS": "100", "COLORTERM": "truecolor"}
            environment.pop("NO_COLOR", None)
            for command in PICTURES[name]:
                arguments = [argument.replace("{out}", str(target)) for argument in command]
                done = subprocess.run([sys.executable, "-m", "convcli", *arguments], cwd=work, env=environment,
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"{name}: convcli {' '.join(arguments)} failed ({done.returncode}): "
                                     f"{done.stderr.strip()}")
            if "{out}" not in PICTURES[name][-1]:
                from PIL import Image

                Image.fromarray(terminal_picture(done.stdout)).save(target)
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
