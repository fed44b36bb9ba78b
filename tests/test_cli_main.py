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

from convcli.cli import cli

HEAVY = ("numpy", "scipy", "skimage", "imageio", "cv2", "PIL", "tifffile", "yaml", "rich")


def test_importing_the_cli_imports_nothing_heavy():
    code = "import sys, convcli.cli; print(' '.join(m for m in %r if m in sys.modules))" % (HEAVY,)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "convcli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("convcli ")


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
