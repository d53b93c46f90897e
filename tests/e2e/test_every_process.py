"""Every process that ran, with its peak and its end: the kernel's event sources (taskstats and
the proc connector, for root) and --trace (ptrace, for anyone) give memline the processes that
live between two samples; where none is open, the end record's "missed" bounds what it missed.

Ground truth is made by the workload itself: each short-lived child prints its pid and its own
ru_maxrss (memwork's pidrss step, in a child that never execs, so that ru_maxrss is the peak of
its own address space; sizes of 16 MiB and more, since the kernel's RSS counters are read
approximately, a few hundred KiB apart on a machine of a few CPUs), and a parallel build runs
under strace -f, whose log names every process that ran and how it ended. Samples are taken every half second (-i 0.5), so that
polling alone would see almost none of these processes."""

import os
import re
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import (MIB, check_identity, end_of, exits_by_pid, field_pos, header_of,
                      of_type, procs_by_pid, read_log, read_pidfile, recorded_peak, wait_ready,
                      wait_until)

SLOW = ["-i", "0.5"]
LIFETIME = ["--no-peak-reset"]


def pidrss(stdout):
    """pid -> ru_maxrss (KiB) from memwork's "pidrss PID KIB" lines."""
    out = {}
    for line in stdout.splitlines():
        m = re.fullmatch(r"pidrss (\d+) (\d+)", line.strip())
        if m:
            out[int(m.group(1))] = int(m.group(2))
    return out


def need_sources(run, *names):
    """Skips the test where the log's header says why these event sources could not be had
    here (not root, a container); a header that neither has them nor says why fails it.
    MEMLINE_TEST_BEHAVIOUR_ONLY=1 skips this check, to run the tests of behaviour alone on a
    memline that knows no event source (to see them fail there)."""
    h = header_of(run.records)
    off = h.get("events_off", {})
    for name in names:
        if name in h["events"] or os.environ.get("MEMLINE_TEST_BEHAVIOUR_ONLY"):
            continue
        if name in off:
            pytest.skip(f"the kernel's {name} is not open here: {off[name]}")
        raise AssertionError(f"expected {name} among the header's events, or why not in its "
                             f"events_off: {h['events']} {off}")


def assert_peaks(run, truth, what):
    """Every pid of truth has a proc and an exit record, and its peak in the log (its samples'
    and its exit's) within 3% of its ru_maxrss. The workloads run with --no-peak-reset, so that
    ru_maxrss is a lifetime peak: a reset by memline between a child's peak and its print would
    leave its ru_maxrss below the peak it had."""
    procs, exits = procs_by_pid(run.records), exits_by_pid(run.records)
    missing = sorted(p for p in truth if p not in procs)
    assert not missing, (f"expected every {what} in the log; {len(missing)} of {len(truth)} "
                         f"are not: {missing[:20]}")
    twice = [p for p in truth if len(procs[p]) != 1 or len(exits.get(p, [])) != 1]
    assert not twice, f"expected one proc and one exit record each: {twice[:5]}"
    bad = []
    for pid, kib in truth.items():
        assert pid in exits, f"expected an exit record for {what} {pid}"
        peak = recorded_peak(run.records, pid)
        if peak is None or abs(peak - kib) > 0.03 * kib:
            bad.append((pid, kib, exits[pid][-1]))
    assert not bad, (f"expected each {what}'s peak within 3% of its own ru_maxrss; "
                     f"{len(bad)} are not, e.g. (pid, ru_maxrss, exit) {bad[:5]}")


# ---- as root: taskstats and the proc connector ----


