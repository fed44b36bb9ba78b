"""Writing files atomically: a complete file or none, temporary files named and swept as this
process's own, and the checks around outputs (:func:`same_file`, :func:`written_through`)."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from convcli.errors import ImageWriteError
from convcli.images.info import _is_bytes, _reason


# Temporary files being written now, so a signal handler can remove them (remove_temp_files).
_LIVE_TEMPS: set[str] = set()
#: Why an output that exists is not replaced when no_clobber is asked for (the command line says
#: --no-clobber: convcli.cli.wording).
EXISTS = "exists; `no_clobber` refuses to replace it"

_LIVE_LOCK = threading.RLock()  # re-entrant: a signal handler may clean up mid-write

# Whose temporary files these are: the process that loaded this module (its pid, and random bytes
# for processes of other PID namespaces sharing a folder, as containers do), in their names. Worker
# processes forked from it inherit the same owner, so that the parent can sweep what a killed
# worker left (sweep_temp_files) and nothing another convcli run is writing.
_OWNER = f"{os.getpid()}-{os.urandom(4).hex()}"
_OWNER_MARK = f".{_OWNER}."  # between the output's name and the random part, in every temporary name
# A task of another process's run (a Dask worker doing a file of a cluster run) names its temporary
# files with that run's owner instead, so that the run's own sweep finds what a killed worker left
# (:func:`owned_by`); None: this process's own.
_TASK_OWNER: str | None = None
# Commits being staged (:func:`staged_commits`): each ready temporary is listed here instead of being
# renamed; None: commits rename at once.
_STAGED: list[StagedWrite] | None = None
_RANDOM_LENGTH = 8          # what tempfile.mkstemp puts between prefix and suffix
_TEMP_SUFFIX = ".tmp"
_TEMP_RANDOM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _name_max(folder: str) -> int:
    """The longest file name (in bytes) the file system of ``folder`` takes; 255 if it does not say."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (AttributeError, OSError, ValueError):
        return 255


def _temp_prefix(name: str, name_max: int) -> str:
    """``.NAME.OWNER.``: what the temporary file of output ``name`` starts with (a random part and
    ``.tmp`` follow). A long name is cut and given a hash of the whole, so that the temporary
    name fits ``name_max`` bytes whenever ``name`` does and still tells outputs apart."""
    tail = owner_mark()
    room = name_max - 1 - len(tail) - _RANDOM_LENGTH - len(_TEMP_SUFFIX)
    if len(os.fsencode(name)) <= room:
        return f".{name}{tail}"
    import hashlib

    digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    kept = name
    while kept and len(os.fsencode(kept)) > room - len(digest):  # whole characters only
        kept = kept[:-1]
    return f".{kept}{digest}{tail}"


def run_owner() -> str:
    """The mark this process's temporary files carry (its pid and random bytes), for tasks done
    elsewhere on its behalf (:func:`owned_by`)."""
    return _OWNER


def owner_mark() -> str:
    """The owner part of the temporary names written now: this process's, or the run's a task is
    being done for (:func:`owned_by`)."""
    return _OWNER_MARK if _TASK_OWNER is None else f".{_TASK_OWNER}."


@contextlib.contextmanager
def owned_by(owner: str) -> Iterator[None]:
    """Name the temporary files written inside the block as those of the run ``owner``
    (:func:`run_owner` of the process that runs it), so that its :func:`sweep_temp_files` removes
    what a task killed here mid-write leaves. One task at a time per process (a module-level
    setting).

    Examples
    --------
    >>> with owned_by("123-abcd"):
    ...     owner_mark()
    '.123-abcd.'
    """
    global _TASK_OWNER
    if not owner or not set(owner) <= _TEMP_RANDOM | {"-"}:
        raise ValueError(f"`owner` must be a run's owner mark (letters, digits, '-'); got {owner!r}")
    previous, _TASK_OWNER = _TASK_OWNER, owner
    try:
        yield
    finally:
        _TASK_OWNER = previous


@dataclass(frozen=True)
class StagedWrite:
    """A complete output waiting under its temporary name (:func:`staged_commits`) until
    :func:`publish_staged` puts it at ``path`` or :func:`discard_staged` removes it."""

    temp_path: str
    path: str
    no_clobber: bool
    folder: bool  # a folder store (AtomicFolder), not a file


