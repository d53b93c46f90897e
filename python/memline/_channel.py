"""Sending events and spans on memline's event channel (docs/events.md).

A message is one structured line appended to the file named by $MEMLINE_EVENTS with a single
os.write() on a descriptor opened O_APPEND|O_NONBLOCK: the kernel appends each write whole, so
threads and processes can share the channel, and a send never waits for memline.

    \\x1e K BOOTTIME_NS PID TID TEXT\\n      K: E event, B span begin, X span end, S status

The channel is opened once per process and channel path: each send compares os.getpid() with
the process that opened it, so a forked child re-opens it (and finds its thread id again).
The descriptor is kept at one number for the life of the process: a new channel (another
path, or a fork) is opened and moved onto that number with dup2(), so a thread writing at the
same moment writes to the old or the new channel, never to a file someone else opened.
Nothing here raises for a channel problem: with no channel, or one that cannot be opened or
written, a send does nothing and returns False. A channel that is not the recording's own file
(open_checked) is refused, with a warning on the `memline` logger.
"""

import errno
import functools
import inspect
import logging
import os
import stat
import threading
import time

__all__ = ["event", "span"]

_log = logging.getLogger("memline")

# Longest label or name kept, in bytes (CHANNEL_LABEL_MAX of lib/record/channel.h).
LABEL_MAX = 1024

_OPEN_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
               | os.O_NOFOLLOW)
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# $MEMLINE_EVENTS is read on every send: straight from os.environ's dict of bytes where it has
# one (CPython on POSIX; os.environ.get() costs ten times more), else through os.environ.
try:
    _env_get = os.environ._data.get
    _ENV_KEY = os.environ.encodekey("MEMLINE_EVENTS")
except AttributeError:  # pragma: no cover
    _env_get = os.environ.get
    _ENV_KEY = "MEMLINE_EVENTS"

_clock = time.clock_gettime_ns
_BOOTTIME = time.CLOCK_BOOTTIME
_write = os.write

_getpid = os.getpid
# Per thread: .ids, (pid, tid) of the thread (get_native_id() is a system call), found on
# first use in each process.
_local = threading.local()

# (path, pid, fd): the channel path the descriptor was opened for, in which process, and the
# descriptor (-1 when opening failed: not retried until the path or the process changes).
# Replaced whole, never mutated, so a thread reads one consistent tuple without the lock.
_state = (None, 0, -1)
# The descriptor number the channel lives at in this process, once one was opened.
_slot = -1
_lock = threading.Lock()


def _after_fork_in_child():
    global _lock
    # The lock may have been held by a thread that does not exist in the child.
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def open_checked(path):
    """Opens the channel at path for sending, only when it is the recording's own file, as
    memline's own senders do (channel_open in lib/record/channel.c): its directory, not a symbolic
    link, belongs to this process's effective user and has mode 0700; path in it is a regular
    file of that user with mode 0600 and one link, opened without following a link. Returns the
    descriptor; raises OSError (EPERM when the file or its directory is not the recording's).

    Why: memline removes the channel's directory when the recording ends, while processes of
    the tree may still send; under /tmp another user can then create a directory of that name
    with an `events` link to any file, which an append would follow."""
    path = os.fsencode(path)
    head, sep, name = path.rpartition(b"/")
    if not name:
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    parent = (head or b"/") if sep else b"."
    try:
        dfd = os.open(parent, _DIR_FLAGS)
    except OSError as e:
        raise _not_ours(e, path) from None
    try:
        st = os.fstat(dfd)
        me = os.geteuid()
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != me
                or stat.S_IMODE(st.st_mode) != 0o700):
            raise _refused(path)
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=dfd)
        except OSError as e:
            raise _not_ours(e, path) from None
        try:
            st = os.fstat(fd)
            if (not stat.S_ISREG(st.st_mode) or st.st_uid != me
                    or stat.S_IMODE(st.st_mode) != 0o600 or st.st_nlink != 1):
                raise _refused(path)
        except BaseException:
            os.close(fd)
            raise
        return fd
    finally:
        os.close(dfd)


def _refused(path):
    return OSError(errno.EPERM, "not a private file of this user", path)


def _not_ours(e, path):
    """A symbolic link where the directory or the file should be is not ours: EPERM."""
    return _refused(path) if e.errno in (errno.ELOOP, errno.ENOTDIR) else e


def _open_failed(path, e):
    if e.errno == errno.EPERM:
        # Worth saying: someone may have re-created the directory of an ended recording.
        _log.warning("memline: refusing the event channel %r: %s; nothing is sent",
                     os.fsdecode(path), e.strerror)
    else:
        _log.debug("memline: cannot open event channel %r: %s", os.fsdecode(path), e)


