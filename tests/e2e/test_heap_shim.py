"""The heap library, libmemline-heap.so (lib/heap/, docs/heap.md), preloaded into real
programs without memline: the stress program tests/workload/heapstress.c checks its own
counters exactly (each scenario in a process of its own, then all of them under jemalloc); and
CPython, threads racing to a process's first allocation, a program with its own malloc, a
static binary and `sh -c` exec chains run under it, their counters files read here
(lib/heap/counters.h's layout, with struct).

`make e2e` builds $(BUILD)/libmemline-heap.so and $(BUILD)/heapstress (never sanitized, in the
SAN=1 build too). Nothing here asserts on time: every wait is a process's exit.
"""

import os
import re
import shutil
import struct
import subprocess
import textwrap
from pathlib import Path

import pytest

from conftest import BUILD, REPO, TIMEOUT

SHIM = BUILD / "libmemline-heap.so"
HEAPSTRESS = BUILD / "heapstress"
JEMALLOC = Path("/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
PYTHON = "/usr/bin/python3"
CSRC = REPO / "tests" / "e2e" / "c"

# lib/heap/counters.h
HEAP_MAGIC = 0x314C484D454D4C48
HEADER_SIZE, SLOT_SIZE, MAX_SLOTS, FILE_SIZE = 4096, 128, 8192, 4096 + 8192 * 128
F_READY, F_FOREIGN, F_NOT_INTERPOSED, F_BOOTSTRAP_FULL = 1, 2, 4, 8
TID_SHARED = -1


def read_heap_file(path):
    """A counters file: its header as a dict, with "slots", the taken ones (tid not 0)."""
    b = Path(path).read_bytes()
    assert len(b) == FILE_SIZE, f"{path}: expected {FILE_SIZE} bytes, found {len(b)}"
    magic, version, slot_size, max_slots, n_slots, pid, flags, arg_start, forks = \
        struct.unpack_from("<QIIIIiIQQ", b, 0)
    allocator = b[48:112].split(b"\0", 1)[0].decode()
    header_bytes, = struct.unpack_from("<Q", b, 112)
    h = dict(magic=magic, version=version, slot_size=slot_size, max_slots=max_slots,
             n_slots=n_slots, pid=pid, flags=flags, arg_start=arg_start, forks=forks,
             allocator=allocator, header_bytes=header_bytes, slots=[])
    assert magic == HEAP_MAGIC and flags & F_READY, f"{path}: not a ready counters file: {h}"
    for i in range(min(n_slots, MAX_SLOTS)):
        off = HEADER_SIZE + i * SLOT_SIZE
        tid, _, alloc, nalloc, own_free, own_nfree, mmap, peak = struct.unpack_from("<iI5Qq", b, off)
        remote_free, remote_nfree, munmap = struct.unpack_from("<3Q", b, off + 64)
        if tid == 0:
            continue
        h["slots"].append(dict(tid=tid, alloc=alloc, nalloc=nalloc, own_free=own_free,
                               own_nfree=own_nfree, remote_free=remote_free,
                               remote_nfree=remote_nfree, mmap=mmap, munmap=munmap, peak=peak,
                               live=alloc - own_free - remote_free + mmap - munmap))
    return h


def heap_files(d):
    """pid -> path of every counters file in d."""
    return {int(p.name.split(".", 1)[1]): p for p in Path(d).glob("heap.*")}


def total(h, key):
    return sum(s[key] for s in h["slots"])


def shim_env(heap_dir, preload=(), **extra):
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "MEMLINE_HEAP_DIR", "PYTHONMALLOC", "HEAPSTRESS_ALLOCATOR"):
        env.pop(k, None)
    env["LD_PRELOAD"] = " ".join([str(SHIM), *map(str, preload)])
    if heap_dir is not None:
        env["MEMLINE_HEAP_DIR"] = str(heap_dir)
    env.update(extra)
    return env


