"""The client of the helper process (``CONVCLI_HELPER=1``; docs/semantics.md, "The helper process").

A run of ``convcli`` pays for Python's start and for importing NumPy, OpenCV and Pillow before it
does any work: about ten times what a small image's filtering costs. With ``CONVCLI_HELPER=1``, a
helper process that has already imported them (:mod:`convcli._helper_server`) forks a worker per
run; this client hands the worker everything a run depends on (argv, the working directory, the
whole environment, the umask, the CPU affinity, the resource limits, the nice value, the ignored
signals and descriptors 0, 1, 2), forwards the signals it receives, and exits with the worker's
exit status. When no helper can take the run, the run goes on in this process, as without the
helper, and a helper is started in the background for the next runs.

This module is imported by every run with ``CONVCLI_HELPER=1``, before anything else of convcli:
it uses only modules that cost nothing to import (``_socket``, ``_struct``, ``zlib``; ``fcntl`` to
start a helper), never ``socket`` (enum and selectors: 8 ms).
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import _socket
import _struct

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

from ._version import __version__

#: The request's first bytes: the protocol's name and version, then the payload's length.
MAGIC = b"CVH1"
HEADER = _struct.Struct("!4sI")
#: The helper's answers: a tag and a 32-bit number.
ANSWER = _struct.Struct("!ci")
ACCEPTED, FALL_BACK, STATUS = b"P", b"F", b"S"

#: Seconds a helper waits for a request before it ends (``CONVCLI_HELPER_IDLE`` overrides it).
DEFAULT_IDLE_SECONDS = 30.0

#: The resource limits a worker takes from its client (setrlimit); those this platform has.
LIMITS = tuple(
    getattr(resource, name)
    for name in ("RLIMIT_AS", "RLIMIT_DATA", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CPU", "RLIMIT_STACK",
                 "RLIMIT_CORE", "RLIMIT_NPROC", "RLIMIT_MEMLOCK", "RLIMIT_RSS")
    if hasattr(resource, name)
)

#: Signals the client passes on to its worker (convcli ends on each with one line and 130 or 143).
FORWARDED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT") if hasattr(signal, name)
)

#: Environment variables read when modules are imported (Python, the dynamic linker, the BLAS and
#: OpenMP thread pools, OpenCV, the locale): a helper serves only clients whose values are its own.
IMPORT_TIME_PREFIXES = ("PYTHON", "LD_", "OMP_", "OPENBLAS_", "GOTO", "MKL_", "OPENCV_", "NUMEXPR_", "KMP_",
                        "GOMP_", "BLIS_", "VECLIB_", "LANG", "LC_", "CONVCLI_HELPER_IDLE")


#: Whether this platform has what the helper needs (Linux: peer credentials, pidfds, fd passing).
SUPPORTED = all(hasattr(_socket, name) for name in ("AF_UNIX", "SO_PEERCRED", "SCM_RIGHTS")) and hasattr(
    os, "pidfd_open") and hasattr(os, "posix_spawn")

#: The longest socket path the system takes (sun_path holds 108 bytes with the final NUL).
MAX_SOCKET_PATH = 107


def helper_directory() -> str:
    """The directory of the helpers' sockets and lock files: ``$XDG_RUNTIME_DIR/convcli`` when
    ``XDG_RUNTIME_DIR`` is an absolute path, else ``/tmp/convcli-<uid>``."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or ""
    if runtime.startswith("/"):
        return os.path.join(runtime, "convcli")
    return f"/tmp/convcli-{os.getuid()}"


