"""Fixtures shared by the test modules, and the Hypothesis profiles.

The property and fuzz tests run under one of two profiles, picked by ``CONVCLI_HYPOTHESIS_PROFILE``:
``ci`` (the default: a bounded, derandomized pass, the same examples every run) or ``long`` (100 times
as many examples, random each run). Each test scales its own budget with ``helpers.budget``.
"""

import os

import pytest
from click.testing import CliRunner
from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, database=None, derandomize=True, print_blob=True)
settings.register_profile("long", max_examples=20_000, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("CONVCLI_HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke the `convcli` group in an empty folder, without the user's CONVCLI_KERNEL_PATH."""
    from convcli.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVCLI_KERNEL_PATH", raising=False)

    def invoke(*args, input=None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)

    return invoke
