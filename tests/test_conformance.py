"""Every case of the conformance kit, run through the installed convcli command.

The kit lives in tests/conformance (a copy of ../shared/conformance, so that a plain clone runs every
case); its own runner (``run.py``) decides pass or fail, and this file only feeds it one case at a
time. Where the shared kit sits beside the repository, its cases that the copy lacks run too
(helpers.all_kit_cases).
"""

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from helpers import KIT, all_kit_cases


@pytest.fixture(scope="module")
def kit():
    spec = importlib.util.spec_from_file_location("conformance_run", KIT / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _command():
    # The installed console script beside this interpreter, else `python -m convcli`.
    script = Path(sys.executable).with_name("convcli")
    if script.exists():
        return [str(script)]
    found = shutil.which("convcli")
    return [found] if found else [sys.executable, "-m", "convcli"]


def test_the_kit_is_in_the_repository():
    # No case may depend on ../shared: a plain `git clone` has none.
    ids = [case["id"] for case in all_kit_cases() if not case["id"].endswith("@shared")]
    assert len(ids) >= 71 and len(set(ids)) == len(ids)
    assert all(Path(case["kit"]) == KIT for case in all_kit_cases() if not case["id"].endswith("@shared"))


# Every case runs on every engine (CONVCLI_ENGINE is --engine's default): OpenCV and the SciPy reference.
@pytest.mark.parametrize("engine", ["opencv", "scipy"])
@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in all_kit_cases()])
def test_conformance_case(kit, case, engine, monkeypatch):
    monkeypatch.setenv("CONVCLI_ENGINE", engine)
    why = kit.run_case(case, case["kit"], _command(), 120)
    assert why is None, f"{case['id']} ({engine}): {why}"


# Every case again with banding forced (CONVCLI_BAND_ROWS is --band-rows's default): one-row bands
# (every band edge; the halo of every step) on OpenCV, seven-row bands on SciPy. Off is the run above.
@pytest.mark.parametrize(("engine", "band_rows"), [("opencv", "1"), ("scipy", "7")])
@pytest.mark.parametrize("case", [pytest.param(case, id=case["id"]) for case in all_kit_cases()])
def test_conformance_case_in_bands(kit, case, engine, band_rows, monkeypatch):
    monkeypatch.setenv("CONVCLI_ENGINE", engine)
    monkeypatch.setenv("CONVCLI_BAND_ROWS", band_rows)
    why = kit.run_case(case, case["kit"], _command(), 120)
    assert why is None, f"{case['id']} ({engine}, bands of {band_rows} rows): {why}"
