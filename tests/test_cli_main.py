"""The command group: start-up cost, `python -m convcli`, signals and the internal-error guard."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from convcli import __version__
from convcli.cli import cli

HEAVY = ("numpy", "scipy", "skimage", "imageio", "cv2", "PIL", "tifffile", "yaml", "rich", "h5py", "safetensors")


def test_importing_the_cli_imports_nothing_heavy():
    code = "import sys, convcli.cli; print(' '.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "convcli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("convcli ")


VERSION_ONLY = """
import atexit, sys
atexit.register(lambda: sys.stderr.write("click imported\\n" if "click" in sys.modules else ""))
sys.argv = ["convcli", "--version"]
from convcli._entry import main
main()
"""


def test_the_version_alone_is_answered_before_click_is_imported():
    # The same line as Click's version option prints (CliRunner goes through Click).
    done = subprocess.run([sys.executable, "-c", VERSION_ONLY], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == CliRunner().invoke(cli, ["--version"]).output == f"convcli {__version__}\n"


@pytest.mark.parametrize("stdout,message", [("closed", "cannot write to standard output: it is closed"),
                                            ("/dev/full", "No space left on device")])
def test_a_version_that_cannot_be_written_goes_the_usual_way(stdout, message):
    if stdout == "/dev/full" and not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    redirect = ">&-" if stdout == "closed" else ">/dev/full"
    done = subprocess.run(["sh", "-c", f'"$0" -c "$1" {redirect}', sys.executable, VERSION_ONLY],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr == f"Error: {message}\nclick imported\n"


def test_unknown_command_and_option_exit_2():
    assert CliRunner().invoke(cli, ["nope"]).exit_code == 2
    assert CliRunner().invoke(cli, ["filter", "--no-such-option"]).exit_code == 2


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_removes_temporaries_and_exits(tmp_path, signum, code):
    # A slow job (a 61×61 kernel, strided and dilated at once: computed tap by tap) gives time to be
    # interrupted.
    np.save(tmp_path / "big.npy", np.random.default_rng(0).normal(size=(1500, 1500)))
    script = Path(sys.executable).with_name("convcli")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "convcli"]
    process = subprocess.Popen(
        command + ["filter", "big.npy", "-k", "box:61", "--stride", "2", "--dilation", "2", "-o", "out.npy"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    time.sleep(2.0)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr.decode()
    assert b"Traceback" not in stderr
    assert sorted(os.listdir(tmp_path)) == ["big.npy"]


def test_quiet_and_verbose_also_after_the_command(run):
    np.save("a.npy", np.ones((4, 4)))
    assert run("filter", "a.npy", "-k", "box3", "-o", "o.npy", "-q").stderr == ""
    assert "1 done" in run("filter", "a.npy", "-k", "box3", "-o", "o.npy").stderr


# A mistyped choice of any command: click's usage error (exit 2, its wording), then the closest choices.
@pytest.mark.parametrize("args,option,meant", [
    (["filter", "a.npy", "-k", "box3", "--boundary", "reflct"], "--boundary", "'reflect'"),
    (["filter", "a.npy", "-k", "box3", "--boundary", "Symetric"], "--boundary", "'symmetric'"),
    (["filter", "a.npy", "-k", "box3", "--mode", "vaild"], "--mode", "'valid'"),
    (["filter", "a.npy", "-k", "box3", "--scale", "normalise"], "--scale", "'normalize'"),
    (["filter", "a.npy", "-k", "box3", "--dtype", "flaot32"], "--dtype", "'float32'"),
    (["filter", "a.npy", "-k", "box3", "--format", "tiif"], "--format", "'tif'"),
    (["filter", "a.npy", "-k", "box3", "--engine", "scipi"], "--engine", "'scipy'"),
    (["sobel", "a.npy", "--operator", "scharrr"], "--operator", "'scharr'"),
    (["sobel", "a.npy", "--component", "magnitud"], "--component", "'magnitude'"),
    (["pool", "a.npy", "--op", "avgg"], "--op", "'avg'"),
    (["pool", "a.npy", "--mode", "smae"], "--mode", "'same'"),
    (["upsample", "a.npy", "--factor", "2", "--method", "bilinaer"], "--method", "'bilinear'"),
    (["pipeline", "p.yaml", "a.npy", "--dtype", "unit8"], "--dtype", "'uint8'"),
    (["--color", "alwyas", "kernels"], "--color", "'always'"),
])
def test_mistyped_choices_suggest_the_closest(run, args, option, meant):
    np.save("a.npy", np.ones((4, 4)))
    given = args[args.index(option) + 1]
    result = run(*args, *(["-o", "o.npy"] if args[0] != "--color" else []))
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"Error: Invalid value for '{option}': '{given}' is not one of ")
    assert last.endswith("?") and f"; did you mean {meant}" in last
    assert not os.path.exists("o.npy")


def test_a_choice_far_from_every_name_keeps_clicks_message(run):
    result = run("filter", "a.npy", "-k", "box3", "--boundary", "xyz", "-o", "o.npy")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: Invalid value for '--boundary': 'xyz' is not one of 'zero', 'constant', 'reflect', 'symmetric', "
        "'edge', 'wrap', 'replicate', 'nearest', 'circular', 'symm', 'fill'.")


def test_every_choice_option_suggests():
    import click

    from convcli.cli import cli
    from convcli.cli.types import ChoiceType

    def params(command, path):
        yield from ((path, p) for p in command.params)
        if isinstance(command, click.Group):  # every subcommand, loading the lazy ones
            for name in command.list_commands(click.Context(command)):
                yield from params(command.get_command(click.Context(command), name), f"{path} {name}")

    plain = [(path, p.name) for path, p in params(cli, "convcli")
             if isinstance(p.type, click.Choice) and not isinstance(p.type, ChoiceType)]
    assert plain == []
