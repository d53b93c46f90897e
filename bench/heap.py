#!/usr/bin/python3
"""Part k of `make bench`: what `memline run --heap` costs the recorded program, beside
heaptrack (bench/README.md, "k) Heap").

    bench/heap.py [--quick] [--shim PATH] BUILD_DIR

Two programs, a malloc-heavy C one (bench/heapwork.c: 4 threads, millions of mixed-size
allocations, a tenth freed by another thread) and a Python 3.11 one (bench/heapwork.py: large
dicts, lists and strings), each run bare, under `memline run` (the control, no --heap), under
`memline run --heap` (defaults; for Python also --heap=exact, and bare with PYTHONMALLOC=malloc
beside it) and under Debian's heaptrack, in one run: rounds of alternating runs, the order
rotating from round to round, medians of the wall time and their ratio to bare. Then the memory
the shim adds: per block (1,000,000 blocks of 32 bytes held) and per thread (1000 threads that
each allocated once), RSS with the shim (LD_PRELOAD) minus RSS without, and the touched size
of its counters file. Prints two markdown tables.

The shim is --shim PATH, or $MEMLINE_BENCH_SHIM, or $MEMLINE_HEAP_LIB, or
BUILD_DIR/libmemline-heap.so (where memline finds it); memline run --heap is handed it in
$MEMLINE_HEAP_LIB, and each --heap run's log must say that the program's heap was counted.
When memline refuses --heap (exit 64: the recorder side is not there yet) the --heap rows say
so, and the shim is measured alone instead: LD_PRELOAD=SHIM MEMLINE_HEAP_DIR=DIR, no memline.
The memory part always preloads it that way.

Run by bench/run (letter k) with its process keeper: every command in a session of its own,
killed with it when it outlives its limit or the benchmark is interrupted. Run alone, this file
borrows that keeper from bench/run.
"""
import glob
import importlib.machinery
import importlib.util
import json
import os
import select
import signal
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = "/usr/bin/python3"

C_THREADS = 4
C_OPS = 5_000_000  # allocations per thread: about 2.5 s bare on a 2-core VM
PY_ROUNDS = 4  # about 3 s bare
REPS = 5  # runs of each setting
HEAPTRACK_REPS = 3  # heaptrack's runs: at 17x a C run takes most of a minute
TARGET = {"c": 1.3, "py": 1.15}
ISSUE_HEAPTRACK = {"c": 17, "py": 2.4}  # what heaptrack measured on such programs (issue 13)
HOLD_BLOCKS = 1_000_000
HOLD_SIZE = 32
THREADS = 1000
LIMIT = 120  # seconds one run may take before its session is killed
HEAPTRACK_LIMIT = 600
MEM_REPS = 3
NO_HEAP = "not met: memline has no --heap yet"