def _open_channel(path, pid):
    """Opens path as this process's channel and records it in _state; returns the fd or -1."""
    global _state, _slot
    with _lock:
        cur = _state
        if cur[0] == path and cur[1] == pid:
            return cur[2]  # another thread got here first
        fd = -1
        try:
            new = open_checked(path)
            if new == _slot:
                fd = new  # the old one was closed behind our back; its number came back
            elif _slot >= 0 and cur[1] == pid:
                # Move the new channel onto the descriptor number in use, atomically.
                try:
                    os.dup2(new, _slot, inheritable=False)
                    os.close(new)
                    fd = _slot
                except OSError:
                    fd = new
                    _slot = new
            else:
                # First channel of this process (or of a forked child: the parent's
                # descriptor is the child's own copy, closed here).
                if _slot >= 0 and cur[1] != pid:
                    try:
                        os.close(_slot)
                    except OSError:
                        pass
                fd = _slot = new
        except OSError as e:
            _open_failed(path, e)
        _state = (path, pid, fd)
        return fd


def _encode(text):
    """The label as bytes: UTF-8 for a str (undecodable bytes kept as they came in), as is for
    bytes, str() of anything else."""
    if isinstance(text, str):
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return text.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                return text.encode("utf-8", "replace")
    if isinstance(text, (bytes, bytearray, memoryview)):
        return bytes(text)
    return _encode(str(text))


def _format(kind, text, pid):
    """One structured channel line of kind (b"E", b"B", b"X", b"S") for text."""
    t = type(text)
    if t is str:
        try:
            b = text.encode()
        except UnicodeEncodeError:
            b = _encode(text)
    else:
        b = text if t is bytes else _encode(text)
    if len(b) > LABEL_MAX:
        # Cut at a character boundary: step back over continuation bytes (10xxxxxx).
        n = LABEL_MAX
        while n > 0 and (b[n] & 0xC0) == 0x80:
            n -= 1
        b = b[:n]
    if 92 in b or 10 in b or 13 in b:  # backslash, newline, carriage return
        b = b.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    ids = getattr(_local, "ids", None)
    if ids is None or ids[0] != pid:
        ids = _local.ids = (pid, threading.get_native_id())
    return b"\x1e%s %d %d %d %s\n" % (kind, _clock(_BOOTTIME), pid, ids[1], b)


def _send(kind, text):
    """Sends one message on $MEMLINE_EVENTS. True when it was written whole."""
    path = _env_get(_ENV_KEY)
    if not path:
        return False
    pid = _getpid()
    st = _state
    if st[0] == path and st[1] == pid:
        fd = st[2]
    else:
        fd = _open_channel(path, pid)
    if fd < 0:
        return False
    line = _format(kind, text, pid)
    try:
        return _write(fd, line) == len(line)
    except OSError as e:
        _log.debug("memline: cannot write to event channel %r: %s", path, e)
        return False


def send_to(path, kind, text):
    """Sends one message on the channel at path, with a descriptor of its own (for the final
    status line of track()). True when it was written whole."""
    try:
        fd = open_checked(path)
    except OSError as e:
        _open_failed(path, e)
        return False
    try:
        line = _format(kind, text, os.getpid())
        return os.write(fd, line) == len(line)
    except OSError as e:
        _log.debug("memline: cannot write to event channel %r: %s", path, e)
        return False
    finally:
        os.close(fd)


def event(label):
    """Marks a moment on memline's timeline with label (a str, or bytes taken as they are).

    Sends one structured line on the event channel named by $MEMLINE_EVENTS, stamped with
    CLOCK_BOOTTIME, this process's pid and this thread's native id. A label longer than 1024
    bytes is cut (at a UTF-8 character boundary). With no channel, or a channel that cannot be
    opened or written, it does nothing. Never raises for a channel problem; thread- and
    fork-safe. Returns True when the message was written."""
    return _send(b"E", label)


class span:
    """A named phase on memline's timeline: a context manager and a decorator.

    Entering sends a span begin (B), leaving sends its end (X), also when an exception leaves
    the block (the exception is not swallowed). Spans nest; they are per thread, so one span
    object may be entered by several threads at once.

        with memline.span("load"):
            data = load()

        @memline.span("train")        # or @memline.span: the function's qualified name
        def train(): ...

    Like event(), it does nothing without a channel and never raises for a channel problem.
    """

    __slots__ = ("name",)

    def __new__(cls, name=None):
        # @memline.span without parentheses: name is the function itself.
        if name is not None and callable(name) and not isinstance(name, (str, bytes)):
            return cls(_qualname(name))(name)
        self = object.__new__(cls)
        self.name = name
        return self

    def __repr__(self):
        return f"memline.span({self.name!r})"

    def __enter__(self):
        name = self.name
        _send(b"B", "span" if name is None else name)
        return self

    def __exit__(self, exc_type, exc, tb):
        name = self.name
        _send(b"X", "span" if name is None else name)
        return False

    def __call__(self, func):
        """Decorates func (plain or async): each call is a span, named after func unless this
        span has a name."""
        name = _qualname(func) if self.name is None else self.name
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                _send(b"B", name)
                try:
                    return await func(*args, **kwargs)
                finally:
                    _send(b"X", name)

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            _send(b"B", name)
            try:
                return func(*args, **kwargs)
            finally:
                _send(b"X", name)

        return wrapper


def _qualname(func):
    return getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or repr(func)
