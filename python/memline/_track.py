"""Self-recording: track() records this process and its children for a block of code.

It runs `memline attach --events CHANNEL -o LOG -q PID` on this process, with CHANNEL a private
event channel (a 0600 file in a 0700 directory, placed as memline places its own: _chandir)
that the block's events and spans, and those of its children, go to through $MEMLINE_EVENTS.
Leaving the block sends an S line, `completed` or `failed ExcType: message`, which memline
writes as the run's end status before it exits. A process killed inside the block sends
nothing: memline sees it vanish and learns how it died from the kernel (see python/README.md).
"""

import errno
import os
import re
import signal
import subprocess
import sys
import time
import warnings

from . import _channel
from ._chandir import ChannelDir
from ._binary import MemlineError, find_binary
from ._log import _EmptyLog, read_records

__all__ = ["track"]

# How long to wait for memline to start (its header) and to stop (after the S line).
START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
# After SIGTERM, how long memline gets before SIGKILL.
TERM_TIMEOUT = 5.0


def default_log_name(command=None):
    """memline-<script>-<YYYYMMDD-HHMMSS>.jsonl in the current directory, as memline names
    its logs; -2, -3, ... is added when the name is taken."""
    if command is None:
        command = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-") else "python"
    base = os.path.basename(command)[:40]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base) or "cmd"
    stem = "memline-" + base + time.strftime("-%Y%m%d-%H%M%S")
    name = stem + ".jsonl"
    for i in range(2, 1000):
        if not os.path.lexists(name):
            break
        name = f"{stem}-{i}.jsonl"
    return os.path.abspath(name)


def _exception_text(exc_type, exc):
    """`ExcType: message` as Python prints an exception's last line."""
    name = exc_type.__qualname__
    if exc_type.__module__ not in ("builtins", "__main__"):
        name = f"{exc_type.__module__}.{name}"
    try:
        msg = str(exc)
    except Exception:
        msg = "<exception str() failed>"
    return f"{name}: {msg}" if msg else name


HEAP_LIBRARY = "libmemline-heap.so"


def _heap_library():
    """The path of memline's heap library in this process (from /proc/self/maps), or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            for line in f:
                path = line.rstrip("\n").split(None, 5)[-1]
                if os.path.basename(path) == HEAP_LIBRARY:
                    return path
    except OSError:
        pass
    return None


def _without_heap_library(env):
    """env without memline's heap library in LD_PRELOAD (nor MEMLINE_HEAP_DIR)."""
    env.pop("MEMLINE_HEAP_DIR", None)
    pre = env.get("LD_PRELOAD")
    if pre is None:
        return
    keep = [p for p in pre.replace(":", " ").split() if os.path.basename(p) != HEAP_LIBRARY]
    if keep:
        env["LD_PRELOAD"] = " ".join(keep)
    else:
        env.pop("LD_PRELOAD")


def _start_heap(directory):
    """Has the heap library in this process count into directory from now on."""
    path = _heap_library()
    if path is None:
        raise MemlineError(
            "track(heap=True) needs libmemline-heap.so in this process from its start: run "
            "Python as `LD_PRELOAD=/path/to/libmemline-heap.so python3 ...` (or record it "
            "whole with `memline run --heap -- python3 ...`)")
    import ctypes
    lib = ctypes.CDLL(path, use_errno=True)
    start = getattr(lib, "memline_heap_start", None)
    if start is None:
        raise MemlineError(f"{path} has no memline_heap_start: it is not this memline's")
    start.argtypes = [ctypes.c_char_p]
    start.restype = ctypes.c_int
    if start(os.fsencode(directory)) != 0:
        err = ctypes.get_errno()
        if err == errno.EBUSY:
            raise MemlineError(
                "track(heap=True): this process's heap is counted already (it runs under "
                "`memline run --heap`, whose log has it); use track() without heap")
        raise MemlineError(f"track(heap=True): the heap library cannot start: "
                           f"{os.strerror(err)}")