def test_sequential_short_lived_children_each_with_its_peak(ml):
    """Peaks are compared as lifetime peaks (--no-peak-reset): a child that a sample happened
    to read had its high-water mark reset there, and so its own ru_maxrss."""
    n = 300
    run = ml.run_memwork("children", n, "spike 16M 0 pidrss", opts=SLOW + LIFETIME)
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats")
    truth = pidrss(run.stdout)
    assert len(truth) == n, f"expected {n} children to report, got {len(truth)}"
    assert_peaks(run, truth, "child")
    procs = procs_by_pid(run.records)
    seen_at_exit = [p for p in truth if procs[p][0].get("seen") == "exit"]
    for p in seen_at_exit:
        r = procs[p][0]
        assert r["argv"] == [] and r["comm"] == "memwork" and r["ppid"] == run.pid, r
    exits = exits_by_pid(run.records)
    assert all(exits[p][-1]["how"] == "exited" and exits[p][-1]["code"] == 0 for p in truth)
    assert all(exits[p][-1]["source"] == "taskstats" for p in truth), (
        "expected the children's exits (reaped by their parent) from taskstats")
    end = end_of(run.records)
    assert end["procs"] == n + 1, f"expected {n + 1} processes in the end record: {end}"
    assert end["missed"] is None and end.get("overruns") == 0, end
    check_identity(run.records)


def test_short_lived_children_with_peak_resets(ml):
    """The default, with memline resetting each high-water mark it reads: a child's peak is
    then split between its samples and its exit, and the log's largest holds what it touched."""
    run = ml.run_memwork("children", 100, "spike 16M 0 pidrss", opts=["-i", "0.05"])
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats")
    truth = pidrss(run.stdout)
    low = [(p, recorded_peak(run.records, p)) for p in truth
           if (recorded_peak(run.records, p) or 0) < 0.97 * 16 * MIB]
    assert not low, f"expected each child's peak to hold the 16 MiB it touched: {low[:5]}"
    check_identity(run.records)


def test_tree_peak_of_children_one_after_another(ml):
    """The issue's parent that starts big children one after another, sampled once a second:
    the tree's peak is one child's and the parent's, not all the children's at once (nor the
    parent's alone, as when polling missed them). Without the job's cgroup and PSS, so that the
    job's memory is the tree's (method rss)."""
    run = ml.run_memwork("children", 10, "spike 100M 80 pidrss", "pidrss",
                         opts=["-i", "1", "--no-cgroup", "--pss-budget", "0"])
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats", "proc-connector")
    truth = pidrss(run.stdout)
    parent = truth.pop(run.pid)
    biggest = max(truth.values())
    pos = field_pos(run.records, "peak", tree=True)
    top = max(s["tree"][pos] for s in of_type(run.records, "sample"))
    assert 0.97 * biggest <= top <= 1.03 * (biggest + parent), (
        f"expected the tree's peak ({top} KiB) to be one child's ({biggest}) and the parent's "
        f"({parent}), at most")
    assert run.end["job_peak"] == top, run.end


def _project(d, n=10):
    """A small C project: n files of a few functions, and a Makefile for make -j."""
    d.mkdir()
    objs = []
    for i in range(n):
        body = "\n".join(f"int f{i}_{k}(int x) {{ return x * {k + 1} + {i}; }}" for k in range(40))
        (d / f"m{i}.c").write_text(body + "\n")
        objs.append(f"m{i}.o")
    (d / "main.c").write_text("int main(void) { return 0; }\n")
    (d / "Makefile").write_text(
        f"prog: main.o {' '.join(objs)}\n\tcc -o $@ $^\n%.o: %.c\n\tcc -O1 -c $< -o $@\n")


def _strace_processes(path):
    """From strace -f's log: every process (not thread) that ran, and how it ended. A call
    that another task's line interrupted comes in two lines, "<unfinished ...>" and "<... NAME
    resumed>"."""
    lines = path.read_text().splitlines()
    first = int(lines[0].split()[0])
    procs, ends, unfinished = {first}, {}, {}
    for ln in lines:
        m = re.match(r"(\d+)\s+(.*)", ln)
        if not m:
            continue
        pid, rest = int(m.group(1)), m.group(2)
        call = re.match(r"(clone3?|fork|vfork)\((.*)", rest)
        if call and rest.endswith("<unfinished ...>"):
            unfinished[pid] = rest
            continue
        resumed = re.match(r"<\.\.\. (clone3?|fork|vfork) resumed>", rest)
        if resumed:
            rest = unfinished.pop(pid, "") + rest
        made = re.search(r"=\s+(\d+)\s*$", rest)
        if (call or resumed) and made and "CLONE_THREAD" not in rest:
            procs.add(int(made.group(1)))
        ended = re.match(r"\+\+\+ (exited with (\d+)|killed by (SIG\w+)).*\+\+\+", rest)
        if ended:
            ends[pid] = int(ended.group(2)) if ended.group(2) else ended.group(3)
    return procs, ends


