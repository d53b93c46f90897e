"""Reading memline logs (docs/log-format.md): records, process samples, and how a run ended.

The rules are those of memline's own reader: the first line is the header, a log of a newer
format is refused, a cut-off last line (the writer was killed mid-write) is dropped, a corrupt
line elsewhere is skipped with a warning naming it, and so is a line longer than LINE_MAX
(read past in pieces, never held whole). What is not a regular file (a FIFO, /dev/zero, a
directory) is refused before anything is read. A log without an `end` record is "running"
while its writer holds its flock(2), else "incomplete".

Right after the recorded process died, memline has not written the end yet: it notices a
process that is not its child at its next sample. status() then waits for the end (bounded),
rather than answer "running" for a run that is over.

A log of format 4 says in its header where in a job of many ranks it was recorded ("place")
and the wall clock at its start ("clock"), and pairs the wall clock with its time in "clock"
records; read_records() hands them over as they are.
"""

import errno
import fcntl
import json
import os
import shlex
import stat as _stat
import time
import warnings

from ._binary import MemlineError

__all__ = [
    "read_records",
    "load",
    "status",
    "has_completed_successfully",
    "has_crashed_gracefully",
    "has_crashed_ungracefully",
]

# The newest log format this reader knows.
FORMAT = 4

# How long status() waits, at least, for the end of a log whose recorded processes are gone
# (it adds twice the log's sampling interval: memline notices at its next sample).
END_TIMEOUT = 10.0

# The longest line read, newline excluded: memline's own reader's LOG_LINE_MAX (64 MiB).
LINE_MAX = 64 << 20
_PIECE = 1 << 20  # a longer line is read past in pieces of this size


class _EmptyLog(MemlineError):
    """The log has no complete header line (yet)."""


def read_records(path):
    """Every record of the log at path, in order, as a list of dicts.

    A cut-off last line is dropped; a corrupt line elsewhere is skipped with a warning
    (warnings.warn) naming its line number. Raises MemlineError when the file cannot be read,
    is empty, is not a memline log, or was written in a newer format than this reader knows."""
    path = os.fspath(path)
    records = []
    lines = 0  # complete lines read
    first_blank = False
    try:
        with _open_log(path) as f:
            for n, line, complete in _lines(f):
                if complete:
                    lines = n
                if line is None:  # longer than LINE_MAX: read past, not kept
                    if n == 1:
                        lines = 1
                        break  # judged below: not a log
                    if complete:
                        warnings.warn(f"{path}:{n}: corrupt record skipped (longer than "
                                      f"{LINE_MAX >> 20} MiB)", stacklevel=2)
                    continue
                if not complete:
                    # A last line without its newline: the writer was cut off mid-write. Keep
                    # it only if it is a whole record that lacks nothing but the newline.
                    rec = _parse(line)
                    if rec is not None and (records or rec.get("type") == "header"):
                        records.append(rec)
                    continue
                rec = _parse(line)
                if rec is None:
                    if n == 1:
                        # A blank line with no whole line after it: nothing written yet.
                        after = f.readline(LINE_MAX + 1)
                        first_blank = not line.strip() and not after.endswith(b"\n")
                        break  # judged below: not a log
                    warnings.warn(f"{path}:{n}: corrupt record skipped", stacklevel=2)
                    continue
                records.append(rec)
    except OSError as e:
        raise MemlineError(f"cannot read '{path}': {e.strerror or e}") from e
    if not records:
        if not lines or (lines == 1 and first_blank):
            raise _EmptyLog(f"'{path}' is empty: the recording wrote nothing (yet)")
        raise MemlineError(f"'{path}' is not a memline log (line 1 is not a header)")
    header = records[0]
    if header.get("type") != "header":
        raise MemlineError(f"'{path}' is not a memline log (line 1 is not a header)")
    fmt = header.get("format")
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise MemlineError(f"'{path}' is not a memline log (its header has no format)")
    if fmt > FORMAT:
        raise MemlineError(
            f"'{path}' was written by a newer memline (format {fmt}); upgrade memline to read it")
    return records


