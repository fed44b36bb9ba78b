"""Shell completion (click's machinery, bash/zsh/fish) and the generated CLI reference docs/cli.md."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete, get_completion_class

from convcli.cli import cli
from convcli.cli.help import REFERENCE_COMMAND, render_reference
from convcli.cli.types import kernel_folders, parametric_prefixes

# Every kernels module but the numpy-free spec grammar: completion must import none of them.
HEAVY_KERNEL_MODULES = tuple(f"convcli.kernels.{name}" for name in ("kernel", "matrix", "files", "library",
                                                                    "parametric", "resolve"))

# Every images module but the numpy-free format table: completion must import none of them either.
HEAVY_IMAGES_MODULES = tuple(f"convcli.images.{name}" for name in ("read", "write", "encode", "png", "png_read",
                                                                   "pillow", "tiff", "npy", "atomic", "limits"))

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
VAR = "_CONVCLI_COMPLETE"
COMMAND_NAMES = cli.list_commands(click.Context(cli))  # every command, loaded or not


def complete(shell: str, args: list[str], incomplete: str) -> list[tuple[str, str]]:
    """(type, value) of click's completions of ``incomplete`` after ``convcli *args``."""
    comp: ShellComplete = get_completion_class(shell)(cli, {}, "convcli", VAR)
    return [(item.type, item.value) for item in comp.get_completions(args, incomplete)]


def plain(shell: str, args: list[str], incomplete: str) -> list[str]:
    return [value for kind, value in complete(shell, args, incomplete) if kind == "plain"]


def run_completion(env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("convcli")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "convcli"]
    return subprocess.run(command, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=60)


# --------------------------------------------------------------------------------------------------
# Completion, in process


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_kernel_names_complete(shell):
    assert plain(shell, ["filter", "x.png", "-k"], "sob") == ["sobel-x", "sobel-y"]
    assert plain(shell, ["filter", "x.png", "--kernel"], "scharr") == ["scharr-x", "scharr-y"]
    assert plain(shell, ["kernels", "show"], "prew") == ["prewitt-x", "prewitt-y"]
    assert plain(shell, ["upsample", "x.png", "--method", "transpose", "-k"], "mean") == ["mean2"]


def test_kernel_names_carry_their_description():
    comp = get_completion_class("zsh")(cli, {}, "convcli", VAR)
    items = comp.get_completions(["filter", "x.png", "-k"], "sobel-x")
    assert [i.value for i in items] == ["sobel-x"] and "x-gradient" in items[0].help


def test_parametric_prefixes_complete():
    assert plain("bash", ["filter", "x.png", "-k"], "ga") == ["gaussian3", "gaussian5", "gaussian:sigma="]
    assert plain("bash", ["filter", "x.png", "-k"], "d") == ["dog:sigma1=", "disk:radius="]
    everything = plain("bash", ["filter", "x.png", "-k"], "")
    assert {"identity", "sobel-x", "mean2", "edge2"} <= set(everything)
    assert [p for p, _ in parametric_prefixes()] == [v for v in everything if v.endswith((":", "="))]


def test_kernel_paths_complete_as_files():
    assert complete("bash", ["filter", "x.png", "-k"], "./my") == [("file", "./my")]
    assert complete("bash", ["filter", "x.png", "-k"], "my.yaml") == [("file", "my.yaml")]
    assert complete("bash", ["filter", "x.png", "-k"], "zzz") == [("file", "zzz")]  # nothing matches


def test_kernel_dir_and_env_path_names_complete_and_broken_files_do_not_break(tmp_path, monkeypatch):
    mine, env = tmp_path / "mine", tmp_path / "env"
    mine.mkdir()
    env.mkdir()
    (mine / "sobel-mine.yaml").write_text("matrix: [[1, 0, -1]\n")  # broken YAML
    (mine / "sobel-empty.yaml").write_bytes(b"\xff\xfe\x00")  # not even text
    (mine / "Sobel-Upper.yaml").write_text("matrix: [[1]]\n")  # not a valid kernel name
    (env / "sobel-env.yaml").write_text("description: from the environment\nmatrix: [[1]]\n")
    monkeypatch.setenv("CONVCLI_KERNEL_PATH", os.pathsep.join([str(env), str(tmp_path / "missing")]))
    args = ["filter", "x.png", "--kernel-dir", str(mine), "-k"]
    assert plain("bash", args, "sob") == ["sobel-empty", "sobel-env", "sobel-mine", "sobel-x", "sobel-y"]
    # a --kernel-dir that does not exist is a usage error when running, not when completing
    assert plain("bash", ["filter", "x.png", "--kernel-dir", str(tmp_path / "nope"), "-k"], "sob") == [
        "sobel-env", "sobel-x", "sobel-y"]