class track:
    """Records this process and every process it starts while the block runs, into a memline
    log (by running `memline attach --events` on it):

        with memline.track() as rec:          # log: ./memline-<script>-<date>-<time>.jsonl
            with memline.span("train"):
                train()
            memline.event("trained")
        print(memline.status(rec.path))       # completed

    path is the log (default memline-<script>-<YYYYMMDD-HHMMSS>.jsonl in the current
    directory), interval a fixed sampling interval in seconds (default: memline's adaptive
    schedule). The value of the with statement has .path, the log's absolute path.

    heap=True also counts the live heap of each thread, as `memline run --heap` does
    (`memline report --threads` shows it). That needs memline's heap library in this process
    from its start: run Python as `LD_PRELOAD=/path/to/libmemline-heap.so python3 ...` (the
    library then counts nothing until the block begins; what was allocated before is not
    counted). Without it, entering raises MemlineError saying so.

    When the block ends normally the log's end status is `completed`; when an exception leaves
    it, `failed` with the exception (`ValueError: bad input`) as the end's error, and the
    exception propagates. SystemExit with code 0 or None counts as completed.

    Entering waits (at most 10 s) until memline has written the log's header and raises
    MemlineError when it cannot start; leaving waits (at most 10 s) for memline to finish the
    log, then stops it with SIGTERM (the log ends `detached`) and, if that does not work,
    SIGKILL. While the block runs, $MEMLINE_EVENTS names the channel, so event() and span()
    here and in child processes go to this log.
    """

    def __init__(self, path=None, interval=None, heap=False):
        self.path = None if path is None else os.path.abspath(os.fspath(path))
        if interval is not None:
            interval = float(interval)
            if not interval > 0:
                raise ValueError(f"interval must be a positive number of seconds, not {interval}")
        self.interval = interval
        self.heap = bool(heap)
        self.returncode = None  # memline's exit status, once it ended
        self._proc = None
        self._dir = None  # the ChannelDir
        self._channel = None
        self._pid = None  # the process that entered the block
        self._saved_env = None
        self._stderr = None

    def __repr__(self):
        return f"memline.track(path={self.path!r})"

    # ---- starting ----

    def __enter__(self):
        if self._proc is not None:
            raise MemlineError("this track() is already recording")
        binary = find_binary()
        if self.path is None:
            self.path = default_log_name()
        try:
            self._dir = ChannelDir()
        except OSError as e:
            raise MemlineError(f"cannot create the event channel: {e}") from e
        self._pid = os.getpid()
        try:
            self._channel = self._dir.file
            if self.heap:
                _start_heap(self._dir.dir)
            self._start(binary)
        except BaseException:
            # Also when interrupted (KeyboardInterrupt) while waiting for memline to start.
            self._stop_process(first_wait=0, warn=False)
            self._cleanup()
            raise
        self._saved_env = {k: os.environ.get(k) for k in ("MEMLINE_EVENTS", "MEMLINE_PID")}
        os.environ["MEMLINE_EVENTS"] = self._channel
        os.environ["MEMLINE_PID"] = str(self._proc.pid)
        return self

    def _start(self, binary):
        argv = [binary, "attach", "--events", self._channel, "-o", self.path]
        if self.interval is not None:
            argv += ["-i", repr(self.interval)]
        if self.heap:
            argv += ["--heap"]
        argv += ["-q", str(os.getpid())]
        env = dict(os.environ)
        env.pop("MEMLINE_EVENTS", None)
        env.pop("MEMLINE_PID", None)
        _without_heap_library(env)  # memline itself is not to be counted
        self._stderr = open(os.path.join(self._dir.dir, "stderr"), "w+b")
        try:
            # Its own session: a Ctrl-C at the terminal reaches this program, which then ends
            # the recording as failed (KeyboardInterrupt), rather than memline detaching.
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=self._stderr,
                                          env=env, start_new_session=True)
        except OSError as e:
            raise MemlineError(f"cannot run {binary}: {e}") from e
        deadline = time.monotonic() + START_TIMEOUT
        pause = 0.001
        while True:
            if self._has_header():
                return
            code = self._proc.poll()
            if code is not None:
                self.returncode = code
                self._proc = None
                raise MemlineError(f"memline attach did not start (exit status {code}): "
                                   f"{self._stderr_text() or 'no message'}")
            if time.monotonic() > deadline:
                self._stop_process(first_wait=0, warn=False)
                raise MemlineError(f"memline attach wrote no log header to '{self.path}' "
                                   f"within {START_TIMEOUT:g} s; stopped it. "
                                   f"{self._stderr_text()}".rstrip())
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _has_header(self):
        try:
            with open(self.path, "rb") as f:
                line = f.readline()
        except OSError:
            return False
        return line.endswith(b"\n") and b'"header"' in line

    # ---- stopping ----

    def __exit__(self, exc_type, exc, tb):
        if self._proc is None or os.getpid() != self._pid:
            return False  # not recording, or a forked child leaving the parent's block
        if exc_type is None or (exc_type is SystemExit and exc.code in (0, None)):
            text = "completed"
        else:
            text = "failed " + _exception_text(exc_type, exc)
        try:
            self._restore_env()
            if not _channel.send_to(self._channel, b"S", text):
                warnings.warn(f"memline: cannot send the final status to '{self._channel}'; "
                              "stopping memline", RuntimeWarning, stacklevel=2)
                self._proc.send_signal(signal.SIGTERM)
            self._stop_process()
            self._check_log()
        finally:
            self._cleanup()
        return False

    def _restore_env(self):
        saved, self._saved_env = self._saved_env, None
        for k, v in (saved or {}).items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    def _stop_process(self, first_wait=None, warn=True):
        """Waits for memline to exit (first_wait seconds, default STOP_TIMEOUT); sends it
        SIGTERM, then SIGKILL, when it does not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        first_wait = STOP_TIMEOUT if first_wait is None else first_wait
        for sig, timeout in ((None, first_wait), (signal.SIGTERM, TERM_TIMEOUT),
                             (signal.SIGKILL, None)):
            if sig is not None:
                if warn:
                    warnings.warn(f"memline (pid {proc.pid}) did not stop; sending it "
                                  f"{signal.Signals(sig).name}", RuntimeWarning, stacklevel=3)
                try:
                    proc.send_signal(sig)
                except OSError:
                    pass
            try:
                self.returncode = proc.wait(timeout)
                return
            except subprocess.TimeoutExpired:
                continue

    def _check_log(self):
        try:
            records = read_records(self.path)
        except _EmptyLog:
            records = []
        except MemlineError as e:
            warnings.warn(f"memline: {e}", RuntimeWarning, stacklevel=3)
            return
        if not any(r["type"] == "end" for r in records):
            warnings.warn(f"memline: the log '{self.path}' has no end record (memline exit "
                          f"status {self.returncode}). {self._stderr_text()}".rstrip(),
                          RuntimeWarning, stacklevel=3)

    def _stderr_text(self):
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            return self._stderr.read(4096).decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _cleanup(self):
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._dir is not None:
            self._dir.remove()
            self._dir = None