@contextlib.contextmanager
def staged_commits() -> Iterator[list[StagedWrite]]:
    """Inside the block, a commit of :func:`write_atomic`, :class:`AtomicFile` or
    :class:`AtomicFolder` makes its temporary complete (flushed, ``fsync``-ed, its permission
    bits set) but does not rename it: it is listed, for the caller to publish or discard later
    (a cluster run under ``--fail-fast`` publishes in input order, as ``--jobs 1`` writes).

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with staged_commits() as staged:
    ...         write_atomic(os.path.join(folder, "a.bin"), b"one")
    ...     before = os.path.exists(os.path.join(folder, "a.bin"))
    ...     publish_staged(staged[0])
    ...     before, pathlib.Path(folder, "a.bin").read_bytes()
    (False, b'one')
    """
    global _STAGED
    previous, _STAGED = _STAGED, []
    try:
        yield _STAGED
    finally:
        _STAGED = previous


def publish_staged(staged: StagedWrite) -> None:
    """Put a staged output at its path, as its commit would have (no_clobber included).

    Raises
    ------
    ImageWriteError
        The output's path and the reason; the temporary is then removed.
    """
    folder = os.path.dirname(staged.path) or "."
    try:
        if staged.folder:
            _place_folder(staged.temp_path, staged.path, staged.no_clobber, folder)
        else:
            _place_file(staged.temp_path, staged.path, staged.no_clobber)
        _fsync_folder(folder)
    except ImageWriteError:
        discard_staged(staged)
        raise
    except OSError as exc:
        discard_staged(staged)
        raise ImageWriteError(f"cannot write: {_reason(exc)}", path=staged.path) from None


def discard_staged(staged: StagedWrite) -> None:
    """Remove a staged output's temporary (best effort)."""
    _unlink_all([staged.temp_path])


def sweep_temp_files(folders: Iterable[str]) -> int:
    """Remove, from ``folders``, the temporary files of :func:`write_atomic` that this process or a
    worker process forked from it left (a worker killed mid-write). Their names carry this
    process's own mark (pid and random bytes), so another process's temporary files, being written
    now, are left alone.

    Parameters
    ----------
    folders : iterable of str
        The folders of the outputs.

    Returns
    -------
    int
        How many files were removed.

    Examples
    --------
    >>> sweep_temp_files(["no-such-folder"])
    0
    """
    tail = len(_TEMP_SUFFIX) + _RANDOM_LENGTH
    owner = _OWNER_MARK  # a run's sweep: its own temporaries and those its tasks named after it
    mine = []
    for folder in dict.fromkeys(folders):
        try:
            listed = os.listdir(folder or ".")
        except OSError:
            continue
        mine += [os.path.join(folder or ".", entry) for entry in listed
                 if entry.startswith(".") and entry.endswith(_TEMP_SUFFIX) and entry[:-tail].endswith(owner)
                 and set(entry[-tail:-len(_TEMP_SUFFIX)]) <= _TEMP_RANDOM and len(entry) > tail + len(owner)]
    return _unlink_all(mine)


def remove_temp_files() -> int:
    """Remove the temporary files of writes still in progress (for a SIGTERM/SIGINT handler) and
    return how many there were.

    Examples
    --------
    >>> remove_temp_files()  # no write in progress
    0
    """
    with _LIVE_LOCK:
        paths = list(_LIVE_TEMPS)
        _LIVE_TEMPS.clear()
    return _unlink_all(paths)


def _unlink_all(paths: Iterable[str]) -> int:
    """Remove each of ``paths`` that can be removed (best effort; a temporary folder with what is
    in it); how many were."""
    removed = 0
    for path in paths:
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
            removed += 1
        except OSError:
            pass
    return removed