def test_parallel_build_every_process(ml, tmp_path):
    for tool in ("strace", "make", "cc"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    proj = tmp_path / "proj"
    _project(proj)
    trace = tmp_path / "strace.txt"
    run = ml.record(["strace", "-f", "-q", "-e", "trace=process", "-o", trace,
                     "make", "-s", "-j2", "-C", proj], opts=SLOW, timeout=240)
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats")
    truth, ends = _strace_processes(trace)
    assert len(truth) > 30, f"expected a build of many processes, strace saw {len(truth)}"
    procs, exits = procs_by_pid(run.records), exits_by_pid(run.records)
    missing = sorted(p for p in truth if p not in procs)
    assert not missing, (f"expected every process of the build in the log; {len(missing)} of "
                         f"{len(truth)} are not: {missing[:20]}")
    wrong = []
    for pid, how in ends.items():
        e = exits.get(pid, [{}])[-1]
        if isinstance(how, int) and (e.get("how"), e.get("code")) != ("exited", how):
            wrong.append((pid, how, e))
    assert not wrong, f"expected each exit status as strace saw it: {wrong[:5]}"
    assert all(exits[p][-1].get("peak") for p in truth), "expected a peak for every process"
    check_identity(run.records)


def test_threads_one_process_its_peak_and_its_exit(ml):
    """A multi-threaded command and a short-lived multi-threaded child: one process each,
    the peak of the threads' shared memory, the exit status of the thread group."""
    run = ml.run_memwork("threads", 4, "8M", 100, "pidrss",
                         "child", "threads 3 8M 20 pidrss exit 5",
                         "child", "bgthreads 3 8M sleep 50 exit 7",
                         "wait", "sleep", 50, "exit", 3, opts=SLOW + LIFETIME)
    assert run.code == 3, run.describe()
    need_sources(run, "taskstats")
    truth = pidrss(run.stdout)
    assert len(truth) == 2, f"expected the command and a child to report: {run.stdout!r}"
    assert_peaks(run, truth, "process")
    procs, exits = procs_by_pid(run.records), exits_by_pid(run.records)
    assert len(procs) == 3, f"expected 3 processes, no thread among them: {sorted(procs)}"
    child = [p for p in truth if p != run.pid][0]
    assert (exits[child][0]["how"], exits[child][0]["code"]) == ("exited", 5), exits[child]
    third = [p for p in procs if p not in truth][0]
    assert (exits[third][0]["how"], exits[third][0]["code"]) == ("exited", 7), exits[third]
    assert exits[third][0]["peak"] >= 0.97 * 24 * MIB, f"expected its threads' 24 MiB: {exits[third]}"
    assert exits[run.pid][0]["code"] == 3
    check_identity(run.records)


def test_orphans_and_a_daemon_and_theirs(ml):
    """Orphans (their parent exits first) and a daemon (double fork, setsid): reparented to
    memline, which reaps them; their short-lived parents are in the log too."""
    run = ml.run_memwork("orphan", "spike 16M 0 pidrss", "orphan", "spike 20M 0 pidrss",
                         "daemon", "child 'spike 18M 0 pidrss' spike 12M 0 wait pidrss",
                         "sleep", 100, opts=SLOW + LIFETIME + ["--wait"])
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats")
    truth = pidrss(run.stdout)
    assert len(truth) == 4, f"expected two orphans, the daemon and its child: {run.stdout!r}"
    procs, exits = procs_by_pid(run.records), exits_by_pid(run.records)
    # the root, three intermediates, two orphans, the daemon, its child
    assert len(procs) == 8, f"expected 8 processes, got {len(procs)}: {procs}"
    daemon_child = [p for p in truth if procs[p][0]["ppid"] in truth]
    assert len(daemon_child) == 1, f"expected the daemon's child with the daemon as parent: {procs}"
    # the daemon waited for its child: its ru_maxrss covers it; its own peak is its hwm
    daemon = procs[daemon_child[0]][0]["ppid"]
    del truth[daemon]
    assert_peaks(run, truth, "orphan")
    assert exits[daemon][0]["hwm"] is not None and exits[daemon][0]["source"] == "wait4"
    assert all(e[-1]["how"] == "exited" for e in exits.values()), exits
    assert end_of(run.records)["alive"] == []
    check_identity(run.records)


def test_exit_status_of_processes_memline_does_not_reap(ml):
    """Children reaped by their own parent as soon as they end: their status was 'unknown'
    to a sampler that found them gone; taskstats says it."""
    run = ml.run_memwork("child", "sleep 150 exit 7", "child", "sleep 150 kill TERM",
                         "child", "sleep 150 kill KILL", "wait", "sleep", 50,
                         opts=["-i", "0.05"])
    assert run.code == 0, run.describe()
    need_sources(run, "taskstats")
    exits = exits_by_pid(run.records)
    ends = sorted((e[-1]["how"], e[-1]["code"], e[-1]["signal"]) for p, e in exits.items()
                  if p != run.pid)
    assert ends == [("exited", 7, None), ("killed", None, 9), ("killed", None, 15)], ends
    assert all(e[-1]["source"] == "taskstats" and e[-1]["hwm"] for p, e in exits.items()
               if p != run.pid), exits


def test_kernel_events_none_polls_only(ml):
    run = ml.run_memwork("children", 20, "spike 1M 0", opts=SLOW + ["--kernel-events", "none"])
    assert run.code == 0, run.describe()
    assert header_of(run.records)["events"] == ["poll", "wait4"], header_of(run.records)
    assert all(r.get("seen") != "exit" for r in of_type(run.records, "proc"))
    assert end_of(run.records)["missed"] >= 20 - (len(procs_by_pid(run.records)) - 1)
    bad = ml.cmd("run", "--kernel-events", "taskstats,bogus", "--", "true")
    assert bad.returncode == 64 and "bogus" in bad.stderr, bad.stderr


def test_lost_records_are_counted_and_said(ml, tmp_path, killer):
    """memline stopped while its job starts and ends thousands of processes: the kernel's
    sockets overflow and drop records. memline says so, counts it, and counts the pids of that
    time in 'missed', which bounds the processes really missed."""
    start, done = tmp_path / "start.pid", tmp_path / "done.pid"
    log = ml.logpath()
    p = ml.popen("run", "-o", log, "-i", "0.5", "--", ml.memwork, "pidfile", start, "waitsig",
                 "children", 6000, "pidrss", "pidfile", done, "waitsig")
    work = read_pidfile(start)
    killer.append(work)
    wait_until(lambda: log.exists(), f"the log {log}")
    os.kill(p.pid, signal.SIGSTOP)
    try:
        os.kill(work, signal.SIGUSR1)
        read_pidfile(done, timeout=120)
    finally:
        os.kill(p.pid, signal.SIGCONT)
    os.kill(work, signal.SIGUSR1)
    out, err = ml.finish(p, timeout=120)
    assert p.returncode == 0, err
    records = read_log(log)
    need_sources(_Run(0, "", "", records), "taskstats")
    end = end_of(records)
    assert end["overruns"] >= 1, f"expected the overflow counted: {end}"
    notes = [r for r in of_type(records, "warning") if r["code"] == "overrun"]
    assert len(notes) == 1 and "dropped" in notes[0]["text"], notes
    assert "dropped process events" in err, err
    truth = pidrss(out)
    assert len(truth) == 6000, f"expected 6000 children to report, got {len(truth)}"
    procs = procs_by_pid(records)
    really = len([q for q in truth if q not in procs])
    assert end["missed"] is not None and end["missed"] >= really, (
        f"expected 'missed' ({end['missed']}) to bound the {really} children really missed")


def test_in_a_pid_namespace_the_sources_say_why(ml, tmp_path):
    """In a pid namespace of its own (a container), the kernel sends no process events: memline
    says so in the header, without waiting for an answer, and records by polling."""
    if not shutil.which("unshare"):
        pytest.skip("unshare is not installed")
    log = tmp_path / "ns.jsonl"
    # a sleep as pid 2 of the namespace, where the initial one has the kernel's kthreadd
    p = subprocess.run(["unshare", "-p", "-f", "--mount-proc", "sh", "-c",
                        f"sleep 5 & exec {ml.bin} run -o {log} -- {ml.memwork} children 5 'spike 1M 0'"],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0 and not log.exists():
        pytest.skip(f"cannot make a pid namespace here: {p.stderr.strip()}")
    assert p.returncode == 0, p.stderr
    h = header_of(read_log(log))
    assert h["events"] == ["poll", "wait4"], h
    for name in ("taskstats", "proc-connector"):
        assert "initial pid namespace" in h["events_off"][name], h["events_off"]


# ---- --trace, and an unprivileged user ----


class Nobody:
    """The built binaries copied where uid 65534 can run them, and a directory it may write."""

    def __init__(self, ml):
        self.ml = ml
        self.dir = tempfile.mkdtemp(prefix="memline-nobody-", dir="/tmp")
        os.chmod(self.dir, 0o1777)
        self.memline = os.path.join(self.dir, "memline")
        self.memwork = os.path.join(self.dir, "memwork")
        for src, dst in ((ml.bin, self.memline), (ml.memwork, self.memwork)):
            shutil.copy(src, dst)
            os.chmod(dst, 0o755)
        self.n = 0

    @staticmethod
    def _drop():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)

    def run(self, steps, opts=()):
        """memline run OPTS -- memwork STEPS as nobody: (exit code, stdout, stderr, records)."""
        self.n += 1
        log = os.path.join(self.dir, f"log{self.n}.jsonl")
        p = subprocess.run([self.memline, "run", "-o", log, *opts, "--", self.memwork,
                            *map(str, steps)], cwd=self.dir, capture_output=True, text=True,
                           timeout=120, preexec_fn=self._drop)
        return p.returncode, p.stdout, p.stderr, read_log(log) if os.path.exists(log) else []

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def nobody(ml):
    n = Nobody(ml)
    yield n
    n.cleanup()


class _Run:
    def __init__(self, code, stdout, stderr, records):
        self.code, self.stdout, self.stderr, self.records = code, stdout, stderr, records
        self.pid = header_of(records)["pid"] if records else None

    def describe(self):
        return f"exit {self.code}; stderr: {self.stderr[-2000:]!r}"


WORK = ["children", 100, "spike 16M 0 pidrss", "child", "threads 3 8M 20 pidrss exit 5",
        "orphan", "spike 20M 0 pidrss", "daemon", "spike 18M 0 pidrss", "sleep", 100]


def test_unprivileged_trace_gives_every_process_with_its_peak(nobody):
    run = _Run(*nobody.run(WORK, opts=SLOW + LIFETIME + ["--trace", "--wait"]))
    assert run.code == 0, run.describe()
    h = header_of(run.records)
    assert "ptrace" in h["events"] and "taskstats" not in h["events"], h["events"]
    assert "not root" in h["events_off"]["taskstats"], h["events_off"]
    truth = pidrss(run.stdout)
    assert len(truth) == 103, f"expected 103 processes to report, got {len(truth)}"
    assert_peaks(run, truth, "process")
    exits = exits_by_pid(run.records)
    threaded = [p for p in truth if exits[p][-1]["code"] == 5]
    assert len(threaded) == 1 and exits[threaded[0]][-1]["hwm"], exits
    assert end_of(run.records)["missed"] is None, end_of(run.records)
    check_identity(run.records)


def test_unprivileged_proc_connector_tells_every_process(nobody):
    """Kernels since Linux 6.6 let any user listen to the proc connector: every process of the
    tree is then known, the short-lived ones with their exit status (their peak only where a
    read came before their end, or with --trace)."""
    run = _Run(*nobody.run(WORK, opts=SLOW + ["--wait"]))
    assert run.code == 0, run.describe()
    h = header_of(run.records)
    if "proc-connector" not in h["events"]:
        pytest.skip(f"the proc connector is closed to this user: {h['events_off']}")
    truth = pidrss(run.stdout)
    assert len(truth) == 103, run.stdout
    procs, exits = procs_by_pid(run.records), exits_by_pid(run.records)
    missing = [p for p in truth if p not in procs]
    assert not missing, f"expected every process in the log: {len(missing)} missing"
    assert all(exits[p][-1]["how"] == "exited" for p in truth), exits
    assert end_of(run.records)["missed"] is None, end_of(run.records)
    check_identity(run.records)


def test_unprivileged_without_events_says_how_many_may_be_missed(nobody):
    run = _Run(*nobody.run(WORK, opts=SLOW + ["--wait", "--kernel-events", "none"]))
    assert run.code == 0, run.describe()
    h = header_of(run.records)
    assert h["events"] == ["poll", "wait4"], h["events"]
    truth = pidrss(run.stdout)
    assert len(truth) == 103, run.stdout
    procs = procs_by_pid(run.records)
    really = len([p for p in truth if p not in procs])
    assert really > 0, "expected polling every 0.5 s to miss some of these processes"
    missed = end_of(run.records)["missed"]
    assert missed is not None and missed >= really, (
        f"expected 'missed' ({missed}) to be at least the {really} processes really missed")
    assert f"{missed} more may have been missed: record as root, or with --trace" in run.stderr, (
        f"expected the summary to say how many may have been missed: {run.stderr!r}")
    # the orphans, reaped by memline, are there with their ends even without events
    exits = exits_by_pid(run.records)
    reaped = [p for p in truth if p in exits and exits[p][-1]["source"] == "wait4"]
    assert len(reaped) >= 2, f"expected the orphans memline reaped: {exits}"


@pytest.mark.parametrize("sig", ["TERM", "INT"])
def test_trace_keeps_signal_forwarding(ml, tmp_path, pipe, killer, sig):
    r, w = pipe
    pf = tmp_path / "work.pid"
    p = ml.popen("run", "--trace", "--kernel-events", "none", "-o", ml.logpath(), "--",
                 ml.memwork, "onsig", sig, 42, "pidfile", pf, "ready", w, "hang", pass_fds=(w,))
    os.close(w)
    wait_ready(r, "memwork under memline --trace")
    killer.append(read_pidfile(pf))
    p.send_signal(getattr(signal, "SIG" + sig))
    _, err = ml.finish(p)
    assert p.returncode == 42, f"expected SIG{sig} to reach the traced command: {p.returncode} {err!r}"


def test_trace_default_action_and_exit_code(ml, tmp_path, pipe, killer):
    r, w = pipe
    log, pf = ml.logpath(), tmp_path / "work.pid"
    p = ml.popen("run", "--trace", "--kernel-events", "none", "-o", log, "--", ml.memwork,
                 "child", "hang", "pidfile", pf, "ready", w, "hang", pass_fds=(w,))
    os.close(w)
    wait_ready(r, "memwork under memline --trace")
    killer.append(read_pidfile(pf))
    p.send_signal(signal.SIGTERM)
    _, err = ml.finish(p)
    assert p.returncode == 128 + signal.SIGTERM, f"expected 143: {p.returncode} {err!r}"
    records = read_log(log)
    assert end_of(records)["status"] == "killed" and end_of(records)["signal"] == 15
    assert "ptrace" in header_of(records)["events"]
    # the child still runs: memline let go of it, it is not left stopped
    child = [q for q in procs_by_pid(records) if q != header_of(records)["pid"]]
    assert child, "expected the child in the log"
    killer.extend(child)
    state = open(f"/proc/{child[0]}/stat").read().rsplit(")", 1)[1].split()[0]
    tracer = [ln for ln in open(f"/proc/{child[0]}/status") if ln.startswith("TracerPid:")]
    assert state in ("S", "R") and tracer == ["TracerPid:\t0\n"], (state, tracer)
