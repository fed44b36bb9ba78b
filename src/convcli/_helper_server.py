"""The helper process (``CONVCLI_HELPER=1``; docs/semantics.md, "The helper process").

Started in the background by a client (:func:`convcli._helper.start_helper`), it imports what a
run needs without running anything, then forks one worker per connection. The worker takes the
client's argv, working directory, environment, umask, CPU affinity, resource limits, nice value,
ignored signals and descriptors 0, 1, 2, runs :func:`convcli._entry.run_here` as the client would
have, and exits; the helper sends the client the worker's wait status. Linux only (SO_PEERCRED,
pidfd): elsewhere the helper ends at once and clients run in-process.

The helper ends after ``CONVCLI_HELPER_IDLE`` seconds without a request, when its socket file is
gone or replaced, and on SIGTERM (after its running workers have ended).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

from . import _helper

#: What a worker never inherits from the helper: the listening socket, the lock, other runs'
#: connections and pidfds, the selector (descriptors). Filled by :func:`serve`.
_SERVER_DESCRIPTORS: set[int] = set()


def preload() -> None:
    """Import every module of convcli and the libraries a small run uses, running nothing.

    Libraries start no thread pool on import (OpenCV's starts with its first parallel call;
    OpenBLAS stops its threads around fork), so the workers inherit none.
    """
    import importlib
    import pkgutil

    import convcli

    names = ["numpy", "cv2", "PIL.Image", "PIL.PngImagePlugin", "scipy.ndimage"]
    for module in pkgutil.walk_packages(convcli.__path__, "convcli."):
        if not module.name.startswith(("convcli._helper", "convcli.__main__")):
            names.append(module.name)
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a module that cannot be imported is imported by its run, or fails there
            pass


def serve() -> None:
    """Run the helper: lock, preload, listen, fork a worker per client; end when idle."""
    import fcntl
    import socket

    os.chdir("/")  # hold no directory busy
    os.closerange(3, 1 << 16)  # descriptors a client's parent (make's jobserver...) left inheritable
    directory = _helper.helper_directory()
    if not _helper.SUPPORTED or not _helper.private_directory(directory):
        return
    socket_path, lock_path = _helper.helper_paths(directory, _helper.helper_key())
    lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return  # another helper for this key runs or starts
    _SERVER_DESCRIPTORS.add(lock)
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())  # who holds the lock (to stop it: kill -TERM)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    _SERVER_DESCRIPTORS.add(listener.fileno())
    # Bound (before the costly imports: a socket that cannot be made fails early), listening,
    # then renamed into place over a stale socket of a helper that was killed: a socket file at
    # socket_path always has a helper listening.
    starting = os.path.join(directory, f"{os.getpid():x}.new")  # not longer than socket_path
    old_umask = os.umask(0o077)
    try:
        listener.bind(starting)
    finally:
        os.umask(old_umask)
    try:
        preload()
        listener.listen(64)
        os.rename(starting, socket_path)
    except BaseException:
        os.unlink(starting)
        raise
    mine = os.stat(socket_path)
    try:
        _loop(listener, socket_path, (mine.st_dev, mine.st_ino))
    finally:
        listener.close()
        if _same_file(socket_path, (mine.st_dev, mine.st_ino)):
            os.unlink(socket_path)


def _same_file(path: str, identity: tuple[int, int]) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == identity


def _loop(listener: Any, socket_path: str, identity: tuple[int, int]) -> None:
    """Accept clients and report their workers' statuses until idle, replaced or terminated."""
    import select

    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the clients' business
    idle = _helper.idle_seconds()
    poller = select.epoll()
    _SERVER_DESCRIPTORS.add(poller.fileno())
    listener_fd = listener.fileno()
    listener.setblocking(False)  # a connection given up before accept() must not block the loop
    poller.register(listener_fd, select.EPOLLIN)
    # descriptor -> ("exit", pidfd) for a worker's pidfd, ("client", pidfd) for its connection
    events: dict[int, tuple[str, int]] = {}
    jobs: dict[int, tuple[Any, int]] = {}  # pidfd -> (client connection, worker pid)
    last_activity = time.monotonic()
    listening = True
    while True:
        if listening and (stopping or not _same_file(socket_path, identity)):
            poller.unregister(listener.fileno())
            listener.close()
            listening = False
        if not listening and not jobs:
            return
        if listening and not jobs and time.monotonic() - last_activity >= idle:
            return
        for fd, _mask in poller.poll(min(1.0, idle)):
            if listening and fd == listener_fd:
                _accept(listener, poller, events, jobs)
            elif fd in events:
                _finish(fd, poller, events, jobs)
            # else: an event of a descriptor an earlier event of this batch let go (a client that
            # ended as its worker did): nothing left to do for it
            last_activity = time.monotonic()


