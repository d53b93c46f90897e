"""memline report --threads, report --json's threads, export --csv --threads and /metrics on a real
multi-threaded program recorded without --heap (tests/workload/threadspin.py: a thread that
spins for a known amount of its own CPU time and one that waits): every thread is there with
its name and CPU time, the spinner with more than the idle one. The renderers' exact numbers
are tests/unit/test_report_threads.c's, on a fixture.

Synchronisation: the program writes its threads' ids to a pipe once the spinner has spun; the
test then polls the log (bounded) for a thread row that shows the spinner's CPU, and ends the
program by writing a byte to another pipe. With --serve, /metrics is read while it runs.
Nothing asserts on wall time.
"""

import csv
import http.client
import io
import os
import re
import select
import sys

import pytest

from conftest import REPO, TIMEOUT, of_type, read_log, wait_until

SCRIPT = REPO / "tests" / "workload" / "threadspin.py"
SPIN_CPU = 0.6  # seconds of CPU the spinner uses


def read_line(fd, what, timeout=TIMEOUT):
    """One line from fd, within timeout."""
    line = b""
    while not line.endswith(b"\n"):
        r, _, _ = select.select([fd], [], [], timeout)
        assert r, f"timed out after {timeout} s waiting for {what}"
        chunk = os.read(fd, 64)
        assert chunk, f"expected {what}, got end of file after {line!r} (it died?)"
        line += chunk
    return line.decode()


def thread_rows(log, tid):
    """The log's thread rows ("th") of tid, as dicts named by the header's thread_fields."""
    try:
        records = read_log(log)
    except (FileNotFoundError, AssertionError):
        return []
    if not records or "thread_fields" not in records[0]:
        return []
    names = records[0]["thread_fields"]
    return [dict(zip(names, row)) for s in of_type(records, "sample") for row in s.get("th", [])
            if row[names.index("tid")] == tid]


def spun(log, tid):
    """Whether a row of tid shows most of the spinner's CPU time."""
    return any((r["utime"] or 0) + (r["stime"] or 0) >= SPIN_CPU * 1000 * 0.8
               for r in thread_rows(log, tid))


def record_threadspin(ml, opts=(), while_running=None):
    """Records threadspin without --heap: (log, pid, spinner tid, idler tid). while_running
    (log, spinner, idler), when given, is called once the log shows the spinner's CPU, before
    the program is told to end."""
    log = ml.logpath()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    fds = [ready_r, go_w]
    try:
        p = ml.popen("run", "-o", log, *opts, "--", sys.executable, SCRIPT, "--ready", ready_w,
                     "--go", go_r, "--cpu", SPIN_CPU, pass_fds=(ready_w, go_r))
        os.close(ready_w)
        os.close(go_r)
        spinner, idler = (int(x) for x in read_line(ready_r, "threadspin's thread ids").split())
        wait_until(lambda: spun(log, spinner), "a thread row with the spinner's CPU time",
                   timeout=TIMEOUT)
        if while_running:
            while_running(p, log, spinner, idler)
        os.write(go_w, b"x")
        out, err = ml.finish(p, timeout=TIMEOUT)
        assert p.returncode == 0, f"expected memline run to exit 0, got {p.returncode}: {err}"
    finally:
        for fd in fds:
            os.close(fd)
    records = read_log(log)
    assert "heap" not in records[0], "expected a log recorded without --heap"
    return log, records[0]["pid"], spinner, idler


@pytest.fixture
def recorded(ml):
    return record_threadspin(ml)


def test_json_has_every_thread_with_its_cpu(ml, recorded):
    log, pid, spinner, idler = recorded
    report = ml.report_json(log)
    procs = [p for p in report["processes"] if p["pid"] == pid]
    assert len(procs) == 1, f"expected process {pid} once in report --json: {report['processes']}"
    proc = procs[0]
    threads = {t["tid"]: t for t in proc["threads"]}
    assert {pid, spinner, idler} <= set(threads), (
        f"expected the main thread {pid}, the spinner {spinner} and the idler {idler} in "
        f"report --json's threads: {proc['threads']}")
    assert threads[spinner]["name"] == "spinner", f"spinner's name: {threads[spinner]}"
    assert threads[idler]["name"] == "idler", f"idler's name: {threads[idler]}"
    cpu = {tid: (t["utime"] or 0) + (t["stime"] or 0) for tid, t in threads.items()}
    for tid in (pid, spinner, idler):
        assert threads[tid]["utime"] is not None and threads[tid]["stime"] is not None, (
            f"expected thread {tid}'s CPU times in report --json: {threads[tid]}")
    assert cpu[spinner] >= SPIN_CPU * 0.8, f"expected the spinner's {SPIN_CPU} s of CPU: {threads[spinner]}"
    assert cpu[spinner] > cpu[idler], (
        f"expected the spinner ({cpu[spinner]} s) to have used more CPU than the idler "
        f"({cpu[idler]} s)")
    # the threads' CPU is part of the process's
    assert cpu[spinner] <= proc["cpu"] + 0.05, f"a thread's CPU above its process's: {proc}"
    # without --heap: no heap numbers, and the process's heap unknown
    for t in proc["threads"]:
        assert t["heap"] is None and t["heap_peak"] is None and t["alloc"] is None, t
    assert proc["heap"] == {"on": None, "allocator": None, "why": None, "peak": None,
                            "peak_t": None}, proc["heap"]
    # the spinner first (no heap: by CPU)
    assert proc["threads"][0]["tid"] == spinner, f"expected the spinner first: {proc['threads']}"


