"""The built-in kernel library is found from a wheel, from a wheel built out of the sdist, and from an
editable install, each run from an unrelated directory; the installed wheel prints the full CLI
reference (``convcli help reference``, the text of docs/cli.md) though it holds no docs/.

Each build goes through hatchling's PEP 517 hooks in a subprocess (no network), is installed with
``pip --target`` into a temporary folder, and is then imported ahead of anything else on the path.
"""

import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("hatchling")
if not (REPO / "pyproject.toml").is_file():  # pragma: no cover - running from an installed copy
    pytest.skip("needs the source tree", allow_module_level=True)

# Put the installed copy first on sys.path (processing its .pth files, as site-packages would),
# then run the CLI: `kernels show sobel-x` reads the library from wherever that copy finds it.
BOOTSTRAP = textwrap.dedent(
    """
    import site, sys
    target = sys.argv.pop(1)
    before = list(sys.path)
    site.addsitedir(target)
    sys.path[:] = [p for p in sys.path if p not in before] + before
    import convcli
    print("FROM", convcli.__file__)
    from convcli.cli import cli
    cli(prog_name="convcli")
    """
)


def _hook(hook, out_dir, cwd):
    code = f"import hatchling.build as b; print(b.{hook}({str(out_dir)!r}))"
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return Path(out_dir) / done.stdout.strip().splitlines()[-1]


def _install_and_run(artifact, tmp_path, *args):
    """Install ``artifact`` into tmp_path/target, then run ``convcli ARGS`` (default: kernels show
    sobel-x) from tmp_path/elsewhere; the output's first line says where convcli came from."""
    target = tmp_path / "target"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target), str(artifact)],
        check=True, capture_output=True,
    )
    return _run_installed(target, tmp_path, *(args or ("kernels", "show", "sobel-x")))


def _run_installed(target, tmp_path, *args):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    done = subprocess.run([sys.executable, "-c", BOOTSTRAP, str(target), *args], cwd=elsewhere, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _check_library(output):
    assert "sobel-x: 3×3, sum 0" in output
    assert " 2  0 -2" in output


@pytest.mark.slow
def test_wheel_carries_and_finds_the_library(tmp_path):
    wheel = _hook("build_wheel", tmp_path, REPO)
    names = zipfile.ZipFile(wheel).namelist()
    assert "convcli/_kernels/sobel-x.yaml" in names
    output = _install_and_run(wheel, tmp_path)
    assert "target" in output.splitlines()[0]
    _check_library(output)
    # The full reference comes from the installed code, not from a file of the repository.
    assert not any(name.endswith("cli.md") for name in names)
    where, _, reference = _run_installed(tmp_path / "target", tmp_path, "help", "reference").partition("\n")
    assert "target" in where
    assert reference == (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "convcli help reference" in _run_installed(tmp_path / "target", tmp_path, "help")


@pytest.mark.slow
def test_sdist_builds_a_wheel_that_finds_the_library(tmp_path):
    sdist = _hook("build_sdist", tmp_path, REPO)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert any(n.endswith("/kernels/sobel-x.yaml") for n in names)
        # The "data" filter came in Python 3.11.4 (Debian 12's Python is 3.11.2); our own sdist needs none.
        extract_options = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path / "unpacked", **extract_options)
    (root,) = (tmp_path / "unpacked").iterdir()
    wheel_dir = tmp_path / "from-sdist"
    wheel_dir.mkdir()
    wheel = _hook("build_wheel", wheel_dir, root)
    assert "convcli/_kernels/sobel-x.yaml" in zipfile.ZipFile(wheel).namelist()
    _check_library(_install_and_run(wheel, tmp_path))


@pytest.mark.slow
def test_editable_install_finds_the_library(tmp_path):
    wheel = _hook("build_editable", tmp_path, REPO)
    output = _install_and_run(wheel, tmp_path)
    assert str(REPO / "src" / "convcli") in output.splitlines()[0]
    _check_library(output)
