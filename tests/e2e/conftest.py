"""End-to-end test fixtures: run the built memline on real processes (memwork, the scriptable
workload of tests/workload/memwork.c) and read what it wrote.

`make e2e` sets MEMLINE_BUILD to the absolute build directory holding `memline` and `memwork`;
without it the tests use <repo>/build. Every test writes its logs under its own tmp_path and can
run from any working directory.

Synchronisation is by pipes (memwork `ready FD`), signals (memwork `waitsig`), pid files
(memwork `pidfile`) or by polling a file for a record, always with a bounded timeout: nothing
asserts on how long something took.
"""

import json
import os
import select
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MEMLINE_BUILD") or REPO / "build")
MEMLINE = BUILD / "memline"
MEMWORK = BUILD / "memwork"

# Generous bounds for anything a test waits for: reached only when something is broken.
TIMEOUT = 60
POLL_TIMEOUT = 20

MIB = 1024  # KiB in a MiB: the log's memory unit is KiB


# ---- reading logs ----


def read_log(path, allow_cut_last=True):
    """The records of a log, in order. A cut-off last line (no newline) is dropped when
    allow_cut_last; any other line that is not a JSON object fails the test."""
    data = Path(path).read_bytes()
    lines = data.split(b"\n")
    cut = lines.pop()  # after the last newline: b"" when the file ends in one
    records = []
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"{path}:{n}: expected a JSON record, got {line[:200]!r}: {e}")
        assert isinstance(rec, dict) and "type" in rec, f"{path}:{n}: not a record: {line[:200]!r}"
        records.append(rec)
    if cut and not allow_cut_last:
        raise AssertionError(f"{path}: last line has no newline: {cut[:200]!r}")
    return records


def of_type(records, type_):
    return [r for r in records if r.get("type") == type_]


THREADS_FIXTURE = REPO / "tests" / "fixtures" / "logs" / "threads.jsonl"
HOSTILE_THREAD = "tool<b>io</b>\u202e<img src=x onerror=\"window.x=3\">"


