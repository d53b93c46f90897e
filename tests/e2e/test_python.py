"""The Python package (python/memline) with the real memline: events and spans of a Python
program under `memline run`, from threads and a forked child, with the memory of their moment;
and the package's readers (status(), load()) agreeing with memline on logs it wrote.

The package's own tests are python/tests; these are the ones that need `memline run`."""

import os
import subprocess
import sys
import tempfile
import textwrap

import pytest

from conftest import MEMLINE, REPO, end_of, header_of, of_type, read_log

PYDIR = REPO / "python"
sys.path.insert(0, str(PYDIR))
import memline  # noqa: E402

MIB = 1024


def py_env(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PYDIR)
    env.pop("MEMLINE_EVENTS", None)
    return env


WAIT_FOR_SAMPLE = """
def wait_for_sample_after(label):
    # Until the log holds the event and a sample after it: memline samples right after it
    # reads a message, whatever the interval.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        recs = memline.read_records(LOG)
        ev = [r for r in recs if r.get("type") == "event" and r.get("label") == label]
        if ev and any(r["type"] == "sample" and r["t"] >= ev[0]["t"] for r in recs):
            return
        time.sleep(0.01)
    sys.exit("no sample after the event " + label)
"""


def record_python(ml, tmp_path, body, opts=(), log_name="py.jsonl"):
    """`memline run -o LOG OPTS -- python3 SCRIPT`, SCRIPT being body with `import memline`,
    LOG and wait_for_sample_after() in its globals. Returns (memline's CompletedProcess,
    records)."""
    log = tmp_path / log_name
    script = tmp_path / "prog.py"
    script.write_text(f"import memline, os, sys, time\nLOG = {str(log)!r}\n" + WAIT_FOR_SAMPLE
                      + textwrap.dedent(body))
    res = ml.cmd("run", "-q", "-o", log, *opts, "--", sys.executable, script,
                 env=py_env(tmp_path))
    return res, read_log(log)


def sends_events():
    """Whether `memline run` gives the command an event channel."""
    with tempfile.TemporaryDirectory() as d:
        res = subprocess.run([str(MEMLINE), "run", "-q", "-o", os.path.join(d, "probe.jsonl"),
                              "--", "sh", "-c", 'test -n "$MEMLINE_EVENTS"'],
                             capture_output=True, timeout=60)
    return res.returncode == 0


needs_channel = pytest.mark.skipif(not MEMLINE.exists() or not sends_events(),
                                   reason="this memline run gives the command no event channel")


@needs_channel
def test_python_events_carry_the_memory_of_their_moment(ml, tmp_path):
    res, recs = record_python(ml, tmp_path, """
        memline.event("before")
        wait_for_sample_after("before")
        with memline.span("alloc"):
            b = bytearray(200 * 2**20)
            b[::4096] = b"\\x01" * (len(b) // 4096)
        memline.event("allocated")
        wait_for_sample_after("allocated")
        del b
        print(os.getpid())
    """, opts=("-i", "1"))
    assert res.returncode == 0, res.stderr
    pid = header_of(recs)["pid"]
    events = {e["label"]: e for e in of_type(recs, "event")}
    assert set(events) == {"before", "allocated"}
    assert all(e["pid"] == pid and e["tid"] == pid for e in events.values())
    rss = header_of(recs)["tree_fields"].index("rss")

    def tree_rss_at(t):
        return next(s["tree"][rss] for s in of_type(recs, "sample") if s["t"] >= t)

    grew = tree_rss_at(events["allocated"]["t"]) - tree_rss_at(events["before"]["t"])
    assert grew >= 190 * MIB, f"expected the tree 200 MiB bigger at 'allocated', got {grew} KiB"
    spans = [(s["phase"], s["name"]) for s in of_type(recs, "span")]
    assert spans == [("begin", "alloc"), ("end", "alloc")]
    assert end_of(recs)["events"] == 4


