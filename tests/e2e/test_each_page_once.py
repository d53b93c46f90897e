"""The job's memory without a cgroup: every page once.

Ground truth is a memory cgroup each test makes and runs the command in (`sh -c 'echo $$ >
CG/cgroup.procs && exec CMD'`, so that memline itself stays outside it): its peak charge
(memory.max_usage_in_bytes on cgroup v1, memory.peak on v2) is every page the job touched,
counted once. memline runs as an unprivileged user (nobody), who cannot make a cgroup of its own
on cgroup v1: its job's memory is the PSS sum (method pss), the subject of these tests. The RSS
sum of the same samples shows what counting a shared page once per process gives.

vfork-style spawns share their parent's address space until they exec: such a child is vm_of its
parent, with its memory fields 0 (kcmp(2) tells). posix_spawn with a FIFO as the child's stdin
holds the child in that state until the test opens the FIFO, so the test can see it.
"""

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from conftest import (MEMLINE, MEMWORK, MIB, TIMEOUT, _remove_cgroup, _try_v1, _try_v2,
                      end_of, field_pos, header_of, of_type, read_log, wait_until)

NOBODY = 65534
PY = "/usr/bin/python3"  # Debian's: nobody can run it (a pyenv under /root it cannot)
TOLERANCE = 0.05


class Truth:
    """A memory cgroup the test made, which the command moves itself into."""

    def __init__(self, cg, v2):
        self.cg, self.v2 = cg, v2

    def wrap(self, argv):
        procs = shlex.quote(str(self.cg / "cgroup.procs"))
        return ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *map(str, argv)]

    def peak_kib(self):
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        return int((self.cg / name).read_text()) // 1024

    def kernel_peak_kib(self):
        """The peak of what the cgroup charged for kernel memory (page tables, kernel stacks,
        slab: no process's RSS or PSS holds it), where cgroup v1 counts it apart; else 0."""
        f = self.cg / "memory.kmem.max_usage_in_bytes"
        return int(f.read_text()) // 1024 if not self.v2 and f.exists() else 0


@pytest.fixture
def truth():
    name = f"memline-truth-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    limit = 8 << 30
    cg, why1 = _try_v1(name, limit)
    v2, why2 = False, None
    if cg is None:
        cg, why2 = _try_v2(name, limit)
        v2 = cg is not None
    if cg is None:
        pytest.skip(f"no memory cgroup can be made here: {why1}; {why2}")
    for f in ("cgroup.procs", "tasks"):
        if (cg / f).exists():
            os.chown(cg / f, NOBODY, NOBODY)
    yield Truth(cg, v2)
    _remove_cgroup(cg)


