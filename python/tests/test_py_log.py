"""memline.read_records(), load() and the status helpers, on the hand-written logs of
fixtures/ (see fixtures/README.md) and on logs written here."""

import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
import types
import warnings

import pytest

from pyhelpers import FIXTURES, MEMLINE, memline

FIELDS = ["pid", "rss", "anon", "file", "shmem", "peak", "vms", "swap", "pss", "utime", "stime",
          "minflt", "majflt", "threads", "rchar", "wchar", "read_bytes", "write_bytes", "state"]


def fixture(name):
    return FIXTURES / name


@pytest.fixture
def no_pandas(monkeypatch):
    """load() as without pandas, whether or not it is installed."""
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail


# ---- read_records ----


def test_read_records_of_a_complete_log():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = memline.read_records(fixture("complete.jsonl"))
    assert [r["type"] for r in recs] == ["header", "proc", "sample", "span", "proc", "exec",
                                         "event", "span", "sample", "exit", "sample", "end"]
    assert recs[0]["fields"] == FIELDS
    event = recs[6]
    assert event == {"type": "event", "t": 0.090, "label": "allocated", "pid": 200, "tid": 200}
    assert recs[-1]["status"] == "completed"


def test_read_records_of_a_format_4_log():
    """A rank's log (format 4): the header's place and clock, and its clock records."""
    log = FIXTURES.parents[2] / "tests" / "fixtures" / "logs" / "place.jsonl"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = memline.read_records(log)
    h = recs[0]
    assert h["format"] == 4
    assert h["place"] == {"job": "599130113", "rank": 2, "local_rank": 0, "size": 4,
                          "node_index": None, "launcher": "openmpi", "node_wide": False}
    assert h["clock"]["wall_us"] == 1796119200000000 and h["clock"]["synced"] is True
    clocks = [r for r in recs if r["type"] == "clock"]
    assert [c["t"] for c in clocks] == [300.000125, 420.500031]


def test_read_records_drops_a_cut_off_last_line_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = memline.read_records(fixture("incomplete.jsonl"))
    assert recs[-1]["type"] == "sample" and recs[-1]["t"] == 0.200
    assert len(recs) == 11


