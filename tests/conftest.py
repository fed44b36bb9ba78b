"""Fixtures shared by the test modules."""

import pytest
from click.testing import CliRunner


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke the `convcli` group in an empty folder, without the user's CONVCLI_KERNEL_PATH."""
    from convcli.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVCLI_KERNEL_PATH", raising=False)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