def _kept_mode(path: str) -> int:
    """The permission bits the written file gets: those of the regular file it replaces (its
    set-user/group-ID bits dropped), else those of a new file (0o666 minus the umask)."""
    try:
        status = os.lstat(path)
    except (OSError, ValueError):
        status = None
    if status is not None and stat.S_ISREG(status.st_mode):
        return stat.S_IMODE(status.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def written_through(path: str) -> bool:
    """True when ``path`` is a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named
    pipe), also through a link, or names an open descriptor (``/dev/stdout`` redirected to a file):
    :func:`write_atomic` writes straight to it, since it cannot be replaced atomically (nor should it
    be replaced by a regular file).

    Examples
    --------
    >>> written_through("/dev/null"), written_through("out.png")
    (True, False)
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    if stat.S_ISREG(mode) and str(path).startswith(_DESCRIPTOR_PATHS):
        # `-o /dev/stdout > out.png`: an open descriptor, which the shell already truncated; a rename
        # would replace the link in /dev, not the file.
        return True
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


#: Paths that name an open file descriptor, not a file of their own.
_DESCRIPTOR_PATHS = ("/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/")


def would_clobber(path: str) -> bool:
    """True when writing ``path`` would replace a file that exists (what ``no_clobber`` refuses): a
    device or FIFO (:func:`written_through`) is written to, never replaced.

    Examples
    --------
    >>> would_clobber("/dev/null"), would_clobber("/no/such/file.png")
    (False, False)
    """
    return os.path.lexists(path) and not written_through(path)


def write_atomic(path: str, data: bytes | FolderData, *, no_clobber: bool = False) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either untouched or complete.

    The bytes go to a temporary file in the target folder (``.NAME.OWNER.XXXXXXXX.tmp``, OWNER the
    pid of the process that loaded this module and random bytes, so that :func:`sweep_temp_files`
    knows its own; a name too
    long for that is cut and hashed, so any name the file system takes can be written), are flushed and
    ``fsync``-ed, given the permission bits of the file it replaces (or those a new file gets:
    0o666 minus the umask), then renamed
    onto ``path`` (``os.replace``; a symbolic link at ``path`` is replaced, not followed). On
    any failure, or Ctrl-C, the temporary file is removed and an existing ``path`` is left as
    it was. With ``no_clobber`` an existing ``path`` is refused (atomically, with a hard link,
    where the file system allows).

    Parameters
    ----------
    path : str or os.PathLike
        The output file.
    data : bytes or FolderData
        Its full contents; a :class:`FolderData` (a Zarr store) is written as a temporary folder
        renamed onto ``path`` (:class:`AtomicFolder`).
    no_clobber : bool, optional
        Refuse to replace an existing file.

    Raises
    ------
    ImageWriteError
        With the path and the OS's reason (folder missing, permission denied, disk full, ...).

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder, "a.bin")
    ...     write_atomic(target, b"one")
    ...     write_atomic(target, b"two")
    ...     target.read_bytes(), os.listdir(folder)
    (b'two', ['a.bin'])
    """
    try:
        path = os.fsdecode(os.fspath(path))
    except TypeError:
        raise ValueError(f"path must be a path; got {type(path).__name__}") from None
    if isinstance(data, FolderData):
        _write_folder(path, data, no_clobber)
        return
    if not _is_bytes(data):
        raise ValueError(f"data must be bytes; got {type(data).__name__}")
    _check_target(path, no_clobber)
    if written_through(path):
        # /dev/null, /dev/stdout, a named pipe: written through, never replaced by a regular file.
        try:
            with open(path, "wb") as stream:
                stream.write(data)
        except OSError as exc:
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
        return
    with AtomicFile(path, no_clobber=no_clobber) as target:
        try:
            target.file.write(data)
        except OSError as exc:
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
        target.commit()


@dataclass(frozen=True)
class FolderData:
    """The contents of an output stored as a folder (a Zarr store), as :func:`encode_image` gives
    them for :func:`write_atomic`: ``fill(folder)`` writes them into an empty folder.

    Parameters
    ----------
    fill : callable
        ``fill(folder)``: write the store's files into ``folder``.
    label : str
        The format's name in messages (``"Zarr"``).
    """

    fill: Callable[[str], None]
    label: str


def _write_folder(path: str, data: FolderData, no_clobber: bool) -> None:
    """:func:`write_atomic` of a folder store: filled as a temporary folder, then renamed."""
    if written_through(path):
        raise ImageWriteError(f"a {data.label} store is a folder; it cannot be written to a device or a pipe", path=path)
    with AtomicFolder(path, no_clobber=no_clobber) as target:
        assert target.temp_path is not None
        try:
            data.fill(target.temp_path)
        except OSError as exc:
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
        target.commit()


class _AtomicTemp:
    """A temporary file or folder in the target folder, named as :func:`write_atomic`'s (so
    :func:`sweep_temp_files` and :func:`remove_temp_files` know it), put at ``path`` by
    :meth:`commit` or removed by :meth:`abort`."""

    def __init__(self, path: str, no_clobber: bool, folder: str, make: Callable[..., Any]) -> None:
        self.path = path
        self.no_clobber = no_clobber
        self.folder = folder
        try:
            made = make(dir=folder, prefix=_temp_prefix(os.path.basename(path), _name_max(folder)), suffix=_TEMP_SUFFIX)
        except OSError as exc:
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=path) from None
        fd, tmp = made if isinstance(made, tuple) else (None, made)
        self._fd = fd
        self._tmp: str | None = tmp
        with _LIVE_LOCK:
            _LIVE_TEMPS.add(tmp)

    @property
    def temp_path(self) -> str | None:
        """The temporary file or folder (None once committed or aborted)."""
        return self._tmp

    def commit(self) -> None:
        """Put the temporary at ``path``; on failure it is removed and ``path`` left as it was."""
        tmp = self._tmp
        if tmp is None:
            raise ImageWriteError("was already committed or aborted", path=self.path)
        try:
            self._prepare(tmp)
            if _STAGED is not None:  # complete, but put in place later (staged_commits)
                _STAGED.append(StagedWrite(tmp, self.path, self.no_clobber, isinstance(self, AtomicFolder)))
            else:
                self._place(tmp)
            with _LIVE_LOCK:
                _LIVE_TEMPS.discard(tmp)
            self._tmp = None
            if _STAGED is None:
                _fsync_folder(self.folder)
        except ImageWriteError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise ImageWriteError(f"cannot write: {_reason(exc)}", path=self.path) from None

    def abort(self) -> None:
        """Remove the temporary; ``path`` stays as it was. Harmless when already done."""
        self._close()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            with _LIVE_LOCK:
                _LIVE_TEMPS.discard(tmp)
            _unlink_all([tmp])

    def _prepare(self, tmp: str) -> None:
        """Make the temporary complete and durable (before it is put in place)."""

    def _place(self, tmp: str) -> None:  # pragma: no cover - each kind has its own
        raise NotImplementedError

    def _close(self) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()