def _open_log(path):
    """The log at path, opened for reading without blocking (a FIFO would wait for a writer)
    and refused when it is not a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        mode = os.fstat(fd).st_mode
        if not _stat.S_ISREG(mode):
            kinds = [(_stat.S_ISFIFO, "a FIFO"), (_stat.S_ISCHR, "a character device"),
                     (_stat.S_ISBLK, "a block device"), (_stat.S_ISDIR, "a directory"),
                     (_stat.S_ISSOCK, "a socket")]
            kind = next((k for test, k in kinds if test(mode)), "not a regular file")
            raise MemlineError(f"'{path}' is {kind}, not a log file; give a memline log")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _lines(f):
    """(number, line without its newline, whether it had one) for each line of f; the line is
    None when it is longer than LINE_MAX: it was read past in pieces and not kept."""
    n = 0
    while True:
        line = f.readline(LINE_MAX + 1)
        if not line:
            return
        n += 1
        if line.endswith(b"\n"):
            yield n, line[:-1], True
            continue
        if len(line) <= LINE_MAX:
            yield n, line, False  # the last line, without its newline
            return
        del line
        complete = False
        while True:
            piece = f.readline(_PIECE)
            if not piece:
                break
            if piece.endswith(b"\n"):
                complete = True
                break
        yield n, None, complete
        if not complete:
            return


def _parse(line):
    """The record on one line, or None when it is not a JSON object with a type."""
    try:
        rec = json.loads(line.decode("utf-8", "replace"))
    except ValueError:
        return None
    if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
        return None
    return rec


def _sample_rows(records):
    """The column names and the rows (dicts) of every process of every sample."""
    header = records[0]
    fields = [f for f in header.get("fields") or [] if isinstance(f, str)]
    columns = ["t"] + [f for f in fields if f != "t" and f != "cmd"]
    if "pid" not in columns:
        columns.insert(1, "pid")
    columns.append("cmd")
    cmd = {}  # pid -> command line of its current program
    rows = []
    for rec in records:
        kind = rec["type"]
        if kind in ("proc", "exec"):
            argv = rec.get("argv")
            if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
                cmd[rec.get("pid")] = shlex.join(argv)
            else:
                comm = rec.get("comm")
                cmd[rec.get("pid")] = f"[{comm}]" if isinstance(comm, str) else None
        elif kind == "sample":
            t = rec.get("t")
            for p in rec.get("p") or []:
                if not isinstance(p, list):
                    continue
                row = dict.fromkeys(columns)
                row["t"] = t
                for name, value in zip(fields, p):
                    if name in row and name not in ("t", "cmd"):
                        row[name] = value
                row["cmd"] = cmd.get(row["pid"])
                rows.append(row)
    return columns, rows


def load(path):
    """The process samples of the log at path: one row per process per sample, with the
    columns t (seconds since the start), pid, every field the header names (rss, anon, peak,
    utime, ... in KiB and ms as the log has them) and cmd (the process's command line).

    A pandas DataFrame when pandas can be imported, else a list of dicts (the same rows).
    For every record of the log (events, spans, exits, the end) use read_records()."""
    columns, rows = _sample_rows(read_records(path))
    try:
        import pandas
    except ImportError:
        return rows
    return pandas.DataFrame(rows, columns=columns)


def _locked(path):
    """Whether a writer holds the log's lock (a shared lock cannot be taken)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(fd)
    return False


def _start_unix(pid):
    """When process pid started, in Unix seconds (to a second), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        with open("/proc/stat", "rb") as f:
            btime = next(int(ln.split()[1]) for ln in f if ln.startswith(b"btime "))
        ticks = int(data[data.rindex(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _recorded_alive(records):
    """Whether a process the recording has is still running: one the header names, or one of
    the last sample (not a later process with its pid: that one started after the sample)."""
    header = records[0]
    pids = list(header.get("pids") or [header.get("pid")])
    t = 0.0
    fields = header.get("fields") or []
    if "pid" in fields:
        at = fields.index("pid")
        last = next((r for r in reversed(records) if r["type"] == "sample"), None)
        if last is not None:
            t = last.get("t") if isinstance(last.get("t"), (int, float)) else 0.0
            pids += [p[at] for p in last.get("p") or [] if isinstance(p, list) and len(p) > at]
    start = header.get("start_unix")
    for pid in set(pids):
        if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
            continue
        began = _start_unix(pid)
        if began is None:
            continue
        if not isinstance(start, (int, float)) or began <= start + t + 1.0:
            return True
    return False


def _end_status(records):
    for rec in reversed(records):
        if rec["type"] == "end":
            st = rec.get("status")
            return st if isinstance(st, str) else "incomplete"
    return None


def _wait_limit(header, timeout):
    if timeout is not None:
        return max(0.0, float(timeout))
    interval = header.get("interval") if isinstance(header.get("interval"), dict) else {}
    every = interval.get("fixed") or interval.get("max") or 0
    every = every if isinstance(every, (int, float)) and every > 0 else 0
    return END_TIMEOUT + 2 * every


def status(path, timeout=None):
    """How the run recorded in the log at path ended, the word `memline status` prints first:
    completed, failed, killed, oom-killed, detached, exited (from the end record), running
    (no end record and memline still writes the log) or incomplete (no end record and nobody
    writes it: memline or the machine died).

    When memline still writes the log but the processes it records are gone (those its header
    and its last sample name: the run is over, memline notices at its next sample), it waits
    for the end record, at most timeout seconds (default: 10 s and twice the log's sampling
    interval); still none then, it says running. timeout=0 never waits.

    Raises MemlineError when the log cannot be read or is not a memline log."""
    path = os.fspath(path)
    deadline = None
    pause = 0.005
    while True:
        try:
            records = read_records(path)
        except _EmptyLog:
            if _locked(path):
                return "running"
            raise
        st = _end_status(records)
        if st is not None:
            return st
        if not _locked(path):
            # The writer may have written the end and let go between the read and the test.
            return _end_status(read_records(path)) or "incomplete"
        if _recorded_alive(records):
            return "running"
        if deadline is None:
            deadline = time.monotonic() + _wait_limit(records[0], timeout)
        if time.monotonic() >= deadline:
            return "running"
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def has_completed_successfully(path, timeout=None):
    """True when the run completed (exit status 0, or a track() block that ended normally).
    Waits for the end of a run that just ended as status() does."""
    return status(path, timeout) == "completed"


def has_crashed_gracefully(path, timeout=None):
    """True when the run failed and said so: a non-zero exit status, or an exception that
    left a track() block (the log's end record has it as `error`). Waits for the end of a
    run that just ended as status() does."""
    return status(path, timeout) == "failed"


def has_crashed_ungracefully(path, timeout=None):
    """True when the run was killed by a signal, by the OOM killer, or its log ends without
    an end record (memline or the machine died). Waits for the end of a run that just ended
    as status() does: a run still being recorded is none of these."""
    return status(path, timeout) in ("killed", "oom-killed", "incomplete")