@pytest.fixture
def nobody_dir():
    """A directory nobody can use, holding copies of memline and memwork (the build directory
    may be where nobody cannot reach)."""
    d = Path(tempfile.mkdtemp(prefix="memline-job-", dir="/tmp"))
    os.chmod(d, 0o1777)
    for b in (MEMLINE, MEMWORK):
        shutil.copy(b, d / b.name)
        os.chmod(d / b.name, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def start_as_nobody(d, argv, opts=(), log="job.jsonl"):
    """Starts `memline run -o LOG OPTS -- ARGV` as nobody in d; returns (Popen, log path)."""
    log = d / log
    out, err = open(d / "out", "w"), open(d / "err", "w")
    p = subprocess.Popen([str(d / "memline"), "run", "-o", str(log), *map(str, opts), "--",
                          *map(str, argv)], cwd=d, stdout=out, stderr=err, preexec_fn=as_nobody)
    out.close()
    err.close()
    return p, log


def finish(d, p):
    try:
        p.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError(f"memline did not end: {(d / 'err').read_text()[-2000:]}")
    assert p.returncode == 0, f"expected memline to exit 0, got {p.returncode}: {(d / 'err').read_text()[-2000:]}"


def record_as_nobody(d, argv, opts=()):
    p, log = start_as_nobody(d, argv, opts)
    finish(d, p)
    return read_log(log, allow_cut_last=False)


def tree_max(records, name):
    pos = field_pos(records, name, tree=True)
    return max(s["tree"][pos] or 0 for s in of_type(records, "sample"))


def check_job_peak(records, truth):
    """The job's peak (the end record's), by method pss, within TOLERANCE of its cgroup's peak:
    at most that peak, at least that peak less the kernel memory the cgroup charged."""
    h = header_of(records)
    assert h["memory"]["method"] == "pss", (
        f"expected the job's memory by PSS (no cgroup for nobody): {h['memory']}")
    job = end_of(records)["job_peak"]
    top, kernel = truth.peak_kib(), truth.kernel_peak_kib()
    low, high = (top - kernel) * (1 - TOLERANCE), top * (1 + TOLERANCE)
    assert job is not None and low <= job <= high, (
        f"expected the job's peak within {TOLERANCE:.0%} of its memory cgroup's peak {top} KiB "
        f"({kernel} KiB of it kernel memory): in [{low:.0f}, {high:.0f}], got {job} KiB (the RSS "
        f"sum's peak: {tree_max(records, 'peak')} KiB)")
    return job


def test_forked_copy_on_write_children_counted_once(truth, nobody_dir):
    """A parent holding 300 MiB forks 4 idle children that keep its pages (copy-on-write): the
    RSS sum says 5 x 300 MiB, the cgroup and the job's PSS sum about 300 MiB."""
    mw = nobody_dir / "memwork"
    kid = "sleep 1500"
    records = record_as_nobody(nobody_dir, truth.wrap(
        [mw, "alloc", "300M", "cow", kid, "cow", kid, "cow", kid, "cow", kid, "wait"]))
    t = truth.peak_kib()
    assert t >= 300 * MIB, f"expected the cgroup to have seen the 300 MiB, got {t} KiB"
    assert tree_max(records, "rss") >= 4 * t, (
        f"expected the RSS sum to count the shared pages once per process (about 5 x {t} KiB), "
        f"got {tree_max(records, 'rss')}: the children did not share")
    check_job_peak(records, truth)


def samples_of(records, pid):
    pid_pos = field_pos(records, "pid")
    return [(s["t"], q) for s in of_type(records, "sample") for q in s["p"] if q[pid_pos] == pid]


def test_posix_spawn_child_is_vm_of_its_parent(truth, nobody_dir):
    """memwork holding 100 MiB posix_spawns a child (glibc's vfork-style clone), held before its
    exec by a FIFO it opens: while it shares, its vm_of is its parent and its memory 0; after its
    exec its own; the job's peak is not doubled."""
    fifo = nobody_dir / "hold"
    os.mkfifo(fifo)
    os.chown(fifo, NOBODY, NOBODY)
    mw = nobody_dir / "memwork"
    p, log = start_as_nobody(nobody_dir, truth.wrap(
        [mw, "alloc", "100M", "spawn", fifo, "alloc 20M sleep 400", "wait"]), ["-i", "0.02"])
    try:
        def shared_child():
            try:
                records = read_log(log)
            except (FileNotFoundError, AssertionError):
                return None
            if not records or records[0].get("type") != "header":
                return None
            vm = field_pos(records, "vm_of")
            return next((q for s in of_type(records, "sample") for q in s["p"]
                         if q[vm] is not None), None)
        wait_until(shared_child, f"a sample of the spawned child sharing its parent's memory in {log}")
        # Let it go on: open the FIFO's other end.
        fd = os.open(fifo, os.O_WRONLY)
        os.close(fd)
        finish(nobody_dir, p)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    records = read_log(log, allow_cut_last=False)
    f = {n: field_pos(records, n) for n in ("pid", "vm_of", "rss", "peak", "anon")}
    parent = next(r["pid"] for r in of_type(records, "proc") if "alloc" in r["argv"] and "100M" in r["argv"])
    child = next(r["pid"] for r in of_type(records, "proc") if r["ppid"] == parent)
    during = [q for _, q in samples_of(records, child) if q[f["vm_of"]] is not None]
    assert during and all(q[f["vm_of"]] == parent for q in during), (
        f"expected the child {child}'s vm_of to be its parent {parent} while it shared: {during[:3]}")
    assert all(q[f["rss"]] == 0 and q[f["peak"]] == 0 for q in during), (
        f"expected the sharing child's rss and peak 0: {during[:3]}")
    execs = [r for r in of_type(records, "exec") if r["pid"] == child]
    assert execs, f"expected an exec record of the child {child}"
    after = [q for t, q in samples_of(records, child) if t > execs[0]["t"]]
    assert after and all(q[f["vm_of"]] is None for q in after), (
        f"expected the child's vm_of null once it exec'd: {after[:3]}")
    assert max(q[f["rss"]] for q in after) >= 20 * MIB, f"expected its own 20 MiB after its exec: {after[-3:]}"
    check_job_peak(records, truth)


SPAWNER = r"""
import os, subprocess, sys, time
x = bytearray(100 << 20)
for i in range(0, len(x), 4096):
    x[i] = 1
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    if sys.argv[1] == "system":
        os.system("true")
    else:
        subprocess.run(["true"])
"""


@pytest.mark.parametrize("how", ["system", "subprocess"])
def test_python_spawns_are_not_counted_twice(truth, nobody_dir, how):
    """A 100 MiB Python process that keeps starting `true` through os.system (glibc's
    posix_spawn: a vfork-style clone) or subprocess (vfork): the job's peak is the cgroup's, not
    double it. A sample that lands in a child's moment before its exec saw 100 MiB more."""
    script = nobody_dir / "spawner.py"
    script.write_text(SPAWNER)
    records = record_as_nobody(nobody_dir, truth.wrap([PY, script, how, "1.5"]), ["-i", "0.01"])
    assert len(of_type(records, "proc")) >= 3, "expected the recording to see some of the children"
    check_job_peak(records, truth)


def test_shared_memory_on_purpose_is_counted_once(truth, nobody_dir):
    """200 MiB of MAP_SHARED anonymous memory mapped and touched by a parent and 3 children
    (cow keeps it, touch faults it in): once in the job, as in the cgroup."""
    mw = nobody_dir / "memwork"
    kid = "touch sleep 1200"
    records = record_as_nobody(nobody_dir, truth.wrap(
        [mw, "shared", "200M", "cow", kid, "cow", kid, "cow", kid, "wait"]), ["-i", "0.02"])
    t = truth.peak_kib()
    assert tree_max(records, "shmem") >= 3 * 200 * MIB, (
        f"expected every process to map the 200 MiB (shmem sum {tree_max(records, 'shmem')} KiB)")
    check_job_peak(records, truth)


def test_shm_open_between_unrelated_programs_is_counted_once(truth, nobody_dir):
    """Two programs started apart (each its own exec) map one 200 MiB shm_open object."""
    mw = shlex.quote(str(nobody_dir / "memwork"))
    name = f"/memline-test-{uuid.uuid4().hex[:8]}"
    one = f"{mw} shm {name} 200M sleep 1500"
    try:
        records = record_as_nobody(nobody_dir, truth.wrap(
            ["/bin/sh", "-c", f"{one} & sleep 0.3; {one} & wait"]), ["-i", "0.02"])
    finally:
        Path("/dev/shm" + name).unlink(missing_ok=True)
    assert tree_max(records, "rss") >= 2 * 200 * MIB, "expected both programs to map the 200 MiB"
    check_job_peak(records, truth)


# ---- --pss: every process's PSS ----


def pss_of(records, pid):
    f = {n: field_pos(records, n) for n in ("pid", "pss")}
    return [(s["t"], q[f["pss"]]) for s in of_type(records, "sample") for q in s["p"] if q[f["pid"]] == pid]


def test_pss_is_the_new_program_s_after_an_exec(ml):
    """A shell memline saw before it exec'd a program holding 100 MiB: its PSS after the exec is
    the new program's (the smaps_rollup kept open was the shell's memory map)."""
    script = f"sleep 0.3; exec {shlex.quote(str(MEMWORK))} alloc 100M sleep 800"
    run = ml.record(["sh", "-c", script], opts=["-i", "0.05", "--pss"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    execs = [r for r in of_type(run.records, "exec") if r["pid"] == run.pid]
    assert execs, f"expected the shell {run.pid} to exec memwork"
    before = [v for t, v in pss_of(run.records, run.pid) if t < execs[0]["t"]]
    assert before and all(v is not None for v in before), f"expected the shell's PSS before its exec: {before}"
    after = [v for t, v in pss_of(run.records, run.pid) if t > execs[0]["t"]]
    assert after and max(v or 0 for v in after) >= 95 * MIB, (
        f"expected a PSS of about 100 MiB after the exec, got {after}")


def test_pss_right_after_forks(ml):
    """A parent holding 200 MiB forks 4 children that keep its pages: in every sample with all
    five, their PSS sum is the 200 MiB once. The parent's PSS is read again when its family
    changed, not a second later (it stayed at 200 MiB while its children had their shares)."""
    kid = "sleep 1000"
    run = ml.run_memwork("alloc", "200M", "cow", kid, "cow", kid, "cow", kid, "cow", kid, "wait",
                         opts=["-i", "0.1", "--pss"])
    assert run.code == 0, f"expected exit 0; {run.describe()}"
    fields = header_of(run.records)["fields"]
    pid, pss = fields.index("pid"), fields.index("pss")
    full = [s for s in of_type(run.records, "sample") if len(s["p"]) == 5
            and all(q[pss] is not None for q in s["p"])]
    assert full, "expected samples of the parent and its 4 children with their PSS"
    for s in full:
        total = sum(q[pss] for q in s["p"])
        assert 200 * MIB * 0.95 <= total <= 200 * MIB * 1.10, (
            f"expected the 5 processes' PSS to sum to the 200 MiB once at t={s['t']}, got "
            f"{total} KiB: {[(q[pid], q[pss]) for q in s['p']]}")
