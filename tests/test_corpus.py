"""The corpus of bad inputs (tests/corpus/make_corpus.py) through the installed ``convcli``.

Every case runs in a fresh folder holding only its files, in a subprocess with standard input at
/dev/null and a 60 s timeout (10 s for a case that must be quick: a FIFO or a device must never
make convcli hang), and must give (README, Reports and exit codes; Hostile input):

- its exit code (1: a file failed, 2: usage error, 0: a valid file with a defined behaviour);
- no Python traceback, and nothing on standard output (no ``-o -`` here);
- one error line per failing file on standard error (``convcli: error: ...`` or click's
  ``Error: ...``), each containing the expected text and naming the offending file;
- nothing new in the folder but what the case expects (no output, no partial file), and no
  ``.*.tmp`` file anywhere;
- every input unchanged (hashed before and after; links still point where they pointed).

Valid but awkward files (EXIF-rotated or CMYK JPEG, palette, 1-bit, 16-bit PNG, animated GIF, ...)
must give exit 0 and the output shape and dtype the README documents.

The cases run up front, a few at a time (each is a Python start-up), in a module fixture; each
case's test then checks its own run, so a known bug is one case's expected failure.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

CORPUS = Path(__file__).resolve().parent / "corpus" / "make_corpus.py"
CONVCLI = Path(sys.executable).with_name("convcli")
TIMEOUT = 60
ERROR_PREFIXES = ("convcli: error:", "Error:")
# What else convcli itself writes on standard error: click's usage lines, the per-file summary
# (a line with an arrow, then indented details) and the closing count. Anything else (a decoder's
# own complaint, a warning) breaks the one-line-per-file promise.
OWN_LINE = re.compile(r"^(?:$|Usage: |Try '|  |.*→|\d+ done, \d+ failed)")


def _load_corpus():
    spec = importlib.util.spec_from_file_location("convcli_test_corpus", CORPUS)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


corpus = _load_corpus()


def _params():
    return [pytest.param(case, id=case.id) for case in corpus.CASES]


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under ``folder`` (links not followed, FIFOs and devices never opened)."""
    entries: dict[str, tuple] = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root, name)
            rel = path.relative_to(folder).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                entries[rel] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                entries[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            elif stat.S_ISDIR(st.st_mode):
                entries[rel] = ("dir",)
            else:
                entries[rel] = ("special", stat.S_IFMT(st.st_mode))
    return entries


def read_output(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def test_corpus_is_large_and_covers_every_kind():
    kinds = {kind: sum(c.kind == kind for c in corpus.CASES) for kind in corpus.KINDS}
    assert len(corpus.CASES) >= 40, kinds
    assert all(kinds.values()), kinds
    assert len({c.id for c in corpus.CASES}) == len(corpus.CASES)


def test_make_corpus_script_writes_every_case(tmp_path):
    """``python tests/corpus/make_corpus.py DIR`` writes DIR/<case-id>/ for every case."""
    result = subprocess.run([sys.executable, str(CORPUS), str(tmp_path / "corpus")], check=False, capture_output=True,
                            text=True, stdin=subprocess.DEVNULL, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    written = {p.name for p in (tmp_path / "corpus").iterdir()}
    expected = {c.id for c in corpus.CASES if not c.needs or os.path.exists(c.needs)}
    assert written == expected
    assert all((tmp_path / "corpus" / name / "CASE.txt").is_file() for name in written)


@dataclass
class Run:
    """One case run through convcli: the folder before and after, and what convcli did."""

    folder: Path
    before: dict[str, tuple]
    after: dict[str, tuple]
    returncode: int | None      # None: killed after `timeout` seconds (it hung)
    stdout: str
    stderr: str
    seconds: float
    timeout: float


def skip_reason(case) -> str | None:
    if case.skip_root and hasattr(os, "geteuid") and os.geteuid() == 0:
        return "root ignores folder permissions"
    if case.needs and not os.path.exists(case.needs):
        return f"needs {case.needs}"
    return None


def run_case(case, folder: Path) -> Run:
    """Make the case's files in ``folder``, run its command there, and look at the folder again."""
    corpus.make(case, folder)
    before = snapshot(folder)
    env = {k: v for k, v in os.environ.items() if k != "CONVCLI_KERNEL_PATH"}
    env.update(NO_COLOR="1", COLUMNS="200")
    timeout = case.max_seconds or TIMEOUT  # a case that must be quick is not waited for longer
    started = time.monotonic()
    try:
        result = subprocess.run([str(CONVCLI), *case.argv], check=False, cwd=folder, capture_output=True,
                                text=True, errors="replace", stdin=subprocess.DEVNULL, timeout=timeout, env=env)
        code, out, err = result.returncode, result.stdout, result.stderr
    except subprocess.TimeoutExpired as hung:
        code = None
        out, err = (x.decode(errors="replace") if isinstance(x, bytes) else x or "" for x in (hung.stdout, hung.stderr))
    seconds = time.monotonic() - started
    for root, dirs, _files in os.walk(folder):  # a read-only folder must not stop pytest removing the case
        for name in dirs:
            if not Path(root, name).is_symlink():
                os.chmod(Path(root, name), 0o755)
    return Run(folder, before, snapshot(folder), code, out, err, seconds, timeout)


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """Every selected case, run up front two (or more) at a time: each costs a Python start-up."""
    assert CONVCLI.exists(), f"convcli is not installed beside {sys.executable}"
    selected = [item.callspec.params["case"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_corpus_case"]
    selected = [case for case in selected if skip_reason(case) is None]
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        return {case.id: pool.submit(run_case, case, tmp_path_factory.mktemp(case.id)) for case in selected}


@pytest.mark.parametrize("case", _params())
def test_corpus_case(case, runs, tmp_path):
    reason = skip_reason(case)
    if reason:
        pytest.skip(reason)
    run = runs[case.id].result() if case.id in runs else run_case(case, tmp_path / "case")
    folder = run.folder
    shown = f"$ {case.command}\nexit {run.returncode}\n--- stdout\n{run.stdout}--- stderr\n{run.stderr}"
    if run.returncode is None:
        pytest.fail(f"hung: no exit after {run.timeout} s\n{shown}")

    assert "Traceback" not in run.stdout + run.stderr, shown
    assert "internal error" not in run.stderr, shown
    assert run.returncode == case.exit, shown
    assert run.stdout == "", shown
    if case.max_seconds is not None:
        assert run.seconds < case.max_seconds, f"took {run.seconds:.1f} s\n{shown}"

    lines = run.stderr.splitlines()
    foreign = [line for line in lines if not line.startswith(ERROR_PREFIXES) and not OWN_LINE.match(line)]
    assert not foreign, f"lines on standard error that are not convcli's: {foreign}\n{shown}"
    errors = [line for line in lines if line.startswith(ERROR_PREFIXES)]
    assert len(errors) == case.failing, f"want {case.failing} error line(s)\n{shown}"
    messages = case.message if isinstance(case.message, tuple) else (case.message,) * len(errors)
    names = case.names if isinstance(case.names, tuple) else (case.names,) * len(errors)
    for line, message, name in zip(errors, messages, names):
        assert message in line, f"want {message!r} in the error line\n{shown}"
        assert name in line, f"want the error line to name {name!r}\n{shown}"

    temps = [rel for rel in run.after if Path(rel).name.startswith(".") and rel.endswith(".tmp")]
    assert not temps, f"temporary files left: {temps}\n{shown}"
    changed = [rel for rel, entry in run.before.items() if run.after.get(rel) != entry]
    assert not changed, f"inputs changed or removed: {changed}\n{shown}"
    created = sorted(set(run.after) - set(run.before))
    assert created == sorted(case.new), f"want exactly {sorted(case.new)} created, got {created}\n{shown}"

    if case.exit == 0:
        assert case.stderr in run.stderr, f"want {case.stderr!r} on standard error\n{shown}"
        output = read_output(folder / case.new[0])
        if case.shape is not None:
            assert output.shape == case.shape, shown
        if case.dtype is not None:
            assert output.dtype.name == case.dtype, shown
        if case.check is not None:
            case.check(folder)