@needs_channel
def test_python_events_from_threads_and_a_forked_child(ml, tmp_path):
    res, recs = record_python(ml, tmp_path, """
        import threading
        def work(k):
            with memline.span(f"thread {k}"):
                for i in range(100):
                    memline.event(f"t{k} {i}")
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        pid = os.fork()
        if pid == 0:
            memline.event("child")
            os._exit(0)
        os.waitpid(pid, 0)
        print(pid)
    """)
    assert res.returncode == 0, res.stderr
    child = int(res.stdout) if res.stdout.strip() else None
    main = header_of(recs)["pid"]
    events = of_type(recs, "event")
    assert len(events) == 401, f"expected 401 events, got {len(events)}"
    tids = set()
    for k in range(4):
        mine = [e for e in events if e["label"].startswith(f"t{k} ")]
        assert [e["label"] for e in mine] == [f"t{k} {i}" for i in range(100)]
        assert {e["pid"] for e in mine} == {main}
        (tid,) = {e["tid"] for e in mine}
        spans = [(s["phase"], s["name"]) for s in of_type(recs, "span") if s["tid"] == tid]
        assert spans == [("begin", f"thread {k}"), ("end", f"thread {k}")]
        tids.add(tid)
    assert len(tids) == 4 and main not in tids
    (forked,) = [e for e in events if e["label"] == "child"]
    assert forked["pid"] == forked["tid"] != main
    if child is not None:
        assert forked["pid"] == child


@pytest.mark.parametrize("body, status", [
    ("pass", "completed"),
    ("sys.exit(3)", "failed"),
    ("os.kill(os.getpid(), 9)", "killed"),
])
def test_status_helpers_agree_with_memline_status(ml, tmp_path, body, status):
    res, recs = record_python(ml, tmp_path, body)
    log = tmp_path / "py.jsonl"
    assert memline.status(log) == status
    assert ml.status(log)[1] == status
    assert memline.has_completed_successfully(log) is (status == "completed")
    assert memline.has_crashed_gracefully(log) is (status == "failed")
    assert memline.has_crashed_ungracefully(log) is (status == "killed")


def test_load_reads_a_real_log(ml, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # the list of dicts, pandas or not
    res, recs = record_python(ml, tmp_path, """
        import subprocess
        subprocess.run(["sleep", "0.2"])
    """, opts=("-i", "0.02"))
    assert res.returncode == 0, res.stderr
    rows = memline.load(tmp_path / "py.jsonl")
    fields = header_of(recs)["fields"]
    assert rows and all(list(r) == ["t"] + fields + ["cmd"] for r in rows)
    samples = of_type(recs, "sample")
    assert len(rows) == sum(len(s["p"]) for s in samples)
    sleeps = [r for r in rows if r["cmd"] == "sleep 0.2"]
    assert sleeps, "expected rows of the sleep child with its command line"
    # A process read in the middle of an exec really has no resident memory at that instant.
    assert all(r["rss"] is not None and r["rss"] >= 0 for r in rows)
    assert max(r["rss"] for r in rows) > 0, "expected the Python process's memory"


@needs_channel
def test_a_label_with_nul_bytes_is_recorded_as_sent(ml, tmp_path):
    """memline.event("\\x00x") sends the NUL byte as it is, and memline's channel parser keeps
    the label's length: the log has the whole label (as \\u0000 in its JSON)."""
    res, recs = record_python(ml, tmp_path, """
        memline.event("\\x00x")
        memline.event("a\\x00\\x00b\\x00")
        with memline.span("nul\\x00span"):
            pass
    """)
    assert res.returncode == 0, res.stderr
    assert [e["label"] for e in of_type(recs, "event")] == ["\x00x", "a\x00\x00b\x00"]
    assert [s["name"] for s in of_type(recs, "span")] == ["nul\x00span"] * 2
    raw = (tmp_path / "py.jsonl").read_bytes()
    assert b'"label":"\\u0000x"' in raw and b"\x00" not in raw, "expected \\u0000, no raw NUL"
