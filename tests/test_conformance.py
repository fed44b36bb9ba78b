"""Every case of ../shared/conformance, run through the installed convcli command.

The kit's own runner (``run.py``) decides pass or fail; this file only feeds it one case at a time.
Cases for commands that later issues bring are expected to fail (not strictly: one that starts
passing early is welcome).
"""

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parents[1].parent / "shared" / "conformance"

# case id prefix -> the issue that brings the command it needs
LATER: dict[str, str] = {}  # case id prefix -> the issue that brings it (none left)


def _cases():
    if not (KIT / "cases.json").is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"conformance kit not found at {KIT}"))]
    params = []
    for case in json.loads((KIT / "cases.json").read_text()):
        marks = [
            pytest.mark.xfail(reason=f"needs {issue}", strict=False)
            for prefix, issue in LATER.items()
            if case["id"].startswith(prefix)
        ][:1]
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


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


# Every case runs on every engine (CONVCLI_ENGINE is --engine's default): OpenCV and the SciPy reference.
@pytest.mark.parametrize("engine", ["opencv", "scipy"])
@pytest.mark.parametrize("case", _cases())
def test_conformance_case(kit, case, engine, monkeypatch):
    monkeypatch.setenv("CONVCLI_ENGINE", engine)
    why = kit.run_case(case, str(KIT), _command(), 120)
    assert why is None, f"{case['id']} ({engine}): {why}"