def _accept(listener: Any, poller: Any, events: dict[int, tuple[str, int]], jobs: dict[int, tuple[Any, int]]) -> None:
    import select
    import socket
    import struct

    try:
        connection, _address = listener.accept()
        connection.setblocking(True)  # the worker reads its request, the helper sends its status
    except OSError:
        return
    try:
        credentials = connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        if struct.unpack("3i", credentials)[1] != os.getuid():
            connection.close()  # only this user's clients
            return
        pid = os.fork()
    except OSError:
        connection.close()
        return
    if pid == 0:
        _worker(connection)  # never returns
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # cannot watch it: wait for it here
        _, status = os.waitpid(pid, 0)
        _send_status(connection, status)
        return
    _SERVER_DESCRIPTORS.update((pidfd, connection.fileno()))
    jobs[pidfd] = (connection, pid)
    events[pidfd] = ("exit", pidfd)
    events[connection.fileno()] = ("client", pidfd)
    poller.register(pidfd, select.EPOLLIN)
    # Only the client's end (never its data: the worker reads the request from this connection).
    poller.register(connection.fileno(), select.EPOLLRDHUP)


def _finish(fd: int, poller: Any, events: dict[int, tuple[str, int]], jobs: dict[int, tuple[Any, int]]) -> None:
    what, pidfd = events[fd]
    connection, pid = jobs[pidfd]
    if what == "client":
        # The client never closes its end while it waits: it was killed. Stop its worker as a
        # SIGTERM would have stopped it in-process (temporary files removed, exit 143).
        poller.unregister(fd)
        del events[fd]
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
        return
    _, status = os.waitpid(pid, 0)
    for watched in (pidfd, connection.fileno()):
        if watched in events:
            poller.unregister(watched)
            del events[watched]
        _SERVER_DESCRIPTORS.discard(watched)
    os.close(pidfd)
    del jobs[pidfd]
    _send_status(connection, status)


def _send_status(connection: Any, status: int) -> None:
    try:
        connection.sendall(_helper.ANSWER.pack(_helper.STATUS, status))
    except OSError:  # the client is gone
        pass
    connection.close()


def _worker(connection: Any) -> None:
    """In the forked worker: take the client's settings, say so, run convcli, exit with its code."""
    code = 1
    try:
        for fd in _SERVER_DESCRIPTORS - {connection.fileno()}:
            try:
                os.close(fd)
            except OSError:
                pass
        os.setsid()  # the terminal's Ctrl-C reaches the client, which forwards it (exactly once)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        try:
            connection.settimeout(10.0)
            fields, descriptors = _receive_request(connection)
            _apply(fields, descriptors)
        except Exception:  # noqa: BLE001 - anything: the client runs in-process, nothing ran here
            connection.sendall(_helper.ANSWER.pack(_helper.FALL_BACK, 0))
            os._exit(0)
        connection.sendall(_helper.ANSWER.pack(_helper.ACCEPTED, os.getpid()))
        connection.close()
        code = _run()
    finally:
        os._exit(code)


def _receive_request(connection: Any) -> tuple[list[bytes], list[int]]:
    import socket

    header, descriptors, _flags, _address = socket.recv_fds(connection, _helper.HEADER.size, 3)
    while len(header) < _helper.HEADER.size:
        more = connection.recv(_helper.HEADER.size - len(header))
        if not more:
            raise EOFError("the client ended its request early")
        header += more
    magic, size = _helper.HEADER.unpack(header)
    if magic != _helper.MAGIC:
        raise ValueError("`magic` is not convcli's helper protocol; update the client")
    payload = bytearray()
    while len(payload) < size:
        more = connection.recv(min(1 << 20, size - len(payload)))
        if not more:
            raise EOFError("the client ended its request early")
        payload += more
    return _helper.decode_fields(bytes(payload)), descriptors