def heap_dir_base(tmp):
    """Where the counters files go: tmpfs (/dev/shm) if there is one, as a recording's private
    directory would be, so that no page of a file shared with the program is ever written back
    to a disk."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tmp


def note(msg):
    print("bench: heap: " + msg, file=sys.stderr, flush=True)


def median_range(xs):
    return "%.3f (%.3f–%.3f)" % (statistics.median(xs), min(xs), max(xs))


def tail(path, n=300):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return " ".join(text[-n:].split())


def read_log(log):
    """What a memline log says: its end record (or None), the header's heap mode (None without
    --heap), and its heap records (whether each process's heap was counted)."""
    end, mode, heaps = None, None, []
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                kind = rec.get("type")
                if kind == "header":
                    mode = (rec.get("heap") or {}).get("mode")
                elif kind == "heap":
                    heaps.append(rec)
                elif kind == "end":
                    end = rec
    except OSError:
        pass
    return end, mode, heaps


def busy_s():
    """CPU time the whole machine has been busy (not idle, not waiting for I/O), seconds, from
    /proc/stat; steal, what the hypervisor gave to others, included."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / os.sysconf("SC_CLK_TCK")


def build_heapwork(build):
    """Makes BUILD/bench/heapwork with the Makefile's rule; its path."""
    out = os.path.join(build, "bench", "heapwork")
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", REPO, "BUILD=" + build, out],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    if r.returncode or not os.access(out, os.X_OK):
        raise RuntimeError("cannot build %s" % out)
    return out


def heap_refused(procs, ml, flag, tmp):
    """Why memline refuses `run FLAG` (its usage exit, 64), or None if it takes it."""
    log = os.path.join(tmp, "heap-probe.jsonl")
    err = os.path.join(tmp, "heap-probe.err")
    with open(err, "wb") as e:
        status, _ = procs.run([ml, "run", "-q", "-o", log, flag, "--", "/bin/true"],
                              stderr=e, limit=LIMIT)
    return (tail(err) or "exit 64") if status == 64 else None


class Setting:
    """One way of running a program: its command, environment, and what it measured."""

    def __init__(self, key, label, argv, env=None, reps=REPS, limit=LIMIT, log=None,
                 heap_dir=False, skip=None, target=None, heap_mode=None):
        self.key, self.label, self.argv, self.env = key, label, argv, env
        self.reps, self.limit, self.log, self.heap_dir = reps, limit, log, heap_dir
        self.skip, self.target, self.heap_mode = skip, target, heap_mode
        self.wall, self.cpu, self.own, self.others, self.error = [], [], [], [], None

    def raw(self):
        return {"label": self.label, "argv": self.argv, "wall": self.wall, "cpu": self.cpu,
                "memline_own_cpu": self.own, "others_cpu": self.others,
                "error": self.error or self.skip}


def run_once(procs, s, tmp, expect):
    """Runs setting s once; adds its wall and CPU times, or sets its error."""
    out, err = os.path.join(tmp, "heap-run.out"), os.path.join(tmp, "heap-run.err")
    env = dict(os.environ, **(s.env or {}))
    heap_dir = None
    if s.heap_dir:
        heap_dir = tempfile.mkdtemp(prefix="memline-bench-heap-", dir=heap_dir_base(tmp))
        env["MEMLINE_HEAP_DIR"] = heap_dir
    if s.log and os.path.exists(s.log):
        os.unlink(s.log)
    try:
        with open(out, "wb") as o, open(err, "wb") as e:
            b0, t0 = busy_s(), time.monotonic()
            status, ru = procs.run(s.argv, limit=s.limit, stdout=o, stderr=e, env=env)
            wall, busy = time.monotonic() - t0, busy_s() - b0
        with open(out, "rb") as o:
            words = o.read().decode("utf-8", "replace").split()
        if status:
            s.error = "exit %d: %s" % (status, tail(err))
        elif expect is not None and expect not in words:
            s.error = "its output is not the bare run's (checksum %s)" % expect
        elif heap_dir is not None and not glob.glob(os.path.join(heap_dir, "heap.*")):
            s.error = "the shim made no counters file in MEMLINE_HEAP_DIR (not loaded?)"
        else:
            end, mode, heaps = read_log(s.log) if s.log else (None, None, [])
            if s.heap_mode and (mode != s.heap_mode or not any(h.get("on") for h in heaps)):
                # Not what this row claims to measure: say why rather than time it.
                whys = sorted({h.get("why", "") for h in heaps if not h.get("on")} - {""})
                s.error = "the log has heap mode %s and no process counted%s" % (
                    mode, (": " + "; ".join(whys)) if whys else "")
                return words
            s.wall.append(wall)
            s.cpu.append(ru.ru_utime + ru.ru_stime)
            # What the rest of the machine took meanwhile: the noise of this run's wall time.
            s.others.append(max(0.0, busy - s.cpu[-1]))
            if end:
                s.own.append((end.get("self_utime", 0) + end.get("self_stime", 0)) / 1000.0)
        return words
    except Exception as ex:  # BenchError (a run killed at its limit), OSError
        s.error = str(ex)
        return []
    finally:
        if heap_dir:
            shutil.rmtree(heap_dir, ignore_errors=True)
        for f in glob.glob(os.path.join(tmp, "heaptrack-run*")):
            os.unlink(f)


def settings_of(key, argv, ml, tmp, refused, shim):
    log = os.path.join(tmp, "heap-memline.jsonl")

    def memline(*opts):
        return [ml, "run", "-q", "-o", log, *opts, "--", *argv]

    out = [Setting("bare", "bare", argv)]
    if key == "py":
        out.append(Setting("bare_malloc", "bare, PYTHONMALLOC=malloc", argv,
                           env={"PYTHONMALLOC": "malloc"}))
    # memline finds the library beside itself; a shim named here is handed to it.
    lib = {"MEMLINE_HEAP_LIB": shim} if os.path.isfile(shim) else None
    out.append(Setting("memline", "memline run (no --heap): the control", memline(), log=log))
    out.append(Setting("heap", "memline run --heap (defaults)", memline("--heap"), env=lib,
                       log=log, skip=refused["--heap"] and NO_HEAP, target=TARGET[key],
                       heap_mode="malloc"))
    if key == "py":
        exact_skip = None
        if refused["--heap=exact"]:
            exact_skip = NO_HEAP if refused["--heap"] else "memline refuses --heap=exact"
        out.append(Setting("heap_exact", "memline run --heap=exact (PYTHONMALLOC=malloc)",
                           memline("--heap=exact"), env=lib, log=log, skip=exact_skip,
                           heap_mode="exact"))
    if refused["--heap"]:
        # The fallback until the recorder side lands: the shim alone, nobody sampling it.
        out.append(Setting("preload", "LD_PRELOAD shim alone, no memline (fallback)", argv,
                           env={"LD_PRELOAD": shim}, heap_dir=True,
                           skip=None if os.path.isfile(shim) else "no shim at %s" % shim))
    ht = shutil.which("heaptrack")
    out.append(Setting("heaptrack", "heaptrack -o FILE", ["heaptrack", "-o",
                                                          os.path.join(tmp, "heaptrack-run"),
                                                          *argv],
                       reps=HEAPTRACK_REPS, limit=HEAPTRACK_LIMIT,
                       skip=None if ht else "heaptrack missing (scripts/install-deps bench)"))
    return out


def measure_program(procs, key, argv, ml, tmp, refused, shim, reps, ht_reps):
    settings = settings_of(key, argv, ml, tmp, refused, shim)
    for s in settings:
        s.reps = min(s.reps, ht_reps if s.key == "heaptrack" else reps)
    bare = settings[0]
    # A first bare run, not counted: the page cache, Python's compiled files, the checksum.
    words = run_once(procs, bare, tmp, None)
    expect = words[-1] if words else None
    bare.wall, bare.cpu, bare.error = [], [], None
    for rep in range(max(s.reps for s in settings)):
        live = [s for s in settings if not s.skip and not s.error]
        if not live:
            break
        k = rep % len(live)
        for s in live[k:] + live[:k]:
            if len(s.wall) < s.reps:
                note("%s: %s, run %d" % (key, s.key, len(s.wall) + 1))
                run_once(procs, s, tmp, expect)
    return settings


def startup(procs, ml, tmp, refused, shim):
    """Median wall time of /bin/true under each tool: what the ratios include of start-up."""
    out = {}
    cases = [("bare", ["/bin/true"], None),
             ("memline", [ml, "run", "-q", "-o", os.path.join(tmp, "heap-true.jsonl"), "--",
                          "/bin/true"], None)]
    if not refused["--heap"]:
        cases.append(("memline --heap", [ml, "run", "-q", "-o",
                                         os.path.join(tmp, "heap-true.jsonl"), "--heap", "--",
                                         "/bin/true"],
                      {"MEMLINE_HEAP_LIB": shim} if os.path.isfile(shim) else None))
    if shutil.which("heaptrack"):
        cases.append(("heaptrack", ["heaptrack", "-o", os.path.join(tmp, "heaptrack-run"),
                                    "/bin/true"], None))
    for name, argv, env in cases:
        s = Setting(name, name, argv, env=env, reps=3)
        for _ in range(3):
            run_once(procs, s, tmp, None)
        out[name] = statistics.median(s.wall) if s.wall else None
    return out


# ---- what the shim adds to memory ----

def rss_kib(pid):
    """The process's resident pages, KiB: anonymous and shared memory (what the program and the
    shim hold: its heap, stacks, the counters file), and file-backed (the libraries' pages,
    which the kernel maps ahead in runs that vary with the page cache)."""
    r = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("RssAnon", "RssShmem", "RssFile"):
                r[k] = int(v.split()[0])
    return {"mem": r["RssAnon"] + r["RssShmem"], "file": r["RssFile"]}


# lib/heap/counters.h's struct heap_header: magic, version, slot_size, max_slots, n_slots, pid,
# flags, arg_start, forks, allocator, header_bytes.
HEADER = struct.Struct("<QIIIIiIQQ64sQ")
HEAP_MAGIC = 0x314c484d454d4c48
HEAP_HEADER_SIZE = 4096


def held(procs, argv, shim, tmp, env_add=None):
    """Starts argv (heapwork hold or threads), waits for its "ready", and returns its RSS then
    (rss_kib), and with the shim what its counters file says: the bytes of it that are touched
    (st_blocks), its slot size and the slots taken."""
    env = dict(os.environ, **(env_add or {}))
    heap_dir = None
    if shim:
        heap_dir = tempfile.mkdtemp(prefix="memline-bench-heap-", dir=heap_dir_base(tmp))
        env.update(LD_PRELOAD=shim, MEMLINE_HEAP_DIR=heap_dir)
    p = procs.start(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    try:
        if not select.select([p.stdout], [], [], LIMIT)[0] or p.stdout.readline() != b"ready\n":
            raise RuntimeError("%s did not get ready" % " ".join(argv))
        rss = rss_kib(p.pid)
        counters = None
        if heap_dir:
            files = glob.glob(os.path.join(heap_dir, "heap.*"))
            if len(files) != 1:
                raise RuntimeError("%d counters files in MEMLINE_HEAP_DIR, not 1" % len(files))
            with open(files[0], "rb") as f:
                head = f.read(HEADER.size)
            h = HEADER.unpack(head)
            if h[0] != HEAP_MAGIC:
                raise RuntimeError("the counters file has no header (magic %#x)" % h[0])
            counters = {"touched": os.stat(files[0]).st_blocks * 512, "slot_size": h[2],
                        "n_slots": h[4], "flags": h[6],
                        "allocator": h[9].split(b"\0", 1)[0].decode("utf-8", "replace"),
                        "header_bytes": h[10]}
        p.stdin.close()
        status, _ = procs.wait(p, LIMIT)
        if status:
            raise RuntimeError("%s: exit %d" % (" ".join(argv), status))
        return rss, counters
    finally:
        procs.kill(p)
        if heap_dir:
            shutil.rmtree(heap_dir, ignore_errors=True)


def measure_memory(procs, heapwork, shim, tmp, reps):
    """RSS of the hold and threads programs, big and small, with and without the shim (the
    median of reps), and the counters file's touched bytes."""
    cases = {"blocks": [heapwork, "hold", str(HOLD_BLOCKS), str(HOLD_SIZE)],
             "block": [heapwork, "hold", "1", str(HOLD_SIZE)],
             "threads": [heapwork, "threads", str(THREADS)],
             "thread": [heapwork, "threads", "1"]}
    # One malloc arena for the threads: which threads share which arena (and how much of each
    # is touched) is a race, which would vary the RSS by more than a slot per thread.
    one_arena = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=1"}
    out = {}
    for name, argv in cases.items():
        env = one_arena if name.startswith("thread") else None
        for with_shim in (False, True):
            runs = [held(procs, argv, shim if with_shim else None, tmp, env)
                    for _ in range(reps)]
            out[name + ("_shim" if with_shim else "")] = {
                "mem_kib": statistics.median(r[0]["mem"] for r in runs),
                "file_kib": statistics.median(r[0]["file"] for r in runs), "counters": runs[0][1]}
    return out


def memory_rows(mem, shim):
    if "error" in mem:
        return ["memory added by the shim: n/a: %s" % mem["error"]]

    def per(big, small, n, shim_side):
        tag = "_shim" if shim_side else ""
        return (mem[big + tag]["mem_kib"] - mem[small + tag]["mem_kib"]) * 1024.0 / n

    rows = ["| what (LD_PRELOAD=%s, MEMLINE_HEAP_DIR set; RSS: anonymous and shared memory) "
            "| bare | with the shim | added by the shim | expected |" % os.path.basename(shim),
            "| --- | ---: | ---: | ---: | --- |"]
    b, s = per("blocks", "block", HOLD_BLOCKS - 1, False), per("blocks", "block",
                                                               HOLD_BLOCKS - 1, True)
    c = mem["blocks_shim"]["counters"]
    rows.append("| RSS per block, %s blocks of %d B held (B) | %.1f | %.1f | %.1f | %d: the "
                "shim's header (its file's header_bytes), as malloc's size classes round it |"
                % ("{:,}".format(HOLD_BLOCKS), HOLD_SIZE, b, s, s - b, c["header_bytes"]))
    b, s = per("threads", "thread", THREADS - 1, False), per("threads", "thread", THREADS - 1,
                                                             True)
    rows.append("| RSS per thread, %d threads that allocated once (B) | %.0f | %.0f | %.0f | "
                "its share of the counters file (below), its one block's header |"
                % (THREADS, b, s, s - b))
    c1, cn = mem["block_shim"]["counters"], mem["threads_shim"]["counters"]
    expect = (HEAP_HEADER_SIZE + -(-cn["n_slots"] * cn["slot_size"] // 4096) * 4096) / THREADS
    rows.append("| counters file touched ÷ threads, %d threads (B) | — | %.1f | %.1f | %.1f: %d "
                "slots of %d B in whole pages, and the header page |" % (
                    THREADS, cn["touched"] / THREADS, cn["touched"] / THREADS, expect,
                    cn["n_slots"], cn["slot_size"]))
    bp, sp = mem["block"]["mem_kib"], mem["block_shim"]["mem_kib"]
    rows.append("| per process: RSS of 1 block and 1 thread (KiB) | %d | %d | %d | the "
                "library's data, and the counters file's touched: %d KiB (%d slot%s) |" % (
                    bp, sp, sp - bp, c1["touched"] // 1024, c1["n_slots"],
                    "" if c1["n_slots"] == 1 else "s"))
    bp, sp = mem["block"]["file_kib"], mem["block_shim"]["file_kib"]
    rows.append("| per process: file-backed RSS (KiB) | %d | %d | %d | the library's code, and "
                "the pages of libc its start reads: shared with every other process |"
                % (bp, sp, sp - bp))
    rows.append("")
    rows.append("The shim's files say: allocator %s, flags %#x." % (c1["allocator"] or "?",
                                                                     c1["flags"]))
    return rows


# ---- the tables ----

def spread(xs):
    return max(xs) / min(xs) - 1 if xs else 0


def program_rows(key, name, settings):
    rows = []
    by_key = {s.key: s for s in settings}
    bare = settings[0]
    bare_wall = statistics.median(bare.wall) if bare.wall else None
    bare_cpu = statistics.median(bare.cpu) if bare.cpu else None
    for s in settings:
        target = "≤ %gx" % s.target if s.target else ""
        if s.skip or s.error or not s.wall:
            why = s.skip or s.error or "no run"
            cells = ["n/a", "", "", "", ""]
            met = why if s.skip == NO_HEAP else "n/a: " + why
        else:
            wall, cpu = statistics.median(s.wall), statistics.median(s.cpu)
            cells = [median_range(s.wall) + ("" if len(s.wall) == s.reps else
                                             " [%d runs]" % len(s.wall)),
                     "%.2f" % (wall / bare_wall) if bare_wall else "n/a",
                     "%.2f" % cpu,
                     "%.2f" % (cpu / bare_cpu) if bare_cpu else "n/a",
                     "%.3f" % statistics.median(s.own) if s.own else ""]
            met = ""
            if s.target and bare_wall:
                met = "met" if wall / bare_wall <= s.target else "NOT met"
                # Runs that differ among themselves by more than the margin cannot tell
                # whether it is met: say so rather than claim a result.
                noise = max(spread(bare.wall), spread(s.wall))
                if noise > s.target - 1:
                    met += " (inconclusive: runs vary by %.0f%%)" % (noise * 100)
            if s.key == "heap_exact":
                ref = by_key.get("bare_malloc")
                if ref and ref.wall:
                    met = "÷ bare with PYTHONMALLOC=malloc: %.2f" % (
                        wall / statistics.median(ref.wall))
            if s.key == "heaptrack":
                met = "the issue: about %gx" % ISSUE_HEAPTRACK[key]
        rows.append("| %s | %s | %s | %s | %s |" % (
            name if s is bare else "", s.label, " | ".join(cells), target, met))
    return rows


def bench_heap(procs, build, tmp, quick, shim=None):
    """Runs part k; returns (markdown text, raw numbers)."""
    ml = os.path.join(build, "memline")
    shim = os.path.abspath(shim or os.environ.get("MEMLINE_BENCH_SHIM") or
                           os.environ.get("MEMLINE_HEAP_LIB") or
                           os.path.join(build, "libmemline-heap.so"))
    heapwork = build_heapwork(build)
    if not os.access(ml, os.X_OK):
        raise RuntimeError("%s not built" % ml)
    refused = {f: heap_refused(procs, ml, f, tmp) for f in ("--heap", "--heap=exact")}
    for f, why in refused.items():
        if why:
            note("memline refuses %s: %s" % (f, why))
    ops = C_OPS // 5 if quick else C_OPS
    rounds = 1 if quick else PY_ROUNDS
    reps, ht_reps = (2, 1) if quick else (REPS, HEAPTRACK_REPS)
    programs = [("c", "C, %d threads, %s allocations" % (C_THREADS, "{:,}".format(
                    C_THREADS * ops)), [heapwork, "churn", str(C_THREADS), str(ops)]),
                ("py", "Python 3.11, dicts, lists, strings (%d round%s)" % (
                    rounds, "" if rounds == 1 else "s"),
                 [PYTHON, os.path.join(REPO, "bench", "heapwork.py"), str(rounds)])]
    raw = {"shim": shim, "refused": refused, "quick": quick, "programs": {}}
    rows = ["| program | run | wall s, median (min–max) | ÷ bare | CPU s | CPU ÷ bare | "
            "memline's own CPU s | target | met |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"]
    others = []
    for key, name, argv in programs:
        settings = measure_program(procs, key, argv, ml, tmp, refused, shim, reps, ht_reps)
        rows += program_rows(key, name, settings)
        raw["programs"][key] = {s.key: s.raw() for s in settings}
        o = [x for s in settings if s.key != "heaptrack" for x in s.others]
        if o:
            others.append("%s: median %.2f s, most %.2f s" % (key == "c" and "C" or "Python",
                                                            statistics.median(o), max(o)))
    raw["startup"] = startup(procs, ml, tmp, refused, shim)
    if os.path.isfile(shim):
        try:
            raw["memory"] = measure_memory(procs, heapwork, shim, tmp, 1 if quick else MEM_REPS)
        except Exception as ex:  # BenchError, OSError, RuntimeError
            raw["memory"] = {"error": str(ex)}
    else:
        raw["memory"] = {"error": "no shim at %s (build it, or --shim PATH)" % shim}
    mode = ("`memline run --heap`, MEMLINE_HEAP_LIB=%s" % shim if not refused["--heap"] else
            "memline has no --heap yet: the shim alone by LD_PRELOAD (%s)" % shim)
    notes = ["", "--heap measured through: %s. Runs: %d of each setting (heaptrack %d), "
             "alternating, the order rotating each round; a first bare run not counted. "
             "CPU s: user + system of the whole command (memline or heaptrack included)."
             % (mode, reps, ht_reps),
             "Other processes' CPU during a run (the machine's busy time in /proc/stat less "
             "the command's own; heaptrack's runs left out): %s." % "; ".join(others or ["n/a"]),
             "Start-up, /bin/true, median of 3: " + ", ".join(
                 "%s %.3f s" % (k, v) for k, v in raw["startup"].items() if v is not None)
             + ".", ""]
    text = "\n".join(rows + notes + memory_rows(raw["memory"], shim)) + "\n"
    return text, raw


def main(argv):
    quick = "--quick" in argv
    args = [a for a in argv[1:] if a != "--quick"]
    shim = None
    if "--shim" in args:
        i = args.index("--shim")
        shim = args[i + 1] if i + 1 < len(args) else ""
        del args[i:i + 2]
    if len(args) != 1 or shim == "":
        print("usage: bench/heap.py [--quick] [--shim PATH] BUILD_DIR", file=sys.stderr)
        return 64
    build = os.path.abspath(args[0])
    tmp = os.path.join(build, "bench", "tmp")
    os.makedirs(tmp, exist_ok=True)
    # bench/run's process keeper: sessions of their own, killed at their limit or on the way out.
    loader = importlib.machinery.SourceFileLoader("bench_run", os.path.join(REPO, "bench", "run"))
    spec = importlib.util.spec_from_loader("bench_run", loader)
    run = importlib.util.module_from_spec(spec)
    loader.exec_module(run)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, run.on_signal)
    procs = run.Procs()
    try:
        text, _ = bench_heap(procs, build, tmp, quick, shim)
        print(text, end="")
        return 0
    except KeyboardInterrupt:
        note("interrupted")
        return 130
    finally:
        procs.kill_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