class AtomicFile(_AtomicTemp):
    """A file written in pieces that appears at ``path`` complete, or not at all.

    Its bytes go to ``file``, a temporary file in the target folder named as :func:`write_atomic`'s;
    :meth:`commit` flushes, ``fsync``-s, gives it the permission bits :func:`write_atomic` gives, and
    renames it onto ``path``; :meth:`abort` (or leaving the ``with`` block without committing)
    removes it. The checks of ``path`` (folder missing, a folder, ``no_clobber``) are made when it
    is opened.

    Parameters
    ----------
    path : str
        The output file (a regular file; :func:`written_through` paths are the caller's).
    no_clobber : bool, optional
        Refuse to replace an existing file.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with AtomicFile(os.path.join(folder, "a.bin")) as target:
    ...         _ = target.file.write(b"one, "); _ = target.file.write(b"two")
    ...         target.commit()
    ...     pathlib.Path(folder, "a.bin").read_bytes(), os.listdir(folder)
    (b'one, two', ['a.bin'])
    """

    def __init__(self, path: str, *, no_clobber: bool = False) -> None:
        super().__init__(path, no_clobber, _check_target(path, no_clobber), tempfile.mkstemp)
        fd, tmp = self._fd, self._tmp
        # A file object named by its path (tifffile looks at .name), on the descriptor mkstemp opened.
        self.file = open(tmp, "wb", opener=lambda _path, _flags: fd)  # type: ignore[arg-type]  # noqa: SIM115

    def _prepare(self, tmp: str) -> None:
        fh = self.file
        fh.flush()
        os.fsync(fh.fileno())
        mode = _kept_mode(self.path)
        if hasattr(os, "fchmod"):
            os.fchmod(fh.fileno(), mode)
        else:  # pragma: no cover - Windows
            os.chmod(tmp, mode)
        fh.close()

    def _place(self, tmp: str) -> None:
        _place_file(tmp, self.path, self.no_clobber)

    def _close(self) -> None:
        try:
            self.file.close()
        except OSError:
            pass


