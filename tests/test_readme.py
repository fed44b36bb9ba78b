"""The README's examples run, and print what the README says they print.

Every ``$ command`` line of a ```console block runs with bash in one empty folder, as the README
promises (in order, so later examples may use earlier outputs), standard error merged into standard output; the lines after it,
up to the next ``$``, are its expected output (times aside). ```python blocks are executed. The quick start must
hold exactly the two commands the issue asks for.

After changing an example, refresh the shown output with ``python tests/test_readme.py --update``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```(console|python|sh)\n(.*?)```", re.S)
QUICK_START = [
    "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/convcli filter sample:astronaut -k sobel-x "
    "-o astronaut-sobel-x.png",
    'python3 -m venv .venv && .venv/bin/pip install ".[test]" && .venv/bin/python -m pytest',
]


def _blocks(kind):
    return [body for lang, body in BLOCK.findall(README.read_text(encoding="utf-8")) if lang == kind]


def _commands(body):
    """[(command, expected output lines)] of one console block."""
    pairs = []
    for line in body.splitlines():
        if line.startswith("$ "):
            pairs.append((line[2:], []))
        elif pairs:
            pairs[-1][1].append(line)
    return pairs


TIMING = re.compile(r" in \d+\.\d+ s\b")


def _untimed(lines):
    """Times differ from run to run: compare everything else."""
    return [TIMING.sub(" in … s", line) for line in lines]


def _run(command, cwd):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    env.pop("CONVCLI_KERNEL_PATH", None)
    env["COLUMNS"] = "100"
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=120)
    return done.returncode, done.stdout.rstrip("\n").splitlines()


def test_quick_start_is_the_two_commands():
    assert _blocks("sh")[0].strip().splitlines() == QUICK_START


def test_quick_start_main_job(tmp_path):
    # The install halves are what this test run already did; the job runs with the convcli installed here.
    job = QUICK_START[0].split(" && ")[-1].replace(".venv/bin/", "")
    code, output = _run(job, tmp_path)
    assert code == 0, output
    from PIL import Image

    with Image.open(tmp_path / "astronaut-sobel-x.png") as image:
        assert image.size == (512, 512)


def test_console_examples(tmp_path):
    assert _blocks("console"), "README has no console examples"
    assert not any(tmp_path.iterdir())  # "in an empty folder": nothing of the repository is at hand
    for body in _blocks("console"):
        for command, expected in _commands(body):
            code, output = _run(command, tmp_path)
            assert code == 0, f"$ {command}\n" + "\n".join(output)
            assert _untimed(output) == _untimed(expected), f"$ {command}"


# Inline `convcli ...` mentions that are fragments of a sentence, not commands to run as they stand.
FRAGMENTS = {
    "convcli ... | head -c 100", "convcli COMMAND --help", "convcli filter -k box3", "convcli filter",
    "convcli filter photos/ -k box3 -O out",  # a folder of the reader's own photos
    "convcli conv2d", "convcli pipeline MODEL.keras IMAGE…", "convcli animate", "convcli show", "convcli show INPUT",
}


def test_inline_commands_run(tmp_path):
    """Every inline `convcli ...` that is a whole command runs as written, in an empty folder."""
    mentions = re.findall(r"`(convcli\s[^`]*)`", README.read_text(encoding="utf-8"))
    inline = sorted({" ".join(command.split()) for command in mentions})  # a mention may wrap a line
    assert not FRAGMENTS - set(inline), "a listed fragment left the README: drop it from FRAGMENTS"
    # The commands that write docs/pictures/ are run by scripts/make_learning_pictures.py, and
    # tests/test_learning_pictures.py checks that they still make the committed pictures.
    runnable = [command for command in inline if command not in FRAGMENTS and "docs/pictures/" not in command]
    assert any("sample:" in command for command in runnable)
    for command in runnable:
        code, output = _run(command, tmp_path)
        assert code == 0, f"$ {command}\n" + "\n".join(output)


def test_keras_lecture_pipeline_is_the_one_in_examples(tmp_path):
    """The README writes the lecture's pipeline itself (it runs in an empty folder): the same steps as
    examples/keras-lecture.yaml, which explains them."""
    examples = README.parent / "examples" / "keras-lecture.yaml"
    if not examples.is_file():
        pytest.skip("examples/ is not part of this tree")
    (command,) = [c for body in _blocks("console") for c, _ in _commands(body) if c.endswith("> keras-lecture.yaml")]
    code, output = _run(command, tmp_path)
    assert code == 0, output
    written = yaml.safe_load((tmp_path / "keras-lecture.yaml").read_text(encoding="utf-8"))
    assert written == {"steps": yaml.safe_load(examples.read_text(encoding="utf-8"))["steps"]}


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_examples(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), {})


def _update(tmp):
    text = README.read_text(encoding="utf-8")

    def fill(match):
        lang, body = match.group(1), match.group(2)
        if lang != "console":
            return match.group(0)
        lines = []
        for command, _ in _commands(body):
            code, output = _run(command, tmp)
            if code != 0:
                raise SystemExit(f"$ {command} exited {code}:\n" + "\n".join(output))
            lines += [f"$ {command}", *output]
        return "```console\n" + "\n".join(lines) + "\n```"

    README.write_text(BLOCK.sub(fill, text), encoding="utf-8")


if __name__ == "__main__" and "--update" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        _update(folder)
