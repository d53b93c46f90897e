"""Thread names: a Python thread's `threading` name made its name in the kernel too.

The kernel knows a thread by its `comm` (what `ps -L`, top and memline show), which CPython
3.11 leaves as the process's name for every thread it starts. Importing memline makes each
thread started from then on, and each already running, set its own: the first 15 bytes of its
`threading` name (cut at a UTF-8 character boundary), and again when its `name` is changed.
memline's records of the threads (`memline report --threads`) then name them as the program
does. It writes /proc/self/task/TID/comm, which needs nothing but Linux; the main thread keeps
the process's name (it is the process's too). $MEMLINE_THREAD_NAMES=0 turns this off.
"""

import os
import threading

COMM_MAX = 15  # bytes of a comm, its NUL not counted


def _comm_bytes(name):
    raw = str(name).encode("utf-8", "replace")
    if len(raw) <= COMM_MAX:
        return raw
    cut = raw[:COMM_MAX]
    # not in the middle of a character: back off continuation bytes and their lead
    while cut and (cut[-1] & 0xC0) == 0x80:
        cut = cut[:-1]
    if cut and cut[-1] >= 0xC0:
        cut = cut[:-1]
    return cut


def set_os_name(thread, own=False):
    """Gives thread's kernel name its `threading` name; False when it cannot be set. own: the
    calling thread is thread (its tid may not be known to threading yet)."""
    tid = getattr(thread, "native_id", None)
    if thread is threading.main_thread() or not (own or tid):
        return False
    path = "/proc/thread-self/comm" if own else f"/proc/self/task/{tid}/comm"
    try:
        with open(path, "wb", buffering=0) as f:
            f.write(_comm_bytes(thread.name))
        return True
    except OSError:
        return False  # the thread ended, or /proc is not there: nothing to name


_installed = False


def install():
    """Names the threads running now, and every thread started or renamed from now on."""
    global _installed
    if _installed or os.environ.get("MEMLINE_THREAD_NAMES", "1") == "0":
        return
    _installed = True
    cls = threading.Thread
    bootstrap = getattr(cls, "_bootstrap_inner", None)
    if bootstrap is not None:
        def _bootstrap_inner(self):
            set_os_name(self, own=True)  # in the new thread, before its run()
            return bootstrap(self)
        cls._bootstrap_inner = _bootstrap_inner
    prop = cls.__dict__.get("name")
    if isinstance(prop, property) and prop.fset is not None:
        def _set_name(self, value):
            prop.fset(self, value)
            set_os_name(self)  # a thread not started yet has no tid: named when it starts
        cls.name = property(prop.fget, _set_name, prop.fdel, prop.__doc__)
    for t in threading.enumerate():
        set_os_name(t)