class AtomicFolder(_AtomicTemp):
    """A folder (a Zarr store) filled in pieces that appears at ``path`` complete, or not at all.

    It is filled as ``temp_path``, a temporary folder in the target folder (named as
    :func:`write_atomic`'s temporary files, and swept as they are); :meth:`commit` renames it onto
    ``path``. A folder already at ``path`` is first renamed aside and removed after the new one is
    in place (a folder cannot be replaced in one rename); :meth:`abort` removes the temporary folder.

    Parameters
    ----------
    path : str
        The output folder.
    no_clobber : bool, optional
        Refuse to replace anything at ``path``.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     with AtomicFolder(os.path.join(folder, "a.zarr")) as target:
    ...         _ = pathlib.Path(target.temp_path, "zarr.json").write_text("{}")
    ...         target.commit()
    ...     os.listdir(folder), os.listdir(os.path.join(folder, "a.zarr"))
    (['a.zarr'], ['zarr.json'])
    """

    def __init__(self, path: str, *, no_clobber: bool = False) -> None:
        super().__init__(path, no_clobber, _check_target(path, no_clobber, folder_ok=True), tempfile.mkdtemp)

    def _place(self, tmp: str) -> None:
        _place_folder(tmp, self.path, self.no_clobber, self.folder)


def _place_file(tmp: str, path: str, no_clobber: bool) -> None:
    """Put a complete temporary file at ``path`` (AtomicFile's commit, publish_staged)."""
    if no_clobber:
        _link_no_clobber(tmp, path)
    else:
        os.replace(tmp, path)


def _place_folder(tmp: str, path: str, no_clobber: bool, folder: str) -> None:
    """Put a complete temporary folder at ``path`` (AtomicFolder's commit, publish_staged)."""
    if not os.path.lexists(path):
        os.rename(tmp, path)
        return
    if no_clobber:
        raise ImageWriteError(EXISTS, path=path)
    if not os.path.isdir(path) or os.path.islink(path):
        os.unlink(path)
        os.rename(tmp, path)
        return
    with _AtomicTemp(path, False, folder, tempfile.mkdtemp) as old:  # the old store, removed after
        assert old.temp_path is not None
        aside = os.path.join(old.temp_path, "old")
        os.replace(path, aside)
        try:
            os.rename(tmp, path)
        except OSError:
            os.replace(aside, path)  # the old store back where it was
            raise


def _check_target(path: str, no_clobber: bool, *, folder_ok: bool = False) -> str:
    """The checks of an output path before anything is written; its folder (``"."`` for none)."""
    folder, name = os.path.split(path)
    if not name:
        raise ImageWriteError("names a folder, not a file", path=path)
    folder_shown = folder or "."
    if not os.path.isdir(folder_shown):
        raise ImageWriteError(f"folder {folder_shown!r} does not exist", path=path)
    if not folder_ok and os.path.isdir(path):
        raise ImageWriteError("is a folder; give a file name", path=path)
    if no_clobber and would_clobber(path):
        raise ImageWriteError(EXISTS, path=path)
    return folder_shown


def _link_no_clobber(tmp: str, path: str) -> None:
    """Put ``tmp`` at ``path`` only if nothing is there, without a check-then-rename race."""
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ImageWriteError(EXISTS, path=path) from None
    except OSError:  # no hard links on this file system: check, then rename
        if os.path.lexists(path):
            raise ImageWriteError(EXISTS, path=path) from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); harmless to skip where folders cannot be opened."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        fd = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def same_file(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` name the same existing file, also through symbolic or hard links.

    Parameters
    ----------
    a, b : str or os.PathLike
        Paths. Anything that is not an existing file (``"-"``, ``"sample:NAME"``) gives False.

    Returns
    -------
    bool

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     p = pathlib.Path(folder, "x.png"); _ = p.write_bytes(b"x")
    ...     same_file(p, pathlib.Path(folder, ".", "x.png")), same_file(p, pathlib.Path(folder, "y.png"))
    (True, False)
    """
    try:
        return os.path.samefile(a, b)
    except (OSError, TypeError, ValueError):
        return False