def test_kernel_completion_never_raises(monkeypatch):
    import convcli.cli.types as types

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(types, "kernel_names", boom)
    assert complete("bash", ["filter", "x.png", "-k"], "sob") == [("file", "sob")]
    monkeypatch.setattr(types, "input_completions", boom)
    assert complete("bash", ["filter"], "sample:a") == [("file", "sample:a")]


def test_builtin_folder_matches_the_kernel_library():
    from convcli.kernels import builtin_kernel_dir

    assert kernel_folders(None)[-1] == builtin_kernel_dir()


def test_sample_names_complete_for_inputs():
    for command in (["filter"], ["sobel"], ["pool"], ["upsample"], ["pipeline", "p.yaml"], ["filter", "a.png"]):
        assert plain("bash", command, "sample:ast") == ["sample:astronaut"], command
    assert plain("bash", ["filter"], "sample:c") == [
        "sample:camera", "sample:cat", "sample:cell", "sample:checkerboard", "sample:chelsea",
        "sample:clock", "sample:coffee", "sample:coins", "sample:colorwheel"]
    assert len(plain("bash", ["filter"], "sa")) >= 20
    # files are always offered; sample names only once the text starts like sample:
    assert complete("bash", ["filter"], "") == [("file", "")]
    assert complete("bash", ["filter"], "img/") == [("file", "img/")]


def test_the_matrix_prefix_completes_for_inputs():
    assert plain("bash", ["filter"], "ma") == ["matrix:"]
    assert plain("bash", ["pool"], "m") == ["matrix:"]
    assert complete("bash", ["filter"], "matrix:") == [("file", "matrix:")]  # then the numbers are the user's


def test_commands_options_and_choices_complete():
    assert plain("bash", [], "") == COMMAND_NAMES
    assert {"filter", "sobel", "pool", "upsample", "pipeline", "kernels", "help"} <= set(COMMAND_NAMES)
    assert plain("bash", [], "p") == ["pipeline", "pool"]
    assert plain("bash", ["kernels"], "") == ["list", "show"]
    assert "--color" in plain("bash", [], "--")
    assert plain("bash", ["--color"], "") == ["auto", "always", "never"]
    assert plain("bash", ["filter", "x.png"], "--bou") == ["--boundary"]
    assert plain("bash", ["filter", "x.png", "--boundary"], "s") == ["symmetric", "symm"]
    assert plain("bash", ["help"], "s") == ["stride-dilation", "scale"]
    assert plain("bash", ["help"], "re") == ["reports", "reference"]
    assert complete("bash", ["filter", "x.png"], "-o") == [("plain", "-o")]
    assert complete("bash", ["filter", "x.png", "-o"], "out") == [("file", "out")]
    assert complete("bash", ["filter", "x.png", "-O"], "out") == [("dir", "out")]


# --------------------------------------------------------------------------------------------------
# Completion through the environment, as the shells call it