def private_directory(path: str) -> bool:
    """Create ``path`` (mode 0700) if it is missing; True when it is a directory (not a symlink)
    owned by this user that no one else can reach (mode & 0o077 == 0)."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError:
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    is_directory = (info.st_mode & 0o170000) == 0o040000
    return is_directory and info.st_uid == os.getuid() and info.st_mode & 0o077 == 0


def code_fingerprint(package: str) -> list[str]:
    """Name, size and modification time (ns) of every ``.py`` file under ``package``, sorted: a
    changed or reinstalled convcli gives another fingerprint."""
    found = []
    pending = [package]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != "__pycache__":
                        pending.append(entry.path)
                elif entry.name.endswith(".py"):
                    info = entry.stat()
                    found.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}")
    found.sort()
    return found


def helper_key() -> str:
    """16 hex digits naming what a helper was started with: the interpreter, its flags and
    ``sys.path``, convcli's version, directory and code, the user's ids, the CPU affinity, the nice
    value, the namespaces and root directory the process sees files and processes through (a
    client in a container or chroot that shares the socket directory gets a helper of its own), and
    the environment variables read at import time (:data:`IMPORT_TIME_PREFIXES`).

    Examples
    --------
    >>> key = helper_key()
    >>> len(key), key == helper_key()
    (16, True)
    """
    import zlib

    package = os.path.dirname(os.path.abspath(__file__))
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = []
    environment = sorted(f"{name}={value}" for name, value in os.environ.items()
                         if name.startswith(IMPORT_TIME_PREFIXES))
    try:
        nice = os.getpriority(os.PRIO_PROCESS, 0)
    except OSError:
        nice = 0
    views = []
    for view in ("/proc/self/ns/mnt", "/proc/self/ns/pid", "/proc/self/ns/user", "/"):
        try:
            info = os.stat(view)
            views.append(f"{info.st_dev}:{info.st_ino}")
        except OSError:
            views.append("-")
    parts = [sys.executable, sys.version, repr(sys.flags), repr(sys.warnoptions), repr(sys._xoptions),
             *sys.path, __version__, package, f"{os.getuid()}:{os.getgid()}:{sorted(os.getgroups())}",
             repr(cpus), str(nice), *views, *environment, *code_fingerprint(package)]
    data = "\0".join(parts).encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data[::-1]):08x}"


def helper_paths(directory: str, key: str) -> tuple[str, str]:
    """The socket and the lock file of the helper with ``key`` in ``directory``."""
    return os.path.join(directory, f"{key}.sock"), os.path.join(directory, f"{key}.lock")


def idle_seconds() -> float:
    """``CONVCLI_HELPER_IDLE`` (seconds, > 0) or :data:`DEFAULT_IDLE_SECONDS`."""
    try:
        value = float(os.environ.get("CONVCLI_HELPER_IDLE") or DEFAULT_IDLE_SECONDS)
    except ValueError:
        return DEFAULT_IDLE_SECONDS
    return value if value > 0 and value == value and value != float("inf") else DEFAULT_IDLE_SECONDS


def encode_fields(fields: list[bytes]) -> bytes:
    """Fields as one byte string: each one's length (4 bytes) then its bytes.

    Examples
    --------
    >>> decode_fields(encode_fields([b"a", b"", b"bc"]))
    [b'a', b'', b'bc']
    """
    return b"".join(_struct.pack("!I", len(field)) + field for field in fields)


def decode_fields(data: bytes) -> list[bytes]:
    """The fields of :func:`encode_fields`; ValueError if ``data`` is cut short."""
    fields, at = [], 0
    while at < len(data):
        if at + 4 > len(data):
            raise ValueError("`data` ends inside a field's length; send what encode_fields made")
        (size,) = _struct.unpack_from("!I", data, at)
        if at + 4 + size > len(data):
            raise ValueError("`data` ends inside a field; send what encode_fields made")
        fields.append(data[at + 4:at + 4 + size])
        at += 4 + size
    return fields


def _present_descriptors() -> list[int]:
    present = []
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            continue
        present.append(fd)
    return present


def _request(present: list[int]) -> bytes:
    """What the worker needs to run as this process would (decoded by the server's ``_apply``)."""
    try:
        cpus = ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        cpus = ""
    limits = ";".join("{}:{}:{}".format(limit, *resource.getrlimit(limit)) for limit in LIMITS)
    umask = os.umask(0o022)
    os.umask(umask)
    ignored = ",".join(str(signum) for signum in FORWARDED_SIGNALS if signal.getsignal(signum) == signal.SIG_IGN)
    argv = [os.fsencode(arg) for arg in sys.argv]
    fields = [
        "".join(str(fd) for fd in present).encode(), os.getcwdb(), str(umask).encode(), cpus.encode(),
        limits.encode(), str(os.getpriority(os.PRIO_PROCESS, 0)).encode(), ignored.encode(),
        str(len(argv)).encode(), *argv,
        *(name + b"=" + value for name, value in os.environb.items()),
    ]
    return encode_fields(fields)


class NotAccepted(Exception):
    """The helper did not take the run (nothing ran): run it in this process."""


def _receive_answer(connection: Any) -> tuple[bytes, int]:
    data = b""
    while len(data) < ANSWER.size:
        chunk = connection.recv(ANSWER.size - len(data))
        if not chunk:
            raise EOFError("the helper closed the connection")
        data += chunk
    tag, number = ANSWER.unpack(data)
    return tag, number


def _connect(socket_path: str) -> Any:
    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        connection.connect(socket_path)
        # Only a helper of this user's (the directory is private; this checks the process itself).
        _pid, uid, _gid = _struct.unpack("3i", connection.getsockopt(
            _socket.SOL_SOCKET, _socket.SO_PEERCRED, _struct.calcsize("3i")))
        if uid != os.getuid():
            raise PermissionError("the helper's socket belongs to another user")
    except BaseException:
        connection.close()
        raise
    return connection


def run_through_helper() -> None:
    """Run this ``convcli`` command in a helper's worker and exit with its status; return (having
    run nothing) when no helper can take it, after starting one for the next runs when none runs."""
    if not SUPPORTED:
        return
    # Before anything opens a descriptor: a closed 0, 1 or 2 (`<&-`) would be the next one opened.
    present = _present_descriptors()
    directory = helper_directory()
    if not private_directory(directory):
        return  # someone else's or a symlink: no helper, ever
    try:
        socket_path, lock_path = helper_paths(directory, helper_key())
    except (OSError, ValueError):  # the package or the working directory vanished
        return
    if len(os.fsencode(socket_path)) > MAX_SOCKET_PATH:
        return  # no helper could listen there: do not start one per run
    try:
        connection = _connect(socket_path)
    except (OSError, ValueError):  # none, stale, or not this user's: start one for the next runs
        try:
            start_helper(lock_path)
        except (OSError, ValueError):  # best effort
            pass
        return
    try:
        code = _run_in_worker(connection, present)
    except NotAccepted:
        return
    finally:
        connection.close()
    sys.exit(code)


def _run_in_worker(connection: Any, present: list[int]) -> int:
    """Send the request and descriptors ``present`` of 0, 1, 2, forward signals, wait: the exit
    code (or :class:`NotAccepted`: run in-process)."""
    worker: list[int] = []
    pending: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        if worker:
            _signal_quietly(worker[0], signum)
        else:
            pending.append(signum)

    def suspend(signum: int, frame: Any) -> None:
        # Ctrl-Z: stop the worker with this process, continue it with this process (fg, bg).
        if worker:
            _signal_quietly(worker[0], signal.SIGSTOP)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # stops here until SIGCONT
        signal.signal(signum, suspend)
        if worker:
            _signal_quietly(worker[0], signal.SIGCONT)

    previous = {}
    for signum in FORWARDED_SIGNALS:
        handler = signal.getsignal(signum)
        if handler != signal.SIG_IGN:  # an ignored SIGINT (a background job) stays ignored
            previous[signum] = signal.signal(signum, forward)
    if hasattr(signal, "SIGTSTP") and signal.getsignal(signal.SIGTSTP) == signal.SIG_DFL:
        previous[signal.SIGTSTP] = signal.signal(signal.SIGTSTP, suspend)
    try:
        try:
            payload = _request(present)
            rights = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _struct.pack(f"{len(present)}i", *present))
                      ] if present else []
            connection.sendmsg([HEADER.pack(MAGIC, len(payload))], rights)
            connection.sendall(payload)
            tag, number = _receive_answer(connection)
            if tag != ACCEPTED:
                raise NotAccepted("the helper's worker could not take this process's settings")
        except (OSError, EOFError, ValueError, NotAccepted, _struct.error):
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for signum in pending:  # a signal before the worker ran: as if it came now
                signal.raise_signal(signum)
            raise NotAccepted("the helper did not take the run") from None
        worker.append(number)
        for signum in pending:
            forward(signum, None)
        try:
            tag, status = _receive_answer(connection)
        except (OSError, EOFError, _struct.error):
            return _lost(number)
        code = os.waitstatus_to_exitcode(status) if tag == STATUS else 1
        if code < 0:
            _say(f"convcli: the helper's worker ended by signal {-code}")
            return 128 - code
        return code
    finally:
        if worker:  # the run is over: no signal is forwarded any more
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def _signal_quietly(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:  # the worker has just ended
        pass


def _lost(pid: int) -> int:
    """The helper ended (killed) while its worker ran: wait for the worker; exit 1, with one line."""
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):
        handle = None
    if handle is not None:
        import select

        try:
            select.select([handle], [], [])
        finally:
            os.close(handle)
    _say("convcli: the helper ended before its worker's exit status could be known")
    return 1


def _say(line: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    except (OSError, ValueError):  # messages are best effort
        pass


def start_helper(lock_path: str) -> None:
    """Start a helper in the background (its own session, standard streams on the null device),
    unless one holds ``lock_path`` (running or starting). Does not wait for it."""
    import fcntl

    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return  # a helper holds it
        fcntl.flock(lock, fcntl.LOCK_UN)
    finally:
        os.close(lock)
    from subprocess import _args_from_interpreter_flags  # the same -X, -W, -E... as this process

    code = "import sys; sys.path[:] = sys.argv[1:]; from convcli._helper_server import serve; serve()"
    argv = [sys.executable, *_args_from_interpreter_flags(), "-c", code, *sys.path]
    null = os.devnull
    os.posix_spawn(sys.executable, argv, os.environ, setsid=True, file_actions=[
        (os.POSIX_SPAWN_OPEN, 0, null, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, null, os.O_WRONLY, 0),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ])
