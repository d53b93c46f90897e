"""memline: mark events and spans on memline's timeline, record a block of Python code, and
read memline logs. Standard library only; pandas is used by load() when it is installed.

    import memline

    memline.event("epoch 3")                 # a moment; nothing happens when not recorded
    with memline.span("load"):               # a phase (also a decorator: @memline.span("x"))
        ...
    with memline.track() as rec:             # record this process and its children
        ...
    memline.status(rec.path)                 # "completed", "failed", "killed", ...
    memline.load(rec.path)                   # process samples: a DataFrame or a list of dicts

Importing memline also gives each thread's kernel name (what `memline report --threads` shows)
its `threading` name: see _threads ($MEMLINE_THREAD_NAMES=0 turns it off).

Events and spans go to the event channel memline gives a recorded program in $MEMLINE_EVENTS
(docs/events.md); the log format is docs/log-format.md. track() and plot() run the memline
binary: $MEMLINE_BIN, else `memline` on $PATH.
"""

from ._binary import MemlineError, find_binary, plot
from ._channel import event, span
from ._log import (
    has_completed_successfully,
    has_crashed_gracefully,
    has_crashed_ungracefully,
    load,
    read_records,
    status,
)
from ._track import track
from . import _threads

_threads.install()  # threads' kernel names are their threading names (see _threads)

__version__ = "0.1.0"

__all__ = [
    "MemlineError",
    "event",
    "find_binary",
    "has_completed_successfully",
    "has_crashed_gracefully",
    "has_crashed_ungracefully",
    "load",
    "plot",
    "read_records",
    "span",
    "status",
    "track",
]