def run(cmd, env, cwd, timeout=TIMEOUT):
    p = subprocess.run([str(c) for c in cmd], env=env, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    return p


def describe(p):
    return f"exit {p.returncode}\nstdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"


@pytest.fixture
def heap_dir(tmp_path):
    assert SHIM.exists(), f"expected the heap library at {SHIM} (make build/libmemline-heap.so)"
    assert HEAPSTRESS.exists(), f"expected the stress program at {HEAPSTRESS} (make build/heapstress)"
    d = tmp_path / "heap"
    d.mkdir()
    return d


def stress(heap_dir, *scenarios, preload=(), **extra):
    """heapstress SCENARIOS under the library; fails the test unless every one said ok."""
    p = run([HEAPSTRESS, *scenarios], shim_env(heap_dir, preload, **extra), heap_dir.parent,
            timeout=300)
    assert p.returncode == 0, f"expected heapstress {' '.join(scenarios)} to pass: {describe(p)}"
    for s in scenarios:
        if not s[0].isdigit():
            assert f"ok {s}" in p.stdout.split("\n"), f"expected 'ok {s}' from heapstress: {describe(p)}"
    assert p.stderr == "", f"expected nothing on stderr: {p.stderr!r}"
    return p


def compile_c(tmp_path, name, *flags):
    cc = os.environ.get("CC", "cc")
    out = tmp_path / name
    cmd = [cc, "-std=gnu17", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out),
           str(CSRC / f"{name}.c"), *flags]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    return out, p


# ---- the stress program, scenario by scenario ----

