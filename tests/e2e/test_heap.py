"""memline run --heap (docs/heap.md) end to end: real programs whose threads allocate known
amounts, recorded with the heap library preloaded, against what the programs themselves say
they asked for. C threads with frees by other threads and threads that exit (threadheap);
Python's named threads, its arenas (mmap) and --heap=exact; fork and exec inside a run; a
program that maps memory itself; a static binary, recorded without heap numbers and saying
why; --heap --stacks capturing a thread's new peak; the C library's memline_start_with and
Python's track(heap=True).

Every wait is a process's exit or a pipe: nothing asserts on time.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import BUILD, REPO, TIMEOUT, header_of, of_type

THREADHEAP = BUILD / "threadheap"
SHIM = BUILD / "libmemline-heap.so"
PYTHON = "/usr/bin/python3"
MIB = 1 << 20


def within(got, want, rel=0.01):
    return got is not None and abs(got - want) <= rel * want


def thread_rows(records):
    """(pid, tid) -> the thread's rows, as dicts by the header's thread_fields."""
    names = header_of(records)["thread_fields"]
    out = {}
    for s in of_type(records, "sample"):
        for row in s.get("th", []):
            r = dict(zip(names, row))
            out.setdefault((r["pid"], r["tid"]), []).append(r)
    return out


def thread_names(records):
    """(pid, tid) -> the newest name its thread records gave."""
    out = {}
    for r in of_type(records, "thread"):
        if not r.get("end"):
            out[(r["pid"], r["tid"])] = r["name"]
    return out


def by_name(records):
    """thread name -> its rows (names unique in the tests' programs)."""
    names = thread_names(records)
    rows = thread_rows(records)
    return {names[k]: v for k, v in rows.items() if k in names}


def peak_of(rows):
    return max(max(r["heap_peak"] or 0, r["heap"] or 0) for r in rows)


def heap_records(records, pid=None):
    return [r for r in of_type(records, "heap") if pid is None or r["pid"] == pid]


def truth(stdout):
    """threadheap's lines: {"peak": {name: bytes}, "live": {...}, "moved": bytes}."""
    out = {"peak": {}, "live": {}, "moved": None}
    for line in stdout.splitlines():
        w = line.split()
        if w[0] in ("peak", "live"):
            out[w[0]][w[1]] = int(w[2])
        elif w[0] == "moved":
            out["moved"] = int(w[1])
    return out


def test_threads_heap_is_what_they_asked_for(ml):
    run = ml.record([THREADHEAP, 10, 20, 40, 5, 400], opts=["--heap"])
    assert run.code == 0, run.describe()
    want = truth(run.stdout)
    assert len(want["peak"]) == 3 and len(want["live"]) == 3, run.stdout
    h = header_of(run.records)
    assert h["format"] == 4 and h["heap"] == {"mode": "malloc"}, h
    on = heap_records(run.records, run.pid)
    assert on and on[0]["on"] is True and "libc.so.6" in on[0]["allocator"], on
    rows = by_name(run.records)
    for name in ("heap-a", "heap-b", "heap-c"):
        assert name in rows, f"expected rows of thread {name}: {sorted(rows)}"
        got = peak_of(rows[name])
        assert within(got, want["peak"][name]), \
            f"{name}: expected a heap peak of {want['peak'][name]} B (what it asked for), got {got}"
        last = rows[name][-1]
        assert within(last["heap"], want["live"][name]), \
            f"{name}: expected {want['live'][name]} B live at its end, got {last['heap']}"
        assert last["alloc"] - last["freed"] + last["mmap"] == last["heap"], last
    # heap-a freed heap-c's blocks: debited to heap-c, not to heap-a
    c, a = rows["heap-c"][-1], rows["heap-a"][-1]
    assert within(c["freed"], want["peak"]["heap-c"] - want["live"]["heap-c"]), (c, want)
    assert c["freed"] > want["moved"], "expected heap-c's freed bytes to include what heap-a freed"
    assert within(a["freed"], want["peak"]["heap-a"] - want["live"]["heap-a"]), (a, want)
    # the threads ended before the process: their ends are told, their totals stay
    ends = {r["tid"] for r in of_type(run.records, "thread") if r.get("end")}
    tids = {tid for (pid, tid), name in thread_names(run.records).items()
            if name.startswith("heap-")}
    assert tids and tids <= ends, f"expected the three threads' ends: {tids} vs {ends}"
    # the report says the same
    procs = [p for p in run.report["processes"] if p["pid"] == run.pid]
    threads = {t["name"]: t for t in procs[0]["threads"]}
    for name in ("heap-a", "heap-b", "heap-c"):
        assert within(threads[name]["heap_peak"], want["peak"][name]), threads[name]
    rep = ml.cmd("report", "--threads", run.log)
    assert rep.returncode == 0 and "heap-c" in rep.stdout and "40.0 MiB" in rep.stdout, rep.stdout


PYTHREADS = textwrap.dedent("""
    import os, sys, threading
    import memline  # names the threads in the kernel
    ready = threading.Barrier(4)
    done = threading.Event()
    held = {}
    def work(mib):
        held[mib] = bytearray(mib << 20)
        ready.wait()
        done.wait(30)
    ts = [threading.Thread(target=work, args=(m,), name=f"loader{m}") for m in (10, 20, 40)]
    for t in ts:
        t.start()
    ready.wait()
    # the threads hold their memory until memline has read it: its sample at the next line
    sys.stdout.write(os.environ.get("PYTHONMALLOC", "-") + "\\n")
    sys.stdout.flush()
    sys.stdin.readline()
    done.set()
    for t in ts:
        t.join()
""")


def python_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python")
    return env


@pytest.mark.parametrize("mode", ["--heap", "--heap=exact"])
def test_python_named_threads(ml, tmp_path, mode):
    script = tmp_path / "threads.py"
    script.write_text(PYTHREADS)
    log = ml.logpath()
    p = subprocess.Popen([ml.bin, "run", "-q", "-i", "0.05", "-o", str(log), mode, "--",
                          PYTHON, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=python_env(), cwd=tmp_path)
    line = p.stdout.readline().strip()
    assert line == ("malloc" if mode.endswith("exact") else "-"), \
        f"expected PYTHONMALLOC={'malloc' if mode.endswith('exact') else 'unset'}, got {line!r}"
    # let a few samples see the memory held
    subprocess.run(["sleep", "0.3"])
    p.stdin.write("go\n")
    p.stdin.close()
    assert p.wait(timeout=TIMEOUT) == 0
    from conftest import read_log
    records = read_log(log)
    rows = by_name(records)
    for mib in (10, 20, 40):
        name = f"loader{mib}"
        assert name in rows, f"expected thread {name} by its threading name: {sorted(rows)}"
        got = peak_of(rows[name])
        assert within(got, mib * MIB, 0.02), f"{name}: expected a heap peak of {mib} MiB, got {got}"
    rep = json.loads(ml.cmd("report", "--json", log).stdout)
    th = {t["name"]: t for p in rep["processes"] for t in p.get("threads", [])}
    assert within(th["loader40"]["heap_peak"], 40 * MIB, 0.02), th["loader40"]


ARENAS = textwrap.dedent("""
    import sys, threading
    keep = []
    def build():
        # a million small objects: pymalloc's arenas, which it maps itself
        keep.append([(i, str(i)) for i in range(300000)])
    t = threading.Thread(target=build, name="builder")
    t.start(); t.join()
    import memline
    sys.stdout.write("%d\\n" % len(keep[0]))
""")


def test_python_arenas_count_to_the_thread_that_mapped_them(ml, tmp_path):
    script = tmp_path / "arenas.py"
    script.write_text(ARENAS)
    runs = {}
    for mode in ("--heap", "--heap=exact"):
        run = ml.record([PYTHON, script], opts=[mode, "-i", "0.05"], env=python_env())
        assert run.code == 0 and run.stdout.strip() == "300000", run.describe()
        runs[mode] = {k[1]: v for k, v in thread_rows(run.records).items()}
    def most(rows_by_tid, key):
        return max(max(r[key] or 0 for r in rows) for rows in rows_by_tid.values())
    # by default the objects live in arenas the interpreter mapped: mmap is most of the heap
    assert most(runs["--heap"], "mmap") > 20 * MIB, runs["--heap"]
    # exact: each object through malloc, nothing in arenas
    assert most(runs["--heap=exact"], "mmap") < 2 * MIB
    assert most(runs["--heap=exact"], "heap_peak") > 20 * MIB


FORK_EXEC = textwrap.dedent("""
    import os, sys
    parent = bytearray(30 << 20)
    pid = os.fork()
    if pid == 0:
        child = bytearray(50 << 20)   # the child's own; the parent's 30 MiB is not its
        os._exit(0)
    os.waitpid(pid, 0)
    os.execv("/bin/sh", ["sh", "-c", "exec %s -c 'x = bytearray(70 << 20)'" % sys.executable])
""")


def test_fork_and_exec_have_their_own_heaps(ml, tmp_path):
    script = tmp_path / "forkexec.py"
    script.write_text(FORK_EXEC)
    run = ml.record([PYTHON, script], opts=["--heap", "-i", "0.02"])
    assert run.code == 0, run.describe()
    rows = thread_rows(run.records)
    main = run.pid
    by_pid = {}
    for (pid, tid), rs in rows.items():
        by_pid.setdefault(pid, []).extend(rs)
    child = [pid for pid in by_pid if pid != main]
    assert len(child) == 1, f"expected the forked child's rows: {sorted(by_pid)}"
    # the child counted its own 50 MiB, not the 30 MiB it inherited
    assert within(peak_of(by_pid[child[0]]), 50 * MIB, 0.03), by_pid[child[0]]
    # the main pid had three images: python (30 MiB), sh, python (70 MiB): one heap record each
    on = [r for r in heap_records(run.records, main) if r["on"]]
    assert len(on) >= 2, f"expected a heap record for each image of {main}: {on}"
    # the last image's 70 MiB and what the interpreter itself holds (a few MiB), not the
    # first image's 30 MiB added: each image's heap starts from nothing
    assert 70 * MIB <= peak_of(by_pid[main]) <= 80 * MIB, \
        "expected the last image's 70 MiB as the process's highest"
    execs = [r for r in of_type(run.records, "exec") if r["pid"] == main]
    assert execs, "expected the exec records"


def test_mmap_is_counted(ml, tmp_path):
    script = tmp_path / "mapper.py"
    script.write_text(textwrap.dedent("""
        import mmap, threading
        def work():
            m = mmap.mmap(-1, 64 << 20)     # anonymous, private
            m.write(b"x" * (64 << 20))
            threading.Event().wait(0.3)
            m.close()
        t = threading.Thread(target=work, name="mapper")
        t.start(); t.join()
        import memline
    """))
    run = ml.record([PYTHON, script], opts=["--heap", "-i", "0.02"], env=python_env())
    assert run.code == 0, run.describe()
    rows = thread_rows(run.records)
    best = max(max(r["mmap"] or 0 for r in rs) for rs in rows.values())
    assert within(best, 64 * MIB, 0.02), f"expected a thread with 64 MiB mapped: {best}"
    assert max(peak_of(rs) for rs in rows.values()) >= 64 * MIB


STATIC_PROG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(void)
{
	char *p = malloc(8 << 20); /* its own malloc, linked in: no library can see it */
	memset(p, 1, 8 << 20);
	struct timespec ts = {0, 400 * 1000 * 1000};
	nanosleep(&ts, NULL); /* long enough for samples to see it */
	printf("static ok %d\n", p[12345]);
	return 0;
}
"""


def test_static_binary_is_recorded_without_heap_and_says_why(ml, tmp_path):
    src = tmp_path / "static_sleep.c"
    src.write_text(STATIC_PROG)
    prog = tmp_path / "static_sleep"
    p = subprocess.run(["cc", "-static", "-O1", "-o", prog, src], capture_output=True, text=True)
    if p.returncode:
        pytest.skip(f"cannot link a static program here: {p.stderr[-300:]}")
    run = ml.record(["sh", "-c", f"{prog}; true"], opts=["--heap", "-i", "0.02"])
    assert run.code == 0 and "static ok" in run.stdout, run.describe()
    seen = [r for r in of_type(run.records, "proc") + of_type(run.records, "exec")
            if r["comm"] == "static_sleep"]
    assert seen, "expected the static program's proc or exec record"
    pid = seen[0]["pid"]
    off = [r for r in heap_records(run.records, pid) if not r["on"] and r["t"] >= seen[0]["t"]]
    assert off and "static binary" in off[0]["why"], heap_records(run.records, pid)
    # recorded as usual: its samples have its RSS, and a null heap
    from conftest import field_pos, proc_samples
    rss, heap = field_pos(run.records, "rss"), field_pos(run.records, "heap")
    mine = [s for s in proc_samples(run.records, pid) if s[rss] and s[rss] > 8 * 1024]
    assert mine and all(s[heap] is None for s in mine), mine[:3]
    assert [r for r in heap_records(run.records, run.pid) if r["on"]], \
        "expected the shell's heap counted"
    rep = ml.cmd("report", "--threads", run.log)
    assert "static binary" in rep.stdout, rep.stdout


def test_heap_stacks_capture_a_threads_new_peak(ml):
    run = ml.record([THREADHEAP, 10, 20, 40, 5, 400],
                    opts=["--heap", "--stacks", "--stacks-gap", "0.05"])
    assert run.code == 0, run.describe()
    assert "heap" in header_of(run.records)["stacks"]["when"]
    names = thread_names(run.records)
    heap_caps = [s for s in of_type(run.records, "stack") if s["why"] == "heap"]
    assert heap_caps, "expected a capture at a thread's new heap peak"
    peaked = {names.get((s["pid"], int(s["label"]))) for s in heap_caps}
    assert peaked & {"heap-a", "heap-b", "heap-c"}, f"expected a heap thread named: {peaked}"
    rep = ml.cmd("report", "--stacks", run.log)
    assert rep.returncode == 0 and "heap of thread" in rep.stdout, rep.stdout


def test_heap_is_refused_cleanly(ml, tmp_path):
    p = ml.cmd("run", "--heap=fast", "--", "true")
    assert p.returncode == 64 and p.stderr.count("\n") == 1 and "--heap" in p.stderr, p.stderr
    p = ml.cmd("attach", "--heap", "1")
    assert p.returncode == 64 and "--events" in p.stderr, p.stderr
    p = ml.cmd("run", "--stacks=heap", "--", "true")
    assert p.returncode == 64 and "--heap" in p.stderr, p.stderr
    env = dict(os.environ, MEMLINE_HEAP_LIB=str(tmp_path / "nope.so"))
    keep = tmp_path / "keep.jsonl"
    keep.write_text("precious\n")
    p = ml.cmd("run", "-o", keep, "--heap", "--", "true", env=env)
    assert p.returncode == 64 and "MEMLINE_HEAP_LIB" in p.stderr, p.stderr
    assert keep.read_text() == "precious\n", "expected the existing log untouched"


TRACK = textwrap.dedent("""
    import sys, threading, memline
    before = bytearray(8 << 20)          # allocated before the block: not counted
    with memline.track(sys.argv[1], heap=True) as rec:
        def work():
            b = bytearray(24 << 20)
            threading.Event().wait(0.3)
        t = threading.Thread(target=work, name="inblock")
        t.start(); t.join()
    print(memline.status(rec.path))
""")


def test_python_track_heap(ml, tmp_path):
    script = tmp_path / "track.py"
    script.write_text(TRACK)
    log = tmp_path / "track.jsonl"
    env = python_env()
    env["MEMLINE_BIN"] = ml.bin
    # without the library: a clear error
    p = subprocess.run([PYTHON, script, log], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode != 0 and "LD_PRELOAD" in p.stderr, p.stderr
    env["LD_PRELOAD"] = str(SHIM)
    p = subprocess.run([PYTHON, script, log], capture_output=True, text=True, env=env,
                       timeout=TIMEOUT, cwd=tmp_path)
    assert p.returncode == 0 and p.stdout.strip() == "completed", p.stderr
    from conftest import read_log
    rows = by_name(read_log(log))
    assert "inblock" in rows, sorted(rows)
    assert within(peak_of(rows["inblock"]), 24 * MIB, 0.02), rows["inblock"]


ASAN_PROG = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
int main(void)
{
	char *p = malloc(20 << 20);
	memset(p, 1, 20 << 20);
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	printf("asan ok %d\n", p[4096]);
	free(p);
	return 0;
}
"""


def test_an_asan_program_runs_and_is_counted(ml, tmp_path):
    src = tmp_path / "asan.c"
    src.write_text(ASAN_PROG)
    prog = tmp_path / "asanprog"
    p = subprocess.run(["cc", "-fsanitize=address", "-O1", "-o", prog, src], capture_output=True,
                       text=True)
    if p.returncode:
        pytest.skip(f"cannot build an ASan program here: {p.stderr[-300:]}")
    env = dict(os.environ)
    env.pop("ASAN_OPTIONS", None)
    run = ml.record([prog], opts=["--heap", "-i", "0.02"], env=env)
    assert run.code == 0 and "asan ok 1" in run.stdout, run.describe()
    rows = thread_rows(run.records)
    assert rows, "expected the ASan program's heap rows"
    assert within(max(peak_of(r) for r in rows.values()), 20 * MIB, 0.05), rows