def test_bash_protocol_in_a_subprocess():
    done = run_completion({VAR: "bash_complete", "COMP_WORDS": "convcli filter x.png -k sob", "COMP_CWORD": "4"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["plain,sobel-x", "plain,sobel-y"]
    done = run_completion({VAR: "bash_complete", "COMP_WORDS": "convcli filter sample:ast", "COMP_CWORD": "2"})
    assert "plain,sample:astronaut" in done.stdout.split()
    done = run_completion({VAR: "bash_complete", "COMP_WORDS": "convcli fil", "COMP_CWORD": "1"})
    assert done.stdout.split() == ["plain,filter"]


def test_bash_line_protocol_answers_after_the_word_break(monkeypatch):
    """Bash splits sample:ast at ':'; with COMP_LINE convcli answers only what bash replaces."""
    comp = get_completion_class("bash")(cli, {}, "convcli", VAR)

    def answer(line: str) -> list[str]:
        monkeypatch.setenv("COMP_LINE", line)
        monkeypatch.setenv("COMP_POINT", str(len(line)))
        return comp.complete().splitlines()

    assert "plain,astronaut" in answer("convcli filter sample:ast")
    assert answer("convcli filter x.png -k gaussian:s") == ["nospace,sigma="]
    assert answer("convcli filter x.png -k ga") == ["plain,gaussian3", "plain,gaussian5", "nospace,gaussian:sigma="]
    assert answer("convcli filter x.png --kernel=sob") == ["plain,sobel-x", "plain,sobel-y"]
    assert answer("convcli ") == [f"plain,{c}" for c in COMMAND_NAMES]
    monkeypatch.setenv("COMP_POINT", "11")  # the cursor after "convcli fil" of a longer line
    monkeypatch.setenv("COMP_LINE", "convcli fil x.png")
    assert comp.complete().splitlines() == ["plain,filter"]


@pytest.mark.parametrize("shell,env", [
    ("zsh", {"COMP_WORDS": "convcli filter x.png -k sob", "COMP_CWORD": "4"}),
    ("fish", {"COMP_WORDS": "convcli filter x.png -k sob", "COMP_CWORD": "sob"}),
])
def test_zsh_and_fish_protocols_in_a_subprocess(shell, env):
    done = run_completion({VAR: f"{shell}_complete", **env})
    assert done.returncode == 0, done.stderr
    assert "sobel-x" in done.stdout and "sobel-y" in done.stdout and "scharr" not in done.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_source_scripts(shell):
    done = run_completion({VAR: f"{shell}_source"})
    assert done.returncode == 0, done.stderr
    assert "convcli" in done.stdout and VAR in done.stdout


def test_kernel_name_completion_stays_light():
    """Completing a kernel name reads folder listings only: no numpy, no YAML parsing."""
    code = (
        "import os, sys\n"
        "from convcli.cli import cli\n"
        "try:\n"
        "    cli.main(prog_name='convcli')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(*[m for m in {('numpy', 'yaml', *HEAVY_KERNEL_MODULES, *HEAVY_IMAGES_MODULES)!r} "
        "if m in sys.modules], "
        "file=sys.stderr)\n"
    )
    env = {**os.environ, VAR: "bash_complete", "COMP_WORDS": "convcli filter x.png -k sob", "COMP_CWORD": "4"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["plain,sobel-x", "plain,sobel-y"]
    assert done.stderr.strip() == ""


def test_completion_never_warns_about_the_kernel_path(tmp_path):
    """A -k already on the line is converted while completing: a broken CONVCLI_KERNEL_PATH must
    not write its warning into the user's prompt."""
    env = {VAR: "bash_complete", "COMP_WORDS": "convcli filter x.png -k box3 --boundary r", "COMP_CWORD": "6",
           "CONVCLI_KERNEL_PATH": str(tmp_path / "missing")}
    done = run_completion(env, cwd=tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.split() == ["plain,reflect", "plain,replicate"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_in_bash(tmp_path):
    (tmp_path / "scan.png").write_bytes(b"")
    convcli = Path(sys.executable).with_name("convcli")
    if not convcli.exists():
        pytest.skip("needs the convcli script next to the Python interpreter")
    script = r"""
source <(_CONVCLI_COMPLETE=bash_source convcli)
t() {  # t LINE WORD...: complete LINE as bash would, with bash's own word split
    COMP_LINE="$1"; COMP_POINT=${#1}; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
    _convcli_completion convcli "${COMP_WORDS[COMP_CWORD]}" 2>/dev/null
    echo "${COMPREPLY[*]}"
}
t "convcli filter sample:ast" convcli filter sample : ast
t "convcli filter x.png -k sob" convcli filter x.png -k sob
t "convcli filter sc" convcli filter sc
"""
    env = {**os.environ, "PATH": f"{convcli.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop(VAR, None)
    done = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines() == ["astronaut", "sobel-x sobel-y", "scan.png"], done.stderr


# --------------------------------------------------------------------------------------------------
# docs/cli.md


@pytest.mark.skipif(not DOCS.is_dir(), reason="docs/ is not part of this tree (an sdist)")
def test_cli_reference_is_up_to_date():
    path = DOCS / "cli.md"
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == render_reference(), f"docs/cli.md is out of date: run `{REFERENCE_COMMAND}`"


def test_cli_reference_covers_every_command_at_a_fixed_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    narrow = render_reference()
    monkeypatch.setenv("COLUMNS", "300")
    assert render_reference() == narrow
    headings = [line[3:] for line in narrow.splitlines() if line.startswith("## ")]
    expected = ["convcli"]
    for name in COMMAND_NAMES:
        expected.append(f"convcli {name}")
        command = cli.get_command(click.Context(cli), name)
        expected += [f"convcli {name} {sub}" for sub in sorted(getattr(command, "commands", {}))]
    assert headings == expected
    assert {"convcli filter", "convcli kernels show", "convcli help"} <= set(headings)
    assert "--color [auto|always|never]" in narrow


@pytest.mark.skipif(not DOCS.is_dir(), reason="docs/ is not part of this tree (an sdist)")
def test_generator_check_mode(tmp_path):
    script = REPO / "scripts" / "gen_cli_reference.py"
    target = tmp_path / "cli.md"
    done = subprocess.run([sys.executable, str(script), "--output", str(target)], capture_output=True, text=True)
    assert done.returncode == 0 and target.read_text(encoding="utf-8") == render_reference(), done.stderr
    check = [sys.executable, str(script), "--check", "--output", str(target)]
    assert subprocess.run(check, capture_output=True).returncode == 0
    target.write_text("stale\n", encoding="utf-8")
    done = subprocess.run(check, capture_output=True, text=True)
    assert done.returncode == 1 and "gen_cli_reference.py" in done.stderr