def _apply(fields: list[bytes], descriptors: list[int]) -> None:
    """Make this worker the client's twin; any failure raises (and the client runs in-process)."""
    import resource

    present, cwd, umask, cpus, limits, nice, ignored, argc = fields[:8]
    count = int(argc)
    argv, environment = fields[8:8 + count], fields[8 + count:]
    if len(present) != len(descriptors):
        raise ValueError("`descriptors` do not match the client's list; update the client")
    for limit_text in filter(None, limits.decode().split(";")):
        limit, soft, hard = (int(part) for part in limit_text.split(":"))
        if resource.getrlimit(limit) != (soft, hard):
            resource.setrlimit(limit, (soft, hard))
    if cpus:
        os.sched_setaffinity(0, [int(cpu) for cpu in cpus.decode().split(",")])
    if os.getpriority(os.PRIO_PROCESS, 0) != int(nice):
        os.setpriority(os.PRIO_PROCESS, 0, int(nice))
    os.chdir(cwd)
    os.umask(int(umask))
    os.environb.clear()
    for item in environment:
        name, _, value = item.partition(b"=")
        os.environb[name] = value
    time.tzset()
    # Descriptors 0, 1, 2: the client's, or closed where the client's were.
    sent = dict(zip((int(fd) for fd in present.decode()), descriptors))
    for fd in (0, 1, 2):
        if fd in sent:
            os.dup2(sent[fd], fd)
        else:
            os.close(fd)
    for received in descriptors:
        if received > 2:
            os.close(received)
    _standard_streams(set(sent))
    sys.argv = [os.fsdecode(arg) for arg in argv]
    for signum in _helper.FORWARDED_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    if signal.SIGINT in _helper.FORWARDED_SIGNALS:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in filter(None, ignored.decode().split(",")):
        signal.signal(int(signum), signal.SIG_IGN)
    if "numpy.random" in sys.modules:  # its global generator was seeded in the helper: seed it anew
        sys.modules["numpy.random"].seed()


def _standard_streams(present: set[int]) -> None:
    """New ``sys.stdin``, ``sys.stdout``, ``sys.stderr`` over descriptors 0, 1, 2, made as Python
    makes them at start-up (the helper's were made for the null device: line buffering and buffer
    sizes depend on what the descriptor is). Encoding and errors are the helper's, which are the
    client's: the locale's variables and PYTHONIOENCODING are part of the helper's key."""
    import io

    # -u or PYTHONUNBUFFERED: the helper's own streams were made unbuffered (write-through)
    unbuffered = bool(getattr(sys.__stdout__, "write_through", False))
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        old = getattr(sys, name)
        if fd not in present:
            setattr(sys, name, None)
            setattr(sys, f"__{name}__", None)
            continue
        writing = fd != 0
        buffer = io.open(fd, "wb" if writing else "rb", buffering=0 if unbuffered and writing else -1, closefd=False)
        raw = getattr(buffer, "raw", buffer)
        raw.name = f"<{name}>"
        line_buffering = not unbuffered and (fd == 2 or raw.isatty())
        stream = io.TextIOWrapper(buffer, encoding=old.encoding, errors=old.errors, newline="\n",
                                  line_buffering=line_buffering, write_through=unbuffered)
        stream.mode = "w" if writing else "r"
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _run() -> int:
    """Run convcli as :func:`convcli._entry.main` does in-process; the exit code, after what
    Python does at exit (threads joined, atexit functions, streams flushed)."""
    from . import _entry

    try:
        _entry.run_here()
        code: Any = 0
    except SystemExit as done:
        code = done.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        _helper._say(str(code))
        code = 1
    try:
        import threading

        threading._shutdown()  # type: ignore[attr-defined]  # what the interpreter does at exit
    except Exception:  # noqa: BLE001 - as at exit: a failing thread does not change the code
        pass
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            if code == 0:
                code = 120  # what Python exits with when flushing at exit fails
    return code & 0xFF