def threads_log(path, without_heap=False):
    """The threads fixture (a --heap log: process 200's threads server, loader and
    "worker\u202e1"), with a second process of threads, 201 (heap off): "tool-main" and a thread
    whose name is markup with a right-to-left override; its CPU times move at 1.0, 2.0 and
    2.5 s. without_heap: as recorded without --heap (no heap numbers, records or header
    member)."""
    out = []
    for rec in read_log(THREADS_FIXTURE):
        t = rec.get("type")
        if without_heap and t == "heap":
            continue
        if t == "header" and without_heap:
            rec.pop("heap", None)
        if t == "sample":
            cpu = {1.0: 100, 2.0: 400, 2.5: 700}.get(rec["t"])
            if cpu is not None:
                rec["th"] += [[201, 201, cpu // 10, 1] + [None] * 7,
                              [201, 220, cpu, 2] + [None] * 7]
            if without_heap:
                rec["tree"][-1] = None
                for p in rec["p"]:
                    p[-2] = None
                for th in rec["th"]:
                    th[4:] = [None] * 7
        out.append(json.dumps(rec))
        if t == "proc" and rec["pid"] == 201:
            out.append(json.dumps({"type": "thread", "t": 0.9, "pid": 201, "tid": 201,
                                   "name": "tool-main"}))
            out.append(json.dumps({"type": "thread", "t": 0.9, "pid": 201, "tid": 220,
                                   "name": HOSTILE_THREAD}))
    Path(path).write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


def header_of(records):
    assert records, "expected a log with at least a header, got an empty log"
    assert records[0]["type"] == "header", f"expected the first record to be the header: {records[0]}"
    return records[0]


def end_of(records):
    ends = of_type(records, "end")
    assert len(ends) == 1, f"expected exactly one end record, found {len(ends)}"
    assert records[-1]["type"] == "end", f"expected the end record last, the last is {records[-1]}"
    return ends[0]


def procs_by_pid(records):
    """pid -> list of proc records (more than one only if the pid was reused)."""
    out = {}
    for r in of_type(records, "proc"):
        out.setdefault(r["pid"], []).append(r)
    return out


def exits_by_pid(records):
    out = {}
    for r in of_type(records, "exit"):
        out.setdefault(r["pid"], []).append(r)
    return out


def field_pos(records, name, tree=False):
    h = header_of(records)
    names = h["tree_fields"] if tree else h["fields"]
    assert name in names, f"expected '{name}' among the header's fields {names}"
    return names.index(name)


def proc_samples(records, pid):
    """The per-process arrays of pid, one per sample that includes it."""
    pos = field_pos(records, "pid")
    return [p for s in of_type(records, "sample") for p in s["p"] if p[pos] == pid]


def recorded_peak(records, pid, samples_only=False):
    """The highest RSS (KiB) the log shows for pid: sample peaks and rss values, and the
    exit record's peak unless samples_only."""
    peak_pos, rss_pos = field_pos(records, "peak"), field_pos(records, "rss")
    vals = []
    for p in proc_samples(records, pid):
        vals += [v for v in (p[peak_pos], p[rss_pos]) if v is not None]
    if not samples_only:
        vals += [e["peak"] for e in of_type(records, "exit") if e["pid"] == pid and e.get("peak") is not None]
    return max(vals) if vals else None


def check_identity(records):
    """Asserts the pid + start identity rules of the log format: a pid is proc'd again only
    after its exit; samples, exec and exit records only name live processes."""
    live = {}
    pid_pos = field_pos(records, "pid")
    for n, r in enumerate(records, 1):
        t = r["type"]
        if t == "proc":
            assert r["pid"] not in live, (
                f"record {n}: proc for pid {r['pid']} while an earlier process with that pid "
                f"(start {live.get(r['pid'])}) has no exit record: two live processes share a pid")
            live[r["pid"]] = r["start"]
        elif t == "exec":
            assert r["pid"] in live, f"record {n}: exec of pid {r['pid']} with no live proc record"
        elif t == "exit":
            assert r["pid"] in live, f"record {n}: exit of pid {r['pid']} with no live proc record"
            del live[r["pid"]]
        elif t == "sample":
            pids = [p[pid_pos] for p in r["p"]]
            assert len(pids) == len(set(pids)), f"record {n}: a pid appears twice in one sample: {pids}"
            for pid in pids:
                assert pid in live, f"record {n}: sample has pid {pid} with no live proc record"
    return live


def find_report_process(report, pid):
    """The entry for pid in `report --json`'s "processes" list (the first one, if reused)."""
    procs = report.get("processes") if isinstance(report, dict) else None
    assert isinstance(procs, list), f"expected a 'processes' list in report --json: {json.dumps(report)[:1000]}"
    for p in procs:
        if p.get("pid") == pid:
            return p
    raise AssertionError(f"expected process {pid} in report --json 'processes', found {[p.get('pid') for p in procs]}")


def report_peak(report, pid):
    """A process's peak_rss from `report --json` (which counts bytes), in KiB like the log."""
    v = find_report_process(report, pid).get("peak_rss")
    assert v is not None, f"expected a peak_rss for process {pid} in report --json"
    return v / 1024


# ---- waiting ----


def wait_until(pred, what, timeout=POLL_TIMEOUT, interval=0.02):
    """Polls pred() until it returns something truthy; fails naming what was awaited."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def read_pidfile(path, timeout=POLL_TIMEOUT):
    def get():
        try:
            return int(Path(path).read_text())
        except (FileNotFoundError, ValueError):
            return None

    return wait_until(get, f"pid file {path}", timeout)


def log_count(path, type_):
    """Records of type_ in a log being written (a cut-off last line is ignored)."""
    try:
        return len(of_type(read_log(path), type_))
    except (FileNotFoundError, AssertionError):
        return 0


def wait_for_records(path, type_, count=1, timeout=POLL_TIMEOUT):
    wait_until(lambda: log_count(path, type_) >= count, f"{count} '{type_}' record(s) in {path}", timeout)


def wait_ready(fd, what, timeout=POLL_TIMEOUT):
    """Waits for memwork's `ready FD` byte on the read end of a pipe."""
    r, _, _ = select.select([fd], [], [], timeout)
    assert r, f"timed out after {timeout} s waiting for {what} to write its ready byte"
    assert os.read(fd, 1), f"expected a ready byte from {what}, got end of file (it died?)"


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- running memline ----


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    log: Path
    records: list = field(default_factory=list)
    report: object = None

    @property
    def header(self):
        return header_of(self.records)

    @property
    def end(self):
        return end_of(self.records)

    @property
    def pid(self):
        return self.header["pid"]

    def describe(self):
        return f"memline exited {self.code}\nstdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}"


class Memline:
    """Runs the built binaries with tmp_path as the default place for logs."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.bin = str(MEMLINE)
        self.memwork = str(MEMWORK)
        self._n = 0
        self.spawned = []

    def logpath(self, name=None):
        self._n += 1
        return self.tmp / (name or f"log{self._n}.jsonl")

    def cmd(self, *args, cwd=None, timeout=TIMEOUT, **kw):
        """Runs `memline ARGS`, returns the CompletedProcess (text)."""
        return subprocess.run([self.bin, *map(str, args)], cwd=cwd or self.tmp, capture_output=True,
                              text=True, timeout=timeout, **kw)

    def popen(self, *args, cwd=None, **kw):
        """Starts `memline ARGS` in the background, its stdout and stderr going to files (a
        pipe would stay open as long as any orphan holding it lives); finish() waits for it.
        Killed at the end of the test if still running."""
        self._n += 1
        out, err = self.tmp / f"memline{self._n}.out", self.tmp / f"memline{self._n}.err"
        with open(out, "w") as fo, open(err, "w") as fe:
            p = subprocess.Popen([self.bin, *map(str, args)], cwd=cwd or self.tmp, stdout=fo,
                                 stderr=fe, **kw)
        p.out_path, p.err_path = out, err
        self.spawned.append(p)
        return p

    def finish(self, p, timeout=30):
        """Waits for a memline started by popen(); returns (stdout, stderr)."""
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError(f"expected memline to exit within {timeout} s; it did not: "
                                 f"{p.err_path.read_text()[-2000:]!r}")
        return p.out_path.read_text(), p.err_path.read_text()

    def work(self, *steps, **kw):
        """Starts memwork STEPS in the background (not under memline)."""
        p = subprocess.Popen([self.memwork, *map(str, steps)], cwd=self.tmp, **kw)
        self.spawned.append(p)
        return p

    def record(self, command, opts=(), log=None, timeout=TIMEOUT, report=True, **kw):
        """`memline run [-o LOG] OPTS -- COMMAND`: returns a Run with the exit code, the parsed
        log records and the parsed `report --json` (when report and the log exists)."""
        log = log or self.logpath()
        p = self.cmd("run", "-o", log, *opts, "--", *command, timeout=timeout, **kw)
        run = Run(p.returncode, p.stdout, p.stderr, log)
        if log.exists():
            run.records = read_log(log)
            if report:
                run.report = self.report_json(log)
        return run

    def run_memwork(self, *steps, opts=(), **kw):
        return self.record([self.memwork, *map(str, steps)], opts=opts, **kw)

    def report_json(self, log):
        p = self.cmd("report", "--json", log)
        assert p.returncode == 0, f"expected `memline report --json {log}` to exit 0, got {p.returncode}: {p.stderr}"
        try:
            return json.loads(p.stdout)
        except ValueError as e:
            raise AssertionError(f"expected JSON from `memline report --json`: {e}: {p.stdout[:500]!r}")

    def status(self, log=None, cwd=None):
        """`memline status [LOG]` -> (exit code, first line, whole stdout, stderr)."""
        p = self.cmd("status", *([log] if log else []), cwd=cwd)
        first = p.stdout.splitlines()[0].strip() if p.stdout else ""
        return p.returncode, first, p.stdout, p.stderr

    def cleanup(self):
        for p in self.spawned:
            if p.poll() is None:
                p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


@pytest.fixture
def ml(tmp_path):
    assert MEMLINE.exists(), f"expected the memline binary at {MEMLINE} (make build/memline)"
    assert MEMWORK.exists(), f"expected the memwork workload at {MEMWORK} (make build/memwork)"
    m = Memline(tmp_path)
    yield m
    m.cleanup()


@pytest.fixture
def killer():
    """Pids of memwork processes to SIGKILL at the end of the test (workloads that may outlive
    memline). A pid that no longer runs memwork (it exited, the pid was reused) is left alone."""
    pids = []
    yield pids
    for pid in pids:
        try:
            if MEMWORK.name.encode() not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            os.kill(pid, signal.SIGKILL)
        except (OSError, TypeError):
            pass


@pytest.fixture
def pipe():
    """A pipe (read fd, write fd) for memwork's `ready FD`; pass the write end with pass_fds."""
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


# ---- memory cgroups ----


def _write(path, value):
    Path(path).write_text(str(value))


def _try_v1(name, limit):
    root = Path("/sys/fs/cgroup/memory")
    if not (root / "memory.limit_in_bytes").exists():
        return None, "no cgroup v1 memory controller at /sys/fs/cgroup/memory"
    cg = root / name
    try:
        cg.mkdir()
    except OSError as e:
        return None, f"cannot create {cg}: {e}"
    try:
        _write(cg / "memory.limit_in_bytes", limit)
        if (cg / "memory.memsw.limit_in_bytes").exists():
            _write(cg / "memory.memsw.limit_in_bytes", limit)
        elif (cg / "memory.swappiness").exists():
            _write(cg / "memory.swappiness", 0)  # no memsw: keep the cgroup from swapping instead
    except OSError as e:
        _remove_cgroup(cg)
        return None, f"cannot set the limit of {cg}: {e}"
    return cg, None


def _try_v2(name, limit):
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        try:
            if "memory" not in (root / "cgroup.subtree_control").read_text().split():
                continue
        except OSError:
            continue
        cg = root / name
        try:
            cg.mkdir()
            _write(cg / "memory.max", limit)
            if (cg / "memory.swap.max").exists():
                _write(cg / "memory.swap.max", 0)
        except OSError as e:
            _remove_cgroup(cg)
            return None, f"cannot set up {cg}: {e}"
        return cg, None
    return None, "no cgroup v2 hierarchy with the memory controller enabled for children"


def _remove_cgroup(cg):
    if not cg.exists():
        return
    for _ in range(100):
        try:
            pids = [int(x) for x in (cg / "cgroup.procs").read_text().split()]
        except OSError:
            pids = []
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            cg.rmdir()
            return
        except OSError:
            time.sleep(0.05)


@pytest.fixture
def memory_cgroup():
    """Makes a memory cgroup limited to 64 MiB (no swap where that can be said); yields its
    directory (write a pid to DIR/cgroup.procs to move it in); removes it afterwards. Skips the
    test when no memory cgroup can be created."""
    name = f"memline-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    limit = 64 * 1024 * 1024
    cg, why1 = _try_v1(name, limit)
    why2 = None
    if cg is None:
        cg, why2 = _try_v2(name, limit)
    if cg is None:
        pytest.skip(f"no memory cgroup can be created here: {why1}; {why2}")
    yield cg
    _remove_cgroup(cg)


# ---- the terminal dashboard, in tmux ----


class Tmux:
    """A private tmux server (-L memline-test-PID-...) with one window of a fixed size."""

    def __init__(self):
        self.sock = f"memline-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    def __call__(self, *args, check=True):
        p = subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True, text=True, timeout=30)
        if check:
            assert p.returncode == 0, f"tmux {' '.join(args)} failed: {p.stderr}"
        return p.stdout

    def start(self, command, cols=80, rows=24):
        self("new-session", "-d", "-x", str(cols), "-y", str(rows), "-s", "t", command)

    def screen(self):
        return self("capture-pane", "-p", "-t", "t").split("\n")

    def text(self):
        return "\n".join(self.screen())

    def size(self):
        out = self("display-message", "-p", "-t", "t", "#{pane_width} #{pane_height}")
        return tuple(int(x) for x in out.split())

    def keys(self, *keys):
        self("send-keys", "-t", "t", *keys)

    def wait_for(self, what, pred):
        """Polls the pane until pred(lines) holds; fails showing the last screen."""
        last = []

        def check():
            last[:] = self.screen()
            return pred(last)

        try:
            wait_until(check, what, timeout=POLL_TIMEOUT, interval=0.1)
        except AssertionError as e:
            raise AssertionError(f"{e}; the pane shows:\n" + "\n".join(last)) from None
        return last

    def kill(self):
        """Ends the server; the next start() starts another (a new socket: a server that is
        still going away refuses a new session on its own)."""
        self("kill-server", check=False)
        self.sock = f"memline-test-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def tmux():
    if not shutil.which("tmux"):
        pytest.skip("tmux is not installed (scripts/install-deps test installs it)")
    t = Tmux()
    yield t
    t.kill()


def contains(*words):
    return lambda lines: all(any(w in line for line in lines) for w in words)