def test_report_threads_lists_them_by_cpu(ml, recorded):
    log, pid, spinner, idler = recorded
    r = ml.cmd("report", "--threads", log)
    assert r.returncode == 0, f"report --threads exited {r.returncode}: {r.stderr}"
    lines = r.stdout.splitlines()
    head = [i for i, l in enumerate(lines) if l.startswith(f"pid {pid} (")]
    assert head, f"expected a heading for process {pid}:\n{r.stdout}"
    assert "heap " not in r.stdout, f"expected no heap lines without --heap:\n{r.stdout}"
    rows = {}
    for l in lines[head[0] + 1:]:
        f = l.split()
        if not f or l.startswith(("pid ", "timeline")):
            if rows:
                break
            continue
        if f[0].isdigit():
            rows[int(f[0])] = f
    assert {pid, spinner, idler} <= set(rows), f"expected rows of {pid}, {spinner}, {idler}:\n{r.stdout}"
    assert rows[spinner][1] == "spinner" and rows[idler][1] == "idler", r.stdout
    order = list(rows)
    assert order.index(spinner) < order.index(idler), f"expected the spinner above the idler:\n{r.stdout}"

    def secs(cell, unit):
        return float(cell) / (1000 if unit == "ms" else 1)

    # TID THREAD CPU USER SYSTEM SEEN ENDED: "2.7 s" or "610 ms" in two words each
    spin_cpu, idle_cpu = secs(*rows[spinner][2:4]), secs(*rows[idler][2:4])
    assert spin_cpu >= SPIN_CPU * 0.8 and spin_cpu > idle_cpu, r.stdout
    assert all(len(l) <= 100 for l in lines), "expected report --threads to fit in 100 columns"


def test_export_csv_threads_rows(ml, recorded):
    log, pid, spinner, idler = recorded
    r = ml.cmd("export", "--csv", "--threads", log)
    assert r.returncode == 0, f"export --csv --threads exited {r.returncode}: {r.stderr}"
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows, f"expected thread rows:\n{r.stdout}"
    assert list(rows[0]) == ["t", "pid", "tid", "thread", "utime", "stime", "heap", "heap_peak",
                             "alloc", "freed", "nalloc", "nfree", "mmap"]
    mine = [x for x in rows if x["tid"] == str(spinner)]
    assert mine and all(x["pid"] == str(pid) and x["thread"] == "spinner" for x in mine), mine
    last = mine[-1]
    assert int(last["utime"]) + int(last["stime"]) >= SPIN_CPU * 1000 * 0.8, last
    assert last["heap"] == "", f"expected no heap without --heap: {last}"
    assert [float(x["t"]) for x in rows] == sorted(float(x["t"]) for x in rows)


def metrics_cpu(text):
    """(tid, name) -> user + system seconds of memline_thread_cpu_seconds_total; and the pids."""
    cpu, pids = {}, set()
    for m in re.finditer(r'^memline_thread_cpu_seconds_total\{pid="(\d+)",tid="(-?\d+)",'
                         r'thread="([^"]*)",mode="(user|system)"\} ([0-9.]+)$', text, re.M):
        pids.add(int(m.group(1)))
        key = (int(m.group(2)), m.group(3))
        cpu[key] = cpu.get(key, 0) + float(m.group(5))
    return cpu, pids


def test_metrics_have_each_live_thread(ml):
    """memline run --serve's /metrics while the program runs: each thread's CPU by mode,
    labelled with its pid, tid and name; no heap metric without --heap."""
    got = {}

    def scrape(p, log, spinner, idler):
        url = wait_until(lambda: re.search(r"memline: serving (http://\S+)",
                                           p.err_path.read_text()), "the server's URL")
        m = re.match(r"http://([0-9.]+):(\d+)/\?token=(\w+)$", url.group(1))
        assert m, f"expected http://HOST:PORT/?token=..., got {url.group(1)}"

        def get():
            c = http.client.HTTPConnection(m.group(1), int(m.group(2)), timeout=TIMEOUT)
            c.request("GET", "/metrics", headers={"Authorization": f"Bearer {m.group(3)}"})
            r = c.getresponse()
            assert r.status == 200, f"expected 200 for /metrics, got {r.status}"
            got["text"] = r.read().decode()
            c.close()
            # the server's model follows the log a moment later than the test read it
            return metrics_cpu(got["text"])[0].get((spinner, "spinner"), 0) >= SPIN_CPU * 0.8

        wait_until(get, "the spinner's CPU time in /metrics", timeout=TIMEOUT, interval=0.1)

    log, pid, spinner, idler = record_threadspin(ml, ("--serve", "0"), scrape)
    text = got["text"]
    cpu, pids = metrics_cpu(text)
    assert pids == {pid}, f"expected the threads of process {pid} only:\n{text}"
    assert (spinner, "spinner") in cpu and (idler, "idler") in cpu, (
        f"expected the spinner and the idler in /metrics:\n{text}")
    assert any(tid == pid for tid, _ in cpu), f"expected the main thread in /metrics:\n{text}"
    assert cpu[(spinner, "spinner")] > cpu[(idler, "idler")], text
    assert "# TYPE memline_thread_heap_bytes gauge" in text
    assert not re.search(r"^memline_thread_heap_bytes\{", text, re.M), (
        f"expected no thread heap without --heap:\n{text}")
