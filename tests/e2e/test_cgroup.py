"""The job's own memory cgroup (lib/record/cgroup.c): memline run makes one, starts the command
in it, reads its charge and peak, and removes it at the end; --cgroup PATH records an existing
one; OOM kills are the job's only when a counter of the job's own rose.

Ground truth is a memory cgroup the test makes itself and runs memline in: it holds memline and
the job's cgroup memline makes under it, so its peak (v1 memory.max_usage_in_bytes, v2
memory.peak) is the job's plus memline's own few MiB; the kernel's OOM counters; the processes'
own pid files. These tests need root and a memory controller (on this project's machine cgroup
v1; on a cgroup v2 machine the same tests run where the test can make a cgroup with the memory
controller), and are skipped without.
"""

import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from conftest import (MIB, MEMWORK, TIMEOUT, Run, _remove_cgroup, _try_v1, _try_v2, end_of,
                      header_of, of_type, read_log, read_pidfile, wait_for_records, wait_until)

V1_ROOT = Path("/sys/fs/cgroup/memory")


def _v2_root():
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        try:
            if "memory" in (root / "cgroup.subtree_control").read_text().split():
                return root
        except OSError:
            pass
    return None


class Cgroup:
    """A memory cgroup the test made: its directory, version, and the kernel's numbers."""

    def __init__(self, path, version):
        self.path = Path(path)
        self.version = version

    def read(self, name):
        return (self.path / name).read_text()

    def peak_kib(self):
        """The highest charge since it was made, KiB."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        return int(self.read(name)) // 1024

    def oom_kills(self):
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        for line in self.read(name).splitlines():
            k, _, v = line.partition(" ")
            if k == "oom_kill":
                return int(v)
        raise AssertionError(f"no oom_kill counter in {self.path / name}")

    def hierarchy_path(self):
        """Its path as /proc/PID/cgroup names it (these tests make it under the mount's root)."""
        root = V1_ROOT if self.version == 1 else _v2_root()
        return "/" + str(self.path.relative_to(root))

    def enter(self):
        """For preexec_fn: moves the calling (child) process into the cgroup."""
        path = str(self.path / "cgroup.procs")

        def move():
            with open(path, "w") as f:
                f.write("0")
        return move


def _make(limit=None):
    name = f"memline-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    if os.geteuid() != 0:
        pytest.skip("needs root to make memory cgroups")
    if (V1_ROOT / "memory.limit_in_bytes").exists():
        if limit is not None:
            cg, why = _try_v1(name, limit)
            return (Cgroup(cg, 1), None) if cg else (None, why)
        cg = V1_ROOT / name
        try:
            cg.mkdir()
        except OSError as e:
            return None, f"cannot create {cg}: {e}"
        return Cgroup(cg, 1), None
    root = _v2_root()
    if root is None:
        return None, "no memory cgroup hierarchy this test can make a cgroup in"
    if limit is not None:
        cg, why = _try_v2(name, limit)
        return (Cgroup(cg, 2), None) if cg else (None, why)
    cg = root / name
    try:
        cg.mkdir()
    except OSError as e:
        return None, f"cannot create {cg}: {e}"
    return Cgroup(cg, 2), None


@pytest.fixture
def cgroups():
    """make(limit=None) -> a fresh memory cgroup (limit in bytes, no swap); all removed after."""
    made = []

    def make(limit=None):
        cg, why = _make(limit)
        if cg is None:
            pytest.skip(f"no memory cgroup can be made here: {why}")
        made.append(cg)
        return cg
    yield make
    for cg in reversed(made):
        # memline's cgroups under it first (a failed test may leave one)
        for sub in sorted(cg.path.glob("memline-*"), reverse=True):
            _remove_cgroup(sub)
        _remove_cgroup(cg.path)


def memory_of(run):
    return header_of(run.records)["memory"]


def max_job(records):
    pos = header_of(records)["tree_fields"].index("job")
    return max((s["tree"][pos] for s in of_type(records, "sample") if s["tree"][pos] is not None),
               default=None)


def run_in(ml, cg, command, opts=()):
    """`memline run OPTS -- COMMAND` started inside cgroup cg: a Run."""
    log = ml.logpath()
    p = ml.popen("run", "-o", log, *opts, "--", *command, preexec_fn=cg.enter())
    out, err = ml.finish(p, timeout=TIMEOUT)
    run = Run(p.returncode, out, err, log)
    if log.exists():
        run.records = read_log(log)
    return run


PY_COW = """
import os, sys, time
buf = bytearray(300 * 1024 * 1024)
for i in range(0, len(buf), 4096):
    buf[i] = 1
kids = []
for _ in range(4):
    pid = os.fork()
    if pid == 0:
        time.sleep(0.6)  # idle: every page still shared with the parent
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
"""


def test_copy_on_write_children_counted_once(ml, cgroups):
    """A parent holding 300 MB forks 4 idle children: every page is shared. The job's peak is
    its cgroup's, within 5% of the peak of the cgroup the test made and ran memline in (which
    holds memline's own memory too: the difference is at most what memline itself used), where
    the processes' RSS sum counts the 300 MB five times."""
    cg = cgroups()
    run = run_in(ml, cg, ["/usr/bin/python3", "-c", PY_COW], opts=["-i", "0.05"])
    assert run.code == 0, run.describe()
    mem = memory_of(run)
    assert mem["method"] == "cgroup", f"expected the job's memory from its cgroup: {mem}"
    c = mem["cgroup"]
    assert c["own"] is True and c["version"] == cg.version, c
    assert Path(c["path"]).parent == cg.path, f"expected the job's cgroup under {cg.path}: {c}"
    truth = cg.peak_kib()
    job_peak = run.end["job_peak"]
    assert job_peak is not None and abs(job_peak - truth) <= 0.05 * truth, (
        f"expected the job's peak {job_peak} KiB within 5% of the test's cgroup's peak {truth} KiB")
    # The test's cgroup holds the job's and memline: its peak is at least the job's.
    assert job_peak <= truth, f"the job's peak {job_peak} KiB above its parent cgroup's {truth}"
    # The run did share its pages: the RSS sum counted them several times over.
    tree_peak = max(s["tree"][header_of(run.records)["tree_fields"].index("peak")]
                    for s in of_type(run.records, "sample"))
    assert tree_peak > 2 * truth, f"expected the RSS sum ({tree_peak}) to over-count the shared pages"
    assert not Path(c["path"]).exists(), f"expected the job's cgroup removed: {c['path']}"


def test_short_children_in_the_peak(ml, cgroups):
    """Ten children one after another, each touching 200 MiB for about 80 ms, at -i 1: polling
    sees almost none of them; the cgroup's peak since the previous sample holds every one."""
    cg = cgroups()
    steps = []
    for _ in range(10):
        steps += ["child", "spike 200M 80", "wait"]
    run = run_in(ml, cg, [MEMWORK, *steps], opts=["-i", "1"])
    assert run.code == 0, run.describe()
    assert memory_of(run)["method"] == "cgroup", memory_of(run)
    truth = cg.peak_kib()
    assert truth >= 200 * MIB, f"the workload did not touch 200 MiB at once? cgroup peak {truth}"
    job_peak = run.end["job_peak"]
    assert job_peak is not None and job_peak >= 200 * MIB, (
        f"expected the job's peak at least 200 MiB (cgroup peak {truth} KiB), got {job_peak}")
    assert job_peak <= truth, (job_peak, truth)


def test_cgroup_removed_and_a_survivor_runs_on(ml, cgroups, tmp_path, killer):
    """The command exits, leaving an orphan that runs on: memline ends (no --wait), the orphan
    keeps running, moved back to the cgroup memline runs in, and the job's cgroup is gone."""
    cg = cgroups()
    pf = tmp_path / "orphan.pid"
    run = run_in(ml, cg, [MEMWORK, "orphan", f"pidfile {pf} waitsig", "sleep", "200"],
                 opts=["-i", "0.05"])
    orphan = read_pidfile(pf)
    killer.append(orphan)
    assert run.code == 0, run.describe()
    c = memory_of(run)["cgroup"]
    assert c and c["own"], memory_of(run)
    assert orphan in run.end["alive"], f"expected the orphan {orphan} alive at the end: {run.end}"
    assert os.path.exists(f"/proc/{orphan}"), "expected the orphan to outlive memline"
    assert not Path(c["path"]).exists(), f"expected the job's cgroup removed: {c['path']}"
    lines = Path(f"/proc/{orphan}/cgroup").read_text().splitlines()
    mine = [ln.split(":", 2)[2] for ln in lines
            if (cg.version == 1 and "memory" in ln.split(":")[1].split(","))
            or (cg.version == 2 and ln.startswith("0::"))]
    assert mine == [cg.hierarchy_path()], f"expected the orphan in {cg.hierarchy_path()}: {lines}"
    os.kill(orphan, signal.SIGUSR1)
    wait_until(lambda: not os.path.exists(f"/proc/{orphan}/cmdline")
               or not Path(f"/proc/{orphan}/cmdline").read_bytes(), "the orphan to exit")


def test_no_cgroup(ml, cgroups):
    cg = cgroups()
    run = run_in(ml, cg, [MEMWORK, "alloc", "20M", "sleep", "100"], opts=["--no-cgroup", "-i", "0.05"])
    assert run.code == 0, run.describe()
    mem = memory_of(run)
    # without a cgroup, the job's memory is its processes' PSS sum
    assert mem["method"] == "pss" and mem["cgroup"] is None, mem
    assert not of_type(run.records, "warning"), "--no-cgroup is asked for: nothing to warn of"
    assert not list(cg.path.glob("memline-*")), "expected no cgroup made with --no-cgroup"


def test_oom_kill_in_the_jobs_cgroup(ml, cgroups):
    """The job outgrows the 64 MiB cgroup memline runs in: the OOM killer kills it inside the
    job's own cgroup, whose counter says so."""
    cg = cgroups(limit=64 * 1024 * 1024)
    before = vmstat_oom_kills()
    run = run_in(ml, cg, [MEMWORK, "alloc", "300M", "sleep", "1000"], opts=["-i", "0.05"])
    # The kernel counts the kill (v1: in the victim's own cgroup only, the job's, gone now).
    assert vmstat_oom_kills() > before, "expected the kernel to count an OOM kill"
    if cg.version == 2:
        assert cg.oom_kills() > 0, "expected the kill in the test's cgroup's memory.events"
    assert memory_of(run)["method"] == "cgroup", memory_of(run)
    assert run.code == 137, run.describe()
    end = run.end
    assert end["status"] == "oom-killed" and run.pid in end["oom_killed"], end


def vmstat_oom_kills():
    for line in Path("/proc/vmstat").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    raise AssertionError("no oom_kill in /proc/vmstat")


def _proc_children(records, ppid):
    return [r["pid"] for r in of_type(records, "proc") if r["ppid"] == ppid]


@pytest.mark.parametrize("opts", [[], ["--no-cgroup"]], ids=["own-cgroup", "no-cgroup"])
def test_oom_kill_elsewhere_is_not_the_jobs(ml, cgroups, tmp_path, opts):
    """The issue's false oom-killed: while the job's children are alive, the OOM killer kills a
    process in another cgroup; then the children exit and their own parent reaps them (memline
    sees them vanish), and the job exits 3. Nothing of the job was killed: it failed, no more."""
    log = ml.logpath()
    pf = tmp_path / "parent.pid"
    p = ml.popen("run", "-o", log, "-i", "0.05", *opts, "--", MEMWORK, "child", "waitsig",
                 "child", "waitsig", "pidfile", pf, "wait", "exit", "3")
    parent = read_pidfile(pf)
    wait_until(lambda: len(_proc_children(read_log(log), parent)) == 2
               if log.exists() else False, "both children in the log")
    kids = _proc_children(read_log(log), parent)
    other = cgroups(limit=64 * 1024 * 1024)
    vm_before = vmstat_oom_kills()
    before = other.oom_kills()
    victim = subprocess.run([MEMWORK, "alloc", "300M", "sleep", "1000"], preexec_fn=other.enter(),
                            timeout=TIMEOUT)
    assert victim.returncode == -signal.SIGKILL and other.oom_kills() > before, (
        "expected the OOM killer to kill the process in the other cgroup")
    assert vmstat_oom_kills() > vm_before, "expected /proc/vmstat to count the OOM kill"
    for k in kids:
        os.kill(k, signal.SIGUSR1)
    ml.finish(p)
    assert p.returncode == 3, f"expected memline to exit 3 like the job; got {p.returncode}"
    end = end_of(read_log(log))
    assert end["status"] == "failed" and end["exit_code"] == 3, end
    assert end["oom_killed"] == [], f"expected no OOM kill of the job's: {end}"


def test_unprivileged_user_has_no_cgroup(ml, tmp_path):
    """As 'nobody' on cgroup v1 no memory cgroup can be made: the run records as before, method
    rss, and the log says why once (no warning on the terminal)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run memline as nobody")
    shared = tempfile.mkdtemp(prefix="memline-nobody-", dir="/tmp")
    os.chmod(shared, 0o1777)
    try:
        binary = os.path.join(shared, "memline")
        work = os.path.join(shared, "memwork")
        shutil.copy(ml.bin, binary)
        shutil.copy(MEMWORK, work)
        os.chmod(binary, 0o755)
        os.chmod(work, 0o755)
        log = os.path.join(shared, "nobody.jsonl")

        def as_nobody():
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        p = subprocess.run([binary, "run", "-o", log, "-i", "0.05", "--", work, "alloc", "20M",
                            "sleep", "200"], cwd=shared, capture_output=True, text=True,
                           preexec_fn=as_nobody, timeout=TIMEOUT)
        assert p.returncode == 0, f"expected exit 0: {p.stderr!r}"
        assert "warning" not in p.stderr, f"expected no warning on the terminal: {p.stderr!r}"
        records = read_log(log, allow_cut_last=False)
        mem = header_of(records)["memory"]
        if mem["method"] == "cgroup":
            pytest.skip(f"nobody may make a memory cgroup on this machine: {mem}")
        assert mem["method"] in ("rss", "pss") and mem["cgroup"] is None, mem
        notes = [w for w in of_type(records, "warning") if w["code"] == "cgroup"]
        assert len(notes) == 1 and "no memory cgroup of its own" in notes[0]["text"], notes
        end = end_of(records)
        assert end["status"] == "completed" and end["exit_code"] == 0, end
        assert max_job(records) >= 20 * MIB, "expected the job's memory from its processes"
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_run_in_an_existing_cgroup(ml, cgroups, tmp_path):
    """run --cgroup PATH starts the command in PATH (here one with a 64 MiB limit), records it as
    the job's memory, leaves it in place; an OOM kill there is the job's."""
    cg = cgroups(limit=64 * 1024 * 1024)
    where = tmp_path / "where"
    run = ml.record(["sh", "-c", f"cat /proc/self/cgroup > {shlex.quote(str(where))}; "
                     f"exec {shlex.quote(str(MEMWORK))} alloc 300M sleep 1000"],
                    opts=["--cgroup", cg.path, "-i", "0.05"], report=False)
    assert cg.path.exists(), "expected the cgroup --cgroup names to stay"
    c = memory_of(run)["cgroup"]
    assert c == {"path": str(cg.path), "version": cg.version, "own": False,
                 "peak": "lifetime" if cg.version == 1 else c["peak"]}, c
    assert any(ln.endswith(":" + cg.hierarchy_path()) for ln in where.read_text().splitlines()), (
        f"expected the command in {cg.hierarchy_path()}: {where.read_text()!r}")
    assert run.code == 137 and run.end["status"] == "oom-killed", run.describe()


def test_cgroup_option_errors(ml, tmp_path):
    log = tmp_path / "x.jsonl"
    p = ml.cmd("run", "-o", log, "--cgroup", "/sys/fs/cgroup/memory/no-such-cgroup", "--", "true")
    assert p.returncode == 66 and "no-such-cgroup" in p.stderr, (p.returncode, p.stderr)
    assert not log.exists(), "expected no log for a run that never started"
    p = ml.cmd("run", "--cgroup", "relative/path", "--", "true")
    assert p.returncode == 64 and "absolute path" in p.stderr, (p.returncode, p.stderr)
    p = ml.cmd("run", "--cgroup", "/x", "--no-cgroup", "--", "true")
    assert p.returncode == 64, (p.returncode, p.stderr)
    p = ml.cmd("attach", "--cgroup", "/x", "123")
    assert p.returncode == 64 and "give no PID" in p.stderr, (p.returncode, p.stderr)


def test_attach_to_a_cgroup(ml, cgroups, tmp_path, killer):
    """attach --cgroup PATH records the processes in it, and one that joins it later; the job's
    memory is the cgroup's (within 5% of its own peak); the cgroup stays."""
    cg = cgroups()
    pfs = [tmp_path / f"w{i}.pid" for i in range(3)]
    for pf in pfs[:2]:
        ml.work("pidfile", pf, "alloc", "30M", "waitsig", preexec_fn=cg.enter())
    pids = [read_pidfile(pf) for pf in pfs[:2]]
    killer.extend(pids)
    log = ml.logpath()
    p = ml.popen("attach", "--cgroup", cg.path, "-i", "0.05", "-o", log)
    wait_for_records(log, "proc", 2)
    # A third process joins the cgroup from outside, after memline started, and then allocates
    # (cgroup v1 leaves what a process had charged before it moved where it was charged).
    ml.work("pidfile", pfs[2], "waitsig", "alloc", "30M", "waitsig")
    pids.append(read_pidfile(pfs[2]))
    killer.append(pids[2])
    (cg.path / "cgroup.procs").write_text(str(pids[2]))
    wait_for_records(log, "proc", 3)
    os.kill(pids[2], signal.SIGUSR1)
    wait_until(lambda: (max_job(read_log(log)) or 0) >= 90 * MIB, "the job's memory to hold all three")
    for pid in pids:
        os.kill(pid, signal.SIGUSR1)
    out, err = ml.finish(p)
    assert p.returncode == 0, err
    records = read_log(log)
    h = header_of(records)
    assert h["mode"] == "attach" and sorted(h["pids"]) == sorted(pids[:2]), h
    mem = h["memory"]
    assert mem["method"] == "cgroup" and mem["cgroup"]["path"] == str(cg.path), mem
    assert mem["cgroup"]["own"] is False, mem
    seen = {r["pid"] for r in of_type(records, "proc")}
    assert set(pids) <= seen, f"expected all three processes recorded: {seen}"
    truth = cg.peak_kib()
    job_peak = end_of(records)["job_peak"]
    assert job_peak is not None and abs(job_peak - truth) <= 0.05 * truth, (job_peak, truth)
    assert cg.path.exists(), "expected attach to leave the cgroup"


def test_attach_to_a_cgroup_finds_a_child_cgroup_made_later(ml, cgroups, tmp_path, killer):
    """attach --cgroup PATH: a cgroup made below it after memline started (as Slurm makes a job
    step's below the job's) is looked in too, at every look after the first."""
    cg = cgroups()
    pfs = [tmp_path / f"w{i}.pid" for i in range(2)]
    ml.work("pidfile", pfs[0], "waitsig", preexec_fn=cg.enter())
    first = read_pidfile(pfs[0])
    killer.append(first)
    log = ml.logpath()
    p = ml.popen("attach", "--cgroup", cg.path, "-i", "0.05", "-o", log)
    wait_for_records(log, "proc", 1)
    step = Cgroup(cg.path / "step_1", cg.version)
    step.path.mkdir()
    try:
        ml.work("pidfile", pfs[1], "waitsig", preexec_fn=step.enter())
        second = read_pidfile(pfs[1])
        killer.append(second)
        wait_for_records(log, "proc", 2)
        for pid in (first, second):
            os.kill(pid, signal.SIGUSR1)
        out, err = ml.finish(p)
        assert p.returncode == 0, err
        seen = {r["pid"] for r in of_type(read_log(log), "proc")}
        assert {first, second} <= seen, f"expected both processes recorded: {seen}"
    finally:
        _remove_cgroup(step.path)


def test_attach_takes_the_processes_own_cgroup(ml, cgroups, tmp_path, killer):
    """attach PID: when the process's memory cgroup holds nothing but it (and its descendants),
    that cgroup is the job's; one more process there, or --no-cgroup, and it is not."""
    cg = cgroups()
    pf = tmp_path / "w.pid"
    ml.work("pidfile", pf, "alloc", "30M", "child", "alloc 10M waitsig", "waitsig",
            preexec_fn=cg.enter())
    pid = read_pidfile(pf)
    killer.append(pid)

    def attach(*opts):
        log = ml.logpath()
        p = ml.popen("attach", "-i", "0.05", "-o", log, *opts, pid)
        wait_for_records(log, "sample", 2)
        p.send_signal(signal.SIGINT)
        ml.finish(p)
        return header_of(read_log(log))["memory"]
    mem = attach()
    assert mem["method"] == "cgroup", mem
    assert mem["cgroup"]["path"] == str(cg.path) and mem["cgroup"]["own"] is False, mem
    assert attach("--no-cgroup")["method"] == "pss"
    other = tmp_path / "other.pid"
    ml.work("pidfile", other, "waitsig", preexec_fn=cg.enter())
    killer.append(read_pidfile(other))
    mem = attach()
    assert mem["method"] == "pss" and mem["cgroup"] is None, (
        f"expected no cgroup: another process is in {cg.path}: {mem}")
    assert cg.path.exists()
