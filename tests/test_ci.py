"""CI tests what the project claims: the lowest versions pinned in .ci/lowest.txt are exactly the lower
bounds in pyproject.toml, and .ci/run runs the README's test command."""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _lower_bounds():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    bounds = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)", requirement)
        assert match, f"{requirement}: every requirement has one lower bound (name>=version), which CI tests"
        bounds[match.group(1).lower()] = match.group(2)
    return bounds


def _pins():
    pins = {}
    for line in (REPO / ".ci" / "lowest.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def test_lowest_pins_are_the_lower_bounds():
    assert _pins() == _lower_bounds()


def test_ci_runs_the_readme_test_command():
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert "pytest" in quick_start[1]
    # .ci/run reads the README's second quick-start line and runs it as written, then the suite on the
    # lowest pins in two steps: everything but the packaging tests, then the packaging tests (`slow`).
    assert "sed -n '/^```sh$/,/^```$/p' README.md | sed -n 3p" in script
    assert 'bash -c "$readme_test_command"' in script
    assert "-c .ci/lowest.txt" in script
    lowest = [line for line in script.splitlines() if line.startswith(".venv-lowest/bin/python -m pytest")]
    assert lowest == ['.venv-lowest/bin/python -m pytest -m "not slow"', ".venv-lowest/bin/python -m pytest -m slow"]
    assert script.rstrip().endswith(lowest[-1])


def test_slow_marks_the_packaging_tests():
    # The `slow` step of .ci/run runs tests/test_packaging.py: the marker must stay on its tests.
    import test_packaging

    tests = [name for name in dir(test_packaging) if name.startswith("test_")]
    assert tests
    for name in tests:
        marks = getattr(getattr(test_packaging, name), "pytestmark", []) + getattr(test_packaging, "pytestmark", [])
        assert any(mark.name == "slow" for mark in marks), f"{name} is not marked slow"


def test_security_md_names_tests_that_exist():
    # SECURITY.md lists the fault tests behind each promise: every one it names must exist.
    text = (REPO / "SECURITY.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(?:tests/[\w/]+\.py::)?(test_\w+)`", text))
    files = set(re.findall(r"`(tests/[\w/]+\.py)", text))
    assert len(named) >= 40
    assert all((REPO / f).is_file() for f in files), files
    defined = set()
    for path in (REPO / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    assert sorted(named - defined) == []