def test_read_records_keeps_a_whole_last_record_without_its_newline(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(fixture("complete.jsonl").read_bytes().rstrip(b"\n"))
    recs = memline.read_records(log)
    assert recs[-1]["type"] == "end"


def test_read_records_skips_corrupt_lines_with_a_warning_naming_them():
    with pytest.warns(UserWarning) as caught:
        recs = memline.read_records(fixture("corrupt.jsonl"))
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3, messages
    for n, msg in zip((4, 6, 7), messages):
        assert f"corrupt.jsonl:{n}:" in msg, f"expected line {n} named in {msg!r}"
    assert [r["type"] for r in recs] == ["header", "proc", "sample", "span", "sample", "end"]


def test_read_records_reads_invalid_utf8_as_replacement_characters(tmp_path):
    log = tmp_path / "log.jsonl"
    data = fixture("complete.jsonl").read_bytes().replace(b'"label":"allocated"',
                                                          b'"label":"alloc\xff\xfeated"')
    log.write_bytes(data)
    (event,) = [r for r in memline.read_records(log) if r["type"] == "event"]
    assert event["label"] == "alloc\ufffd\ufffdated"


@pytest.mark.parametrize("name, message", [
    ("empty.jsonl", "is empty"),
    ("notalog.jsonl", "not a memline log"),
    ("newer.jsonl", "newer memline (format 99)"),
    ("no-such-log.jsonl", "cannot read"),
])
def test_read_records_refuses(name, message):
    with pytest.raises(memline.MemlineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        memline.read_records(fixture(name))


def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)  # no writer: an open that blocked would wait forever
    for path, kind in ((fifo, "a FIFO"), ("/dev/zero", "a character device"),
                       (tmp_path, "a directory")):
        with pytest.raises(memline.MemlineError, match=f"is {kind}, not a log file"):
            memline.read_records(path)
        with pytest.raises(memline.MemlineError, match=f"is {kind}, not a log file"):
            memline.status(path)


def test_a_line_longer_than_the_cap_is_skipped_with_a_warning(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = fixture("complete.jsonl").read_bytes().splitlines(keepends=True)
    with open(log, "wb") as f:
        f.writelines(lines[:3])
        f.write(b'{"type":"event","t":0.1,"label":"' + b"a" * (65 << 20) + b'"}\n')
        f.writelines(lines[3:])
    with pytest.warns(UserWarning) as caught:
        recs = memline.read_records(log)
    assert [str(w.message) for w in caught] == [
        f"{log}:4: corrupt record skipped (longer than 64 MiB)"]
    assert len(recs) == len(lines) and recs[-1]["type"] == "end"
    # A log that ends inside such a line ends there, as at any cut-off last line.
    log.write_bytes(b"".join(lines[:3]) + b'{"type":"event","label":"' + b"a" * (65 << 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(memline.read_records(log)) == 3


def test_a_header_cut_off_mid_write_is_an_empty_log(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(fixture("complete.jsonl").read_bytes()[:100])
    with pytest.raises(memline.MemlineError, match="is empty"):
        memline.read_records(log)


# ---- load ----


def test_load_without_pandas_gives_rows_of_every_process_of_every_sample(no_pandas):
    rows = memline.load(fixture("complete.jsonl"))
    assert isinstance(rows, list)
    assert [(r["t"], r["pid"]) for r in rows] == [(0.010, 200), (0.100, 200), (0.100, 201),
                                                  (0.200, 200)]
    for r in rows:
        assert list(r) == ["t"] + FIELDS + ["cmd"]
    second = rows[1]
    assert second["rss"] == 210000 and second["peak"] == 210000 and second["state"] == "R"
    assert second["pss"] is None
    assert second["cmd"] == "python3 train.py"
    # 201 exec'd sh before the sample: its newest command line, quoted as a shell would.
    assert rows[2]["cmd"] == "sh -c 'echo hi there'"
    assert rows[2]["rchar"] is None


def test_load_of_a_log_without_samples_is_empty(no_pandas, tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_bytes(fixture("complete.jsonl").read_bytes().split(b"\n", 1)[0] + b"\n")
    assert memline.load(log) == []


def test_load_uses_fields_by_name(no_pandas, tmp_path):
    # Fields in another order, one unknown to this reader, a short process array.
    log = tmp_path / "log.jsonl"
    log.write_text(
        '{"type":"header","format":1,"fields":["pid","state","rss","gpu"],"tree_fields":[]}\n'
        '{"type":"proc","t":0,"pid":5,"ppid":1,"start":0,"comm":"kworker","argv":[]}\n'
        '{"type":"sample","t":1.5,"avail":1,"tree":[],"p":[[5,"S",100,7],[6,"R"]]}\n')
    rows = memline.load(log)
    assert rows == [
        {"t": 1.5, "pid": 5, "state": "S", "rss": 100, "gpu": 7, "cmd": "[kworker]"},
        {"t": 1.5, "pid": 6, "state": "R", "rss": None, "gpu": None, "cmd": None},
    ]


def test_load_with_pandas_gives_a_dataframe(monkeypatch):
    made = []

    class DataFrame:
        def __init__(self, rows, columns):
            made.append((rows, columns))

    monkeypatch.setitem(sys.modules, "pandas", types.SimpleNamespace(DataFrame=DataFrame))
    df = memline.load(fixture("complete.jsonl"))
    assert isinstance(df, DataFrame)
    ((rows, columns),) = made
    assert columns == ["t"] + FIELDS + ["cmd"]
    assert len(rows) == 4 and rows[2]["pid"] == 201


def test_load_with_real_pandas():
    pandas = pytest.importorskip("pandas")
    df = memline.load(fixture("complete.jsonl"))
    assert isinstance(df, pandas.DataFrame)
    assert list(df.columns) == ["t"] + FIELDS + ["cmd"]
    assert len(df) == 4
    assert df["rss"].max() == 210000


# ---- status ----


@pytest.mark.parametrize("name, status, ok, graceful, ungraceful", [
    ("complete.jsonl", "completed", True, False, False),
    ("failed.jsonl", "failed", False, True, False),
    ("killed.jsonl", "killed", False, False, True),
    ("oom-killed.jsonl", "oom-killed", False, False, True),
    ("incomplete.jsonl", "incomplete", False, False, True),
])
def test_status_and_its_helpers(name, status, ok, graceful, ungraceful):
    path = fixture(name)
    assert memline.status(path) == status
    assert memline.has_completed_successfully(path) is ok
    assert memline.has_crashed_gracefully(path) is graceful
    assert memline.has_crashed_ungracefully(path) is ungraceful


def test_failed_log_carries_its_error():
    end = memline.read_records(fixture("failed.jsonl"))[-1]
    assert end["status"] == "failed" and end["error"] == "ValueError: bad input"


@pytest.mark.parametrize("name", ["complete", "failed", "killed", "oom-killed", "incomplete"])
def test_status_agrees_with_memline_status(name):
    if not MEMLINE.exists():
        pytest.skip(f"memline is not built: no {MEMLINE}")
    out = subprocess.run([str(MEMLINE), "status", str(fixture(name + ".jsonl"))],
                         capture_output=True, text=True, timeout=60)
    assert memline.status(fixture(name + ".jsonl")) == out.stdout.splitlines()[0]


def write_log(path, pid, start_unix, end=None):
    """A small attach log of pid (its header and one sample), and end's record if given."""
    lines = [{"type": "header", "format": 1, "mode": "attach", "pid": pid, "pids": [pid],
              "start_unix": start_unix, "interval": {"fixed": 0.05, "min": 0.01, "max": 5},
              "fields": ["pid", "rss"], "tree_fields": ["nproc", "rss"]},
             {"type": "sample", "t": 0.05, "tree": [1, 100], "p": [[pid, 100]]}]
    if end:
        lines.append({"type": "end", "t": 0.1, "status": end})
    with open(path, "a") as f:
        for rec in lines:
            f.write(json.dumps(rec) + "\n")


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_locked_log_without_an_end_is_running(tmp_path):
    # The recorded process (this one) runs: running, at once.
    log = tmp_path / "log.jsonl"
    write_log(log, os.getpid(), time.time())
    with open(log, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        assert memline.status(log) == "running"
        assert not memline.has_crashed_ungracefully(log)
        fcntl.flock(writer, fcntl.LOCK_UN)
        assert memline.status(log) == "incomplete"


def test_status_waits_for_the_end_once_the_recorded_processes_are_gone(tmp_path, monkeypatch):
    """Right after the recorded process died, memline (still holding the log) has not written
    the end yet: status() waits for it instead of answering running."""
    from memline import _log
    log = tmp_path / "log.jsonl"
    write_log(log, dead_pid(), time.time())
    writer = open(log, "rb")
    fcntl.flock(writer, fcntl.LOCK_EX)
    waits = []

    def sleep(seconds):
        # The first time status() waits, memline writes the end and lets go of the log.
        waits.append(seconds)
        if len(waits) == 1:
            with open(log, "a") as f:
                f.write(json.dumps({"type": "end", "t": 0.2, "status": "killed",
                                    "signal": 9}) + "\n")
            writer.close()
        time.sleep(seconds)

    monkeypatch.setattr(_log, "time", types.SimpleNamespace(monotonic=time.monotonic,
                                                             sleep=sleep))
    try:
        assert memline.status(log) == "killed"
        assert waits, "expected status() to wait for the end"
    finally:
        writer.close()


def test_status_waits_a_bounded_time_and_can_be_told_not_to(tmp_path):
    log = tmp_path / "log.jsonl"
    write_log(log, dead_pid(), time.time())
    with open(log, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        # Nothing ends it: still running after the wait, and without one.
        assert memline.status(log, timeout=0.2) == "running"
        assert memline.status(log, timeout=0) == "running"
        assert memline.has_crashed_ungracefully(log, timeout=0) is False


def test_a_reused_pid_is_not_the_recorded_process(tmp_path):
    """A process with the recorded pid that started after the recording's last sample is a
    later one: the recorded process is gone."""
    from memline import _log
    now, before = tmp_path / "now.jsonl", tmp_path / "before.jsonl"
    write_log(now, os.getpid(), time.time())
    write_log(before, os.getpid(), time.time() - 3600)  # an hour before this process began
    assert _log._recorded_alive(memline.read_records(now)) is True
    assert _log._recorded_alive(memline.read_records(before)) is False


def test_a_locked_empty_log_is_running_an_unlocked_one_is_refused(tmp_path):
    log = tmp_path / "log.jsonl"
    log.touch()
    fd = os.open(log, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert memline.status(log) == "running"
    finally:
        os.close(fd)
    with pytest.raises(memline.MemlineError, match="is empty"):
        memline.status(log)


def test_a_locked_log_with_an_end_is_what_the_end_says(tmp_path):
    log = tmp_path / "log.jsonl"
    shutil.copy(fixture("failed.jsonl"), log)
    with open(log, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        assert memline.status(log) == "failed"