SCENARIOS = ["file", "basic", "calloc", "realloc", "align", "peak", "foreign", "mmap", "mremap",
             "bigalloc", "threads", "exit-thread", "fork", "fork-threads", "slots"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_stress(heap_dir, scenario):
    p = stress(heap_dir, scenario)
    files = heap_files(heap_dir)
    assert files, "expected a counters file"
    for pid, path in files.items():
        h = read_heap_file(path)
        assert h["pid"] == pid and h["header_bytes"] == 16 and h["version"] == 1, h
        for s in h["slots"]:
            assert s["live"] >= 0, f"{path}: a slot with negative live bytes: {s}"
    if scenario == "file":
        m = re.search(r"pid (\d+) allocator (\S+) flags (\d+) arg_start (\d+)", p.stdout)
        assert m, p.stdout
        h = read_heap_file(files[int(m.group(1))])
        assert h["allocator"].endswith("/libc.so.6") and h["flags"] == F_READY, h
        assert h["arg_start"] == int(m.group(4)) and h["forks"] == 0, h


def test_stress_threads_other_shapes(heap_dir):
    stress(heap_dir, "threads", "2", "100000")
    stress(heap_dir, "threads", "40", "3000")


def test_fork_files_one_per_process(heap_dir):
    """fork: the parent, its child and grandchild each made a file of their own, forks 0, 1, 2
    deep; the children's counts are theirs alone (heapstress checked them from inside)."""
    stress(heap_dir, "fork")
    files = {pid: read_heap_file(p) for pid, p in heap_files(heap_dir).items()}
    assert sorted(h["forks"] for h in files.values()) == [0, 1, 2], files
    for pid, h in files.items():
        assert h["pid"] == pid, h
    parent = min(files.values(), key=lambda h: h["forks"])
    assert all(h["arg_start"] == parent["arg_start"] for h in files.values()), \
        "expected a fork's child to have its parent's arg_start (the same image)"


def test_exec_replaces_the_file(heap_dir):
    p = stress(heap_dir, "exec")
    files = heap_files(heap_dir)
    assert len(files) == 1, f"expected one file, the new image's, found {sorted(files)}"
    h = read_heap_file(next(iter(files.values())))
    m = re.search(r"arg_start before exec (\d+), after (\d+)", p.stdout)
    assert m and h["arg_start"] == int(m.group(2)), (p.stdout, h)
    assert h["forks"] == 0, h


def test_all_at_once_and_exec(heap_dir):
    stress(heap_dir, "all", "slots", "exec")


# ---- jemalloc after us ----

@pytest.fixture
def jemalloc():
    if not JEMALLOC.exists():
        pytest.skip(f"no {JEMALLOC} (Debian's libjemalloc2; scripts/install-deps test installs it)")
    return JEMALLOC


def test_stress_under_jemalloc(heap_dir, jemalloc):
    """jemalloc preloaded after us is the allocator we call: every count still exact, and its
    own mmaps (it maps through the PLT, so through us) not counted (bigalloc checks it)."""
    stress(heap_dir, "all", "slots", "exec", preload=[jemalloc],
           HEAPSTRESS_ALLOCATOR="libjemalloc.so.2")
    h = read_heap_file(next(iter(heap_files(heap_dir).values())))
    assert h["allocator"] == str(jemalloc) and h["flags"] == F_READY | F_FOREIGN, h


def test_python_under_jemalloc(heap_dir, jemalloc):
    code = "d = {i: str(i) * 20 for i in range(200000)}; print(len(d))"
    p = run([PYTHON, "-c", code], shim_env(heap_dir, [jemalloc]), heap_dir.parent)
    assert p.returncode == 0 and p.stdout == "200000\n" and p.stderr == "", describe(p)
    files = heap_files(heap_dir)
    assert len(files) == 1, sorted(files)
    h = read_heap_file(next(iter(files.values())))
    assert "jemalloc" in h["allocator"] and h["flags"] & F_FOREIGN, h
    assert total(h, "alloc") > 4 << 20 and total(h, "mmap") > 4 << 20, h


# ---- CPython ----

PY_PROGRAM = textwrap.dedent("""
    import threading
    rows = [{"n": i, "s": str(i) * 3, "l": list(range(i % 50))} for i in range(100000)]
    out = []
    def work():
        out.append(sum(len(r["l"]) for r in rows) + len({r["s"] for r in rows}))
    t = threading.Thread(target=work)
    t.start()
    t.join()
    print(out[0])
""")
PY_ANSWER = str(sum(i % 50 for i in range(100000)) + 100000) + "\n"


@pytest.mark.parametrize("pymalloc", ["pymalloc", "malloc"])
def test_python(heap_dir, pymalloc):
    """CPython 3.11 runs as it does without us; its arenas (pymalloc's, 1 MiB each, mmap'd)
    show as mmap; with PYTHONMALLOC=malloc every object is a malloc."""
    extra = {"PYTHONMALLOC": "malloc"} if pymalloc == "malloc" else {}
    p = run([PYTHON, "-c", PY_PROGRAM], shim_env(heap_dir, **extra), heap_dir.parent)
    assert p.returncode == 0 and p.stdout == PY_ANSWER and p.stderr == "", describe(p)
    files = heap_files(heap_dir)
    assert len(files) == 1, sorted(files)
    h = read_heap_file(next(iter(files.values())))
    assert h["flags"] == F_READY and h["allocator"].endswith("/libc.so.6"), h
    assert len(h["slots"]) >= 2, f"expected the main thread's and the worker's slots: {h['slots']}"
    for s in h["slots"]:
        assert s["live"] >= 0 and s["nalloc"] > 0, s
    if pymalloc == "pymalloc":
        assert total(h, "mmap") >= 8 << 20, f"expected pymalloc's arenas as mmap: {h['slots']}"
    else:
        assert total(h, "alloc") >= 30 << 20, f"expected every object as malloc: {h['slots']}"
        assert total(h, "nalloc") >= 300000, h["slots"]


def test_threads_race_to_the_first_allocation(heap_dir, tmp_path):
    """A library whose constructor runs before ours starts 8 threads that allocate at once:
    they race to find the real functions and make the file (the bootstrap arena serves them
    meanwhile). Every block comes back right, and every thread's counts add up: each block
    counted when allocated is counted when freed."""
    lib, p = compile_c(tmp_path, "early_threads", "-fPIC", "-shared", "-fno-builtin", "-pthread")
    assert p.returncode == 0, p.stderr
    for _ in range(5):
        for f in heap_dir.glob("heap.*"):
            f.unlink()
        r = run([PYTHON, "-c", "print('main ok')"], shim_env(heap_dir, [lib]), tmp_path)
        assert r.returncode == 0 and r.stdout == "main ok\n", describe(r)
        assert r.stderr == "early: 8 threads ok\n", describe(r)
        files = heap_files(heap_dir)
        assert len(files) == 1, sorted(files)
        h = read_heap_file(next(iter(files.values())))
        workers = [s for s in h["slots"] if s["tid"] != h["pid"]]
        assert len(workers) == 8, h["slots"]
        for s in workers:
            assert s["nalloc"] == s["own_nfree"] and s["alloc"] == s["own_free"], s
            assert s["live"] == 0 and s["remote_nfree"] == 0, s
        # each thread makes 40000 blocks; only those made while another thread was making the
        # file (a few system calls' time) may go uncounted
        assert sum(s["nalloc"] for s in workers) >= 8 * 40000 - 2000, workers


# ---- programs the library cannot count, or not all of ----

def test_own_malloc_is_not_interposed(heap_dir, tmp_path):
    """A program whose executable brings its own malloc: ours never wins, the file says so and
    names the executable, and only its anonymous mmap is counted."""
    prog, p = compile_c(tmp_path, "own_malloc")
    assert p.returncode == 0, p.stderr
    r = run([prog], shim_env(heap_dir), tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("own malloc "), describe(r)
    pid = int(r.stdout.split()[2])
    h = read_heap_file(heap_files(heap_dir)[pid])
    assert h["flags"] == F_READY | F_FOREIGN | F_NOT_INTERPOSED, h
    assert h["allocator"].endswith("own_malloc"), h
    assert total(h, "alloc") == 0 and total(h, "mmap") == 1 << 20, h["slots"]


def test_static_binary_just_runs(heap_dir, tmp_path):
    prog, p = compile_c(tmp_path, "static_hello", "-static")
    if p.returncode != 0:
        pytest.skip(f"cannot link a static program here (libc.a?): {p.stderr[-500:]}")
    r = run([prog], shim_env(heap_dir), tmp_path)
    assert r.returncode == 0 and r.stdout == "static ok\n" and r.stderr == "", describe(r)
    assert not heap_files(heap_dir), "expected no counters file: LD_PRELOAD does nothing to it"


@pytest.mark.parametrize("where", ["unset", "missing", "a file"])
def test_nowhere_to_count_passes_through(tmp_path, where):
    """No $MEMLINE_HEAP_DIR, or one where no file can be made: programs run as without us."""
    assert SHIM.exists(), f"expected {SHIM}"
    d = {"unset": None, "missing": tmp_path / "nope", "a file": tmp_path / "f"}[where]
    (tmp_path / "f").write_text("")
    p = run([PYTHON, "-c", PY_PROGRAM], shim_env(d), tmp_path)
    assert p.returncode == 0 and p.stdout == PY_ANSWER and p.stderr == "", describe(p)
    p = run(["sh", "-c", "ls / | sort | wc -l"], shim_env(d), tmp_path)
    assert p.returncode == 0 and int(p.stdout) > 3 and p.stderr == "", describe(p)
    assert not list(tmp_path.rglob("heap.*")), "expected no counters file"


# ---- shells ----

def test_sh_exec_chain(heap_dir):
    """sh execs sh execs heapstress, one pid throughout: one file, the last image's."""
    cmd = ["sh", "-c", f"exec sh -c 'exec {HEAPSTRESS} file'"]
    p = subprocess.Popen(cmd, env=shim_env(heap_dir), cwd=heap_dir.parent, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0 and "ok file" in out and err == "", (out, err)
    m = re.search(r"pid (\d+) allocator \S+ flags \d+ arg_start (\d+)", out)
    assert m and int(m.group(1)) == p.pid, out
    files = heap_files(heap_dir)
    assert list(files) == [p.pid], f"expected only the file of pid {p.pid}: {sorted(files)}"
    h = read_heap_file(files[p.pid])
    assert h["arg_start"] == int(m.group(2)) and h["forks"] == 0, h


def test_sh_children(heap_dir):
    """sh runs heapstress twice (forked and exec'd; the last one maybe exec'd in sh's own
    process, as dash does): a file for each process, each its last image's."""
    cmd = ["sh", "-c", f"{HEAPSTRESS} file basic; {HEAPSTRESS} file mmap"]
    p = subprocess.Popen(cmd, env=shim_env(heap_dir), cwd=heap_dir.parent, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0 and out.count("ok file") == 2 and err == "", (out, err)
    kids = [int(x) for x in re.findall(r"pid (\d+) allocator", out)]
    files = heap_files(heap_dir)
    assert len(kids) == 2 and kids[0] != p.pid, (out, p.pid)
    assert set(files) == {p.pid, *kids}, (sorted(files), p.pid, kids)
    for pid in kids:
        h = read_heap_file(files[pid])
        assert h["forks"] == 0, f"an exec'd child's file is its new image's: {h}"
    sh = read_heap_file(files[p.pid])
    assert total(sh, "nalloc") > 0, sh
